"""Out-of-core data (``data.out_of_core=true``): train on a cube that stays on disk.

Memory holds only the ``(H, W)`` mask, the list of valid patch centres, a bounded pixel
sample and one batch; the cube itself (``W·H·B·4`` bytes, tens of GB for a whole mosaic) is
read from the chunked HDF5 tiles as needed:

1. :func:`scan_cube` streams the cube once, in row blocks of about 128 MB, to find the pixels
   that hold NaN/Inf and to collect a **seeded random sample** of at most
   ``data.sample_pixels`` pixels: the positions are drawn uniformly without replacement from
   all ``H·W`` pixels with ``numpy.random.default_rng(seed)`` before the pass, and the valid
   ones are kept. The normaliser and the band weights of Eq. 8–13 are fitted on this sample
   (when the sample covers every pixel they equal the in-memory fit exactly); non-finite
   values are replaced by the band median of the sample, as the in-memory mode does with all
   valid pixels.
2. Training batches are read by :class:`DiskPatchReader` in the DataLoader (so
   ``data.num_workers`` processes can read ahead), normalised, and handed over as
   ``(n, B, p, p)`` patches.
3. Inference streams :class:`PreprocessedRows` in row blocks with the halo the convolutions
   need (:meth:`~ftir_unmixer.models.module.FTIRUnmixerModule.unmix_cube`), which gives the
   same result as running the whole cube at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ftir_unmixer.data.preprocessing import Normalizer
from ftir_unmixer.io.disk_cube import DiskCube, row_blocks, rows_per_block


@dataclass
class CubeScan:
    """What one streamed pass over a cube on disk learns.

    Attributes:
        finite: ``(H, W)`` True where every band of the pixel is finite.
        sample_index: ``(n,)`` flat pixel indices (row-major) of the sample, ascending.
        sample: ``(n, B)`` float32 raw spectra of the sampled pixels (NaN/Inf included: the
            caller keeps the valid ones).
    """

    finite: np.ndarray
    sample_index: np.ndarray
    sample: np.ndarray


def sample_positions(num_pixels: int, sample_pixels: int, seed: int) -> np.ndarray:
    """Seeded positions of the pixel sample: ``min(sample_pixels, num_pixels)`` flat indices.

    Drawn uniformly without replacement with ``numpy.random.default_rng(seed)``; every pixel
    when the sample is at least as large as the image.

    Returns:
        Sorted ``(n,)`` int64 indices.
    """
    if sample_pixels >= num_pixels:
        return np.arange(num_pixels, dtype=np.int64)
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(num_pixels, size=sample_pixels, replace=False)).astype(np.int64)


def scan_cube(cube: DiskCube, sample_pixels: int, seed: int) -> CubeScan:
    """Stream ``cube`` once in row blocks: non-finite pixels and the seeded pixel sample.

    Args:
        cube: the cube on disk.
        sample_pixels: the largest sample (``data.sample_pixels``).
        seed: the run's seed.

    Returns:
        The finite-pixel map and the sample.
    """
    height, width, bands = cube.shape
    positions = sample_positions(height * width, sample_pixels, seed)
    finite = np.empty((height, width), dtype=bool)
    sample = np.empty((len(positions), bands), dtype=np.float32)
    for start, stop in row_blocks(height, rows_per_block(width, bands)):
        block = cube.rows(start, stop)
        finite[start:stop] = np.isfinite(block).all(axis=2)
        lo, hi = np.searchsorted(positions, [start * width, stop * width])
        sample[lo:hi] = block.reshape(-1, bands)[positions[lo:hi] - start * width]
    return CubeScan(finite=finite, sample_index=positions, sample=sample)


class PreprocessedRows:
    """Rows of a cube on disk as the network sees them: non-finite values filled, normalised.

    Args:
        cube: the cube on disk.
        normalizer: the fitted normaliser.
        fill: ``(B,)`` values for non-finite entries (the band median of the sample).
    """

    def __init__(self, cube: DiskCube, normalizer: Normalizer, fill: np.ndarray) -> None:
        self.cube = cube
        self.normalizer = normalizer
        self.fill = np.asarray(fill, dtype=np.float32)

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(H, W, B)``."""
        return self.cube.shape

    def prepare(self, raw: np.ndarray) -> np.ndarray:
        """Fill non-finite entries of a raw ``(…, B)`` array and normalise it."""
        finite = np.isfinite(raw)
        if not finite.all():
            raw = np.where(finite, raw, self.fill)
        return self.normalizer.transform(raw)

    def rows(self, start: int, stop: int) -> np.ndarray:
        """Preprocessed rows ``[start, stop)``, ``(stop − start, W, B)`` float32."""
        return self.prepare(self.cube.rows(start, stop))


class DiskPatchReader:
    """DataLoader collate function: a batch of centres → ``(n, B, p, p)`` preprocessed patches.

    The patches come in channels-last layout (the band axis innermost), as the in-memory
    :class:`~ftir_unmixer.data.patches.PatchGatherer` returns them.

    Args:
        rows: the preprocessed view of the cube on disk.
        patch_size: odd p.
    """

    def __init__(self, rows: PreprocessedRows, patch_size: int) -> None:
        self.source = rows
        self.patch_size = patch_size

    def __call__(self, centres: torch.Tensor) -> torch.Tensor:
        """Read, fill and normalise the patches at ``centres`` ``(n, 2)``."""
        raw = self.source.cube.patches(centres.numpy(), self.patch_size)
        return torch.from_numpy(self.source.prepare(raw)).permute(0, 3, 1, 2)
