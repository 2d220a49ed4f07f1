"""Write a sweep report: the summary tables and the SAD-vs-WSAD, K, weight and seed sections.

Groups are the jobs that share the values of every swept key except the one being compared
(the loss, K, a regularisation weight or the seed).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ftir_unmixer.evaluation.diagnostics import replicate_stability
from ftir_unmixer.evaluation.ground_truth import metric_name
from ftir_unmixer.evaluation.k_selection import KRecommendation, recommend_k, run_evidence
from ftir_unmixer.evaluation.weight_choice import DEFAULT_KNEE_DEPTH, WeightChoice, choose_weight
from ftir_unmixer.plots import save_figure
from ftir_unmixer.sweep_report.figures import (
    plot_k_evidence,
    plot_k_maps,
    plot_loss_comparison,
    plot_weight_choice,
)
from ftir_unmixer.sweep_report.input_cubes import InputCubes
from ftir_unmixer.sweep_report.jobs import (
    K_KEYS,
    LOSS_KEYS,
    SEED_KEYS,
    WEIGHT_KEYS,
    Job,
    collect_jobs,
    group_jobs,
    metric_columns,
    swept_keys,
)
from ftir_unmixer.sweep_report.tables import markdown_table, summary_rows, write_csv


@dataclass
class Report:
    """What :func:`write_report` wrote.

    Attributes:
        output_dir: the report directory.
        jobs: every job found.
        files: every written file.
        recommendations: group label → recommended K (K sweeps only).
        weight_choices: ``<weight key> (<group label>)`` → the weight chosen at the knee
            (sweeps of a key in :data:`~ftir_unmixer.sweep_report.jobs.WEIGHT_KEYS` only).
    """

    output_dir: Path
    jobs: list[Job]
    files: list[Path] = field(default_factory=list)
    recommendations: dict[str, KRecommendation] = field(default_factory=dict)
    weight_choices: dict[str, WeightChoice] = field(default_factory=dict)


def _slug(label: str) -> str:
    return metric_name(label) or "all"


@dataclass(frozen=True)
class LossPair:
    """A SAD and a WSAD run that differ only in the loss.

    Attributes:
        sad: the SAD job.
        wsad: the WSAD job.
        name: a file-name-safe name (other swept keys, K and seed, e.g. ``K4_s42``).
        title: ``SAD (job …) vs WSAD (job …), K = …, seed …``.
    """

    sad: Job
    wsad: Job
    name: str
    title: str


def loss_pairs(jobs: Sequence[Job], keys: Sequence[str]) -> list[LossPair]:
    """The finished SAD/WSAD pairs of a sweep: same swept values, K and seed, other loss.

    Args:
        jobs: the sweep's jobs.
        keys: its swept keys (:func:`~ftir_unmixer.sweep_report.jobs.swept_keys`).
    """
    pairs = []
    for label, group in group_jobs(jobs, keys, LOSS_KEYS | K_KEYS | SEED_KEYS).items():
        by_setting: dict[tuple, dict[str, Job]] = {}
        for job in group:
            setting = (job.provenance["K"], job.provenance["seed"])
            by_setting.setdefault(setting, {}).setdefault(str(job.provenance["loss"]), job)
        for (k, seed), losses in by_setting.items():
            if not {"sad", "wsad"} <= losses.keys():
                continue
            sad, wsad = losses["sad"], losses["wsad"]
            pairs.append(
                LossPair(
                    sad,
                    wsad,
                    _slug(f"{label} K{k} s{seed}".removeprefix("all ")),
                    f"SAD (job {sad.name}) vs WSAD (job {wsad.name}), K = {k}, seed {seed}",
                )
            )
    return pairs


def _loss_sections(report: Report, keys: Sequence[str]) -> list[str]:
    lines: list[str] = []
    for pair in loss_pairs(report.jobs, keys):
        path = report.output_dir / f"sad_vs_wsad_{pair.name}.png"
        figure = plot_loss_comparison(pair.sad.result, pair.wsad.result, pair.title)
        save_figure(figure, str(path))
        report.files.append(path)
        lines += [f"### {pair.title}", "", f"![SAD vs WSAD]({path.name})", ""]
    return ["## SAD vs WSAD (Fig. 6)", "", *lines] if lines else []


def _k_sections(report: Report, keys: Sequence[str]) -> list[str]:
    lines: list[str] = []
    inputs = InputCubes()
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


RECONSTRUCTION_ANGLE = "diag/mean_reconstruction_angle_deg"
LOG_VOLUME = "diag/endmember_log_volume"
TRUTH_COLUMNS = ("gt/mean_angle_clean_deg", "gt/abundance_rmse")
"""Ground-truth scores shown beside the weight choice when the runs have them (not used
for the choice)."""


def _weight_value(job: Job, key: str) -> float:
    try:
        return float(job.overrides.get(key, "nan"))
    except ValueError:
        return float("nan")


def _weight_sections(report: Report, keys: Sequence[str]) -> list[str]:
    lines: list[str] = []
    for key in [k for k in keys if k in WEIGHT_KEYS]:
        for label, group in group_jobs(report.jobs, keys, frozenset({key}) | SEED_KEYS).items():
            weights = [_weight_value(j, key) for j in group]
            if len({w for w in weights if np.isfinite(w)}) < 3:
                continue
            metric = {
                name: [j.result.metrics.get(name, np.nan) for j in group]
                for name in (RECONSTRUCTION_ANGLE, LOG_VOLUME, *TRUTH_COLUMNS)
            }
            choice = choose_weight(weights, metric[RECONSTRUCTION_ANGLE], metric[LOG_VOLUME])
            name = f"{key} ({label})" if label != "all" else key
            report.weight_choices[name] = choice
            path = report.output_dir / f"weight_choice_{_slug(f'{key} {label}')}.png"
            save_figure(plot_weight_choice(choice, key, f"{key}: L-curve ({label})"), str(path))
            report.files.append(path)
            truth = [c for c in TRUTH_COLUMNS if np.isfinite(metric[c]).any()]
            rows = []
            for index, point in sorted(enumerate(choice.points), key=lambda p: p[1].weight):
                runs = [i for i, w in enumerate(weights) if w == point.weight]
                rows.append(
                    [
                        point.weight,
                        len(point.log_volumes),
                        point.reconstruction_angle_deg,
                        point.log_volume,
                        *(float(np.nanmean([metric[c][i] for i in runs])) for c in truth),
                        "knee" if index == choice.knee else "",
                    ]
                )
            header = [key, "runs", "recon. angle (°)", "log volume", *truth, "chosen"]
            verdict = (
                f"chosen {key} = {choice.weight:g}"
                if choice.weight is not None
                else f"no knee, no {key} chosen"
            )
            reason = (
                f"The knee of the mean reconstruction angle ({RECONSTRUCTION_ANGLE}) against the "
                f"endmember log volume ({LOG_VOLUME}), both without ground truth: the point "
                "farthest below the chord between the end points, on axes scaled to [0, 1]"
                if choice.weight is not None
                else "No point lies more than "
                f"{DEFAULT_KNEE_DEPTH:g} below the chord between the end points (axes scaled to "
                "[0, 1]): the angle does not trade off against the volume with a clear corner"
            )
            lines += [
                f"### {name}: {verdict}",
                "",
                reason
                + ("; the ground-truth columns are shown for checking only." if truth else "."),
                "",
                markdown_table(header, rows),
                "",
                f"![L-curve]({path.name})",
                "",
            ]
    return ["## Regularisation weight (knee of the L-curve)", "", *lines] if lines else []


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
    sections += _weight_sections(report, keys)
    sections += _seed_sections(report, keys, table_metrics)
    markdown = out / "summary.md"
    markdown.write_text("\n".join(sections))
    report.files.insert(1, markdown)
    return report
