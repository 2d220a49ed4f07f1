"""The reader options shared by ``convert`` and ``info`` (not a subcommand itself)."""

from __future__ import annotations

import argparse


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text} is not a positive integer")
    return value


def add_reader_options(parser: argparse.ArgumentParser) -> None:
    """Add the options of :func:`ftir_unmixer.io.readers.read_any` to a sub-parser.

    Args:
        parser: the sub-parser of ``convert`` or ``info``.

    """
    parser.add_argument(
        "--format",
        help="file format: dpt, opus, agilent, envi, mat, npy, npz or h5 "
        "(default: from each file's extension)",
    )
    parser.add_argument(
        "--rows", type=_positive_int, help="map height of a dpt, OPUS series or .mat file"
    )
    parser.add_argument(
        "--cols",
        type=_positive_int,
        help="map width; spectrum j is pixel (j // cols, j %% cols), as in a row-major map",
    )
    parser.add_argument(
        "--tile-rows", type=_positive_int, help="split each input into tiles of this many rows"
    )
    parser.add_argument("--key", help="variable (.mat) or array (.npz) that holds the cube")
    parser.add_argument(
        "--wavenumbers",
        metavar="FILE|START:STOP",
        help="axis for files without one: a .npy or text file, or START:STOP in cm⁻¹ "
        "(evenly spaced, both ends included)",
    )


def reader_options(args: argparse.Namespace) -> dict[str, object]:
    """Collect the options added by :func:`add_reader_options` for ``read_any``.

    Args:
        args: the parsed command line.

    Returns:
        Keyword arguments of :func:`ftir_unmixer.io.readers.read_any`.

    """
    return {
        "format": args.format,
        "rows": args.rows,
        "cols": args.cols,
        "key": args.key,
        "wavenumbers": args.wavenumbers,
        "tile_rows": args.tile_rows,
    }
