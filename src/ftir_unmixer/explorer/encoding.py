"""How arrays travel inside the explorer page: deflated base64 blobs and quantised spectra.

Every array is stored as ``{"dtype", "shape", "b64"}``: its bytes (little endian), compressed
with zlib's deflate and base64-encoded; the page inflates them with the browser's own
``DecompressionStream``, so no decompression code is embedded.

The measured cube is the bulk of a page (320 × 64 × 1504 values for the bundled scene), so its
spectra are quantised (:func:`quantise_spectra`): every pixel's spectrum is scaled onto
:data:`LEVELS` + 1 levels between its own minimum and maximum, keeping the full band axis. The
error of a displayed value is then at most half a step, ``range / (2·LEVELS)`` of that pixel's
own range (0.39 %). The codes are stored as their differences along the band axis, band by
band, which deflate (Huffman coding alone: the differences are noise-like) packs into about
2.5 bits each, against 5 bits for the codes themselves.
"""

from __future__ import annotations

import base64
import zlib
from dataclasses import dataclass

import numpy as np

LEVELS = 127
"""Quantisation steps per spectrum (7 bits: the band-to-band differences fit in an int8)."""


def encode_array(
    array: np.ndarray, *, strategy: int = zlib.Z_DEFAULT_STRATEGY
) -> dict[str, object]:
    """An array as a deflated, base64-encoded blob the page can decode.

    Args:
        array: any numeric array (``float64``, ``float32``, ``int8``, ``uint8`` …).
        strategy: zlib's compression strategy; ``zlib.Z_HUFFMAN_ONLY`` suits noise-like data
            such as the quantised spectra (smaller and ~15× faster than the default there).

    Returns:
        ``{"dtype": …, "shape": […], "b64": …}`` with the C-order bytes in little endian.
    """
    array = np.ascontiguousarray(array)
    data = array.astype(array.dtype.newbyteorder("<"), copy=False).tobytes()
    compressor = zlib.compressobj(6, zlib.DEFLATED, zlib.MAX_WBITS, 9, strategy)
    deflated = compressor.compress(data) + compressor.flush()
    return {
        "dtype": array.dtype.name,
        "shape": list(array.shape),
        "b64": base64.b64encode(deflated).decode("ascii"),
    }


def decode_array(blob: dict[str, object]) -> np.ndarray:
    """The inverse of :func:`encode_array` (what the page does in JavaScript)."""
    data = zlib.decompress(base64.b64decode(str(blob["b64"])))
    dtype = np.dtype(str(blob["dtype"])).newbyteorder("<")
    return np.frombuffer(data, dtype=dtype).reshape(blob["shape"])


@dataclass
class QuantisedSpectra:
    """Spectra on :data:`LEVELS` + 1 levels per pixel, stored as band-to-band code steps.

    Attributes:
        deltas: ``(B, N)`` int8, band-major: ``deltas[b, n] = code[n, b] − code[n, b − 1]``
            (``code[n, −1] = 0``).
        offset: ``(N,)`` float32, each spectrum's minimum (the value of code 0).
        step: ``(N,)`` float32, each spectrum's range / :data:`LEVELS`.
    """

    deltas: np.ndarray
    offset: np.ndarray
    step: np.ndarray

    def codes(self) -> np.ndarray:
        """``(N, B)`` codes in ``[0, LEVELS]``."""
        return np.cumsum(self.deltas.T, axis=1, dtype=np.int32)

    def decode(self) -> np.ndarray:
        """``(N, B)`` float64 spectra as the page displays them: ``offset + code·step``."""
        step = self.step.astype(np.float64)[:, None]
        return self.offset.astype(np.float64)[:, None] + self.codes() * step


def quantise_spectra(pixels: np.ndarray, valid: np.ndarray) -> QuantisedSpectra:
    """Quantise every spectrum between its own minimum and maximum.

    Args:
        pixels: ``(N, B)`` spectra.
        valid: ``(N,)`` bool; invalid pixels (masked, or with NaN/Inf) are stored as zeros.

    Returns:
        The codes, offsets and steps.
    """
    values = np.where(valid[:, None], pixels, 0.0).astype(np.float64)
    offset = values.min(axis=1).astype(np.float32)
    span = values.max(axis=1) - offset
    step = np.where(span > 0, span / LEVELS, 1.0).astype(np.float32)
    codes = np.rint((values - offset[:, None]) / step.astype(np.float64)[:, None])
    codes = np.clip(codes, 0, LEVELS).astype(np.int8)
    deltas = np.diff(codes, axis=1, prepend=np.int8(0)).T
    return QuantisedSpectra(np.ascontiguousarray(deltas, dtype=np.int8), offset, step)


@dataclass(frozen=True)
class QuantisationError:
    """The error the quantisation adds to the displayed spectra, over valid pixels.

    Attributes:
        max_relative: largest ``|x̂ − x|`` as a fraction of that pixel's range.
        rms_relative: root mean square of the same fraction over all values.
        max_absolute: largest ``|x̂ − x|`` in the units of the cube.
        rms_absolute: root mean square of ``x̂ − x`` in the units of the cube.
    """

    max_relative: float
    rms_relative: float
    max_absolute: float
    rms_absolute: float


def quantisation_error(
    pixels: np.ndarray, quantised: QuantisedSpectra, valid: np.ndarray
) -> QuantisationError:
    """Measure the error of :func:`quantise_spectra` on the spectra it was given.

    Args:
        pixels: ``(N, B)`` the original spectra.
        quantised: their quantisation.
        valid: ``(N,)`` the pixels to measure.

    Returns:
        Maximum and RMS errors, relative to each pixel's range and absolute.
    """
    if not valid.any():
        return QuantisationError(0.0, 0.0, 0.0, 0.0)
    error = np.abs(quantised.decode()[valid] - pixels[valid].astype(np.float64))
    span = (quantised.step[valid].astype(np.float64) * LEVELS)[:, None]
    relative = np.divide(error, span, out=np.zeros_like(error), where=span > 0)
    return QuantisationError(
        max_relative=float(relative.max()),
        rms_relative=float(np.sqrt(np.mean(relative**2))),
        max_absolute=float(error.max()),
        rms_absolute=float(np.sqrt(np.mean(error**2))),
    )
