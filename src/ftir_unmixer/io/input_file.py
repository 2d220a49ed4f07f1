"""The input HDF5 contract: detector tiles, wavenumbers, optional mask and ground truth.

Layout (docs/file-formats.md describes each item)::

    wavenumbers                 (B,)        float64  cm⁻¹, instrument order
    tiles/<name>                (H_i, W, B) float32  one detector tile each
    tiles.attrs["order"]        list[str]            stacking order along depth (rows)
    mask                        (H, W)      bool     True = valid pixel (optional)
    ground_truth/endmembers     (B, K)      float32  (optional)
    ground_truth/abundances     (H, W, K)   float32  (optional)
    ground_truth/names          (K,)        str      (optional)
    ground_truth/purity         (K,)        float32  largest abundance per material (written)
    attrs: units, source

Only h5py and NumPy are imported here, so readers and converters stay light.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np

from ftir_unmixer.errors import FTIRUnmixerError
from ftir_unmixer.io.atomic import atomic_path
from ftir_unmixer.io.disk_cube import DiskCube

PathLike = str | os.PathLike[str]


@dataclass
class GroundTruth:
    """Known endmembers and abundances of a synthetic or annotated scene.

    Attributes:
        endmembers: ``(B, K)`` true endmember spectra, in the units of the cube.
        abundances: ``(H, W, K)`` true abundance maps, summing to one over K.
        names: ``K`` material names.
    """

    endmembers: np.ndarray
    abundances: np.ndarray
    names: list[str]

    @property
    def purity(self) -> np.ndarray:
        """``(K,)`` each material's largest abundance anywhere in the image (1: a pure pixel)."""
        return self.abundances.reshape(-1, self.abundances.shape[-1]).max(axis=0)


@dataclass
class HyperspectralData:
    """A stacked hyperspectral cube read from the input contract.

    Instrument-file readers (``ftir_unmixer.io.readers``) return the same structure, holding
    the cube as the file has it, before ``ftir_unmixer.io.input_checks`` checks it.

    Attributes:
        cube: ``(H, W, B)`` float32 cube, tiles stacked along the depth (row) axis (a
            :class:`~ftir_unmixer.io.disk_cube.DiskCube` when read with ``load_cube=False``).
        wavenumbers: ``(B,)`` float64 axis in cm⁻¹, in the file's order.
        mask: ``(H, W)`` bool, True where the pixel is valid.
        tile_names: tile names in stacking order.
        tile_rows: number of rows of each tile, in stacking order.
        ground_truth: known endmembers and abundances, if the file has them.
        attrs: root attributes of the file (``units``, ``source`` …).
        path: the file it was read from, if any.
    """

    cube: np.ndarray | DiskCube
    wavenumbers: np.ndarray
    mask: np.ndarray
    tile_names: list[str] = field(default_factory=list)
    tile_rows: list[int] = field(default_factory=list)
    ground_truth: GroundTruth | None = None
    attrs: dict[str, object] = field(default_factory=dict)
    path: Path | None = None

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(H, W, B)`` of the cube."""
        h, w, b = self.cube.shape
        return h, w, b


def _chunks(shape: tuple[int, int, int], side: int = 16) -> tuple[int, int, int]:
    """Chunk layout suited to reading p×p patches: small spatial blocks, all bands."""
    return (min(side, shape[0]), min(side, shape[1]), shape[2])


def check_wavenumbers(wavenumbers: np.ndarray, num_bands: int, source: str) -> np.ndarray:
    """Validate a wavenumber axis and return it as float64.

    Args:
        wavenumbers: the axis to check.
        num_bands: the number of bands of the cube it belongs to.
        source: the file or key named in the error message.

    Returns:
        The axis as a 1-D float64 array.

    Raises:
        FTIRUnmixerError: if the axis is not 1-D, has the wrong length, holds NaN/Inf,
            or is not strictly monotonic (ascending or descending).
    """
    wn = np.asarray(wavenumbers, dtype=np.float64)
    if wn.ndim != 1 or wn.size != num_bands:
        raise FTIRUnmixerError(
            f"{source}: the wavenumber axis has {wn.size} values but the cube has "
            f"{num_bands} bands; export the axis that belongs to these spectra."
        )
    if not np.all(np.isfinite(wn)):
        raise FTIRUnmixerError(
            f"{source}: the wavenumber axis contains NaN or Inf; fix the axis in the export."
        )
    steps = np.diff(wn)
    if wn.size > 1 and not (np.all(steps > 0) or np.all(steps < 0)):
        i = int(np.flatnonzero((steps == 0) | (np.sign(steps) != np.sign(steps[0])))[0])
        kind = "is duplicated" if steps[i] == 0 else "breaks the order"
        raise FTIRUnmixerError(
            f"{source}: the wavenumber axis is not strictly ascending or descending (value "
            f"{wn[i + 1]:g} at band {i + 2} {kind}); export a monotonic axis."
        )
    return wn


def write_input(
    path: PathLike,
    tiles: Mapping[str, np.ndarray],
    wavenumbers: np.ndarray,
    *,
    mask: np.ndarray | None = None,
    ground_truth: GroundTruth | None = None,
    units: str = "absorbance",
    source: str = "",
    extra_attrs: Mapping[str, object] | None = None,
) -> Path:
    """Write an input HDF5 file atomically.

    Args:
        path: destination file.
        tiles: ordered mapping name → ``(H_i, W, B)`` array; the order is the stacking order.
        wavenumbers: ``(B,)`` axis in cm⁻¹, in the instrument's order.
        mask: optional ``(ΣH_i, W)`` bool array, True = valid.
        ground_truth: optional known endmembers/abundances/names.
        units: root ``units`` attribute.
        source: root ``source`` attribute (provenance).
        extra_attrs: further root attributes.

    Returns:
        The written path.

    Raises:
        FTIRUnmixerError: if the tiles disagree in width or band count with each other or
            with the axis.
    """
    if not tiles:
        raise FTIRUnmixerError(f"{path}: no tiles to write; give at least one cube.")
    names = list(tiles)
    shapes = [np.shape(tiles[n]) for n in names]
    for name, shape in zip(names, shapes, strict=True):
        if len(shape) != 3:
            raise FTIRUnmixerError(
                f"tile '{name}' has shape {shape}; every tile must be (rows, cols, bands)."
            )
        if shape[1:] != shapes[0][1:]:
            raise FTIRUnmixerError(
                f"tile '{name}' has {shape[1]} columns and {shape[2]} bands but tile "
                f"'{names[0]}' has {shapes[0][1]} and {shapes[0][2]}; all tiles must share "
                "width and band count."
            )
    wn = check_wavenumbers(wavenumbers, shapes[0][2], str(path))
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        f.create_dataset("wavenumbers", data=wn)
        group = f.create_group("tiles")
        for name in names:
            data = np.asarray(tiles[name], dtype=np.float32)
            group.create_dataset(name, data=data, chunks=_chunks(data.shape))
        group.attrs["order"] = names
        if mask is not None:
            f.create_dataset("mask", data=np.asarray(mask, dtype=bool))
        if ground_truth is not None:
            gt = f.create_group("ground_truth")
            gt.create_dataset("endmembers", data=np.asarray(ground_truth.endmembers, np.float32))
            gt.create_dataset("abundances", data=np.asarray(ground_truth.abundances, np.float32))
            gt.create_dataset("names", data=np.array(ground_truth.names, dtype=h5py.string_dtype()))
            gt.create_dataset("purity", data=np.asarray(ground_truth.purity, np.float32))
        f.attrs["units"] = units
        f.attrs["source"] = source
        for key, value in (extra_attrs or {}).items():
            f.attrs[key] = value
    return Path(path)


def _decode(values: object) -> list[str]:
    return [v.decode() if isinstance(v, bytes) else str(v) for v in np.atleast_1d(values)]


def _tile_order(f: h5py.File, path: Path) -> list[str]:
    if "tiles" not in f or not isinstance(f["tiles"], h5py.Group) or len(f["tiles"]) == 0:
        raise FTIRUnmixerError(
            f"{path}: no 'tiles' group with datasets; convert the data with "
            "`ftir-unmixer convert` to the input format."
        )
    group = f["tiles"]
    order = _decode(group.attrs["order"]) if "order" in group.attrs else sorted(group)
    missing = [n for n in order if n not in group]
    if missing:
        raise FTIRUnmixerError(
            f"{path}: tiles.attrs['order'] names {missing} that are not in 'tiles'; "
            "fix the order attribute."
        )
    return order


def check_file(path: Path, setting: str | None = None) -> None:
    """Refuse a path that is not a readable file.

    Args:
        path: the path to check.
        setting: the configuration key or option the path came from, named in the message.

    Raises:
        FTIRUnmixerError: for a missing path, a directory or an unreadable file.
    """
    where = f"{setting}={path}" if setting else str(path)
    if not path.exists():
        raise FTIRUnmixerError(f"{where}: no such file; check the path.")
    if path.is_dir():
        raise FTIRUnmixerError(f"{where}: is a directory; give a file inside it.")
    if not os.access(path, os.R_OK):
        raise FTIRUnmixerError(
            f"{where}: cannot be read (permission denied); check its permissions."
        )


def read_input(path: PathLike, *, load_cube: bool = True) -> HyperspectralData:
    """Read and stack an input HDF5 file.

    Args:
        path: the file to read.
        load_cube: False leaves the cube on disk: ``cube`` is then a
            :class:`~ftir_unmixer.io.disk_cube.DiskCube` that reads rows and patches on
            demand (the out-of-core mode); the axis, mask and ground truth are read as usual.

    Returns:
        The stacked cube with its axis, mask and optional ground truth.

    Raises:
        FTIRUnmixerError: if the file is missing, unreadable or breaks the contract.
    """
    path = Path(path)
    check_file(path)
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise FTIRUnmixerError(
            f"{path}: cannot be opened as HDF5 ({exc}); give an input file written by "
            "`ftir-unmixer convert` or `ftir-unmixer synth`."
        ) from None
    with f:
        if "wavenumbers" not in f:
            raise FTIRUnmixerError(
                f"{path}: no 'wavenumbers' dataset; convert the data with `ftir-unmixer convert`."
            )
        order = _tile_order(f, path)
        arrays = [f["tiles"][n] for n in order]
        first = arrays[0].shape
        for name, arr in zip(order, arrays, strict=True):
            if arr.ndim != 3 or arr.shape[1:] != first[1:]:
                raise FTIRUnmixerError(
                    f"{path}: tile '{name}' has shape {arr.shape} but tile '{order[0]}' has "
                    f"{first}; all tiles must be (rows, {first[1]}, {first[2]})."
                )
        tile_rows = [int(a.shape[0]) for a in arrays]
        if load_cube:
            cube = np.concatenate([np.asarray(a, dtype=np.float32) for a in arrays], axis=0)
        else:
            cube = DiskCube(path, order, tile_rows, width=first[1], num_bands=first[2])
        wn = check_wavenumbers(f["wavenumbers"][()], cube.shape[2], str(path))
        if "mask" in f:
            mask = np.asarray(f["mask"][()], dtype=bool)
            if mask.shape != cube.shape[:2]:
                raise FTIRUnmixerError(
                    f"{path}: 'mask' has shape {mask.shape} but the stacked cube is "
                    f"{cube.shape[:2]}; write a mask of the stacked size."
                )
        else:
            mask = np.ones(cube.shape[:2], dtype=bool)
        ground_truth = None
        if "ground_truth" in f:
            gt = f["ground_truth"]
            ground_truth = GroundTruth(
                endmembers=np.asarray(gt["endmembers"][()], dtype=np.float32),
                abundances=np.asarray(gt["abundances"][()], dtype=np.float32),
                names=_decode(gt["names"][()]) if "names" in gt else [],
            )
        attrs = {k: f.attrs[k] for k in f.attrs}
    return HyperspectralData(
        cube=cube,
        wavenumbers=wn,
        mask=mask,
        tile_names=order,
        tile_rows=tile_rows,
        ground_truth=ground_truth,
        attrs=attrs,
        path=path,
    )
