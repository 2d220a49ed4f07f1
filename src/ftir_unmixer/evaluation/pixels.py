"""Pixel selection for reductions over an image: valid pixels, in bounded chunks."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from ftir_unmixer.errors import FTIRUnmixerError

__all__ = ["PIXEL_CHUNK", "pixel_chunks", "valid_pixels"]

PIXEL_CHUNK = 4096
"""Pixels per block in reductions over a whole cube: float64 temporaries stay small."""


def pixel_chunks(num_pixels: int) -> list[slice]:
    """Consecutive slices of at most :data:`PIXEL_CHUNK` pixels covering ``range(num_pixels)``."""
    return [slice(i, i + PIXEL_CHUNK) for i in range(0, num_pixels, PIXEL_CHUNK)]


def valid_pixels(array: ArrayLike, mask: ArrayLike | None = None) -> np.ndarray:
    """Flatten ``(..., C)`` to ``(n, C)``, keeping the pixels where ``mask`` is True.

    Args:
        array: ``(H, W, C)`` or ``(N, C)`` per-pixel vectors.
        mask: bool of shape ``array.shape[:-1]``; all pixels by default.

    Returns:
        ``(n, C)`` rows, float32 data kept in float32 (a cube is large; reductions over it
        accumulate pairwise), anything else as float64.

    Raises:
        FTIRUnmixerError: if the mask does not have the array's pixel shape.

    """
    array = np.asarray(array)
    if array.dtype != np.float32:
        array = array.astype(np.float64)
    if mask is None:
        return array.reshape(-1, array.shape[-1])
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != array.shape[:-1]:
        raise FTIRUnmixerError(
            f"the pixel mask has shape {mask.shape} but the data have {array.shape[:-1]} "
            "pixels; give a mask of the image size."
        )
    return array[mask]
