"""Aggregate a Hydra multirun directory into one table and the paper's comparison figures.

``ftir-unmixer report MULTIRUN_DIR`` reads every job below the directory (each has
``.hydra/overrides.yaml`` and, when it finished, ``results.h5``; a job that failed inside a
sweep has ``error.txt``) and writes, with no network access, into ``MULTIRUN_DIR/report``:

* ``summary.csv`` and ``summary.md``: one row per job: the swept keys (the overrides whose
  values differ between jobs), method, loss, K, seed, status and the metrics (the CSV has
  every metric, the Markdown table the scalar ``gt/``, ``diag/`` and ``id/`` ones); failed
  jobs are listed with their error;
* ``sad_vs_wsad_<group>.png`` when the sweep holds SAD and WSAD runs that differ only in the
  loss: the paper's Fig. 6 layout, maps and spectra of (a) SAD above (b) WSAD, WSAD
  components reordered to face their closest SAD component;
* ``k_selection_maps_<group>.png`` and ``k_selection_evidence_<group>.png`` when K is swept:
  the maps of every K one row each (Fig. 5 layout) with the over/under-modelling evidence
  in the titles, the reconstruction error against K, and the recommended K
  (:mod:`ftir_unmixer.evaluation.k_selection`);
* ``seed_spread.csv`` where runs differ only in their seed: mean ± standard deviation of the
  metrics and the mean matched angle between the replicates' endmembers.

Groups are the jobs that share the values of every swept key except the one being compared
(the loss, K or seed).
"""

from __future__ import annotations

import csv
import logging
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import yaml
from matplotlib.figure import Figure

from ftir_unmixer.errors import FTIRUnmixerError
from ftir_unmixer.evaluation.diagnostics import replicate_stability
from ftir_unmixer.evaluation.ground_truth import ATMOSPHERIC_WINDOWS, match_endmembers, metric_name
from ftir_unmixer.evaluation.k_selection import (
    KRecommendation,
    RunEvidence,
    recommend_k,
    run_evidence,
)
from ftir_unmixer.io.input_file import read_input
from ftir_unmixer.io.results_file import UnmixingResult, read_results
from ftir_unmixer.outputs import RESULTS_FILE
from ftir_unmixer.plots import draw_abundance_map, draw_spectrum, save_figure, shade_windows
from ftir_unmixer.train import ERROR_FILE

log = logging.getLogger(__name__)

LOSS_KEYS = frozenset({"loss", "loss.name", "experiment"})
"""Swept keys that select the loss; SAD and WSAD runs are paired across them."""
K_KEYS = frozenset({"model.num_endmembers"})
SEED_KEYS = frozenset({"seed"})
METRIC_PREFIXES = ("gt/", "diag/", "id/")
PROVENANCE = ("method", "loss", "K", "seed")


@dataclass
class Job:
    """One job of a sweep.

    Attributes:
        name: its directory relative to the multirun directory (e.g. ``3``).
        directory: its output directory.
        overrides: the task overrides (``key → value``, ``+``/``~`` prefixes removed).
        result: the results, None if the job did not finish.
        error: the recorded error (``error.txt``) or the reason no result could be read.
    """

    name: str
    directory: Path
    overrides: dict[str, str]
    result: UnmixingResult | None = None
    error: str | None = None

    @property
    def status(self) -> str:
        """``ok``, ``failed`` (an error was recorded) or ``incomplete`` (killed or running)."""
        if self.result is not None:
            return "ok"
        return "failed" if self.error else "incomplete"

    @property
    def provenance(self) -> dict[str, object]:
        """Method, loss, K and seed from the results (empty if the job did not finish)."""
        if self.result is None:
            return {}
        attrs = self.result.attrs
        return {
            "method": attrs.get("method", "ftir_unmixer"),
            "loss": attrs.get("loss"),
            "K": self.result.num_endmembers,
            "seed": attrs.get("seed"),
        }


def _parse_overrides(lines: Iterable[str]) -> dict[str, str]:
    pairs = {}
    for line in lines:
        key, _, value = str(line).partition("=")
        pairs[key.lstrip("+~")] = value
    return pairs


def collect_jobs(multirun_dir: str | os.PathLike[str]) -> list[Job]:
    """Find and read every job below a multirun directory.

    Args:
        multirun_dir: the ``hydra.sweep.dir`` of a ``-m`` run (or a single run's directory).

    Returns:
        The jobs, ordered by their directory (numerically where the names are numbers).

    Raises:
        FTIRUnmixerError: if the directory holds no Hydra job.
    """
    root = Path(multirun_dir)
    if not root.is_dir():
        raise FTIRUnmixerError(f"{root}: no such directory; give the directory of a sweep.")
    files = [p for p in root.rglob("overrides.yaml") if p.parent.name == ".hydra"]
    if not files:
        raise FTIRUnmixerError(
            f"{root}: no Hydra job found (no .hydra/overrides.yaml below it); give the "
            "directory of a `python -m ftir_unmixer.train -m …` sweep."
        )
    jobs = []
    for overrides_file in files:
        directory = overrides_file.parent.parent
        name = directory.relative_to(root).as_posix() if directory != root else directory.name
        job = Job(
            name, directory, _parse_overrides(yaml.safe_load(overrides_file.read_text()) or [])
        )
        error_file = directory / ERROR_FILE
        if (directory / RESULTS_FILE).is_file():
            try:
                job.result = read_results(directory / RESULTS_FILE)
            except FTIRUnmixerError as exc:
                job.error = str(exc)
        elif error_file.is_file():
            job.error = error_file.read_text().strip()
        jobs.append(job)
    return sorted(jobs, key=lambda j: [int(p) if p.isdigit() else p for p in j.name.split("/")])


def swept_keys(jobs: Sequence[Job]) -> list[str]:
    """The override keys whose values differ between jobs (or that only some jobs set)."""
    keys: list[str] = []
    for job in jobs:
        keys += [k for k in job.overrides if k not in keys]
    return [k for k in keys if len({j.overrides.get(k) for j in jobs}) > 1]


def metric_columns(jobs: Sequence[Job], *, scalar_only: bool) -> list[str]:
    """The metric names present in the finished jobs, ``gt/`` then ``diag/`` then ``id/``.

    Args:
        jobs: the jobs.
        scalar_only: keep only ``prefix/name`` keys (no per-material ``prefix/kind/name``).
    """
    names = {k for j in jobs if j.result is not None for k in j.result.metrics}
    return [
        k
        for prefix in METRIC_PREFIXES
        for k in sorted(names)
        if k.startswith(prefix) and (not scalar_only or k.count("/") == 1)
    ]


def group_jobs(
    jobs: Sequence[Job], keys: Sequence[str], ignore: frozenset[str]
) -> dict[str, list[Job]]:
    """Finished jobs grouped by their values of ``keys`` other than ``ignore``.

    Returns:
        Group label (``key=value …``, or ``all`` when nothing else is swept) → jobs.
    """
    groups: dict[str, list[Job]] = {}
    for job in jobs:
        if job.result is None:
            continue
        label = " ".join(f"{k}={job.overrides.get(k, '')}" for k in keys if k not in ignore)
        groups.setdefault(label or "all", []).append(job)
    return groups


def _format(value: object) -> str:
    if isinstance(value, float | np.floating):
        return f"{value:.4g}"
    return "" if value is None else str(value)


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A GitHub-flavoured Markdown table; floats with four significant digits."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_format(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def summary_rows(
    jobs: Sequence[Job], keys: Sequence[str], metrics: Sequence[str], *, with_error: bool
) -> tuple[list[str], list[list[object]]]:
    """Header and rows of the summary table (one row per job)."""
    header = ["job", "status", *keys, *PROVENANCE, *metrics]
    rows = []
    for job in jobs:
        values = job.result.metrics if job.result is not None else {}
        provenance = job.provenance
        rows.append(
            [
                job.name,
                job.status,
                *(job.overrides.get(k, "") for k in keys),
                *(provenance.get(p) for p in PROVENANCE),
                *(values.get(m) for m in metrics),
            ]
            + ([(job.error or "").splitlines()[-1] if job.error else ""] if with_error else [])
        )
    return header + (["error"] if with_error else []), rows


def write_csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[object]]) -> Path:
    """Write a CSV file (floats in full precision)."""
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows([["" if v is None else v for v in row] for row in rows])
    return path


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


class _InputCache:
    """Input cubes on a result's wavenumber axis, read once per file (for the split test)."""

    def __init__(self) -> None:
        self._cubes: dict[str, tuple[np.ndarray, np.ndarray] | None] = {}

    def cube_for(self, result: UnmixingResult) -> np.ndarray | None:
        path = str(result.attrs.get("input", ""))
        if path not in self._cubes:
            try:
                data = read_input(path)
                self._cubes[path] = (data.cube, data.wavenumbers)
            except (FTIRUnmixerError, OSError) as exc:
                log.warning("No split test for runs on %s: %s", path, exc)
                self._cubes[path] = None
        entry = self._cubes[path]
        if entry is None:
            return None
        cube, wavenumbers = entry
        bands = np.isin(wavenumbers, result.wavenumbers)
        if bands.sum() != result.wavenumbers.size or cube.shape[:2] != result.abundances.shape[:2]:
            return None
        return cube[:, :, bands]


@dataclass
class Report:
    """What :func:`write_report` wrote.

    Attributes:
        output_dir: the report directory.
        jobs: every job found.
        files: every written file.
        recommendations: group label → recommended K (K sweeps only).
    """

    output_dir: Path
    jobs: list[Job]
    files: list[Path] = field(default_factory=list)
    recommendations: dict[str, KRecommendation] = field(default_factory=dict)


def _slug(label: str) -> str:
    return metric_name(label) or "all"


def _loss_sections(report: Report, keys: Sequence[str]) -> list[str]:
    lines: list[str] = []
    for label, group in group_jobs(report.jobs, keys, LOSS_KEYS | K_KEYS | SEED_KEYS).items():
        by_setting: dict[tuple, dict[str, Job]] = {}
        for job in group:
            setting = (job.provenance["K"], job.provenance["seed"])
            by_setting.setdefault(setting, {}).setdefault(str(job.provenance["loss"]), job)
        for (k, seed), losses in by_setting.items():
            if not {"sad", "wsad"} <= losses.keys():
                continue
            sad, wsad = losses["sad"], losses["wsad"]
            name = _slug(f"{label} K{k} s{seed}".removeprefix("all "))
            path = report.output_dir / f"sad_vs_wsad_{name}.png"
            title = f"SAD (job {sad.name}) vs WSAD (job {wsad.name}), K = {k}, seed {seed}"
            save_figure(plot_loss_comparison(sad.result, wsad.result, title), str(path))
            report.files.append(path)
            lines += [f"### {title}", "", f"![SAD vs WSAD]({path.name})", ""]
    return ["## SAD vs WSAD (Fig. 6)", "", *lines] if lines else []


def _k_sections(report: Report, keys: Sequence[str]) -> list[str]:
    lines: list[str] = []
    inputs = _InputCache()
    for label, group in group_jobs(report.jobs, keys, K_KEYS | SEED_KEYS).items():
        if len({j.provenance["K"] for j in group}) < 2:
            continue
        evidence = [run_evidence(j.result, inputs.cube_for(j.result), label=j.name) for j in group]
        recommendation = recommend_k(evidence)
        report.recommendations[label] = recommendation
        first = {}
        for job, ev in sorted(zip(group, evidence, strict=True), key=lambda p: p[1].seed or 0):
            first.setdefault(ev.num_endmembers, (job.result, ev))
        runs = [first[k] for k in sorted(first)]
        title = f"K selection ({label})"
        maps = report.output_dir / f"k_selection_maps_{_slug(label)}.png"
        curves = report.output_dir / f"k_selection_evidence_{_slug(label)}.png"
        save_figure(plot_k_maps(runs, recommendation.k, title), str(maps))
        save_figure(plot_k_evidence(recommendation, title), str(curves))
        report.files += [maps, curves]
        rows = [
            [
                s.k,
                len(s.runs),
                "yes" if s.over_modelled else "",
                "yes" if s.under_modelled else "",
                s.reconstruction_angle_deg,
                s.error_drop,
            ]
            for s in recommendation.per_k
        ]
        header = [
            "K",
            "runs",
            "over-modelling",
            "under-modelling",
            "recon. angle (°)",
            "drop to next K",
        ]
        findings = [
            f"- job {ev.label} (K = {ev.num_endmembers}): {item}"
            for ev in evidence
            for item in ev.describe()
        ]
        untested = [ev.label for ev in evidence if ev.splits is None]
        lines += [
            f"### {label}: recommended K = {recommendation.k}",
            "",
            recommendation.reason[0].upper() + recommendation.reason[1:],
            "",
            markdown_table(header, rows),
            "",
            *(findings or ["- no over- or under-modelling evidence in any run"]),
            *(
                [f"- split test skipped (input cube not readable) for jobs {', '.join(untested)}"]
                if untested
                else []
            ),
            "",
            f"![maps per K]({maps.name})",
            "",
            f"![evidence]({curves.name})",
            "",
        ]
    return ["## K selection (Fig. 5)", "", *lines] if lines else []


def _seed_sections(report: Report, keys: Sequence[str], metrics: Sequence[str]) -> list[str]:
    lines: list[str] = []
    csv_rows = []
    for label, group in group_jobs(report.jobs, keys, SEED_KEYS).items():
        if len({j.provenance["seed"] for j in group}) < 2:
            continue
        stability = (
            replicate_stability([j.result.endmembers for j in group])
            if len({j.result.endmembers.shape for j in group}) == 1
            else float("nan")
        )
        rows = []
        for metric in metrics:
            values = np.array([j.result.metrics.get(metric, np.nan) for j in group], dtype=float)
            mean, std = float(np.nanmean(values)), float(np.nanstd(values, ddof=1))
            rows.append([metric, f"{mean:.4g} ± {std:.2g}"])
            csv_rows.append([label, len(group), metric, mean, std])
        csv_rows.append([label, len(group), "replicate_stability_deg", stability, ""])
        lines += [
            f"### {label} ({len(group)} seeds)",
            "",
            f"Replicate stability (mean matched angle between the endmembers of the seeds): "
            f"{stability:.2f}°.",
            "",
            markdown_table(["metric", "mean ± std"], rows),
            "",
        ]
    if not lines:
        return []
    path = write_csv(
        report.output_dir / "seed_spread.csv", ["group", "runs", "metric", "mean", "std"], csv_rows
    )
    report.files.append(path)
    return ["## Seed-to-seed spread", "", *lines]


def write_report(
    multirun_dir: str | os.PathLike[str], output_dir: str | os.PathLike[str] | None = None
) -> Report:
    """Read a multirun directory and write the report files.

    Args:
        multirun_dir: the sweep directory.
        output_dir: where to write; ``MULTIRUN_DIR/report`` by default.

    Returns:
        What was written, with the recommended K of every K sweep.
    """
    jobs = collect_jobs(multirun_dir)
    out = Path(output_dir) if output_dir is not None else Path(multirun_dir) / "report"
    out.mkdir(parents=True, exist_ok=True)
    report = Report(out, jobs)
    keys = swept_keys(jobs)
    table_metrics = metric_columns(jobs, scalar_only=True)
    header, rows = summary_rows(
        jobs, keys, metric_columns(jobs, scalar_only=False), with_error=True
    )
    report.files.append(write_csv(out / "summary.csv", header, rows))
    counts = {s: sum(j.status == s for j in jobs) for s in ("ok", "failed", "incomplete")}
    failed = [j for j in jobs if j.status == "failed"]
    md_header, md_rows = summary_rows(jobs, keys, table_metrics, with_error=False)
    sections = [
        f"# Sweep report: {Path(multirun_dir).resolve()}",
        "",
        f"{len(jobs)} jobs: {counts['ok']} finished, {counts['failed']} failed, "
        f"{counts['incomplete']} incomplete. Swept keys: {', '.join(keys) or 'none'}.",
        "",
        "## Runs",
        "",
        markdown_table(md_header, md_rows),
        "",
    ]
    if failed:
        sections += ["## Failed jobs", ""]
        sections += [
            f"- job {j.name} ({' '.join(f'{k}={v}' for k, v in j.overrides.items())}): "
            f"{j.error.splitlines()[-1]}"
            for j in failed
        ]
        sections.append("")
    sections += _loss_sections(report, keys)
    sections += _k_sections(report, keys)
    sections += _seed_sections(report, keys, table_metrics)
    markdown = out / "summary.md"
    markdown.write_text("\n".join(sections))
    report.files.insert(1, markdown)
    return report
