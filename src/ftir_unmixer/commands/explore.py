"""``ftir-unmixer explore``: an interactive, self-contained HTML explorer of one or more runs."""

from __future__ import annotations

import argparse

NAME = "explore"
HELP = (
    "Write one offline HTML file to explore runs: click a pixel of the abundance, RGB or "
    "error maps to see its measured spectrum, reconstruction, residual and abundances; "
    "several runs (e.g. SAD and WSAD) side by side with their endmembers matched."
)


def register(parser: argparse.ArgumentParser) -> None:
    """Add the arguments of ``explore``.

    Args:
        parser: the sub-parser.
    """
    parser.add_argument(
        "runs", nargs="+", metavar="RUN_DIR", help="run directories (holding results.h5)"
    )
    parser.add_argument(
        "-o", "--output", default="explorer.html", help="the HTML file (default: explorer.html)"
    )
    parser.add_argument(
        "--input",
        metavar="FILE.h5",
        default=None,
        help="the input file the runs were trained on (default: the one named in results.h5)",
    )
    parser.add_argument("--title", default=None, help="page title (default: the run names)")


def run(args: argparse.Namespace) -> int:
    """Write the explorer and print its size and the quantisation error of its spectra.

    Args:
        args: the parsed command line.

    Returns:
        0 on success (user errors raise ``FTIRUnmixerError``).
    """
    from ftir_unmixer.explorer.page import write_explorer

    page = write_explorer(args.runs, args.output, input_path=args.input, title=args.title)
    print(
        f"explorer written to {page.path} ({page.size_bytes / 1e6:.1f} MB); displayed spectra "
        f"within {100 * page.error.max_relative:.2f} % of each pixel's range "
        f"(RMS {100 * page.error.rms_relative:.2f} %)"
    )
    return 0
