"""Random p×p patches gathered on the fly from one in-memory cube.

The authors' script materialises every patch (20 000 × 5 × 5 × 1504 floats, about 9 GB
with its copies). Here only patch *centres* travel through the DataLoader; the patches are
gathered from the cube tensor by advanced indexing on whatever device the batch is on, so
the memory cost is one cube plus one batch.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler


def valid_patch_centres(mask: np.ndarray, patch_size: int) -> np.ndarray:
    """Centres ``(row, col)`` of every p×p patch that lies inside the image on valid pixels.

    Args:
        mask: ``(H, W)`` bool, True where the pixel is valid.
        patch_size: odd p.

    Returns:
        ``(M, 2)`` int64 array of centres, row-major order.
    """
    windows = np.lib.stride_tricks.sliding_window_view(mask, (patch_size, patch_size))
    rows, cols = np.nonzero(windows.all(axis=(2, 3)))
    half = patch_size // 2
    return np.stack([rows + half, cols + half], axis=1).astype(np.int64)


def _seed_for(seed: int, *keys: int) -> int:
    return int(np.random.SeedSequence([seed, *keys]).generate_state(1, dtype=np.uint64)[0] >> 1)


class RandomCentreSampler(Sampler[int]):
    """Draw ``num_samples`` indices of valid centres per epoch, uniformly with replacement.

    The draw depends only on ``(seed, epoch, rank)``, so a run is reproducible, a resumed run
    continues the same sequence, and DDP ranks sample different patches. With
    ``resample_each_epoch=False`` one set is drawn for epoch 0 and only its order is shuffled
    every epoch, as in the authors' script (patches drawn once, shuffled mini-batches).

    Args:
        num_centres: M, the number of valid centres.
        num_samples: patches per epoch.
        seed: the run's seed.
        rank: the process rank (0 without DDP).
        resample_each_epoch: draw fresh centres every epoch.
    """

    def __init__(
        self,
        num_centres: int,
        num_samples: int,
        seed: int,
        rank: int = 0,
        resample_each_epoch: bool = True,
    ) -> None:
        self.num_centres = num_centres
        self.num_samples = num_samples
        self.seed = seed
        self.rank = rank
        self.resample_each_epoch = resample_each_epoch
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Called by Lightning at the start of every epoch."""
        self.epoch = epoch

    def __len__(self) -> int:
        return self.num_samples

    def __iter__(self) -> Iterator[int]:
        draw_epoch = self.epoch if self.resample_each_epoch else 0
        draw = torch.Generator().manual_seed(_seed_for(self.seed, draw_epoch, self.rank))
        indices = torch.randint(self.num_centres, (self.num_samples,), generator=draw)
        if not self.resample_each_epoch:
            order = torch.Generator().manual_seed(_seed_for(self.seed, self.epoch, self.rank, 1))
            indices = indices[torch.randperm(self.num_samples, generator=order)]
        return iter(indices.tolist())


class CentreDataset(Dataset):
    """Map-style dataset of patch centres; a batch of indices becomes one ``(n, 2)`` tensor."""

    def __init__(self, centres: np.ndarray) -> None:
        self.centres = torch.as_tensor(centres, dtype=torch.long)

    def __len__(self) -> int:
        return len(self.centres)

    def __getitem__(self, index: int) -> torch.Tensor:
        return self.centres[index]

    def __getitems__(self, indices: list[int]) -> torch.Tensor:
        """Fetch a whole batch in one indexing operation (used by the DataLoader)."""
        return self.centres[indices]


def keep_batch(batch: torch.Tensor) -> torch.Tensor:
    """Collate function for :class:`CentreDataset`: the batch is already one tensor."""
    return batch


def window_centres(image_shape: tuple[int, int], window: tuple[int, int]) -> np.ndarray:
    """Centres of every ``h × w`` window that lies inside an ``H × W`` image.

    The centre of a window is its pixel ``(h // 2, w // 2)``, as :class:`PatchGatherer`
    places windows; the mask is not consulted (full-image training masks the loss instead).

    Returns:
        ``(M, 2)`` int64 array of centres, row-major order.
    """
    (height, width), (h, w) = image_shape, window
    rows = np.arange(h // 2, height - (h - h // 2) + 1)
    cols = np.arange(w // 2, width - (w - w // 2) + 1)
    grid = np.stack(np.meshgrid(rows, cols, indexing="ij"), axis=-1)
    return grid.reshape(-1, 2).astype(np.int64)


class PatchGatherer:
    """Gather ``(n, B, h, w)`` windows at given centres from an ``(H, W, B)`` cube.

    The cube is copied to a device the first time a batch on that device asks for it and
    cached there; no patch array is ever materialised beyond the current batch. A batch is
    one ``index_select`` of ``n·p²`` pixel spectra on the device, with no host round-trip.
    The patches come in channels-last layout (the band axis innermost, as the cube stores
    it); a consumer that needs standard ``(N, C, H, W)`` layout calls ``.contiguous()``.

    Windows are p×p patches (``patch_size=p``) or ``(h, w)`` crops up to the whole image (the
    full-image mode); a window centred at ``(r, c)`` covers rows ``r − h//2 … r − h//2 + h − 1``
    and the same for columns.

    Args:
        cube: ``(H, W, B)`` float32 tensor (``(H, W, 1)`` for a mask).
        patch_size: odd p, or the ``(h, w)`` of a window.
    """

    def __init__(self, cube: torch.Tensor, patch_size: int | tuple[int, int]) -> None:
        self.window = (patch_size, patch_size) if isinstance(patch_size, int) else patch_size
        self.width = cube.shape[1]
        self._cubes: dict[torch.device, torch.Tensor] = {cube.device: cube.contiguous()}

    def cube_on(self, device: torch.device) -> torch.Tensor:
        """The cube on ``device`` (copied once, then cached)."""
        if device not in self._cubes:
            source = next(iter(self._cubes.values()))
            self._cubes[device] = source.to(device)
        return self._cubes[device]

    def __call__(self, centres: torch.Tensor) -> torch.Tensor:
        """Windows ``(n, B, h, w)`` centred at ``centres`` ``(n, 2)`` (row, col)."""
        cube = self.cube_on(centres.device)
        num_bands = cube.shape[2]
        (h, w), device = self.window, centres.device
        row_offsets = torch.arange(h, device=device) - h // 2
        col_offsets = torch.arange(w, device=device) - w // 2
        rows = centres[:, 0, None, None] + row_offsets[None, :, None]
        cols = centres[:, 1, None, None] + col_offsets[None, None, :]
        pixels = (rows * self.width + cols).reshape(-1)
        spectra = cube.reshape(-1, num_bands).index_select(0, pixels)
        return spectra.view(len(centres), h, w, num_bands).permute(0, 3, 1, 2)
