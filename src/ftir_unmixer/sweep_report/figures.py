"""Figures of a sweep report: SAD vs WSAD, K selection and a weight sweep's L-curve."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from ftir_unmixer.evaluation.ground_truth import ATMOSPHERIC_WINDOWS, match_endmembers
from ftir_unmixer.evaluation.k_selection import KRecommendation, RunEvidence
from ftir_unmixer.evaluation.weight_choice import WeightChoice
from ftir_unmixer.io.results_file import UnmixingResult
from ftir_unmixer.plots import draw_abundance_map, draw_spectrum, shade_windows


def plot_loss_comparison(sad: UnmixingResult, wsad: UnmixingResult, title: str) -> Figure:
    """SAD and WSAD maps and spectra in the paper's Fig. 6 layout.

    Rows: (a) SAD maps, SAD spectra, (b) WSAD maps, WSAD spectra; one column per component.
    WSAD components are reordered to face their closest SAD component (Hungarian matching on
    the endmember angles); their titles keep the WSAD run's own map numbers and give the
    angle to the SAD endmember. The CO₂ window is shaded on the spectra.

    Args:
        sad: the SAD run.
        wsad: the WSAD run (same K).
        title: the figure title.

    Returns:
        The figure.
    """
    k = sad.num_endmembers
    matching = match_endmembers(wsad.endmembers, sad.endmembers)
    order = matching.est_indices
    height, width, _ = sad.abundances.shape
    panel_w = max(1.3, 3.0 * width / height)
    fig, axes = plt.subplots(
        4, k, figsize=(panel_w * k, 8.5), squeeze=False, height_ratios=[3, 1.2, 3, 1.2]
    )
    co2 = [ATMOSPHERIC_WINDOWS[0]]
    for row, (label, result, indices) in enumerate(
        [("(a) SAD", sad, range(k)), ("(b) WSAD", wsad, order)]
    ):
        for col, index in enumerate(indices):
            angle = "" if row == 0 else f", {matching.angles_deg[col]:.1f}°"
            name = f"Map {index + 1}{angle}"
            draw_abundance_map(axes[2 * row, col], result.abundances[:, :, index], name)
            draw_spectrum(
                axes[2 * row + 1, col], result.wavenumbers, result.endmembers[:, index], ""
            )
            shade_windows(axes[2 * row + 1, col], co2, "CO₂")
        axes[2 * row, 0].set_ylabel(label, fontsize=10)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def _map_flags(evidence: RunEvidence) -> dict[int, list[str]]:
    flags: dict[int, list[str]] = {}
    for pair in evidence.duplicates:
        flags.setdefault(pair.first, []).append(f"dup {pair.second + 1}")
        flags.setdefault(pair.second, []).append(f"dup {pair.first + 1}")
    for index in evidence.empty:
        flags.setdefault(index, []).append("empty")
    for split in evidence.splits or []:
        flags.setdefault(split.index, []).append(f"split {split.angle_deg:.0f}°")
    return flags


def plot_k_maps(
    runs: Sequence[tuple[UnmixingResult, RunEvidence]], recommended: int, title: str
) -> Figure:
    """The abundance maps of every K, one row per K (the paper's Fig. 5 layout).

    Map titles carry the evidence: ``dup j`` (near duplicate of map j with correlated maps),
    ``empty`` (near-empty), ``split θ°`` (two spectral clusters θ apart).

    Args:
        runs: one (result, evidence) per K, in increasing K.
        recommended: the recommended K, marked in its row label.
        title: the figure title.

    Returns:
        The figure.
    """
    max_k = max(r.num_endmembers for r, _ in runs)
    height, width, _ = runs[0][0].abundances.shape
    panel_w = max(1.0, 2.4 * width / height)
    fig, axes = plt.subplots(
        len(runs), max_k, figsize=(panel_w * max_k + 0.6, 2.7 * len(runs)), squeeze=False
    )
    for row, (result, evidence) in enumerate(runs):
        flags = _map_flags(evidence)
        for col, ax in enumerate(axes[row]):
            if col >= result.num_endmembers:
                ax.set_visible(False)
                continue
            name = ", ".join([f"Map {col + 1}", *flags.get(col, [])])
            draw_abundance_map(ax, result.abundances[:, :, col], name)
        mark = " (recommended)" if result.num_endmembers == recommended else ""
        axes[row, 0].set_ylabel(f"K = {result.num_endmembers}{mark}", fontsize=10)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def plot_k_evidence(recommendation: KRecommendation, title: str) -> Figure:
    """Reconstruction error and evidence counts against K, the recommended K and knee marked.

    Args:
        recommendation: the output of :func:`~ftir_unmixer.evaluation.k_selection.recommend_k`.
        title: the figure title.

    Returns:
        The figure.
    """
    per_k = recommendation.per_k
    ks = [s.k for s in per_k]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(7, 6), sharex=True)
    for s in per_k:
        top.plot(
            [s.k] * len(s.runs),
            [r.reconstruction_angle_deg for r in s.runs],
            "o",
            ms=3,
            color="0.6",
        )
    top.plot(ks, [s.reconstruction_angle_deg for s in per_k], "-o", label="mean over runs")
    if recommendation.knee is not None:
        top.axvline(
            recommendation.knee, color="0.5", ls=":", label=f"knee K = {recommendation.knee}"
        )
    top.axvline(recommendation.k, color="C3", ls="--", label=f"recommended K = {recommendation.k}")
    top.set_ylabel("mean reconstruction angle (°)")
    top.legend(fontsize=8)
    counts = {
        "duplicate pairs": [np.mean([len(r.duplicates) for r in s.runs]) for s in per_k],
        "empty maps": [np.mean([len(r.empty) for r in s.runs]) for s in per_k],
        "split maps": [np.mean([len(r.splits or []) for r in s.runs]) for s in per_k],
    }
    width = 0.25 * float(np.min(np.diff(ks)))
    for i, (label, values) in enumerate(counts.items()):
        bottom.bar(np.asarray(ks) + (i - 1) * width, values, width, label=label)
    bottom.axvline(recommendation.k, color="C3", ls="--")
    bottom.set_xlabel("K")
    bottom.set_ylabel("per run")
    bottom.set_xticks(ks)
    bottom.legend(fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def plot_weight_choice(choice: WeightChoice, key: str, title: str) -> Figure:
    """Mean reconstruction angle against endmember log volume over a weight sweep.

    Each run is a grey dot, each weight the mean of its runs, labelled with its value and
    joined in order of volume; the chord between the end points is dotted and the knee (the
    chosen weight) ringed in red.

    Args:
        choice: the output of :func:`~ftir_unmixer.evaluation.weight_choice.choose_weight`.
        key: the swept configuration key, for the labels.
        title: the figure title.

    Returns:
        The figure.
    """
    points = choice.points
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    for p in points:
        ax.plot(p.log_volumes, p.reconstruction_angles_deg, "o", ms=3, color="0.6")
    x = [p.log_volume for p in points]
    y = [p.reconstruction_angle_deg for p in points]
    ax.plot(x, y, "-o", label="mean over runs")
    ax.plot([x[0], x[-1]], [y[0], y[-1]], ":", color="0.5", label="chord")
    for p in points:
        ax.annotate(
            f"{p.weight:g}",
            (p.log_volume, p.reconstruction_angle_deg),
            textcoords="offset points",
            xytext=(4, 4),
            fontsize=8,
        )
    if choice.knee is not None:
        ax.plot(
            x[choice.knee],
            y[choice.knee],
            "o",
            ms=12,
            mfc="none",
            mec="C3",
            label=f"knee: {key} = {choice.weight:g}",
        )
    ax.set_xlabel("endmember log volume (diag/endmember_log_volume)")
    ax.set_ylabel("mean reconstruction angle (°)")
    ax.legend(fontsize=8)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig
