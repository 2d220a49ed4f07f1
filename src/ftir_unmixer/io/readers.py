"""Read any supported file into a stacked cube: format detection, options and tiles.

:func:`read_any` picks the reader from the extension (or ``format``), passes it the options
that apply to that format (and refuses the others), supplies the axis from ``wavenumbers``
when the file has none, splits each file into tiles of ``tile_rows`` rows if asked, and
stacks several files along the rows, one file after another. Values are not checked here;
:func:`ftir_unmixer.io.input_checks.validate_input` does that before conversion.

=========  ============================================  ======================
format     extensions                                    options
=========  ============================================  ======================
dpt        ``.dpt`` ``.csv`` ``.txt`` ``.tsv``            rows, cols
opus       ``.0`` ``.1`` … (numeric)                     rows, cols
agilent    ``.dat`` ``.seq`` ``.dmt`` ``.dms``           none
envi       ``.hdr`` ``.img`` (``.dat`` with a ``.hdr``)  none
mat        ``.mat``                                      key, rows, cols
npy        ``.npy``                                      none
npz        ``.npz``                                      key
h5         ``.h5`` ``.hdf5`` (the input contract)        none
=========  ============================================  ======================
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from ftir_unmixer.errors import FTIRUnmixerError
from ftir_unmixer.io.agilent import read_agilent
from ftir_unmixer.io.dpt import read_dpt, read_table
from ftir_unmixer.io.envi import read_envi
from ftir_unmixer.io.input_file import HyperspectralData, check_file, read_input
from ftir_unmixer.io.matlab import read_mat
from ftir_unmixer.io.numpy_files import read_npy, read_npz
from ftir_unmixer.io.opus import read_opus
from ftir_unmixer.io.reader_helpers import PathLike

_READERS: dict[str, tuple[Callable[..., HyperspectralData], frozenset[str]]] = {
    "dpt": (read_dpt, frozenset({"rows", "cols"})),
    "opus": (read_opus, frozenset({"rows", "cols"})),
    "agilent": (read_agilent, frozenset()),
    "envi": (read_envi, frozenset()),
    "mat": (read_mat, frozenset({"key", "rows", "cols"})),
    "npy": (read_npy, frozenset()),
    "npz": (read_npz, frozenset({"key"})),
    "h5": (read_input, frozenset()),
}
_SUFFIXES = {
    ".dpt": "dpt",
    ".csv": "dpt",
    ".txt": "dpt",
    ".tsv": "dpt",
    ".dat": "agilent",
    ".seq": "agilent",
    ".dmt": "agilent",
    ".dms": "agilent",
    ".hdr": "envi",
    ".img": "envi",
    ".mat": "mat",
    ".npy": "npy",
    ".npz": "npz",
    ".h5": "h5",
    ".hdf5": "h5",
}

#: The names ``--format`` accepts.
FORMATS = tuple(_READERS)


def detect_format(path: PathLike) -> str:
    """Detect the format of a file from its extension.

    A ``.dat`` file is Agilent unless it has an ENVI ``.hdr`` and no Agilent ``.bsp``
    beside it; numeric extensions (``.0``, ``.1`` …) are OPUS.

    Args:
        path: the file.

    Returns:
        One of :data:`FORMATS`.

    Raises:
        FTIRUnmixerError: if the extension is not known.

    """
    path = Path(path)
    suffix = path.suffix.lower()
    if re.fullmatch(r"\.\d+", suffix):
        return "opus"
    if (
        suffix == ".dat"
        and path.with_suffix(".hdr").is_file()
        and not path.with_suffix(".bsp").is_file()
    ):
        return "envi"
    if suffix not in _SUFFIXES:
        raise FTIRUnmixerError(
            f"{path}: unknown file type '{suffix or path.name}'; name the format with "
            f"--format ({', '.join(FORMATS)})."
        )
    return _SUFFIXES[suffix]


def load_wavenumbers(spec: str, num_bands: int) -> np.ndarray:
    """Build the axis that ``--wavenumbers`` describes.

    Args:
        spec: ``START:STOP`` (``num_bands`` evenly spaced values, both ends included), a
            ``.npy`` file with a 1-D array, or a text file whose first column is the axis.
        num_bands: the number of bands of the cube.

    Returns:
        The axis as float64, unchecked (validation compares it with the cube).

    Raises:
        FTIRUnmixerError: if the spec is neither a readable file nor ``START:STOP``.

    """
    path = Path(spec)
    if path.is_file():
        if path.suffix.lower() == ".npy":
            try:
                return np.ravel(np.load(path, allow_pickle=False)).astype(np.float64)
            except (ValueError, OSError) as exc:
                raise FTIRUnmixerError(
                    f"--wavenumbers {spec}: cannot be loaded ({exc}); save the axis with "
                    "numpy.save or as a text column."
                ) from None
        return read_table(path)[:, 0]
    start, sep, stop = spec.partition(":")
    try:
        lo, hi = float(start), float(stop)
    except ValueError:
        lo = hi = math.nan
    if not sep or not (math.isfinite(lo) and math.isfinite(hi)):
        raise FTIRUnmixerError(
            f"--wavenumbers {spec}: is neither an existing file nor START:STOP; give a file "
            "with the axis or e.g. 3849.2:950.7."
        )
    return np.linspace(lo, hi, num_bands)


def split_tiles(data: HyperspectralData, tile_rows: int) -> HyperspectralData:
    """Split a cube into tiles of ``tile_rows`` rows, named ``<stem>_<i>``.

    Args:
        data: the cube of one file.
        tile_rows: rows per tile; must divide the cube's height.

    Returns:
        The same cube with new tile names and rows.

    Raises:
        FTIRUnmixerError: if ``tile_rows`` does not divide the height.

    """
    height = data.shape[0]
    if tile_rows <= 0 or height % tile_rows:
        raise FTIRUnmixerError(
            f"{data.path}: has {height} rows, which --tile-rows {tile_rows} does not divide; "
            f"give a divisor of {height}."
        )
    count = height // tile_rows
    stem = data.path.stem if data.path is not None else "tile"
    names = [stem] if count == 1 else [f"{stem}_{i}" for i in range(count)]
    return dataclasses.replace(data, tile_names=names, tile_rows=[tile_rows] * count)


def _read_one(
    path: Path,
    fmt: str | None,
    options: dict[str, object],
    wavenumbers: str | None,
    tile_rows: int | None,
) -> HyperspectralData:
    check_file(path)
    fmt = fmt or detect_format(path)
    if fmt not in _READERS:
        raise FTIRUnmixerError(f"--format {fmt}: unknown format; use one of {', '.join(FORMATS)}.")
    reader, accepted = _READERS[fmt]
    given = {k: v for k, v in options.items() if v is not None}
    unused = sorted(set(given) - accepted)
    if unused:
        raise FTIRUnmixerError(f"{path}: --{unused[0]} does not apply to {fmt} files; drop it.")
    data = reader(path, **given)
    if data.wavenumbers.size == 0:
        if wavenumbers is None:
            raise FTIRUnmixerError(
                f"{path}: has no wavenumber axis; give --wavenumbers FILE or START:STOP."
            )
        data = dataclasses.replace(data, wavenumbers=load_wavenumbers(wavenumbers, data.shape[2]))
    elif wavenumbers is not None:
        raise FTIRUnmixerError(f"{path}: has its own wavenumber axis; drop --wavenumbers.")
    return data if tile_rows is None else split_tiles(data, tile_rows)


def _unique(names: list[str]) -> list[str]:
    """Make tile names unique by numbering repeats (``a``, ``a_2`` …)."""
    seen: dict[str, int] = {}
    out = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name}_{seen[name]}")
    return out


def _stack(paths: list[Path], parts: list[HyperspectralData]) -> HyperspectralData:
    """Stack the cubes of several files along the rows, checking that they fit together."""
    first, first_path = parts[0], paths[0]
    units = str(first.attrs.get("units", ""))
    for path, part in zip(paths[1:], parts[1:], strict=True):
        (_, width, bands), (_, width0, bands0) = part.shape, first.shape
        if (width, bands) != (width0, bands0):
            raise FTIRUnmixerError(
                f"{path}: has {width} columns and {bands} bands but {first_path} has {width0} "
                f"and {bands0}; all tiles must share width and band count."
            )
        if not np.allclose(part.wavenumbers, first.wavenumbers, rtol=0, atol=1e-6):
            raise FTIRUnmixerError(
                f"{path}: its wavenumber axis differs from that of {first_path}; export all "
                "tiles on the same axis."
            )
        if str(part.attrs.get("units", "")) != units:
            raise FTIRUnmixerError(
                f"{path}: holds {part.attrs.get('units')} but {first_path} holds {units}; "
                "convert files of one kind together."
            )
        if part.ground_truth is not None or first.ground_truth is not None:
            raise FTIRUnmixerError(
                f"{path}: ground truth can only come from a single input file; convert the "
                "file with ground truth on its own."
            )
    return HyperspectralData(
        cube=np.concatenate([p.cube for p in parts], axis=0),
        wavenumbers=first.wavenumbers,
        mask=np.concatenate([p.mask for p in parts], axis=0),
        tile_names=_unique([n for p in parts for n in p.tile_names]),
        tile_rows=[r for p in parts for r in p.tile_rows],
        attrs={
            "units": units,
            "source": ", ".join(p.name for p in paths),
            "notes": [
                f"{path.name}: {note}"
                for path, part in zip(paths, parts, strict=True)
                for note in part.attrs.get("notes", [])
            ],
        },
    )


def read_any(
    paths: PathLike | Sequence[PathLike],
    *,
    format: str | None = None,
    rows: int | None = None,
    cols: int | None = None,
    key: str | None = None,
    wavenumbers: str | None = None,
    tile_rows: int | None = None,
) -> HyperspectralData:
    """Read one file, or several files stacked along the rows (one or more tiles each).

    Args:
        paths: a file, or files in stacking order.
        format: one of :data:`FORMATS`; detected from each extension if None.
        rows: map height (dpt, opus, mat).
        cols: map width (dpt, opus, mat).
        key: the variable or array holding the cube (mat, npz).
        wavenumbers: ``--wavenumbers`` spec for files without an axis (see
            :func:`load_wavenumbers`).
        tile_rows: split each file into tiles of this many rows.

    Returns:
        The stacked cube, unvalidated, with the tiles in order.

    Raises:
        FTIRUnmixerError: if a path is missing or unreadable, its format is unknown, an
            option does not apply, the files disagree in width, bands, axis or units, or a
            reader fails.

    """
    if isinstance(paths, str | os.PathLike):
        paths = [paths]
    files = [Path(p) for p in paths]
    if not files:
        raise FTIRUnmixerError("no input file given; name at least one file.")
    options = {"rows": rows, "cols": cols, "key": key}
    parts = [_read_one(p, format, options, wavenumbers, tile_rows) for p in files]
    return parts[0] if len(parts) == 1 else _stack(files, parts)
