"""``ftir-unmixer report``: one table and the comparison figures of a multirun directory."""

from __future__ import annotations

import argparse

NAME = "report"
HELP = (
    "Summarise a sweep (python -m ftir_unmixer.train -m …): a table of the swept keys and "
    "metrics (CSV, Markdown), SAD vs WSAD figures, maps per K with a recommended K, and the "
    "seed-to-seed spread; offline."
)


def register(parser: argparse.ArgumentParser) -> None:
    """Add the arguments of ``report``.

    Args:
        parser: the sub-parser.

    """
    parser.add_argument(
        "multirun_dir", help="the sweep directory (hydra.sweep.dir), e.g. outputs/train/multiruns/…"
    )
    parser.add_argument(
        "-o", "--output", help="report directory (default: MULTIRUN_DIR/report)", default=None
    )


def run(args: argparse.Namespace) -> int:
    """Write the report and print where it is, with the recommended K of any K sweep.

    Args:
        args: the parsed command line.

    Returns:
        0 on success (user errors raise ``FTIRUnmixerError``).

    """
    from ftir_unmixer.sweep_report.writer import write_report

    report = write_report(args.multirun_dir, args.output)
    statuses = [job.status for job in report.jobs]
    print(
        f"{len(statuses)} jobs ({statuses.count('ok')} finished, {statuses.count('failed')} "
        f"failed, {statuses.count('incomplete')} incomplete); report in {report.output_dir}"
    )
    for path in report.files:
        print(f"  {path}")
    for label, recommendation in report.recommendations.items():
        print(f"recommended K ({label}): {recommendation.k}: {recommendation.reason}")
    return 0
