"""MATLAB ``.mat`` files: v5 through ``scipy.io``, v7.3 (HDF5) through ``h5py``.

Two layouts are understood:

* HySUPP's: ``Y`` the ``(B, N)`` (or ``(N, B)``) spectra, ``H`` and ``W`` the map size
  (spectrum ``n`` is pixel ``(n // W, n % W)``), and optionally ``E`` ``(B, K)`` endmembers,
  ``A`` ``(K, N)`` abundances and ``labels`` (K names), kept as ground truth.
* any file with the cube under a variable named by ``--key``: ``(H, W, B)``, or ``(B, N)``
  spectra laid out like ``Y``.

The axis is taken from ``wavenumbers``, ``wavenumber``, ``wn``, ``wavelengths`` or
``wavelength`` (the first present, in cm⁻¹); without one ``--wavenumbers`` must supply it.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from ftir_unmixer.errors import FTIRUnmixerError
from ftir_unmixer.io.input_file import GroundTruth, HyperspectralData
from ftir_unmixer.io.reader_helpers import (
    PathLike,
    library_errors,
    make_data,
    map_geometry,
    spectra_to_cube,
)

_AXIS_KEYS = ("wavenumbers", "wavenumber", "wn", "wavelengths", "wavelength")


def _v73_value(f: h5py.File, dataset: h5py.Dataset) -> object:
    """Decode one MATLAB v7.3 variable: numbers (transposed back), text or cell arrays."""
    kind = dataset.attrs.get("MATLAB_class", b"double")
    kind = kind.decode() if isinstance(kind, bytes) else str(kind)
    data = dataset[()]
    if kind == "char":
        return ["".join(map(chr, row)).strip() for row in np.atleast_2d(np.asarray(data).T)]
    if kind == "cell":
        return [_v73_value(f, f[ref]) for ref in np.asarray(data).T.ravel()]
    return np.asarray(data).T


def _load(path: Path) -> dict[str, object]:
    """Load the variables of a ``.mat`` file, whatever its version."""
    with library_errors(path, "mat"):
        if h5py.is_hdf5(path):
            with h5py.File(path, "r") as f:
                return {
                    key: _v73_value(f, f[key])
                    for key in f
                    if isinstance(f[key], h5py.Dataset) and not key.startswith("#")
                }
        import scipy.io

        return {k: v for k, v in scipy.io.loadmat(path).items() if not k.startswith("__")}


def _numeric(values: dict[str, object], name: str, path: Path) -> np.ndarray:
    """Return variable ``name`` as a float64 array, or say that it is not numeric."""
    try:
        return np.asarray(values[name], dtype=np.float64)
    except (TypeError, ValueError):
        raise FTIRUnmixerError(
            f"{path}: variable '{name}' is not a numeric array; save numbers there or give "
            "--key with the variable that holds the cube."
        ) from None


def _size(given: int | None, values: dict[str, object], name: str) -> int | None:
    """Return the option if given, else the file's scalar ``name`` (HySUPP's H, W)."""
    if given is not None or name not in values:
        return given
    return int(np.asarray(values[name]).ravel()[0])


def _names(value: object) -> list[str]:
    """Material names from a char matrix, a cell array or a list of strings."""
    names = []
    for item in np.asarray(value, dtype=object).ravel():
        while isinstance(item, np.ndarray | list):
            flat = np.asarray(item, dtype=object).ravel()
            item = flat[0] if flat.size else ""
        names.append(str(item).strip())
    return names


def _as_columns(matrix: np.ndarray, length: int | None, count: int | None) -> np.ndarray:
    """Orient a 2-D matrix as ``(length, count)``, transposing it if the sizes say so."""
    if length == matrix.shape[0] or count == matrix.shape[1]:
        return matrix
    if length == matrix.shape[1] or count == matrix.shape[0]:
        return matrix.T
    return matrix


def _ground_truth(
    values: dict[str, object], bands: int, rows: int, cols: int, path: Path
) -> GroundTruth:
    endmembers = _as_columns(_numeric(values, "E", path), bands, None)
    abundances = _as_columns(_numeric(values, "A", path), None, rows * cols)
    if endmembers.shape[0] != bands or abundances.shape[1] != rows * cols:
        raise FTIRUnmixerError(
            f"{path}: 'E' has shape {np.shape(values['E'])} and 'A' {np.shape(values['A'])}, "
            f"which do not fit {bands} bands and {rows}×{cols} pixels; save E as (B, K) and "
            "A as (K, N)."
        )
    k = endmembers.shape[1]
    names = _names(values["labels"]) if "labels" in values else [f"#{i}" for i in range(k)]
    if len(names) != k:
        names = [f"#{i}" for i in range(k)]
    return GroundTruth(
        endmembers.astype(np.float32), spectra_to_cube(abundances, rows, cols), names
    )


def read_mat(
    path: PathLike,
    *,
    key: str | None = None,
    rows: int | None = None,
    cols: int | None = None,
) -> HyperspectralData:
    """Read a cube (and HySUPP ground truth) from a ``.mat`` file.

    Args:
        path: the ``.mat`` file.
        key: the variable holding the cube; HySUPP's ``Y`` if None.
        rows: map height for 2-D spectra; the file's ``H`` if None.
        cols: map width for 2-D spectra; the file's ``W`` if None.

    Returns:
        The ``(H, W, B)`` cube as one tile, with ground truth if ``E`` and ``A`` are present
        and the axis if the file has one (else empty).

    Raises:
        FTIRUnmixerError: if the file cannot be read, the variable is missing or has the
            wrong number of dimensions, or the geometry does not fit.

    """
    path = Path(path)
    values = _load(path)
    name = key or "Y"
    if name not in values:
        found = ", ".join(sorted(values)) or "none"
        raise FTIRUnmixerError(
            f"{path}: has no variable '{name}' (variables: {found}); give --key with the "
            "variable that holds the cube."
        )
    axis_key = next((k for k in _AXIS_KEYS if k in values), None)
    wavenumbers = np.empty(0) if axis_key is None else np.ravel(_numeric(values, axis_key, path))
    data = _numeric(values, name, path)
    notes = []
    if data.ndim == 3:
        cube = data
    elif data.ndim == 2:
        rows, cols = _size(rows, values, "H"), _size(cols, values, "W")
        pixels = rows * cols if rows is not None and cols is not None else None
        spectra = _as_columns(data, wavenumbers.size or None, pixels)
        rows, cols, note = map_geometry(spectra.shape[1], rows, cols, path)
        notes += [note] if note else []
        cube = spectra_to_cube(spectra, rows, cols)
    else:
        raise FTIRUnmixerError(
            f"{path}: variable '{name}' has shape {data.shape}; give --key with an (H, W, B) "
            "cube or (B, N) spectra."
        )
    ground_truth = None
    if "E" in values and "A" in values:
        ground_truth = _ground_truth(values, cube.shape[2], cube.shape[0], cube.shape[1], path)
    if axis_key is not None and axis_key.startswith("wavelength"):
        notes.append(f"took variable '{axis_key}' as wavenumbers in cm⁻¹")
    return make_data(cube, wavenumbers, path, "mat", ground_truth=ground_truth, notes=notes)
