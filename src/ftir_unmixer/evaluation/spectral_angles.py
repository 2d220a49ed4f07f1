r"""Spectral angles and correlations between spectra, in NumPy (degrees, last axis).

The spectral angle between :math:`\mathbf x, \mathbf y \in \mathbb R^B`, optionally restricted to
a set of bands :math:`\mathcal S` and weighted by :math:`\mathbf w` as in Eq. 6 of the paper, is

.. math::

    \theta(\mathbf x, \mathbf y) = \arccos \frac{\sum_{b \in \mathcal S} w_b^2 x_b y_b}
        {\sqrt{\sum_{b \in \mathcal S} w_b^2 x_b^2} \sqrt{\sum_{b \in \mathcal S} w_b^2 y_b^2}}

in degrees. It ignores positive scale, so an endmember recovered up to a factor scores 0°. A
zero vector has no direction; its angle to anything is reported as 90° (cosine 0). Every score
of :mod:`ftir_unmixer.evaluation` uses this implementation; the training loss has its own in
torch (:func:`ftir_unmixer.losses.spectral_angle_rad`: radians, any band axis, clamped).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from ftir_unmixer.errors import FTIRUnmixerError

__all__ = ["pearson_correlation", "spectral_angle_deg", "spectral_angle_matrix"]


def _select(x: ArrayLike, band_mask: ArrayLike | None, weights: ArrayLike | None) -> np.ndarray:
    """Weight (``w ⊙ x``) then keep the masked bands along the last axis, in float64."""
    x = np.asarray(x, dtype=np.float64)
    if weights is not None:
        x = x * np.asarray(weights, dtype=np.float64)
    if band_mask is not None:
        x = x[..., np.asarray(band_mask, dtype=bool)]
    return x


def _cosine(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Cosine of broadcast pairs along the last axis; 0 where either vector is zero."""
    dot = np.einsum("...b,...b->...", x, y)
    norms = np.sqrt(np.einsum("...b,...b->...", x, x) * np.einsum("...b,...b->...", y, y))
    return np.divide(dot, norms, out=np.zeros_like(dot), where=norms > 0)


def spectral_angle_deg(
    x: ArrayLike,
    y: ArrayLike,
    band_mask: ArrayLike | None = None,
    weights: ArrayLike | None = None,
) -> np.ndarray:
    r"""Spectral angle in degrees between spectra paired along the last axis.

    Leading axes broadcast, so ``spectral_angle_deg(X, X_hat)`` with ``(N, B)`` arrays gives the
    ``N`` per-pixel angles and ``(K, 1, B)`` against ``(1, M, B)`` gives a ``(K, M)`` matrix.

    Args:
        x: ``(..., B)`` spectra.
        y: ``(..., B)`` spectra, broadcastable against ``x``.
        band_mask: ``(B,)`` bool, the bands to use (all by default).
        weights: ``(B,)`` band weights :math:`\mathbf w` of Eq. 6 (none by default).

    Returns:
        Angles in degrees in ``[0, 180]``; 90 where either spectrum is zero on the used bands.

    """
    cos = _cosine(_select(x, band_mask, weights), _select(y, band_mask, weights))
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def pearson_correlation(
    x: ArrayLike,
    y: ArrayLike,
    band_mask: ArrayLike | None = None,
    weights: ArrayLike | None = None,
) -> np.ndarray:
    r"""Pearson correlation between vectors paired along the last axis.

    The vectors are selected and weighted as in :func:`spectral_angle_deg`, then centred:
    :math:`r = \cos\theta(\mathbf x - \bar x, \mathbf y - \bar y)`. Unlike the angle it ignores
    a constant offset (a baseline) as well as the scale.

    Args:
        x: ``(..., B)`` vectors.
        y: ``(..., B)`` vectors, broadcastable against ``x``.
        band_mask: ``(B,)`` bool, the entries to use.
        weights: ``(B,)`` weights applied before centring.

    Returns:
        Correlations in ``[-1, 1]``; 0 where either vector is constant.

    """
    xs = _select(x, band_mask, weights)
    ys = _select(y, band_mask, weights)
    return _cosine(xs - xs.mean(axis=-1, keepdims=True), ys - ys.mean(axis=-1, keepdims=True))


def _check_bands(a: np.ndarray, b: np.ndarray, what: str) -> None:
    if a.ndim != 2 or b.ndim != 2 or a.shape[0] != b.shape[0]:
        raise FTIRUnmixerError(
            f"{what}: shapes {a.shape} and {b.shape} are not two (bands, components) matrices "
            "on the same band axis; compare spectra sampled on the same wavenumbers."
        )


def spectral_angle_matrix(
    E_est: ArrayLike,
    E_true: ArrayLike,
    band_mask: ArrayLike | None = None,
    weights: ArrayLike | None = None,
) -> np.ndarray:
    """Angles between every estimated and every true endmember.

    Args:
        E_est: ``(B, K)`` estimated endmembers (columns).
        E_true: ``(B, M)`` reference endmembers (columns).
        band_mask: ``(B,)`` bool, the bands to use.
        weights: ``(B,)`` band weights.

    Returns:
        ``(K, M)`` angles in degrees.

    Raises:
        FTIRUnmixerError: if the two matrices do not share the band axis.

    """
    E_est = np.asarray(E_est, dtype=np.float64)
    E_true = np.asarray(E_true, dtype=np.float64)
    _check_bands(E_est, E_true, "spectral angle matrix")
    return spectral_angle_deg(E_est.T[:, None, :], E_true.T[None, :, :], band_mask, weights)
