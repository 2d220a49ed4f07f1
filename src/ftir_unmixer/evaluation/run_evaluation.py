"""Everything scored at the end of a run: ground truth, diagnostics, library identification."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ftir_unmixer.evaluation.diagnostics import (
    ReconstructionSums,
    ground_truth_free_diagnostics,
)
from ftir_unmixer.evaluation.ground_truth import Matching, ground_truth_metrics, metric_name
from ftir_unmixer.evaluation.library import ReferenceLibrary, identification_labels, identify
from ftir_unmixer.io.input_file import HyperspectralData
from ftir_unmixer.io.results_file import UnmixingResult


@dataclass
class RunEvaluation:
    """The scores of one run and a label per component for figure titles.

    Attributes:
        metrics: flat ``gt/…``, ``diag/…`` and ``id/…`` scalars.
        labels: per endmember, the identified reference (library) or matched material
            (ground truth) with its angle, e.g. ``"lead soap, 4.1°"``; empty if neither.
        identifications: the library's top matches per endmember, if a library was given.
    """

    metrics: dict[str, float]
    labels: list[str] = field(default_factory=list)
    identifications: list = field(default_factory=list)


def identification_accuracy(labels: Sequence[str], truth: Sequence[str | None]) -> float:
    """Fraction of ground-truth-matched endmembers whose library match names that material.

    A reference matches a material when its normalised name (:func:`metric_name`) contains
    the material's normalised name, so ``synthetic_lead_soap`` identifies ``lead soap``.

    Args:
        labels: the identified reference per endmember (``"no match"`` allowed).
        truth: the matched material per endmember (None for unmatched endmembers).

    Returns:
        The accuracy over endmembers with a true material, NaN if there are none.
    """
    pairs = [(lab, t) for lab, t in zip(labels, truth, strict=True) if t is not None]
    if not pairs:
        return float("nan")
    hits = [metric_name(t) in metric_name(lab.split(",")[0]) for lab, t in pairs]
    return float(np.mean(hits))


def ground_truth_labels(matching: Matching, names: Sequence[str]) -> list[str]:
    """Per estimated endmember, its matched material and angle (``"lead soap, 4.1°"``) or ``""``.

    Args:
        matching: the estimated endmembers matched to the true ones.
        names: the true material names.
    """
    angles = dict(zip(matching.est_indices.tolist(), matching.angles_deg, strict=True))
    return [
        f"{name}, {angles[k]:.1f}°" if name is not None else ""
        for k, name in enumerate(matching.labels(names))
    ]


def evaluate_run(
    result: UnmixingResult,
    data: HyperspectralData,
    reconstruction: ReconstructionSums,
    bad_windows: Sequence[Sequence[float]] = (),
    library: ReferenceLibrary | None = None,
    match_threshold_deg: float = 15.0,
) -> RunEvaluation:
    """Score a run.

    Args:
        result: the run's results (endmembers in input units).
        data: the input data (mask, wavenumbers, optional ground truth).
        reconstruction: sums over the valid pixels of the cube as fed to the model and its
            reconstruction (in the data's scale), with the band weights used.
        bad_windows: ``loss.band_weights.bad_windows``, excluded from the clean scores.
        library: reference spectra to name the endmembers with, if any.
        match_threshold_deg: largest angle accepted as an identification.

    Returns:
        The metrics and component labels.
    """
    metrics = ground_truth_free_diagnostics(
        reconstruction, result.endmembers_model, result.abundances, mask=data.mask
    )
    labels: list[str] = []
    truth: list[str | None] = []
    if data.ground_truth is not None:
        gt_metrics, matching = ground_truth_metrics(
            result, data.ground_truth, data.wavenumbers, bad_windows=bad_windows, mask=data.mask
        )
        metrics |= gt_metrics
        truth = matching.labels(data.ground_truth.names)
        labels = ground_truth_labels(matching, data.ground_truth.names)
    identifications = []
    if library is not None:
        identifications = identify(
            result.endmembers,
            data.wavenumbers,
            library,
            band_weights=result.band_weights,
            threshold_deg=match_threshold_deg,
        )
        labels = identification_labels(identifications)
        metrics["id/num_identified"] = float(sum(i.match is not None for i in identifications))
        if truth:
            metrics["id/accuracy"] = identification_accuracy(labels, truth)
    return RunEvaluation(metrics=metrics, labels=labels, identifications=identifications)
