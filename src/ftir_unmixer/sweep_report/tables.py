"""Tables of a sweep report: one row per job, as CSV and GitHub-flavoured Markdown."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ftir_unmixer.sweep_report.jobs import PROVENANCE, Job


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
