"""A stacked cube left on disk: rows, windows and patches read from the HDF5 tiles on demand.

The out-of-core mode (``data.out_of_core=true``) trains on cubes larger than memory. The input
contract stores the cube as tiles ``tiles/<name>`` of shape ``(H_i, W, B)``, chunked in small
spatial blocks with all bands (``ftir-unmixer convert`` writes ``(16, 16, B)`` chunks), so a
p×p patch touches at most four chunks. :class:`DiskCube` maps rows of the stacked
cube to rows of the tiles, so a window that straddles two tiles is read from both.

HDF5 handles are opened lazily, once per process, and are not pickled, so the object can be
handed to DataLoader workers and DDP processes.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import h5py
import numpy as np


class DiskCube:
    """Read access to the ``(H, W, B)`` stacked cube of an input file, without loading it.

    Args:
        path: the input HDF5 file.
        tile_names: tile dataset names in stacking order.
        tile_rows: rows of each tile.
        width: W.
        num_bands: B in the file.
        bands: indices of the bands to return (``data.crop``/``data.drop_windows``); None: all.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        tile_names: Sequence[str],
        tile_rows: Sequence[int],
        width: int,
        num_bands: int,
        bands: np.ndarray | None = None,
    ) -> None:
        self.path = Path(path)
        self.tile_names = list(tile_names)
        self.tile_rows = [int(r) for r in tile_rows]
        self.width = int(width)
        self.file_bands = int(num_bands)
        self.bands = None if bands is None else np.asarray(bands, dtype=np.intp)
        self.tile_starts = np.concatenate([[0], np.cumsum(self.tile_rows)]).astype(np.int64)
        self._handle: tuple[int, h5py.File] | None = None

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(H, W, B)`` of the stacked cube, after band selection."""
        num_bands = self.file_bands if self.bands is None else len(self.bands)
        return int(self.tile_starts[-1]), self.width, num_bands

    @property
    def nbytes(self) -> int:
        """Size of the cube in float32 bytes."""
        height, width, bands = self.shape
        return height * width * bands * 4

    def select_bands(self, keep: np.ndarray) -> DiskCube:
        """The same cube restricted to the bands where ``keep`` (``(B,)`` bool) is True."""
        current = np.arange(self.shape[2]) if self.bands is None else self.bands
        return DiskCube(
            self.path,
            self.tile_names,
            self.tile_rows,
            self.width,
            self.file_bands,
            bands=current[np.asarray(keep, dtype=bool)],
        )

    def _file(self) -> h5py.File:
        pid = os.getpid()
        if self._handle is None or self._handle[0] != pid:
            self._handle = (pid, h5py.File(self.path, "r"))
        return self._handle[1]

    def __getstate__(self) -> dict[str, object]:
        """Pickle without the open HDF5 handle (each process opens its own)."""
        return self.__dict__ | {"_handle": None}

    def window(self, row_start: int, row_stop: int, col_start: int, col_stop: int) -> np.ndarray:
        """The ``(rows, cols, B)`` float32 window ``[row_start:row_stop, col_start:col_stop]``.

        Rows run over the stacked cube; a window across a tile boundary is read from each tile.
        """
        group = self._file()["tiles"]
        first = int(np.searchsorted(self.tile_starts, row_start, side="right")) - 1
        parts = []
        for tile in range(first, len(self.tile_names)):
            offset = int(self.tile_starts[tile])
            if offset >= row_stop:
                break
            lo, hi = max(row_start, offset) - offset, min(row_stop, offset + self.tile_rows[tile])
            parts.append(group[self.tile_names[tile]][lo : hi - offset, col_start:col_stop, :])
        block = parts[0] if len(parts) == 1 else np.concatenate(parts, axis=0)
        block = np.asarray(block, dtype=np.float32)
        return block if self.bands is None else block[..., self.bands]

    def rows(self, start: int, stop: int) -> np.ndarray:
        """Rows ``[start, stop)`` of the stacked cube, ``(stop − start, W, B)`` float32."""
        return self.window(start, stop, 0, self.width)

    def patches(self, centres: np.ndarray, patch_size: int) -> np.ndarray:
        """``(n, p, p, B)`` float32 patches centred at ``centres`` ``(n, 2)`` (row, col)."""
        half = patch_size // 2
        out = np.empty((len(centres), patch_size, patch_size, self.shape[2]), dtype=np.float32)
        for i, (row, col) in enumerate(np.asarray(centres, dtype=np.int64)):
            out[i] = self.window(row - half, row + half + 1, col - half, col + half + 1)
        return out


def row_blocks(height: int, block_rows: int) -> Iterator[tuple[int, int]]:
    """``(start, stop)`` of consecutive blocks of at most ``block_rows`` of ``height`` rows."""
    for start in range(0, height, block_rows):
        yield start, min(start + block_rows, height)


def rows_per_block(width: int, num_bands: int, target_bytes: int = 128 * 2**20) -> int:
    """How many ``(W, B)`` float32 rows make a block of about ``target_bytes`` (at least 1)."""
    return max(1, target_bytes // (width * num_bands * 4))
