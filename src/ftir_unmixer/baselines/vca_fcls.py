r"""VCA endmember extraction followed by fully constrained least squares (FCLS) abundances.

**VCA** (Nascimento & Bioucas-Dias, "Vertex component analysis: a fast algorithm to unmix
hyperspectral data", IEEE TGRS 43(4), 2005) assumes pure pixels exist: the endmembers are
vertices of the simplex of the data, found one at a time as the most extreme pixel along a
random direction orthogonal to the vertices found so far. With pixels :math:`\mathbf x_n` as
rows of :math:`\mathbf X \in \mathbb R^{N \times B}` and :math:`p = K`:

1. Estimate the SNR (their Eq. 13) from the top-:math:`p` principal subspace
   :math:`\mathbf U_p` of the covariance:
   :math:`P_y = \tfrac1N \sum_n \|\mathbf x_n\|^2`,
   :math:`P_x = \tfrac1N \sum_n \|\mathbf U_p^\top(\mathbf x_n - \bar{\mathbf x})\|^2
   + \|\bar{\mathbf x}\|^2`,
   :math:`\mathrm{SNR} = 10 \log_{10} \frac{P_x - (p/B) P_y}{P_y - P_x}`.
2. If SNR > :math:`15 + 10 \log_{10} p` dB: project onto the top-:math:`p` subspace
   :math:`\mathbf U_d` of :math:`\tfrac1N \mathbf X^\top \mathbf X` (no centring),
   :math:`\mathbf c_n = \mathbf U_d^\top \mathbf x_n`, then projectively onto the hyperplane
   :math:`\mathbf y^\top \mathbf u = 1` with :math:`\mathbf u = \bar{\mathbf c}`:
   :math:`\mathbf y_n = \mathbf c_n / (\mathbf c_n^\top \mathbf u)`. Otherwise project onto the
   top-:math:`(p-1)` principal subspace of the centred data and append a constant coordinate
   :math:`c = \max_n \|\mathbf c_n\|`: :math:`\mathbf y_n = [\mathbf c_n; c]`.
3. Start with :math:`\mathbf A = [\mathbf e_p, \mathbf 0, \dots, \mathbf 0] \in \mathbb R^{p
   \times p}`. For :math:`i = 1..p`: draw :math:`\mathbf w \sim \mathcal N(0, \mathbf I_p)`,
   :math:`\mathbf f = (\mathbf I - \mathbf A \mathbf A^+) \mathbf w / \|\cdot\|`, pick
   :math:`k = \arg\max_n |\mathbf f^\top \mathbf y_n|` and set column :math:`i` of
   :math:`\mathbf A` to :math:`\mathbf y_k`.
4. The endmembers are the chosen pixels projected back (denoised) to band space:
   :math:`\mathbf U_d \mathbf c_k` (+ :math:`\bar{\mathbf x}` in the low-SNR branch).

Deviation from the paper, for robustness only: in the projective branch, a pixel with
:math:`\mathbf c_n^\top \mathbf u \le 0` (no signal along the mean direction, where the
projection is undefined) cannot be chosen. The random directions come from
``numpy.random.default_rng(seed)``. Negative absorbances need no special handling: the
projections are linear, so slightly negative values simply enter the geometry (they can make
the endmembers slightly negative where the data are).

**FCLS** (Heinz & Chang 2001) solves, for every pixel,
:math:`\min_{\mathbf a} \|\mathbf x - \mathbf E \mathbf a\|^2` s.t. :math:`\mathbf a \ge 0`,
:math:`\mathbf 1^\top \mathbf a = 1`, by the augmented-matrix trick: NNLS on
:math:`\tilde{\mathbf E} = [\mathbf E; \delta \mathbf 1^\top]`,
:math:`\tilde{\mathbf x} = [\mathbf x; \delta]`, where the large :math:`\delta` turns the
sum-to-one into a stiff penalty :math:`\delta^2 (\mathbf 1^\top \mathbf a - 1)^2`. With the thin
QR factorisation :math:`\tilde{\mathbf E} = \mathbf Q \mathbf R` (:math:`\mathbf R` is
:math:`K \times K`), :math:`\|\tilde{\mathbf x} - \tilde{\mathbf E} \mathbf a\|^2 =
\|\mathbf Q^\top \tilde{\mathbf x} - \mathbf R \mathbf a\|^2 + \text{const}`, so each pixel's
NNLS shrinks from :math:`(B+1) \times K` to :math:`K \times K`. The projections
:math:`\mathbf Q^\top \tilde{\mathbf x}` of all pixels are one matrix product; the remaining
loop solves one tiny NNLS per pixel (about 15 µs each, ~0.4 s for 20k pixels). QR works on
:math:`\tilde{\mathbf E}` itself, not on the normal equations, so the large :math:`\delta` costs
no precision even for nearly collinear endmembers. The result is divided by its sum to make the
sum-to-one exact.
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
