"""Shared pieces of the instrument-file readers.

Every reader returns a :class:`~ftir_unmixer.io.input_file.HyperspectralData` holding the
cube exactly as the file has it: ``(H, W, B)`` float32; the wavenumber axis in the file's
order (empty if the file has none); the tiles the file defines (one unless it is a mosaic);
an all-True mask unless the file carries one; and the root attributes ``format``, ``units``,
``source`` and ``notes`` (what the reader assumed or converted). Nothing is validated here
beyond what is needed to build the cube: :mod:`ftir_unmixer.io.input_checks` checks the values.

Only NumPy is imported here; optional format libraries are imported by
:func:`import_optional` inside the reader that needs them.
"""

from __future__ import annotations

import importlib
import math
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

import numpy as np

from ftir_unmixer.errors import FTIRUnmixerError
from ftir_unmixer.io.input_file import GroundTruth, HyperspectralData

PathLike = str | os.PathLike[str]

#: The pip extra (``ftir-unmixer[io]``) that installs the optional format libraries.
IO_EXTRA = "io"


def import_optional(module: str, package: str, path: PathLike) -> ModuleType:
    """Import an optional format library, or explain which package to install.

    Args:
        module: the module to import (e.g. ``"spectral.io.envi"``).
        package: the PyPI package that provides it (e.g. ``"spectral"``).
        path: the file being read, named in the error message.

    Returns:
        The imported module.

    Raises:
        FTIRUnmixerError: if the package is not installed.

    """
    try:
        return importlib.import_module(module)
    except ImportError:
        raise FTIRUnmixerError(
            f"{path}: reading this format needs the '{package}' package; install it with "
            f"`pip install 'ftir-unmixer[{IO_EXTRA}]'` or `pip install {package}`."
        ) from None


@contextmanager
def library_errors(path: PathLike, fmt: str) -> Iterator[None]:
    """Turn any failure of a third-party format library into a one-sentence user error.

    Args:
        path: the file being read.
        fmt: the format name, as ``--format`` spells it.

    Yields:
        Nothing; wrap the library call in a ``with`` block.

    Raises:
        FTIRUnmixerError: if the wrapped call raises anything.

    """
    try:
        yield
    except FTIRUnmixerError:
        raise
    except Exception as exc:  # third-party parsers raise anything on a damaged file
        raise FTIRUnmixerError(
            f"{path}: cannot be read as {fmt} ({type(exc).__name__}: {exc}); check that the "
            f"file is complete or name its real format with --format."
        ) from None


def map_geometry(
    num_spectra: int, rows: int | None, cols: int | None, source: PathLike
) -> tuple[int, int, str | None]:
    """Decide the map geometry of ``num_spectra`` spectra stored one after another.

    Args:
        num_spectra: how many spectra the file holds.
        rows: ``--rows`` if given.
        cols: ``--cols`` if given.
        source: the file named in error messages.

    Returns:
        ``(rows, cols, note)``; ``note`` says what was assumed, or is None.

    Raises:
        FTIRUnmixerError: if the given geometry does not hold ``num_spectra`` spectra, or
            none is given and the count is not a square.

    """
    if rows is not None and cols is not None:
        if rows * cols != num_spectra:
            raise FTIRUnmixerError(
                f"{source}: holds {num_spectra} spectra but --rows {rows} × --cols {cols} "
                f"= {rows * cols}; give the geometry of the map."
            )
        return rows, cols, None
    given = rows if rows is not None else cols
    if given is not None:
        if num_spectra % given:
            flag = "--rows" if rows is not None else "--cols"
            raise FTIRUnmixerError(
                f"{source}: holds {num_spectra} spectra, which is not a multiple of "
                f"{flag} {given}; give the geometry of the map."
            )
        other = num_spectra // given
        return (given, other, None) if rows is not None else (other, given, None)
    side = math.isqrt(num_spectra)
    if side * side != num_spectra:
        raise FTIRUnmixerError(
            f"{source}: holds {num_spectra} spectra and no geometry was given; give --rows "
            "and --cols (spectrum j is pixel (j // cols, j % cols))."
        )
    note = None if num_spectra == 1 else f"assumed a square {side}×{side} map"
    return side, side, note


def spectra_to_cube(spectra: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Arrange ``(B, N)`` spectra row-major into an ``(rows, cols, B)`` cube.

    Spectrum ``j`` becomes pixel ``(j // cols, j % cols)``: the C-order reshape to
    ``(B, rows, cols)`` followed by a transpose, as the authors do with their OPUS export.

    Args:
        spectra: ``(B, N)`` array with ``N = rows * cols``.
        rows: map height.
        cols: map width.

    Returns:
        The ``(rows, cols, B)`` float32 cube.

    """
    bands = spectra.shape[0]
    cube = spectra.reshape(bands, rows, cols).transpose(1, 2, 0)
    return np.ascontiguousarray(cube, dtype=np.float32)


def make_data(
    cube: np.ndarray,
    wavenumbers: np.ndarray,
    path: PathLike,
    fmt: str,
    *,
    tile_rows: Sequence[int] | None = None,
    mask: np.ndarray | None = None,
    ground_truth: GroundTruth | None = None,
    units: str = "absorbance",
    notes: Sequence[str] = (),
) -> HyperspectralData:
    """Wrap a cube read from an instrument file.

    Args:
        cube: ``(H, W, B)`` array.
        wavenumbers: ``(B,)`` axis in the file's order, or an empty array if the file has
            none (``read_any`` then takes it from ``--wavenumbers``).
        path: the file it was read from.
        fmt: the format name (``dpt``, ``opus`` …).
        tile_rows: rows of each tile if the file is a mosaic; one tile otherwise.
        mask: ``(H, W)`` bool, True = valid; all True if None.
        ground_truth: known endmembers and abundances, if the file has them.
        units: the physical quantity of the values.
        notes: what the reader assumed or converted, for the summary and provenance.

    Returns:
        The cube with its tiles named ``<stem>`` or ``<stem>_<i>``.

    """
    path = Path(path)
    cube = np.asarray(cube, dtype=np.float32)
    height, width = cube.shape[:2]
    rows = [height] if tile_rows is None else [int(r) for r in tile_rows]
    names = [path.stem] if len(rows) == 1 else [f"{path.stem}_{i}" for i in range(len(rows))]
    return HyperspectralData(
        cube=cube,
        wavenumbers=np.asarray(wavenumbers, dtype=np.float64),
        mask=np.ones((height, width), dtype=bool) if mask is None else np.asarray(mask, bool),
        tile_names=names,
        tile_rows=rows,
        ground_truth=ground_truth,
        attrs={"format": fmt, "units": units, "source": path.name, "notes": list(notes)},
        path=path,
    )
