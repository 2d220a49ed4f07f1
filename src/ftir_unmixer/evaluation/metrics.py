r"""Ground-truth metrics: spectral angles, endmember matching, abundance RMSE and SRE.

The spectral angle between two spectra :math:`\mathbf x, \mathbf y \in \mathbb R^B`, optionally
restricted to a set of bands :math:`\mathcal S` and weighted by :math:`\mathbf w` as in Eq. 6 of
the paper, is

.. math::

    \theta(\mathbf x, \mathbf y) = \arccos \frac{\sum_{b \in \mathcal S} w_b^2 x_b y_b}
        {\sqrt{\sum_{b \in \mathcal S} w_b^2 x_b^2} \sqrt{\sum_{b \in \mathcal S} w_b^2 y_b^2}}

in degrees. It ignores positive scale, so an endmember recovered up to a factor scores 0°. A
zero vector has no direction; its angle to anything is reported as 90° (cosine 0). This module
holds the one implementation of it; :mod:`~ftir_unmixer.evaluation.diagnostics` and
:mod:`~ftir_unmixer.evaluation.library` use it too.

Estimated endmembers are paired with true ones by the Hungarian algorithm on the angle matrix
(:func:`match_endmembers`); with :math:`K \ne M` the assignment is rectangular and the
:math:`|K - M|` leftovers are reported as unmatched. :func:`ground_truth_metrics` then scores the
matched pairs over all bands and over the "clean" bands, those outside the known atmospheric
windows (:data:`ATMOSPHERIC_WINDOWS`) and any user bad windows.
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
from ftir_unmixer.io.input_file import GroundTruth

__all__ = [
    "ATMOSPHERIC_WINDOWS",
    "Matching",
    "abundance_rmse",
    "abundance_rmse_per_pair",
    "ground_truth_metrics",
    "match_endmembers",
    "metric_name",
    "pearson_correlation",
    "pixel_chunks",
    "spectral_angle",
    "spectral_angle_matrix",
    "valid_pixels",
    "window_residual",
]

ATMOSPHERIC_WINDOWS: tuple[tuple[float, float], ...] = (
    (2280.0, 2400.0),
    (1300.0, 2000.0),
    (3500.0, 3900.0),
)
"""Wavenumber ranges (cm⁻¹) of atmospheric residuals in ATR-FTIR data: the CO₂ ν3 doublet and
the water-vapour bend and stretch lines (``shared/domain/atr-ftir-cross-sections.md`` §3)."""

CO2_WINDOW: tuple[float, float] = ATMOSPHERIC_WINDOWS[0]
"""The CO₂ doublet window, where the painting materials absorb (almost) nothing: a residual
there is atmospheric, unlike in the water-bend window, which overlaps the fingerprint bands."""


class EndmembersAndAbundances(Protocol):
    """Anything with ``endmembers`` ``(B, K)`` and ``abundances`` ``(H, W, K)``.

    :class:`~ftir_unmixer.io.results_file.UnmixingResult` is one.
    """

    endmembers: np.ndarray
    abundances: np.ndarray


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


def spectral_angle(
    x: ArrayLike,
    y: ArrayLike,
    band_mask: ArrayLike | None = None,
    weights: ArrayLike | None = None,
) -> np.ndarray:
    r"""Spectral angle in degrees between spectra paired along the last axis.

    Leading axes broadcast, so ``spectral_angle(X, X_hat)`` with ``(N, B)`` arrays gives the
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

    The vectors are selected and weighted as in :func:`spectral_angle`, then centred:
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
    return spectral_angle(E_est.T[:, None, :], E_true.T[None, :, :], band_mask, weights)


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


PIXEL_CHUNK = 4096
"""Pixels per block in reductions over a whole cube: float64 temporaries stay small."""


def pixel_chunks(num_pixels: int) -> list[slice]:
    """Consecutive slices of at most :data:`PIXEL_CHUNK` pixels covering ``range(num_pixels)``."""
    return [slice(i, i + PIXEL_CHUNK) for i in range(0, num_pixels, PIXEL_CHUNK)]


def valid_pixels(array: ArrayLike, mask: ArrayLike | None = None) -> np.ndarray:
    """Flatten ``(..., C)`` to ``(n, C)``, keeping the pixels where ``mask`` is True.

    Args:
        array: ``(H, W, C)`` or ``(N, C)`` per-pixel vectors.
        mask: bool of shape ``array.shape[:-1]``; all pixels by default.

    Returns:
        ``(n, C)`` rows, float32 data kept in float32 (a cube is large; reductions over it
        accumulate pairwise), anything else as float64.

    Raises:
        FTIRUnmixerError: if the mask does not have the array's pixel shape.

    """
    array = np.asarray(array)
    if array.dtype != np.float32:
        array = array.astype(np.float64)
    if mask is None:
        return array.reshape(-1, array.shape[-1])
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != array.shape[:-1]:
        raise FTIRUnmixerError(
            f"the pixel mask has shape {mask.shape} but the data have {array.shape[:-1]} "
            "pixels; give a mask of the image size."
        )
    return array[mask]


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
    E_est = np.asarray(result.endmembers, dtype=np.float64)
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
        clean_angles = spectral_angle(E_est.T[est], E_true.T[true], band_mask=clean)
    else:
        clean_angles = np.full(est.shape, np.nan)
    rmse = abundance_rmse_per_pair(result.abundances, ground_truth.abundances, matching, mask)
    residual = window_residual(
        E_est.T[est], E_true.T[true], clean, window_mask(wavenumbers, atmospheric_windows)
    )
    co2_residual = window_residual(
        E_est.T[est], E_true.T[true], clean, window_mask(wavenumbers, [CO2_WINDOW])
    )

    keys = _material_keys(ground_truth.names, E_true.shape[1])
    metrics: dict[str, float] = {
        "gt/mean_angle_deg": float(np.mean(matching.angles_deg)),
        "gt/max_angle_deg": float(np.max(matching.angles_deg)),
        "gt/mean_angle_clean_deg": float(np.mean(clean_angles)),
        "gt/abundance_rmse": _pooled_rmse(rmse),
        "gt/atmospheric_residual": float(np.mean(residual)),
        "gt/co2_residual": float(np.mean(co2_residual)),
        "gt/unmatched_true": float(len(matching.unmatched_true)),
        "gt/unmatched_est": float(len(matching.unmatched_est)),
    }
    per_material = {
        "gt/angle_deg": dict(zip(true.tolist(), matching.angles_deg, strict=True)),
        "gt/angle_clean_deg": dict(zip(true.tolist(), clean_angles, strict=True)),
        "gt/abundance_rmse": dict(zip(true.tolist(), rmse, strict=True)),
    }
    for prefix, values in per_material.items():
        for m, key in enumerate(keys):
            metrics[f"{prefix}/{key}"] = float(values.get(m, np.nan))
    return metrics, matching
