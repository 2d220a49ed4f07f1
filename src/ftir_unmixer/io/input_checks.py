"""Checks on a cube before it becomes an input file.

Fatal problems raise :class:`~ftir_unmixer.errors.FTIRUnmixerError`; problems that
conversion can work around are reported as :class:`InputWarning` and fixed:

* the wavenumber axis must have one value per band, be finite and strictly monotonic;
* pixels with NaN or Inf in any band are masked (mask False) and their non-finite values set
  to the band median of the valid pixels, so convolutions over the image stay finite; more
  than ``max_bad_fraction`` of such pixels is an error;
* bands with the same value in every valid pixel are reported (they carry no information).
"""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np

from ftir_unmixer.errors import FTIRUnmixerError
from ftir_unmixer.io.input_file import HyperspectralData, check_wavenumbers


class InputWarning(UserWarning):
    """A problem in the input data that conversion works around."""


def constant_bands(cube: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Find the bands whose value is the same in every valid pixel.

    Args:
        cube: ``(H, W, B)`` cube.
        mask: ``(H, W)`` bool, True = valid.

    Returns:
        The band indices, ascending (empty if no pixel is valid).

    """
    valid = cube[mask]
    if valid.shape[0] == 0:
        return np.empty(0, dtype=np.intp)
    return np.flatnonzero(valid.max(axis=0) == valid.min(axis=0))


def input_name(data: HyperspectralData) -> str:
    """How error messages name the input: its path, else its ``source`` attribute."""
    return str(data.path or data.attrs.get("source", "input"))


def mask_bad_pixels(
    mask: np.ndarray,
    finite: np.ndarray,
    source: str,
    max_bad_fraction: float,
    option: str,
) -> np.ndarray:
    """Mask the pixels that hold NaN or Inf, refusing an input where too many do.

    Args:
        mask: ``(H, W)`` the file's valid pixels.
        finite: ``(H, W)`` True where every band of the pixel is finite.
        source: the input, as named in messages.
        max_bad_fraction: the largest fraction of pixels that may contain NaN or Inf.
        option: how the user sets that fraction (named in the error message).

    Returns:
        ``mask & finite``; warns when pixels were masked.

    Raises:
        FTIRUnmixerError: if too many pixels are non-finite or no valid pixel is left.
    """
    num_bad, total = int(np.count_nonzero(~finite)), finite.size
    if num_bad > max_bad_fraction * total:
        raise FTIRUnmixerError(
            f"{source}: {num_bad} of {total} pixels ({100 * num_bad / total:.1f}%) contain NaN "
            f"or Inf, more than {option} {max_bad_fraction}; fix the export or raise {option}."
        )
    mask = mask & finite
    if not mask.any():
        raise FTIRUnmixerError(
            f"{source}: no valid pixel is left after masking; check the file's mask and values."
        )
    if num_bad:
        warnings.warn(
            f"{source}: {num_bad} of {total} pixels contain NaN or Inf; they are masked and "
            "their non-finite values set to the band median of the valid pixels.",
            InputWarning,
            stacklevel=3,
        )
    return mask


def validate_input(
    data: HyperspectralData,
    *,
    max_bad_fraction: float = 0.5,
    option: str = "--max-bad-fraction",
) -> HyperspectralData:
    """Check a cube read from instrument files and mask its non-finite pixels.

    Args:
        data: the cube as read, e.g. by :func:`ftir_unmixer.io.readers.read_any`.
        max_bad_fraction: the largest fraction of pixels that may contain NaN or Inf.
        option: how the user sets that fraction (named in the error message).

    Returns:
        A copy with the checked float64 axis, the non-finite pixels masked and their
        non-finite values replaced by the band median of the valid pixels.

    Raises:
        FTIRUnmixerError: if the axis is wrong, too many pixels are non-finite, or no valid
            pixel is left.

    """
    source = input_name(data)
    bands = data.shape[2]
    wavenumbers = check_wavenumbers(data.wavenumbers, bands, source)
    finite = np.isfinite(data.cube)
    mask = mask_bad_pixels(data.mask, finite.all(axis=2), source, max_bad_fraction, option)
    cube = data.cube
    if not finite.all():
        median = np.median(cube[mask], axis=0).astype(cube.dtype)
        cube = np.where(finite, cube, median)
    constant = constant_bands(cube, mask)
    if constant.size:
        warnings.warn(
            f"{source}: {constant.size} of {bands} bands have the same value in every valid "
            f"pixel (first at {wavenumbers[constant[0]]:.2f} cm⁻¹); they carry no "
            "information, so check the export or exclude them with "
            "loss.band_weights.bad_windows.",
            InputWarning,
            stacklevel=2,
        )
    return dataclasses.replace(data, cube=cube, wavenumbers=wavenumbers, mask=mask)
