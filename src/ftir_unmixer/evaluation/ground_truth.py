r"""Scores against the ground truth of a synthetic scene: endmember matching, angles, RMSE.

Estimated endmembers are paired with true ones by the Hungarian algorithm on the matrix of
spectral angles (:func:`match_endmembers`); with :math:`K \ne M` the assignment is rectangular
and the :math:`|K - M|` leftovers are reported as unmatched. :func:`ground_truth_metrics` then
scores the matched pairs over all bands and over the "clean" bands, those outside the known
atmospheric windows (:data:`ATMOSPHERIC_WINDOWS`) and any user bad windows, and pairs the
abundance maps for their RMSE.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import ArrayLike
from scipy.optimize import linear_sum_assignment

from ftir_unmixer.band_weights import window_mask
from ftir_unmixer.errors import FTIRUnmixerError
from ftir_unmixer.evaluation.pixels import valid_pixels
from ftir_unmixer.evaluation.spectral_angles import spectral_angle_deg, spectral_angle_matrix
from ftir_unmixer.io.input_file import GroundTruth

__all__ = [
    "ATMOSPHERIC_WINDOWS",
    "Matching",
    "abundance_rmse",
    "abundance_rmse_per_pair",
    "endmember_metrics",
    "ground_truth_metrics",
    "match_endmembers",
    "metric_name",
    "window_residual",
]

ATMOSPHERIC_WINDOWS: tuple[tuple[float, float], ...] = (
    (2280.0, 2400.0),
    (1300.0, 2000.0),
    (3500.0, 3900.0),
)
"""Wavenumber ranges (cm⁻¹) of atmospheric residuals in ATR-FTIR data: the CO₂ ν3 doublet and
the water-vapour bend and stretch lines (docs/method.md, "The synthetic cross-section")."""

CO2_WINDOW: tuple[float, float] = ATMOSPHERIC_WINDOWS[0]
"""The CO₂ doublet window, where the painting materials absorb (almost) nothing: a residual
there is atmospheric, unlike in the water-bend window, which overlaps the fingerprint bands."""


class EndmembersAndAbundances(Protocol):
    """Anything with ``endmembers`` ``(B, K)`` and ``abundances`` ``(H, W, K)``.

    :class:`~ftir_unmixer.io.results_file.UnmixingResult` is one.
    """

    endmembers: np.ndarray
    abundances: np.ndarray


@dataclass(frozen=True)
class Matching:
    """A one-to-one pairing of estimated endmembers with true ones.

    Attributes:
        est_indices: ``(P,)`` estimated endmember index of each pair, ``P = min(K, M)``,
            in increasing order of the true index.
        true_indices: ``(P,)`` true endmember index of each pair.
        angles_deg: ``(P,)`` angle of each pair (the cost that was minimised).
        angle_matrix_deg: ``(K, M)`` all angles.
        unmatched_est: estimated endmembers left without a partner (``K > M``).
        unmatched_true: true endmembers left without a partner (``K < M``).

    """

    est_indices: np.ndarray
    true_indices: np.ndarray
    angles_deg: np.ndarray
    angle_matrix_deg: np.ndarray
    unmatched_est: tuple[int, ...]
    unmatched_true: tuple[int, ...]

    @property
    def pairs(self) -> list[tuple[int, int]]:
        """``(estimated, true)`` index pairs."""
        return [(int(k), int(m)) for k, m in zip(self.est_indices, self.true_indices, strict=True)]

    def true_index(self, est: int) -> int | None:
        """Return the true endmember paired with estimated endmember ``est``, or None."""
        hits = np.flatnonzero(self.est_indices == est)
        return int(self.true_indices[hits[0]]) if hits.size else None

    def labels(self, names: Sequence[str]) -> list[str | None]:
        """Per estimated endmember, the name of its true partner (None if unmatched).

        Args:
            names: the ``M`` true material names.

        Returns:
            ``K`` names or None, for titling figures.

        """
        num_est = self.angle_matrix_deg.shape[0]
        labels: list[str | None] = [None] * num_est
        for k, m in self.pairs:
            labels[k] = names[m]
        return labels


def match_endmembers(
    E_est: ArrayLike, E_true: ArrayLike, band_mask: ArrayLike | None = None
) -> Matching:
    """Pair estimated with true endmembers minimising the total spectral angle.

    Uses :func:`scipy.optimize.linear_sum_assignment` on the ``(K, M)`` angle matrix, which is
    rectangular when ``K != M``: ``min(K, M)`` pairs are formed and the rest reported unmatched.

    Args:
        E_est: ``(B, K)`` estimated endmembers.
        E_true: ``(B, M)`` true endmembers.
        band_mask: ``(B,)`` bool, the bands the angles are computed on.

    Returns:
        The matching.

    """
    angles = spectral_angle_matrix(E_est, E_true, band_mask)
    rows, cols = linear_sum_assignment(angles)
    order = np.argsort(cols)
    rows, cols = rows[order], cols[order]
    num_est, num_true = angles.shape
    return Matching(
        est_indices=rows,
        true_indices=cols,
        angles_deg=angles[rows, cols],
        angle_matrix_deg=angles,
        unmatched_est=tuple(sorted(set(range(num_est)) - set(rows.tolist()))),
        unmatched_true=tuple(sorted(set(range(num_true)) - set(cols.tolist()))),
    )


def abundance_rmse_per_pair(
    A_est: ArrayLike, A_true: ArrayLike, matching: Matching, mask: ArrayLike | None = None
) -> np.ndarray:
    r"""RMSE of each matched abundance map over the valid pixels.

    .. math:: \mathrm{RMSE}_{km} = \sqrt{\tfrac1n \textstyle\sum_p (A_{pk} - A^\star_{pm})^2}

    Args:
        A_est: ``(H, W, K)`` (or ``(N, K)``) estimated abundances.
        A_true: ``(H, W, M)`` (or ``(N, M)``) true abundances.
        matching: the pairing from :func:`match_endmembers`.
        mask: bool pixel mask of the image shape.

    Returns:
        ``(P,)`` RMSE per matched pair, in the order of ``matching.pairs``.

    """
    a_est = valid_pixels(A_est, mask)[:, matching.est_indices]
    a_true = valid_pixels(A_true, mask)[:, matching.true_indices]
    if a_est.shape[0] != a_true.shape[0]:
        raise FTIRUnmixerError(
            f"the estimated abundances cover {a_est.shape[0]} pixels but the true ones "
            f"{a_true.shape[0]}; compare maps of the same image."
        )
    return np.sqrt(np.mean((a_est - a_true) ** 2, axis=0))


def _pooled_rmse(per_pair: np.ndarray) -> float:
    """Pool per-map RMSEs computed on the same pixels into one RMSE."""
    return float(np.sqrt(np.mean(per_pair**2)))


def abundance_rmse(
    A_est: ArrayLike, A_true: ArrayLike, matching: Matching, mask: ArrayLike | None = None
) -> float:
    r"""RMSE over all matched abundance maps and valid pixels.

    .. math:: \mathrm{RMSE} = \sqrt{\tfrac1{nP} \textstyle\sum_{(k,m)} \sum_p
        (A_{pk} - A^\star_{pm})^2}

    Unmatched maps do not enter.

    Args:
        A_est: ``(H, W, K)`` (or ``(N, K)``) estimated abundances.
        A_true: ``(H, W, M)`` (or ``(N, M)``) true abundances.
        matching: the pairing.
        mask: bool pixel mask.

    Returns:
        The pooled RMSE.

    """
    return _pooled_rmse(abundance_rmse_per_pair(A_est, A_true, matching, mask))


def metric_name(name: str) -> str:
    """Make a material name safe inside a metric key (``"lead soap"`` → ``"lead_soap"``)."""
    return re.sub(r"[^0-9A-Za-z_.-]+", "_", name).strip("_")


def _material_keys(names: Sequence[str], count: int) -> list[str]:
    """Make unique key-safe names for ``count`` materials (``material_<i>`` if unnamed)."""
    keys: list[str] = []
    for i in range(count):
        base = metric_name(names[i]) if i < len(names) else ""
        key = base or f"material_{i + 1}"
        keys.append(key if key not in keys else f"{key}_{i + 1}")
    return keys


def window_residual(
    e_est: np.ndarray, e_true: np.ndarray, clean: np.ndarray, window: np.ndarray
) -> np.ndarray:
    r"""Artefact left in estimated endmembers inside a window (e.g. the CO2 and water bands).

    Each estimate is first scaled onto its true endmember by least squares over the clean
    bands, :math:`c = \langle e, t\rangle_{clean} / \langle e, e\rangle_{clean}`; the score
    is the RMS of :math:`c\,e - t` inside the window relative to the RMS of :math:`t` over
    all bands (0: nothing left; 1: a residual as large as the spectrum itself).

    Args:
        e_est: ``(P, B)`` matched estimates.
        e_true: ``(P, B)`` the true endmembers they are matched to.
        clean: ``(B,)`` bool, the bands the scale is fitted on.
        window: ``(B,)`` bool, the bands scored.

    Returns:
        ``(P,)`` relative residuals (NaN if the window or the clean set is empty).
    """
    if not window.any() or not clean.any():
        return np.full(len(e_est), np.nan)
    num = np.einsum("pb,pb->p", e_est[:, clean], e_true[:, clean])
    den = np.einsum("pb,pb->p", e_est[:, clean], e_est[:, clean])
    scale = np.divide(num, den, out=np.zeros_like(num), where=den > 0)
    residual = scale[:, None] * e_est[:, window] - e_true[:, window]
    reference = np.sqrt(np.mean(e_true**2, axis=1))
    rms = np.sqrt(np.mean(residual**2, axis=1))
    return np.divide(rms, reference, out=np.full_like(rms, np.nan), where=reference > 0)


def endmember_metrics(
    endmembers: ArrayLike,
    ground_truth: GroundTruth,
    wavenumbers: ArrayLike,
    *,
    bad_windows: Sequence[Sequence[float]] = (),
    atmospheric_windows: Sequence[Sequence[float]] = ATMOSPHERIC_WINDOWS,
) -> tuple[dict[str, float], Matching]:
    """The endmember half of :func:`ground_truth_metrics`: no abundance map needed.

    Cheap enough to be computed during training (the learning curve of
    :mod:`ftir_unmixer.training.learning_curve`). Its keys are those of
    :func:`ground_truth_metrics` except ``gt/abundance_rmse`` and ``gt/abundance_rmse/<name>``.

    Args:
        endmembers: ``(B, K)`` estimated endmembers in the units of the cube.
        ground_truth: the true endmembers ``(B, M)`` and names.
        wavenumbers: ``(B,)`` axis in cm⁻¹, any order.
        bad_windows: further ``[lo, hi]`` ranges excluded from the clean score.
        atmospheric_windows: the atmospheric ranges excluded from the clean score.

    Returns:
        The metrics and the matching (estimated index ↔ material index).
    """
    E_est = np.asarray(endmembers, dtype=np.float64)
    E_true = np.asarray(ground_truth.endmembers, dtype=np.float64)
    clean = ~window_mask(wavenumbers, [*atmospheric_windows, *bad_windows])
    if clean.shape != (E_est.shape[0],):
        raise FTIRUnmixerError(
            f"the wavenumber axis has {clean.size} values but the endmembers have "
            f"{E_est.shape[0]} bands; pass the axis of the result."
        )
    matching = match_endmembers(E_est, E_true)
    est, true = matching.est_indices, matching.true_indices
    if clean.any():
        clean_angles = spectral_angle_deg(E_est.T[est], E_true.T[true], band_mask=clean)
    else:
        clean_angles = np.full(est.shape, np.nan)
    residual = window_residual(
        E_est.T[est], E_true.T[true], clean, window_mask(wavenumbers, atmospheric_windows)
    )
    co2_residual = window_residual(
        E_est.T[est], E_true.T[true], clean, window_mask(wavenumbers, [CO2_WINDOW])
    )
    metrics: dict[str, float] = {
        "gt/mean_angle_deg": float(np.mean(matching.angles_deg)),
        "gt/max_angle_deg": float(np.max(matching.angles_deg)),
        "gt/mean_angle_clean_deg": float(np.mean(clean_angles)),
        "gt/atmospheric_residual": float(np.mean(residual)),
        "gt/co2_residual": float(np.mean(co2_residual)),
        "gt/unmatched_true": float(len(matching.unmatched_true)),
        "gt/unmatched_est": float(len(matching.unmatched_est)),
    }
    metrics |= _per_material(
        ground_truth,
        true,
        {"gt/angle_deg": matching.angles_deg, "gt/angle_clean_deg": clean_angles},
    )
    return metrics, matching


def _per_material(
    ground_truth: GroundTruth, true: np.ndarray, values: dict[str, np.ndarray]
) -> dict[str, float]:
    """``<prefix>/<material>`` keys of per-pair ``values``, NaN for unmatched materials."""
    keys = _material_keys(ground_truth.names, np.shape(ground_truth.endmembers)[1])
    metrics = {}
    for prefix, per_pair in values.items():
        by_material = dict(zip(true.tolist(), per_pair, strict=True))
        for m, key in enumerate(keys):
            metrics[f"{prefix}/{key}"] = float(by_material.get(m, np.nan))
    return metrics


def ground_truth_metrics(
    result: EndmembersAndAbundances,
    ground_truth: GroundTruth,
    wavenumbers: ArrayLike,
    *,
    bad_windows: Sequence[Sequence[float]] = (),
    atmospheric_windows: Sequence[Sequence[float]] = ATMOSPHERIC_WINDOWS,
    mask: ArrayLike | None = None,
) -> tuple[dict[str, float], Matching]:
    """Score an unmixing result against the ground truth of a synthetic scene.

    Endmembers are matched on all bands (:func:`match_endmembers`); the same matching is then
    scored on all bands and on the clean bands (outside ``atmospheric_windows`` and
    ``bad_windows``), and used to pair the abundance maps.

    Keys (all floats; per-material keys use :func:`metric_name` of the material names, and
    are NaN for a material left unmatched so that tables keep the same columns across K):

    * ``gt/mean_angle_deg``, ``gt/max_angle_deg``: over matched pairs, all bands;
    * ``gt/mean_angle_clean_deg``: over matched pairs, clean bands (NaN if none is clean);
    * ``gt/abundance_rmse``: pooled over matched maps and valid pixels;
    * ``gt/atmospheric_residual``: mean over matched pairs of :func:`window_residual` inside
      ``atmospheric_windows`` (artefact and misfit left in the endmembers there);
    * ``gt/co2_residual``: the same inside :data:`CO2_WINDOW` only (purely atmospheric);
    * ``gt/angle_deg/<name>``, ``gt/angle_clean_deg/<name>``, ``gt/abundance_rmse/<name>``;
    * ``gt/unmatched_true``, ``gt/unmatched_est``: counts of unpaired components.

    All but the abundance keys come from :func:`endmember_metrics`.

    Args:
        result: anything with ``endmembers`` ``(B, K)`` in the units of the cube and
            ``abundances`` ``(H, W, K)``, e.g. an ``UnmixingResult``.
        ground_truth: the true endmembers ``(B, M)``, abundances ``(H, W, M)`` and names.
        wavenumbers: ``(B,)`` axis in cm⁻¹, any order.
        bad_windows: further ``[lo, hi]`` ranges excluded from the clean score.
        atmospheric_windows: the atmospheric ranges excluded from the clean score.
        mask: ``(H, W)`` bool, the pixels the abundance RMSE is computed on.

    Returns:
        The metrics and the matching (estimated index ↔ material index).

    """
    metrics, matching = endmember_metrics(
        result.endmembers,
        ground_truth,
        wavenumbers,
        bad_windows=bad_windows,
        atmospheric_windows=atmospheric_windows,
    )
    rmse = abundance_rmse_per_pair(result.abundances, ground_truth.abundances, matching, mask)
    metrics["gt/abundance_rmse"] = _pooled_rmse(rmse)
    metrics |= _per_material(ground_truth, matching.true_indices, {"gt/abundance_rmse": rmse})
    return metrics, matching
