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
* ``decoder_update=refit`` (during training): the abundances stay the encoder's; each
  pixel's scale and nuisance coefficients are fitted given them (:func:`fit_scales`), then
  the endmembers by the same per-band non-negative least squares.
* ``nnls`` (abundances, then endmembers): the ``fcls`` step, then for each band
  :math:`b`, :math:`\min_{\mathbf e_b \ge 0} \sum_n (x_{nb} - (\mathbf N\boldsymbol\beta_n)_b
  - g_n \mathbf a_n^\top \mathbf e_b)^2` (:func:`refit_endmembers`): the endmembers that best
  explain the data given the maps, in the data's units.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import nnls

__all__ = ["REFITS", "AbundanceFit", "fit_scales", "refit_abundances", "refit_endmembers"]

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


def _weighted(
    endmembers: np.ndarray, weights: np.ndarray | None, nuisance: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(w, N, Q)``: weights (ones if None), nuisance columns, orthonormal basis of w ⊙ N."""
    num_bands = endmembers.shape[0]
    w = np.ones(num_bands) if weights is None else np.asarray(weights, dtype=np.float64)
    n = np.zeros((num_bands, 0)) if nuisance is None else np.asarray(nuisance, np.float64)
    basis, _ = np.linalg.qr(w[:, None] * n)
    return w, n, basis


def _fitted_nuisance(residual: np.ndarray, w: np.ndarray, n: np.ndarray) -> np.ndarray:
    """``(N, B)`` the least-squares fit of weighted residuals ``w ⊙ r`` by ``w ⊙ N``, as N β."""
    if not n.shape[1]:
        return np.zeros_like(residual)
    beta = np.linalg.lstsq(w[:, None] * n, residual.T, rcond=None)[0]
    return (n @ beta).T


def fit_scales(
    pixels: np.ndarray,
    endmembers: np.ndarray,
    abundances: np.ndarray,
    weights: np.ndarray | None = None,
    nuisance: np.ndarray | None = None,
) -> AbundanceFit:
    r"""Each pixel's scale and nuisance coefficients given its abundances.

    .. math::

        \min_{g,\ \boldsymbol\beta} \|\mathbf w \odot (\mathbf x - g\,\mathbf E\mathbf a
        - \mathbf N\boldsymbol\beta)\|^2, \qquad
        g = \frac{\langle \mathbf P(\mathbf w \odot \mathbf x),
                \mathbf P(\mathbf w \odot \mathbf E\mathbf a)\rangle}
               {\|\mathbf P(\mathbf w \odot \mathbf E\mathbf a)\|^2}

    with :math:`\mathbf P` the projection orthogonal to :math:`\mathbf w \odot \mathbf N`.

    Args:
        pixels: ``(N, B)`` x.
        endmembers: ``(B, K)`` E.
        abundances: ``(N, K)`` a, kept as given.
        weights: ``(B,)`` w, or None.
        nuisance: ``(B, q)`` N, or None.
    """
    x = np.asarray(pixels, dtype=np.float64)
    w, n, basis = _weighted(np.asarray(endmembers), weights, nuisance)
    mixed = np.asarray(abundances, np.float64) @ np.asarray(endmembers, np.float64).T
    xp, mp = (v * w - (v * w) @ basis @ basis.T for v in (x, mixed))
    norms = np.einsum("nb,nb->n", mp, mp)
    scales = np.divide(np.einsum("nb,nb->n", xp, mp), norms, out=np.zeros(len(x)), where=norms > 0)
    residual = w * (x - scales[:, None] * mixed)
    return AbundanceFit(np.asarray(abundances), scales, _fitted_nuisance(residual, w, n))


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
    w, n, basis = _weighted(e, weights, nuisance)

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
    return AbundanceFit(abundances, scales, _fitted_nuisance(residual, w, n))


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
