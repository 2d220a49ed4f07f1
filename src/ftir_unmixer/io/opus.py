"""Bruker OPUS binary files (``file.0``, ``file.1`` …) through ``brukeropus``.

Only result spectra are used: the absorbance block (``AB``), else the ATR-corrected block.
A file with one spectrum becomes a 1×1 map; a data series (one spectrum per pixel of a map)
is laid out row-major like a data point table (spectrum ``j`` is pixel
``(j // cols, j % cols)``). Single-channel spectra, interferograms and phases are not
absorbance and are refused.
"""

from __future__ import annotations

import numpy as np

from ftir_unmixer.errors import FTIRUnmixerError
from ftir_unmixer.io.input_file import HyperspectralData
from ftir_unmixer.io.reader_helpers import (
    PathLike,
    import_optional,
    library_errors,
    make_data,
    map_geometry,
    spectra_to_cube,
)

#: Data blocks accepted, in order of preference, with the units they hold.
_BLOCKS = {"a": "absorbance", "atr": "ATR-corrected absorbance"}


def read_opus(
    path: PathLike, *, rows: int | None = None, cols: int | None = None
) -> HyperspectralData:
    """Read the absorbance spectra of an OPUS file.

    Args:
        path: the OPUS file.
        rows: map height for a data series; with ``cols``, or inferred.
        cols: map width for a data series; without either, a square map is assumed.

    Returns:
        The ``(rows, cols, B)`` cube as one tile, with the axis in cm⁻¹ in the file's order.

    Raises:
        FTIRUnmixerError: if ``brukeropus`` is missing, the file is not an OPUS file, holds
            no absorbance spectra, or does not hold ``rows × cols`` spectra.

    """
    brukeropus = import_optional("brukeropus", "brukeropus", path)
    with library_errors(path, "opus"):
        opus = brukeropus.read_opus(str(path))
    if not opus:
        raise FTIRUnmixerError(
            f"{path}: is not an OPUS file (it lacks the OPUS signature); check the file or "
            "name its format with --format."
        )
    key = next((k for k in _BLOCKS if k in opus.all_data_keys), None)
    if key is None:
        found = ", ".join(opus.all_data_keys) or "none"
        raise FTIRUnmixerError(
            f"{path}: holds no absorbance spectra (data blocks: {found}); save the "
            "absorbance (AB) in OPUS and convert that file."
        )
    block = getattr(opus, key)
    if block.dxu not in ("WN", "MI", "LGW"):
        raise FTIRUnmixerError(
            f"{path}: the absorbance block has x units '{block.dxu}', not a spectral axis; "
            "save it against wavenumber in OPUS."
        )
    spectra = np.atleast_2d(np.asarray(block.y, dtype=np.float64))
    height, width, note = map_geometry(spectra.shape[0], rows, cols, path)
    cube = spectra_to_cube(spectra.T, height, width)
    notes = [f"read the '{block.label}' block"] + ([note] if note else [])
    return make_data(cube, np.asarray(block.wn), path, "opus", units=_BLOCKS[key], notes=notes)
