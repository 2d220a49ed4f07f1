r"""VCA endmember extraction followed by fully constrained least squares (FCLS) abundances.

VCA (Nascimento & Bioucas-Dias, IEEE TGRS 43(4), 2005) and FCLS (Heinz & Chang, 2001), as
docs/method.md ("Classical baselines") describes them: :func:`estimate_snr_db` is the SNR
estimate of VCA's Eq. 13, :func:`vca` the projection and the search for extreme pixels (its
random directions from ``numpy.random.default_rng(seed)``), :func:`fcls` the per-pixel
non-negative least squares with the sum-to-one constraint as a stiff extra row. FCLS works on
the QR factorisation of the augmented endmember matrix, so each pixel's problem shrinks to
K×K and the large weight of the extra row costs no precision.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg
from numpy.typing import ArrayLike
from scipy.optimize import nnls

from ftir_unmixer.baselines.base import BaseUnmixer, sum_to_one

__all__ = ["DEFAULT_SUM_TO_ONE_WEIGHT", "VCAFCLSUnmixer", "estimate_snr_db", "fcls", "vca"]

DEFAULT_SUM_TO_ONE_WEIGHT = 1e3
r"""The augmented row of FCLS is :math:`\delta \mathbf 1^\top` with
:math:`\delta = 10^3 \sqrt{\operatorname{tr}(\mathbf E^\top \mathbf E)/K}`, i.e. the sum-to-one
penalty is :math:`10^6` times the mean squared endmember norm, so the sum is met to about
:math:`10^{-6}` before the final renormalisation."""


def _top_eigen(matrix: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Return the ``count`` largest eigenpairs (descending) of a symmetric matrix."""
    size = matrix.shape[0]
    values, vectors = scipy.linalg.eigh(matrix, subset_by_index=[size - count, size - 1])
    return values[::-1], vectors[:, ::-1]


def estimate_snr_db(
    signal_power: float, total_power: float, num_endmembers: int, num_bands: int
) -> float:
    r"""Compute the VCA SNR estimate :math:`10 \log_{10} \frac{P_x - (p/B) P_y}{P_y - P_x}`.

    Args:
        signal_power: :math:`P_x`, power in the top-p principal subspace plus the mean's.
        total_power: :math:`P_y`, mean squared pixel norm.
        num_endmembers: p.
        num_bands: B.

    Returns:
        SNR in dB; ``inf`` when the data lie in the subspace (no noise), ``-inf`` when the
        noise dominates.

    """
    noise = total_power - signal_power
    signal = signal_power - num_endmembers / num_bands * total_power
    if noise <= 0:
        return float("inf")
    if signal <= 0:
        return float("-inf")
    return float(10.0 * np.log10(signal / noise))


def vca(
    X: ArrayLike, num_endmembers: int, seed: int | None = None, snr_db: float | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Vertex component analysis (see the module docstring for the algorithm).

    Args:
        X: ``(N, B)`` pixels × bands.
        num_endmembers: p, the number of vertices to find.
        seed: seed of the random directions.
        snr_db: the SNR deciding the projection; estimated from the data by default.

    Returns:
        ``(E, indices)``: ``(B, p)`` endmembers (the chosen pixels projected onto the signal
        subspace) and the ``(p,)`` row indices of the chosen pixels.

    """
    X = np.asarray(X, dtype=np.float64)
    num_pixels, num_bands = X.shape
    p = num_endmembers
    rng = np.random.default_rng(seed)
    gram = X.T @ X / num_pixels
    mean = X.mean(axis=0)
    cov_values, cov_vectors = _top_eigen(gram - np.outer(mean, mean), p)
    if snr_db is None:
        snr_db = estimate_snr_db(
            float(cov_values.sum() + mean @ mean), float(np.trace(gram)), p, num_bands
        )
    if snr_db > 15.0 + 10.0 * np.log10(p):
        _, basis = _top_eigen(gram, p)
        coords = X @ basis
        scale = coords @ coords.mean(axis=0)
        projected = coords / np.where(scale > 0, scale, np.inf)[:, None]
        offset = np.zeros(num_bands)
    else:
        basis = cov_vectors[:, : p - 1]
        coords = (X - mean) @ basis
        height = np.sqrt(np.max(np.sum(coords**2, axis=1)))
        projected = np.hstack([coords, np.full((num_pixels, 1), height)])
        offset = mean
    vertices = np.zeros((p, p))
    vertices[-1, 0] = 1.0
    indices = np.zeros(p, dtype=np.intp)
    for i in range(p):
        w = rng.standard_normal(p)
        f = w - vertices @ (np.linalg.pinv(vertices) @ w)
        f /= np.linalg.norm(f)
        indices[i] = np.argmax(np.abs(projected @ f))
        vertices[:, i] = projected[indices[i]]
    endmembers = coords[indices] @ basis.T + offset
    return endmembers.T, indices


def fcls(
    X: ArrayLike, E: ArrayLike, sum_to_one_weight: float = DEFAULT_SUM_TO_ONE_WEIGHT
) -> np.ndarray:
    """Fully constrained least squares abundances (see the module docstring).

    Args:
        X: ``(N, B)`` pixels × bands.
        E: ``(B, K)`` endmembers.
        sum_to_one_weight: δ relative to the RMS endmember norm.

    Returns:
        ``(N, K)`` abundances, ≥ 0, rows summing to one.

    """
    X = np.asarray(X, dtype=np.float64)
    E = np.asarray(E, dtype=np.float64)
    delta = sum_to_one_weight * np.sqrt(np.sum(E**2) / E.shape[1])
    q, r = np.linalg.qr(np.vstack([E, np.full((1, E.shape[1]), delta)]))
    targets = X @ q[:-1] + delta * q[-1]
    abundances = np.stack([nnls(r, t)[0] for t in targets])
    return sum_to_one(abundances)


class VCAFCLSUnmixer(BaseUnmixer):
    """VCA endmembers, FCLS abundances.

    Args:
        num_endmembers: K.
        seed: seed of VCA's random directions.
        snr_db: SNR deciding VCA's projection; estimated from the data when None.

    Attributes:
        endmembers_: ``(B, K)`` endmembers (denoised pixel spectra).
        abundances_: ``(N, K)`` FCLS abundances.
        reconstruction_: ``(N, B)``.
        reconstruction_error_: ``(N,)`` per-pixel SAD in radians.
        indices_: ``(K,)`` rows of ``X`` chosen as endmembers.

    """

    method = "vca_fcls"

    def __init__(self, num_endmembers: int = 10, seed: int | None = 0, snr_db: float | None = None):
        self.num_endmembers = num_endmembers
        self.seed = seed
        self.snr_db = snr_db

    def _unmix(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        endmembers, self.indices_ = vca(X, self.num_endmembers, self.seed, self.snr_db)
        # The projection onto the signal subspace can leave small negative values from the
        # noise; endmembers are absorbance spectra (ENC), so they are clipped at zero.
        endmembers = np.clip(endmembers, 0.0, None)
        return endmembers, fcls(X, endmembers)
