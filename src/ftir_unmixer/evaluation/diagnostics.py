r"""Ground-truth-free diagnostics of an unmixing result (real data has no ground truth).

They quantify what the paper inspects by eye when choosing K (Sec. III): how well the data are
reconstructed, whether components duplicate each other (over-modelling: near-identical
endmembers with "repeated, low-intensity maps"), whether maps are unused (near-zero
everywhere), how mixed the abundances are, and whether replicate runs agree.

* Reconstruction: per-pixel spectral angle :math:`\theta(\mathbf x_p, \hat{\mathbf x}_p)` (plain
  and, given the band weights, WSAD-weighted), the SRE in dB, and the mean residual spectrum
  :math:`\bar{\mathbf r} = \frac1n \sum_p (\mathbf x_p - \hat{\mathbf x}_p)`, whose structure
  shows what the model misses (e.g. a CO₂ doublet left in the residual).
* Endmember redundancy: pairwise angles :math:`\theta(\mathbf e_i, \mathbf e_j)`; pairs below
  a threshold are reported with the Pearson correlation of their maps.
* Abundances: the normalised Shannon entropy
  :math:`\bar H = \frac1n \sum_p -\sum_k a_{pk} \ln a_{pk} / \ln K \in [0, 1]`
  (0: every pixel pure, 1: every pixel an even mix), the sparsity (fraction of
  :math:`a_{pk}` below a level) and the near-empty maps (maximum below a level).
* Endmember volume: :func:`endmember_log_volume`, the log volume of the simplex the
  endmembers span, scale-free; minimum-volume priors shrink it, and a sweep of their weight
  traces the trade-off between it and the reconstruction angle.
* Stability: the mean matched angle between the endmembers of replicate runs.

:func:`ground_truth_free_diagnostics` gathers the scalars under ``diag/…`` keys.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from itertools import combinations

import numpy as np
from numpy.typing import ArrayLike

from ftir_unmixer.errors import FTIRUnmixerError
from ftir_unmixer.evaluation.ground_truth import match_endmembers
from ftir_unmixer.evaluation.pixels import pixel_chunks, valid_pixels
from ftir_unmixer.evaluation.spectral_angles import (
    pearson_correlation,
    spectral_angle_deg,
    spectral_angle_matrix,
)

__all__ = [
    "DEFAULT_DUPLICATE_ANGLE_DEG",
    "DEFAULT_EMPTY_LEVEL",
    "DEFAULT_ZERO_LEVEL",
    "DuplicatePair",
    "ReconstructionSums",
    "abundance_entropy",
    "abundance_sparsity",
    "empty_maps",
    "endmember_log_volume",
    "ground_truth_free_diagnostics",
    "near_duplicate_pairs",
    "pairwise_endmember_angles",
    "replicate_stability",
]

DEFAULT_DUPLICATE_ANGLE_DEG = 10.0
"""Endmember pairs closer than this (degrees) are flagged as near duplicates. Distinct paint
materials on the same grid are typically further apart; the split halves of one material
found by an over-sized K are typically closer."""

DEFAULT_ZERO_LEVEL = 0.01
"""An abundance below this counts as zero for the sparsity."""

DEFAULT_VOLUME_DELTA = 0.01
"""δ of :func:`endmember_log_volume`: keeps the log-determinant finite for collinear
endmembers (K > rank)."""

DEFAULT_EMPTY_LEVEL = 0.1
"""A map whose largest abundance over the valid pixels is below this counts as near-empty
(the unused components of the paper's Fig. 6, maps 2–3). A small but genuine inclusion
reaches well above it in its own pixels."""


def pairwise_endmember_angles(E: ArrayLike) -> np.ndarray:
    """Angles between all pairs of endmembers, in the order of ``itertools.combinations``.

    Args:
        E: ``(B, K)`` endmembers.

    Returns:
        ``(K(K−1)/2,)`` angles in degrees.

    """
    angles = spectral_angle_matrix(E, E)
    rows, cols = np.triu_indices(angles.shape[0], k=1)
    return angles[rows, cols]


def endmember_log_volume(E: ArrayLike, delta: float = DEFAULT_VOLUME_DELTA) -> float:
    r"""Scale-free log volume of the endmembers: the reference definition.

    .. math::
        V(\mathbf E) = \tfrac12 \log\det\big(\tilde{\mathbf E}^\top \tilde{\mathbf E}
        + \delta \mathbf I_K\big), \qquad
        \tilde{\mathbf e}_k = \mathbf e_k / \lVert \mathbf e_k \rVert

    Every endmember is scaled to unit length, so :math:`V` depends only on the angles
    between them: :math:`\tilde{\mathbf E}^\top\tilde{\mathbf E}` is the matrix of their
    cosines, and rescaling any endmember (the angle loss leaves each one's length free)
    leaves :math:`V` unchanged. :math:`\det(\tilde{\mathbf E}^\top\tilde{\mathbf E})` is the
    squared volume of the parallelotope the unit endmembers span, so :math:`V` falls as
    endmembers become alike, and :math:`\delta` keeps it finite when they are collinear.
    :math:`V` lies between :math:`\tfrac12[\log(K+\delta) + (K-1)\log\delta]` (all endmembers
    parallel) and :math:`\tfrac K2 \log(1+\delta)` (mutually orthogonal, Hadamard's
    inequality). The function is the reference definition for minimum-volume penalties
    (:func:`ftir_unmixer.models.priors.log_volume` computes the same in torch); here it is
    evaluated in float64. An all-zero endmember stays zero (its norm is floored at 1e-12).

    Args:
        E: ``(B, K)`` endmembers.
        delta: :math:`\delta`.

    Returns:
        :math:`V`.
    """
    e = np.asarray(E, dtype=np.float64)
    unit = e / np.maximum(np.linalg.norm(e, axis=0), 1e-12)
    _, logdet = np.linalg.slogdet(unit.T @ unit + delta * np.eye(e.shape[1]))
    return float(0.5 * logdet)


@dataclass(frozen=True)
class DuplicatePair:
    """Two endmembers closer than the duplicate threshold.

    Attributes:
        first: index of the first endmember.
        second: index of the second endmember (> first).
        angle_deg: their spectral angle.
        map_correlation: Pearson correlation of their abundance maps over the valid pixels
            (strongly negative when one material was split between them, positive when both
            track the same region).

    """

    first: int
    second: int
    angle_deg: float
    map_correlation: float


def near_duplicate_pairs(
    E: ArrayLike,
    A: ArrayLike,
    threshold_deg: float = DEFAULT_DUPLICATE_ANGLE_DEG,
    mask: ArrayLike | None = None,
) -> list[DuplicatePair]:
    """Endmember pairs whose angle is below ``threshold_deg``, closest first.

    Args:
        E: ``(B, K)`` endmembers.
        A: ``(H, W, K)`` or ``(N, K)`` abundances.
        threshold_deg: the duplicate threshold in degrees.
        mask: bool pixel mask of the abundance image shape.

    Returns:
        The near-duplicate pairs sorted by increasing angle.

    """
    num = np.asarray(E).shape[1]
    maps = valid_pixels(A, mask).T
    pairs = [
        DuplicatePair(i, j, float(angle), float(pearson_correlation(maps[i], maps[j])))
        for (i, j), angle in zip(
            combinations(range(num), 2), pairwise_endmember_angles(E), strict=True
        )
        if angle < threshold_deg
    ]
    return sorted(pairs, key=lambda p: p.angle_deg)


def abundance_entropy(A: ArrayLike, mask: ArrayLike | None = None) -> float:
    r"""Mean per-pixel Shannon entropy of the abundances, normalised by :math:`\ln K`.

    Args:
        A: ``(H, W, K)`` or ``(N, K)`` abundances summing to one.
        mask: bool pixel mask.

    Returns:
        A value in ``[0, 1]``: 0 when every pixel is pure, 1 when every pixel is an even mix
        (0 for ``K = 1``).

    """
    a = np.clip(valid_pixels(A, mask), 0.0, None)
    num = a.shape[1]
    if num < 2:
        return 0.0
    terms = np.where(a > 0, -a * np.log(np.where(a > 0, a, 1.0)), 0.0)
    return float(np.mean(terms.sum(axis=1)) / np.log(num))


def abundance_sparsity(
    A: ArrayLike, mask: ArrayLike | None = None, zero_level: float = DEFAULT_ZERO_LEVEL
) -> float:
    """Fraction of abundances below ``zero_level`` over the valid pixels.

    Args:
        A: ``(H, W, K)`` or ``(N, K)`` abundances.
        mask: bool pixel mask.
        zero_level: the level under which an abundance counts as zero.

    Returns:
        The fraction in ``[0, 1]``.

    """
    return float(np.mean(valid_pixels(A, mask) < zero_level))


def empty_maps(
    A: ArrayLike, mask: ArrayLike | None = None, empty_level: float = DEFAULT_EMPTY_LEVEL
) -> list[int]:
    """Find the maps whose largest abundance stays below ``empty_level``.

    Args:
        A: ``(H, W, K)`` or ``(N, K)`` abundances.
        mask: bool pixel mask.
        empty_level: the level a used map must reach somewhere.

    Returns:
        Indices of the near-empty maps.

    """
    return np.flatnonzero(valid_pixels(A, mask).max(axis=0) < empty_level).tolist()


def replicate_stability(
    endmember_sets: Sequence[ArrayLike], band_mask: ArrayLike | None = None
) -> float:
    """Mean matched angle between the endmembers of replicate runs (e.g. different seeds).

    Every pair of runs is matched with
    :func:`~ftir_unmixer.evaluation.ground_truth.match_endmembers`
    (rectangular if their K differ); the result is the mean over run pairs of the mean
    matched angle. 0° means every run found the same spectra up to scale and order.

    Args:
        endmember_sets: two or more ``(B, K_r)`` endmember matrices on the same axis.
        band_mask: ``(B,)`` bool, the bands to compare on.

    Returns:
        The mean matched angle in degrees.

    Raises:
        FTIRUnmixerError: with fewer than two runs.

    """
    if len(endmember_sets) < 2:
        raise FTIRUnmixerError(
            f"replicate stability needs at least two runs, got {len(endmember_sets)}; "
            "train with several seeds."
        )
    means = [
        np.mean(match_endmembers(a, b, band_mask).angles_deg)
        for a, b in combinations(endmember_sets, 2)
    ]
    return float(np.mean(means))


@dataclass
class ReconstructionSums:
    r"""Running sums over the valid pixels from which the reconstruction diagnostics follow.

    A cube too large for memory is reconstructed block by block; :meth:`add` accumulates
    each block, so no cube-sized array is ever held. With :math:`n` valid pixels,

    * the mean (weighted) reconstruction angle is the sum of the per-pixel angles over
      :math:`n`;
    * :math:`\lVert X - \hat X\rVert_F^2 = \sum x^2 - 2\sum x\hat x + \sum \hat x^2`
      gives the SRE;
    * the mean residual spectrum is :math:`(\sum_p \mathbf x_p - \sum_p \hat{\mathbf x}_p)/n`;
    * the least-squares scale of :class:`~ftir_unmixer.unmixing.CubeUnmixing` is
      :math:`\sum \hat x^2 / \sum x \hat x`.

    All sums are float64.
    """

    count: int = 0
    angle_sum: float = 0.0
    weighted_angle_sum: float = 0.0
    x_power: float = 0.0
    cross: float = 0.0
    hat_power: float = 0.0
    x_sum: np.ndarray = field(default_factory=lambda: np.zeros(0))
    hat_sum: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @classmethod
    def of(
        cls, X: ArrayLike, X_hat: ArrayLike, mask: ArrayLike | None = None, **kwargs: ArrayLike
    ) -> ReconstructionSums:
        """The sums of whole arrays (``(H, W, B)`` or ``(N, B)``); ``band_weights`` optional."""
        return cls().add(valid_pixels(X, mask), valid_pixels(X_hat, mask), **kwargs)

    def add(
        self, x: ArrayLike, x_hat: ArrayLike, band_weights: ArrayLike | None = None
    ) -> ReconstructionSums:
        """Accumulate ``(n, B)`` valid pixels and their reconstruction; returns ``self``.

        Without ``band_weights`` the weighted angle is the plain one.
        """
        x, x_hat = np.asarray(x), np.asarray(x_hat)
        if not self.x_sum.size:
            self.x_sum = np.zeros(x.shape[-1])
            self.hat_sum = np.zeros(x.shape[-1])
        for rows in pixel_chunks(len(x)):
            xb, hb = x[rows].astype(np.float64), x_hat[rows].astype(np.float64)
            angles = spectral_angle_deg(xb, hb)
            weighted = angles
            if band_weights is not None:
                weighted = spectral_angle_deg(xb, hb, weights=band_weights)
            self.angle_sum += float(np.sum(angles))
            self.weighted_angle_sum += float(np.sum(weighted))
            self.x_power += float(np.sum(xb * xb))
            self.cross += float(np.sum(xb * hb))
            self.hat_power += float(np.sum(hb * hb))
            self.x_sum += xb.sum(axis=0)
            self.hat_sum += hb.sum(axis=0)
        self.count += len(x)
        return self

    @property
    def scale(self) -> float:
        """The least-squares ``s`` with ``X ≈ X̂ / s`` (1 when the two are orthogonal)."""
        return self.hat_power / self.cross if self.cross > 0 else 1.0

    def rescaled(self, scale: float) -> ReconstructionSums:
        """The sums of ``X̂ / scale`` instead of ``X̂`` (angles do not change)."""
        return replace(
            self,
            cross=self.cross / scale,
            hat_power=self.hat_power / scale**2,
            hat_sum=self.hat_sum / scale,
        )

    def metrics(self) -> dict[str, float]:
        """``diag/mean_reconstruction_angle_deg``, the weighted one, SRE and residual RMS."""
        error = max(self.x_power - 2.0 * self.cross + self.hat_power, 0.0)
        residual = (self.x_sum - self.hat_sum) / self.count
        return {
            "diag/mean_reconstruction_angle_deg": self.angle_sum / self.count,
            "diag/mean_weighted_reconstruction_angle_deg": self.weighted_angle_sum / self.count,
            "diag/reconstruction_sre_db": float("inf")
            if error == 0.0
            else float(10.0 * np.log10(self.x_power / error)),
            "diag/mean_residual_rms": float(np.sqrt(np.mean(residual**2))),
        }


def ground_truth_free_diagnostics(
    sums: ReconstructionSums,
    E: ArrayLike,
    A: ArrayLike,
    *,
    mask: ArrayLike | None = None,
    duplicate_threshold_deg: float = DEFAULT_DUPLICATE_ANGLE_DEG,
    zero_level: float = DEFAULT_ZERO_LEVEL,
    empty_level: float = DEFAULT_EMPTY_LEVEL,
) -> dict[str, float]:
    """All scalar diagnostics of one result.

    Keys:

    * ``diag/mean_reconstruction_angle_deg``: mean per-pixel SAD, in degrees;
    * ``diag/mean_weighted_reconstruction_angle_deg``: the same with the band weights given
      to :meth:`ReconstructionSums.add` (the plain angle without);
    * ``diag/reconstruction_sre_db``: SRE of the reconstruction in dB;
    * ``diag/mean_residual_rms``: RMS over bands of the mean residual spectrum;
    * ``diag/min_endmember_angle_deg``: smallest pairwise endmember angle (NaN for K = 1);
    * ``diag/num_near_duplicates``: pairs below ``duplicate_threshold_deg``;
    * ``diag/abundance_entropy``: mean normalised entropy in ``[0, 1]``;
    * ``diag/abundance_sparsity``: fraction of abundances below ``zero_level``;
    * ``diag/num_empty_maps``: maps whose maximum is below ``empty_level``;
    * ``diag/endmember_log_volume``: :func:`endmember_log_volume` of ``E``.

    Args:
        sums: the reconstruction's sums over the valid pixels (data in the space the model
            reconstructs), accumulated block by block or with :meth:`ReconstructionSums.of`.
        E: ``(B, K)`` endmembers.
        A: ``(H, W, K)`` abundances.
        mask: ``(H, W)`` bool, valid pixels.
        duplicate_threshold_deg: see :func:`near_duplicate_pairs`.
        zero_level: see :func:`abundance_sparsity`.
        empty_level: see :func:`empty_maps`.

    Returns:
        The flat ``diag/…`` metrics.

    """
    a = valid_pixels(A, mask)
    pair_angles = pairwise_endmember_angles(E)
    return sums.metrics() | {
        "diag/min_endmember_angle_deg": float(pair_angles.min()) if pair_angles.size else np.nan,
        "diag/num_near_duplicates": float(np.sum(pair_angles < duplicate_threshold_deg)),
        "diag/abundance_entropy": abundance_entropy(a),
        "diag/abundance_sparsity": abundance_sparsity(a, zero_level=zero_level),
        "diag/num_empty_maps": float(len(empty_maps(a, empty_level=empty_level))),
        "diag/endmember_log_volume": endmember_log_volume(E),
    }
