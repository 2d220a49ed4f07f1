"""NumPy files: a ``.npy`` cube, or a ``.npz`` archive with the cube and its axis.

``.npy`` holds only the ``(H, W, B)`` cube, so ``--wavenumbers`` must give the axis.
``.npz`` holds ``cube`` (or the array named by ``--key``), ``wavenumbers`` (else
``--wavenumbers``) and optionally ``mask`` (``(H, W)`` bool, True = valid). Pickled
objects are never loaded.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ftir_unmixer.errors import FTIRUnmixerError
from ftir_unmixer.io.input_file import HyperspectralData
from ftir_unmixer.io.reader_helpers import PathLike, library_errors, make_data


def _check_cube(cube: np.ndarray, path: Path, name: str) -> np.ndarray:
    if cube.ndim != 3:
        raise FTIRUnmixerError(
            f"{path}: {name} has shape {cube.shape}; save the cube as (rows, cols, bands)."
        )
    return cube


def read_npy(path: PathLike) -> HyperspectralData:
    """Read a ``(H, W, B)`` cube saved with ``numpy.save``.

    Args:
        path: the ``.npy`` file.

    Returns:
        The cube as one tile, with an empty axis (``--wavenumbers`` supplies it).

    Raises:
        FTIRUnmixerError: if the file cannot be loaded or is not 3-D.

    """
    path = Path(path)
    with library_errors(path, "npy"):
        cube = np.load(path, allow_pickle=False)
    return make_data(_check_cube(cube, path, "the array"), np.empty(0), path, "npy")


def read_npz(path: PathLike, *, key: str | None = None) -> HyperspectralData:
    """Read a cube, its axis and an optional mask saved with ``numpy.savez``.

    Args:
        path: the ``.npz`` file.
        key: the array holding the cube; ``cube`` if None.

    Returns:
        The cube as one tile, with the archive's axis (empty if it has none) and mask.

    Raises:
        FTIRUnmixerError: if the archive cannot be loaded, lacks the cube, or the cube or
            mask has the wrong shape.

    """
    path = Path(path)
    name = key or "cube"
    with library_errors(path, "npz"), np.load(path, allow_pickle=False) as archive:
        arrays = {k: archive[k] for k in archive.files}
    if name not in arrays:
        found = ", ".join(sorted(arrays)) or "none"
        raise FTIRUnmixerError(
            f"{path}: has no array '{name}' (arrays: {found}); save the cube as 'cube' or "
            "give --key."
        )
    cube = _check_cube(arrays[name], path, f"array '{name}'")
    mask = arrays.get("mask")
    if mask is not None and mask.shape != cube.shape[:2]:
        raise FTIRUnmixerError(
            f"{path}: array 'mask' has shape {mask.shape} but the cube is {cube.shape[:2]}; "
            "save a (rows, cols) mask."
        )
    wavenumbers = np.ravel(arrays.get("wavenumbers", np.empty(0)))
    return make_data(cube, wavenumbers, path, "npz", mask=mask)
