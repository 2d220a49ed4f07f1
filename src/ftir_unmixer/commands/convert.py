"""``ftir-unmixer convert``: instrument files → an input HDF5 file (docs/file-formats.md).

Each input becomes one tile (or several with ``--tile-rows``), stacked along the rows in the
order given. Everything is read and checked before anything is written, and the output is
written atomically, so a failed conversion leaves no file behind.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ftir_unmixer.commands._reader_options import add_reader_options, reader_options

NAME = "convert"
HELP = (
    "Convert instrument files (OPUS .dpt/binary, Agilent, ENVI, .mat, .npy/.npz) to an "
    "input HDF5 file."
)


def _fraction(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text} is not between 0 and 1")
    return value


def register(parser: argparse.ArgumentParser) -> None:
    """Add the arguments of ``convert``.

    Args:
        parser: the sub-parser.

    """
    parser.add_argument(
        "inputs", nargs="+", metavar="INPUT", help="instrument files, one tile each, in order"
    )
    parser.add_argument("-o", "--output", required=True, help="the input HDF5 file to write")
    add_reader_options(parser)
    parser.add_argument(
        "--max-bad-fraction",
        type=_fraction,
        default=0.5,
        help="largest fraction of pixels with NaN/Inf that are masked instead of refused "
        "(default: 0.5)",
    )


def run(args: argparse.Namespace) -> int:
    """Read, check and write; print warnings and a one-line summary.

    Args:
        args: the parsed command line.

    Returns:
        0 on success (user errors raise ``FTIRUnmixerError``).

    """
    import warnings

    import numpy as np

    from ftir_unmixer import __version__
    from ftir_unmixer.errors import FTIRUnmixerError
    from ftir_unmixer.io.describe import describe_axis
    from ftir_unmixer.io.input_checks import validate_input
    from ftir_unmixer.io.input_file import write_input
    from ftir_unmixer.io.readers import detect_format, read_any

    inputs = [Path(p) for p in args.inputs]
    output = Path(args.output)
    if any(output.resolve() == p.resolve() for p in inputs):
        raise FTIRUnmixerError(f"-o {output}: is also an input; write to another file.")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data = read_any(inputs, **reader_options(args))
        data = validate_input(data, max_bad_fraction=args.max_bad_fraction)
    for warning in caught:
        print(f"warning: {warning.message}", file=sys.stderr)
    formats = sorted({args.format or detect_format(p) for p in inputs})
    notes = [str(n) for n in data.attrs.get("notes", [])]
    extra_attrs: dict[str, object] = {"converted_by": f"ftir-unmixer {__version__}"}
    if notes:
        extra_attrs["conversion_notes"] = notes
    bounds = np.cumsum([0, *data.tile_rows])
    tiles = {
        name: data.cube[start:stop]
        for name, start, stop in zip(data.tile_names, bounds[:-1], bounds[1:], strict=True)
    }
    try:
        write_input(
            output,
            tiles,
            data.wavenumbers,
            mask=data.mask,
            ground_truth=data.ground_truth,
            units=str(data.attrs.get("units", "absorbance")),
            source=f"{', '.join(p.name for p in inputs)} ({', '.join(formats)})",
            extra_attrs=extra_attrs,
        )
    except OSError as exc:
        raise FTIRUnmixerError(
            f"-o {output}: cannot be written ({exc.strerror or exc}); choose a writable path."
        ) from None
    height, width, bands = data.shape
    masked = int((~data.mask).sum())
    for note in notes:
        print(f"note: {note}")
    print(
        f"wrote {output}: {height}×{width} px × {bands} bands in {len(tiles)} tile(s) of "
        f"{', '.join(map(str, data.tile_rows))} rows; axis {describe_axis(data.wavenumbers)}; "
        f"{masked} of {height * width} pixels masked"
    )
    return 0
