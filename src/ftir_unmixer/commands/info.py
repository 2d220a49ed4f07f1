"""``ftir-unmixer info``: describe an input HDF5 file or any readable instrument file."""

from __future__ import annotations

import argparse

from ftir_unmixer.commands._reader_options import add_reader_options, reader_options

NAME = "info"
HELP = (
    "Describe an input HDF5 file or an instrument file: geometry, tiles, axis, NaN/Inf, "
    "constant bands, mask, ground truth and attributes."
)


def register(parser: argparse.ArgumentParser) -> None:
    """Add the arguments of ``info``.

    Args:
        parser: the sub-parser.

    """
    parser.add_argument("file", help="an input HDF5 file or an instrument file")
    add_reader_options(parser)


def run(args: argparse.Namespace) -> int:
    """Read the file and print its description.

    Args:
        args: the parsed command line.

    Returns:
        0 on success (user errors raise ``FTIRUnmixerError``).

    """
    from ftir_unmixer.io.describe import describe
    from ftir_unmixer.io.readers import read_any

    data = read_any(args.file, **reader_options(args))
    print("\n".join(describe(data)))
    return 0
