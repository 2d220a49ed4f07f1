"""``ftir-unmixer report``: one table and the comparison figures of a multirun directory."""

from __future__ import annotations

import argparse

NAME = "report"
HELP = (
    "Summarise a sweep (python -m ftir_unmixer.train -m …): a table of the swept keys and "
    "metrics (CSV, Markdown), SAD vs WSAD figures (and with --explore an interactive explorer "
    "per pair), maps per K with a recommended K, the regularisation weight at the knee of a "
    "weight sweep, and the seed-to-seed spread; offline."
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
    parser.add_argument(
        "--explore",
        action="store_true",
        help="also write an interactive explorer_<pair>.html per SAD/WSAD pair (see `explore`)",
    )


def run(args: argparse.Namespace) -> int:
    """Write the report and print where it is, the recommended K and the chosen weights.

    Args:
        args: the parsed command line.

    Returns:
        0 on success (user errors raise ``FTIRUnmixerError``).

    """
    from ftir_unmixer.sweep_report.writer import write_report

    report = write_report(args.multirun_dir, args.output)
    if args.explore:
        from ftir_unmixer.explorer.page import write_explorer
        from ftir_unmixer.sweep_report.jobs import swept_keys
        from ftir_unmixer.sweep_report.writer import loss_pairs

        for pair in loss_pairs(report.jobs, swept_keys(report.jobs)):
            page = write_explorer(
                [pair.sad.directory, pair.wsad.directory],
                report.output_dir / f"explorer_{pair.name}.html",
                names=[f"SAD (job {pair.sad.name})", f"WSAD (job {pair.wsad.name})"],
                title=pair.title,
            )
            report.files.append(page.path)
    statuses = [job.status for job in report.jobs]
    print(
        f"{len(statuses)} jobs ({statuses.count('ok')} finished, {statuses.count('failed')} "
        f"failed, {statuses.count('incomplete')} incomplete); report in {report.output_dir}"
    )
    for path in report.files:
        print(f"  {path}")
    for label, recommendation in report.recommendations.items():
        print(f"recommended K ({label}): {recommendation.k}: {recommendation.reason}")
    for name, choice in report.weight_choices.items():
        chosen = f"{choice.weight:g}" if choice.weight is not None else "none (no knee)"
        print(f"chosen {name}: {chosen}")
    return 0
