r"""Choosing K: over- and under-modelling evidence per run, and a recommended K per sweep.

The criteria and their thresholds are explained in docs/method.md ("Choosing K"):
:func:`run_evidence` gathers a run's near-duplicate pairs (close endmembers whose maps are
also correlated), near-empty maps and split maps (:func:`map_splits`: the dominated pixels'
data spectra fall into two distinct clusters, bands weighted by their reliability);
:func:`recommend_k` lets replicates vote and recommends the largest K below the first
over-modelled one, else the knee of the reconstruction error (:func:`reconstruction_knee`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike
from sklearn.cluster import KMeans

from ftir_unmixer.band_weights import BandWeightConfig, score_to_weight
from ftir_unmixer.errors import FTIRUnmixerError
from ftir_unmixer.evaluation.diagnostics import (
    DEFAULT_DUPLICATE_ANGLE_DEG,
    DEFAULT_EMPTY_LEVEL,
    DuplicatePair,
    empty_maps,
    near_duplicate_pairs,
)
from ftir_unmixer.evaluation.knee import knee_index
from ftir_unmixer.evaluation.pixels import valid_pixels
from ftir_unmixer.evaluation.spectral_angles import spectral_angle_deg
from ftir_unmixer.io.results_file import UnmixingResult

__all__ = [
    "DEFAULT_MIN_CLUSTER_FRACTION",
    "DEFAULT_MIN_MAP_CORRELATION",
    "DEFAULT_SPLIT_ANGLE_DEG",
    "KRecommendation",
    "KSummary",
    "MapSplit",
    "RunEvidence",
    "map_splits",
    "recommend_k",
    "reconstruction_knee",
    "run_evidence",
]

DEFAULT_MIN_MAP_CORRELATION = 0.5
"""Near-duplicate endmembers count as over-modelling only if their maps correlate this much."""

DEFAULT_SPLIT_ANGLE_DEG = 10.0
"""Cluster means of one map's pixels farther apart than this (degrees) mean two materials; the
same scale as the duplicate threshold: distinct materials are farther apart than that."""

DEFAULT_MIN_CLUSTER_FRACTION = 0.1
"""Both clusters of a split map must hold at least this fraction of its pixels, so that a few
outliers (spikes, dead pixels) do not make a split."""

MIN_SPLIT_PIXELS = 20
"""Maps dominating fewer pixels are not tested for a split."""

MAX_SPLIT_PIXELS = 4000
"""At most this many pixels (an even subsample) are clustered per map."""

DEFAULT_ERROR_DROP = 0.1
"""A relative drop of the reconstruction angle larger than this from one K to the next counts
as under-modelling evidence for the smaller K."""


@dataclass(frozen=True)
class MapSplit:
    """A map whose dominated pixels fall into two spectrally different clusters.

    Attributes:
        index: the map (endmember) index.
        angle_deg: spectral angle between the two cluster means.
        fractions: the share of the map's pixels in each cluster.
        num_pixels: pixels where the map dominates.
    """

    index: int
    angle_deg: float
    fractions: tuple[float, float]
    num_pixels: int


@dataclass
class RunEvidence:
    """Over- and under-modelling evidence of one run.

    Attributes:
        label: the run's name in the report (e.g. its job directory).
        num_endmembers: K.
        seed: the run's seed (None if unknown).
        reconstruction_angle_deg: mean per-pixel spectral angle of the reconstruction.
        duplicates: near-duplicate pairs with correlated maps.
        empty: indices of near-empty maps.
        splits: split maps; None when the data spectra were not available.
    """

    label: str
    num_endmembers: int
    seed: int | None
    reconstruction_angle_deg: float
    duplicates: list[DuplicatePair] = field(default_factory=list)
    empty: list[int] = field(default_factory=list)
    splits: list[MapSplit] | None = None

    @property
    def over_modelled(self) -> bool:
        """Whether the run shows duplicated or unused components."""
        return bool(self.duplicates or self.empty)

    @property
    def under_modelled(self) -> bool:
        """Whether a map of the run holds two spectrally different pixel populations."""
        return bool(self.splits)

    def describe(self) -> list[str]:
        """The evidence in words, one item per finding (empty when there is none)."""
        lines = [
            f"maps {p.first + 1} and {p.second + 1} duplicate each other "
            f"({p.angle_deg:.1f}°, map correlation {p.map_correlation:.2f})"
            for p in self.duplicates
        ]
        lines += [f"map {i + 1} is near-empty" for i in self.empty]
        lines += [
            f"map {s.index + 1} splits into two spectral clusters {s.angle_deg:.1f}° apart "
            f"({100 * s.fractions[0]:.0f}% / {100 * s.fractions[1]:.0f}% of "
            f"{s.num_pixels} pixels)"
            for s in self.splits or []
        ]
        return lines


def map_splits(
    abundances: ArrayLike,
    cube: ArrayLike,
    mask: ArrayLike | None = None,
    *,
    band_weights: ArrayLike | None = None,
    split_angle_deg: float = DEFAULT_SPLIT_ANGLE_DEG,
    min_cluster_fraction: float = DEFAULT_MIN_CLUSTER_FRACTION,
    seed: int = 0,
) -> list[MapSplit]:
    """Find the maps whose dominated pixels form two spectrally different clusters.

    Args:
        abundances: ``(H, W, K)`` abundance maps.
        cube: ``(H, W, B)`` data spectra of the same pixels (any units; angles ignore scale).
        mask: ``(H, W)`` bool, valid pixels.
        band_weights: ``(B,)`` weights of the bands in the clustering and the angle (all 1
            by default).
        split_angle_deg: smallest angle between the cluster means that counts as a split.
        min_cluster_fraction: smallest share of the pixels the smaller cluster must hold.
        seed: seed of the k-means initialisation and of the pixel subsample.

    Returns:
        The split maps, in map order.
    """
    a = valid_pixels(abundances, mask)
    x = valid_pixels(cube, mask)
    if a.shape[0] != x.shape[0]:
        raise FTIRUnmixerError(
            f"the abundances cover {a.shape[0]} pixels but the data {x.shape[0]}; give the "
            "cube the run was trained on."
        )
    dominant = np.argmax(a, axis=1)
    rng = np.random.default_rng(seed)
    splits = []
    for k in range(a.shape[1]):
        pixels = np.flatnonzero(dominant == k)
        if pixels.size < MIN_SPLIT_PIXELS:
            continue
        if pixels.size > MAX_SPLIT_PIXELS:
            pixels = np.sort(rng.choice(pixels, MAX_SPLIT_PIXELS, replace=False))
        spectra = np.asarray(x[pixels], dtype=np.float64)
        if band_weights is not None:
            spectra = spectra * np.asarray(band_weights, dtype=np.float64)
        norms = np.linalg.norm(spectra, axis=1, keepdims=True)
        directions = spectra / np.where(norms > 0, norms, 1.0)
        labels = KMeans(n_clusters=2, n_init=4, random_state=seed).fit_predict(directions)
        fractions = np.bincount(labels, minlength=2) / labels.size
        if fractions.min() < min_cluster_fraction:
            continue
        means = [spectra[labels == c].mean(axis=0) for c in (0, 1)]
        angle = float(spectral_angle_deg(means[0], means[1]))
        if angle > split_angle_deg:
            splits.append(
                MapSplit(k, angle, (float(fractions[0]), float(fractions[1])), pixels.size)
            )
    return splits


def run_evidence(
    result: UnmixingResult,
    cube: ArrayLike | None = None,
    *,
    label: str = "",
    duplicate_angle_deg: float = DEFAULT_DUPLICATE_ANGLE_DEG,
    min_map_correlation: float = DEFAULT_MIN_MAP_CORRELATION,
    empty_level: float = DEFAULT_EMPTY_LEVEL,
    split_angle_deg: float = DEFAULT_SPLIT_ANGLE_DEG,
    min_cluster_fraction: float = DEFAULT_MIN_CLUSTER_FRACTION,
) -> RunEvidence:
    """Collect the over- and under-modelling evidence of one result.

    The valid pixels are those where ``reconstruction_error`` is finite (the run's mask). The
    split test weighs the bands with Eq. 13 of the stored outlier scores at the default
    τ, α and w_min (:class:`~ftir_unmixer.band_weights.BandWeightConfig`).

    Args:
        result: the run's results.
        cube: ``(H, W, B)`` the data on the result's wavenumber axis, for the split test;
            None skips it.
        label: the run's name in reports.
        duplicate_angle_deg: see :func:`~ftir_unmixer.evaluation.diagnostics.near_duplicate_pairs`.
        min_map_correlation: smallest map correlation of a duplicate pair.
        empty_level: see :func:`~ftir_unmixer.evaluation.diagnostics.empty_maps`.
        split_angle_deg: see :func:`map_splits`.
        min_cluster_fraction: see :func:`map_splits`.

    Returns:
        The evidence.
    """
    mask = np.isfinite(result.reconstruction_error)
    defaults = BandWeightConfig()
    reliability = score_to_weight(
        result.band_diagnostics["score"], defaults.tau, defaults.sharpness, defaults.w_min
    )
    pairs = near_duplicate_pairs(result.endmembers, result.abundances, duplicate_angle_deg, mask)
    seed = result.attrs.get("seed")
    return RunEvidence(
        label=label,
        num_endmembers=result.num_endmembers,
        seed=int(seed) if seed is not None else None,
        reconstruction_angle_deg=float(np.degrees(np.mean(result.reconstruction_error[mask]))),
        duplicates=[p for p in pairs if p.map_correlation >= min_map_correlation],
        empty=empty_maps(result.abundances, mask, empty_level),
        splits=None
        if cube is None
        else map_splits(
            result.abundances,
            cube,
            mask,
            band_weights=reliability,
            split_angle_deg=split_angle_deg,
            min_cluster_fraction=min_cluster_fraction,
        ),
    )


def reconstruction_knee(ks: Sequence[int], errors: Sequence[float]) -> int | None:
    """The knee of a decreasing reconstruction-error curve (:func:`knee_index`).

    Both axes are scaled to [0, 1]; the knee is the K farthest below the straight line from
    the first to the last point, where adding components stops paying off.

    Args:
        ks: increasing K values.
        errors: the error at each K.

    Returns:
        The knee K, or None with fewer than three points or no point below the chord.
    """
    index = knee_index(ks, errors)
    return None if index is None else int(ks[index])


@dataclass
class KSummary:
    """The evidence at one K of a sweep, over its replicate runs.

    Attributes:
        k: K.
        runs: the runs with this K.
        over_modelled: whether at least half of the runs show over-modelling.
        under_modelled: whether at least half of the runs have a split map, or the error
            drops by more than :data:`DEFAULT_ERROR_DROP` at the next K.
        reconstruction_angle_deg: mean over the runs.
        error_drop: relative drop of the reconstruction angle to the next K (NaN for the
            last K).
    """

    k: int
    runs: list[RunEvidence]
    over_modelled: bool
    under_modelled: bool
    reconstruction_angle_deg: float
    error_drop: float


@dataclass
class KRecommendation:
    """A recommended K with the evidence behind it.

    Attributes:
        k: the recommended K.
        reason: one sentence: the rule that chose it.
        per_k: the evidence at every K of the sweep, in increasing K.
        knee: the knee of the reconstruction-error curve (None if there is none).
    """

    k: int
    reason: str
    per_k: list[KSummary]
    knee: int | None


def _majority(flags: Sequence[bool]) -> bool:
    return bool(flags) and 2 * sum(flags) >= len(flags)


def recommend_k(
    runs: Sequence[RunEvidence], error_drop_threshold: float = DEFAULT_ERROR_DROP
) -> KRecommendation:
    """Turn the runs of a K sweep into a recommended K.

    Rule: the largest K below the smallest over-modelled K (the paper: "beyond K = 10,
    components begin to duplicate"); if no K is over-modelled, the knee of the
    reconstruction-error curve (or the largest K when there is no knee); if even the
    smallest K is over-modelled, that K, with the advice to sweep lower.

    Args:
        runs: the evidence of every run (several per K for replicates).
        error_drop_threshold: see :data:`DEFAULT_ERROR_DROP`.

    Returns:
        The recommendation.

    Raises:
        FTIRUnmixerError: with fewer than two distinct K.
    """
    ks = sorted({r.num_endmembers for r in runs})
    if len(ks) < 2:
        raise FTIRUnmixerError(
            f"choosing K needs runs with at least two values of K, got {ks}; sweep "
            "model.num_endmembers (e.g. experiment=k_selection)."
        )
    errors = [
        float(np.mean([r.reconstruction_angle_deg for r in runs if r.num_endmembers == k]))
        for k in ks
    ]
    drops = [(errors[i] - errors[i + 1]) / errors[i] for i in range(len(ks) - 1)] + [np.nan]
    per_k = []
    for k, error, drop in zip(ks, errors, drops, strict=True):
        group = [r for r in runs if r.num_endmembers == k]
        per_k.append(
            KSummary(
                k=k,
                runs=group,
                over_modelled=_majority([r.over_modelled for r in group]),
                under_modelled=_majority([r.under_modelled for r in group])
                or bool(drop > error_drop_threshold),
                reconstruction_angle_deg=error,
                error_drop=float(drop),
            )
        )
    knee = reconstruction_knee(ks, errors)
    over = [s.k for s in per_k if s.over_modelled]
    if not over:
        k = knee if knee is not None else ks[-1]
        how = "the knee of" if knee is not None else "the end of"
        reason = (
            f"no K of the sweep shows over-modelling; K = {k} is {how} the "
            "reconstruction-error curve."
        )
    elif over[0] == ks[0]:
        k = ks[0]
        reason = (
            f"already the smallest K of the sweep (K = {k}) shows over-modelling; sweep smaller K."
        )
    else:
        k = max(x for x in ks if x < over[0])
        reason = (
            f"K = {k} is the largest K before over-modelling appears (duplicated or empty "
            f"maps from K = {over[0]} on)."
        )
    return KRecommendation(k=k, reason=reason, per_k=per_k, knee=knee)
