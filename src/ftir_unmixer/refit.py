r"""Refits at the end of a run (``model.refit``, beyond the paper).

The network's abundances come from its encoder and its endmembers from Adam steps on the
decoder; neither is the least-squares answer given the other. The refits take the learned
model as a starting point and solve the small convex problems exactly, in the space the loss
sees (band weights :math:`\mathbf w`, the nuisance subspace :math:`\mathbf N` of
:mod:`ftir_unmixer.nuisance` fitted freely):

* ``fcls`` (abundances): for each pixel,

  .. math::

      \min_{\mathbf c \ge 0,\ \boldsymbol\beta}
      \|\mathbf w \odot (\mathbf x - \mathbf E \mathbf c - \mathbf N \boldsymbol\beta)\|^2,
      \qquad g = \mathbf 1^\top \mathbf c, \qquad \mathbf a = \mathbf c / g

  (:func:`refit_abundances`): fully constrained least squares with a free pixel scale
  :math:`g` (the contact gain; the angle loss is blind to it too), solved as a non-negative
  least squares after projecting :math:`\mathbf w \odot \mathbf N` out.
* ``nnls`` (abundances, then endmembers): the ``fcls`` step, then for each band
  :math:`b`, :math:`\min_{\mathbf e_b \ge 0} \sum_n (x_{nb} - (\mathbf N\boldsymbol\beta_n)_b
  - g_n \mathbf a_n^\top \mathbf e_b)^2` (:func:`refit_endmembers`): the endmembers that best
  explain the data given the maps, in the data's units.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import nnls

__all__ = ["REFITS", "AbundanceFit", "refit_abundances", "refit_endmembers"]

REFITS = ("none", "fcls", "nnls")
"""Values of ``model.refit``."""


class AbundanceFit:
    """The ``fcls`` refit of every pixel.

    Attributes:
        abundances: ``(N, K)`` on the simplex.
        scales: ``(N,)`` g, each pixel's scale (0 where nothing was fitted).
        nuisance: ``(N, B)`` N β, each pixel's fitted nuisance (zeros without a subspace).
    """

    def __init__(self, abundances: np.ndarray, scales: np.ndarray, nuisance: np.ndarray) -> None:
        self.abundances = abundances
        self.scales = scales
        self.nuisance = nuisance


def refit_abundances(
    pixels: np.ndarray,
    endmembers: np.ndarray,
    weights: np.ndarray | None = None,
    nuisance: np.ndarray | None = None,
) -> AbundanceFit:
    """``fcls``: constrained least-squares abundances with a free pixel scale (module doc).

    Args:
        pixels: ``(N, B)`` x.
        endmembers: ``(B, K)`` E.
        weights: ``(B,)`` w, or None for all ones.
        nuisance: ``(B, q)`` N, or None.

    Returns:
        The abundances, scales and fitted nuisance; a pixel with nothing fitted gets uniform
        abundances and scale 0.
    """
    x = np.asarray(pixels, dtype=np.float64)
    e = np.asarray(endmembers, dtype=np.float64)
    w = np.ones(e.shape[0]) if weights is None else np.asarray(weights, dtype=np.float64)
    n = np.zeros((e.shape[0], 0)) if nuisance is None else np.asarray(nuisance, np.float64)
    basis, _ = np.linalg.qr(w[:, None] * n)

    def perp(m: np.ndarray) -> np.ndarray:
        return m - basis @ (basis.T @ m)

    q, r = np.linalg.qr(perp(w[:, None] * e))
    targets = perp((w * x).T).T @ q
    coefficients = np.stack([nnls(r, t)[0] for t in targets])
    scales = coefficients.sum(axis=1)
    abundances = np.divide(
        coefficients,
        scales[:, None],
        out=np.full_like(coefficients, 1.0 / e.shape[1]),
        where=scales[:, None] > 0,
    )
    residual = w * (x - coefficients @ e.T)
    fitted = np.zeros_like(x)
    if n.shape[1]:
        beta = np.linalg.lstsq(w[:, None] * n, residual.T, rcond=None)[0]
        fitted = (n @ beta).T
    return AbundanceFit(abundances, scales, fitted)


def refit_endmembers(pixels: np.ndarray, fit: AbundanceFit) -> np.ndarray:
    """``nnls``: the non-negative endmembers that best explain the data given the maps.

    Args:
        pixels: ``(N, B)`` x, as given to :func:`refit_abundances`.
        fit: its result.

    Returns:
        ``(B, K)`` endmembers in the units of ``pixels``.
    """
    design = fit.scales[:, None] * fit.abundances
    target = np.asarray(pixels, dtype=np.float64) - fit.nuisance
    q, r = np.linalg.qr(design)
    projected = q.T @ target
    return np.stack([nnls(r, t)[0] for t in projected.T], axis=0)
