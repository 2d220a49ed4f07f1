"""``ftir-unmixer match``: identify a run's endmembers against reference spectra.

Example::

    ftir-unmixer match outputs/run/results.h5 --library refs/ extra/lead_soap.dpt -o ids.csv

Every endmember of ``results.h5`` is scored against every reference (weighted spectral angle
with the run's band weights, and Pearson correlation); the three best references are printed
per endmember, and the best is named as the match if its angle is within ``--threshold``.
"""

from __future__ import annotations

import argparse

NAME = "match"
HELP = "Identify the endmembers of a results.h5 against a library of reference spectra."

CSV_COLUMNS = ("endmember", "label", "rank", "reference", "angle_deg", "correlation", "bands")


def register(parser: argparse.ArgumentParser) -> None:
    """Add the ``match`` arguments."""
    parser.add_argument("results", metavar="RESULTS.h5", help="a run's results.h5")
    parser.add_argument(
        "--library",
        metavar="PATH",
        nargs="+",
        required=True,
        help="reference spectra: two-column .dpt/.csv/.txt files or folders of them",
    )
    parser.add_argument(
        "--threshold",
        metavar="DEG",
        type=float,
        default=None,
        help="largest spectral angle in degrees accepted as a match (default: 15)",
    )
    parser.add_argument(
        "--top",
        metavar="N",
        type=int,
        default=3,
        help="candidates listed per endmember (default: 3)",
    )
    parser.add_argument(
        "--unweighted",
        action="store_true",
        help="score on all bands equally instead of with the run's band weights",
    )
    parser.add_argument(
        "-o", "--output", metavar="TABLE.csv", default=None, help="also write the table as CSV"
    )


def _rows(identifications: list) -> list[dict[str, object]]:
    """One CSV row per candidate (or one empty row for an endmember without candidates)."""
    from ftir_unmixer.evaluation.library import format_label

    rows: list[dict[str, object]] = []
    for ident in identifications:
        base = {"endmember": ident.endmember + 1, "label": format_label(ident.match)}
        if not ident.candidates:
            rows.append(base)
        for rank, cand in enumerate(ident.candidates, start=1):
            rows.append(
                base
                | {
                    "rank": rank,
                    "reference": cand.reference,
                    "angle_deg": f"{cand.angle_deg:.3f}",
                    "correlation": f"{cand.correlation:.4f}",
                    "bands": cand.num_bands,
                }
            )
    return rows


def _print_table(identifications: list) -> None:
    from ftir_unmixer.evaluation.library import format_label

    for ident in identifications:
        print(f"endmember {ident.endmember + 1}: {format_label(ident.match)}")
        if not ident.candidates:
            print("  (no reference overlaps enough valid bands)")
            continue
        width = max(len("reference"), *(len(c.reference) for c in ident.candidates))
        print(f"  rank  {'reference':<{width}}  angle (°)  correlation  bands")
        for rank, cand in enumerate(ident.candidates, start=1):
            print(
                f"  {rank:>4}  {cand.reference:<{width}}  {cand.angle_deg:>9.2f}  "
                f"{cand.correlation:>11.4f}  {cand.num_bands:>5}"
            )


def _write_csv(path: str, rows: list[dict[str, object]]) -> None:
    import csv

    from ftir_unmixer.io.atomic import atomic_path

    with atomic_path(path) as tmp, open(tmp, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)


def run(args: argparse.Namespace) -> int:
    """Score, print and optionally write the identification table."""
    from ftir_unmixer.errors import FTIRUnmixerError
    from ftir_unmixer.evaluation.library import (
        DEFAULT_MATCH_THRESHOLD_DEG,
        ReferenceLibrary,
        identify,
    )
    from ftir_unmixer.io.results_file import read_results

    threshold = DEFAULT_MATCH_THRESHOLD_DEG if args.threshold is None else args.threshold
    if not threshold > 0 or args.top < 1:
        raise FTIRUnmixerError(
            "--threshold must be a positive angle in degrees and --top at least 1."
        )
    result = read_results(args.results)
    library = ReferenceLibrary.from_paths(args.library)
    identifications = identify(
        result.endmembers,
        result.wavenumbers,
        library,
        band_weights=None if args.unweighted else result.band_weights,
        threshold_deg=threshold,
        top=args.top,
    )
    _print_table(identifications)
    if args.output:
        _write_csv(args.output, _rows(identifications))
        print(f"wrote {args.output}")
    return 0
