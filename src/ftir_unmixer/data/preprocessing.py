"""Preprocessing before unmixing: band selection, baseline removal, normalisation.

Applied in this order by the DataModule (``data.crop``, ``data.drop_windows``,
``data.baseline``, ``data.normalization``), before the band weights are computed, so the
weights, the network and the results all see the same bands.

Each normaliser follows the scikit-learn pattern: ``fit`` learns fitted attributes ending in
``_`` from the valid pixels, ``transform`` maps a cube, and ``endmembers_to_input`` maps
endmembers learned in the normalised space back to the units of the input cube (the
``endmembers`` dataset of the results contract).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import ClassVar

import numpy as np

from ftir_unmixer.band_weights import window_mask
from ftir_unmixer.errors import FTIRUnmixerError
from ftir_unmixer.io.disk_cube import DiskCube
from ftir_unmixer.io.input_file import GroundTruth, HyperspectralData


def band_selection(
    wavenumbers: np.ndarray,
    crop: Sequence[float] | None = None,
    drop_windows: Sequence[Sequence[float]] = (),
) -> np.ndarray:
    """Bands kept by a crop to ``[lo, hi]`` cm⁻¹ and by dropping windows (e.g. the CO2 doublet).

    Args:
        wavenumbers: ``(B,)`` axis in cm⁻¹, any order.
        crop: ``[lo, hi]`` to keep (``data.crop``), or None for all.
        drop_windows: ``[[lo, hi], …]`` to remove (``data.drop_windows``), as the authors'
            variant that drops ~100 bands around 2400–2300 cm⁻¹.

    Returns:
        ``(B,)`` bool, True for kept bands.

    Raises:
        FTIRUnmixerError: if fewer than three bands remain.
    """
    keep = np.ones(len(wavenumbers), dtype=bool)
    if crop is not None:
        keep &= window_mask(wavenumbers, [crop])
    if drop_windows:
        keep &= ~window_mask(wavenumbers, drop_windows)
    if keep.sum() < 3:
        raise FTIRUnmixerError(
            f"data.crop={list(crop) if crop is not None else None} and "
            f"data.drop_windows={[list(w) for w in drop_windows]} leave {int(keep.sum())} of "
            f"{len(wavenumbers)} bands ({wavenumbers.min():.1f}–{wavenumbers.max():.1f} cm⁻¹); "
            "widen the crop or drop less."
        )
    return keep


def select_bands(data: HyperspectralData, keep: np.ndarray) -> HyperspectralData:
    """Keep only the selected bands of the cube, its axis and its ground-truth endmembers.

    A cube left on disk (:class:`~ftir_unmixer.io.disk_cube.DiskCube`) selects the bands as
    it reads.
    """
    if keep.all():
        return data
    ground_truth = data.ground_truth
    if ground_truth is not None:
        ground_truth = GroundTruth(
            endmembers=ground_truth.endmembers[keep],
            abundances=ground_truth.abundances,
            names=ground_truth.names,
        )
    return dataclasses.replace(
        data,
        cube=data.cube.select_bands(keep)
        if isinstance(data.cube, DiskCube)
        else np.ascontiguousarray(data.cube[..., keep]),
        wavenumbers=data.wavenumbers[keep],
        ground_truth=ground_truth,
    )


def remove_baseline(
    cube: np.ndarray,
    wavenumbers: np.ndarray,
    method: str,
    params: Mapping[str, object] | None = None,
) -> np.ndarray:
    """Subtract a per-pixel baseline fitted by ``pybaselines`` (``data.baseline``).

    Each spectrum ``y`` becomes ``y − baseline(y)`` with ``baseline`` the first output of the
    ``pybaselines.Baseline`` method of that name (e.g. ``rubberband``, ``asls``, ``arpls``,
    ``modpoly``), called with ``params``.

    Args:
        cube: ``(H, W, B)`` cube.
        wavenumbers: ``(B,)`` axis (the baseline's x values).
        method: a ``pybaselines.Baseline`` method name.
        params: keyword arguments of that method.

    Returns:
        The corrected float32 cube.

    Raises:
        FTIRUnmixerError: if pybaselines is missing or has no such method.
    """
    try:
        from pybaselines import Baseline
    except ImportError:
        raise FTIRUnmixerError(
            "data.baseline needs pybaselines; install it with `pip install pybaselines` or "
            "`pip install 'ftir-unmixer[io]'`."
        ) from None
    order = np.argsort(wavenumbers)
    fitter = Baseline(x_data=np.asarray(wavenumbers)[order])
    fit = getattr(fitter, method, None)
    if fit is None or method.startswith("_"):
        raise FTIRUnmixerError(
            f"data.baseline.method={method!r} is not a pybaselines method; use e.g. "
            "'rubberband', 'asls', 'arpls' or 'modpoly'."
        )
    flat = cube.reshape(-1, cube.shape[-1])
    out = np.empty(flat.shape, dtype=np.float32)
    for i, spectrum in enumerate(flat):
        baseline = np.empty(len(order))
        baseline[order] = fit(spectrum[order], **dict(params or {}))[0]
        out[i] = spectrum - baseline
    return out.reshape(cube.shape)


class Normalizer:
    """Identity normalisation (``data.normalization=none``): the cube is used as it is."""

    name: ClassVar[str] = "none"

    def fit(self, pixels: np.ndarray) -> Normalizer:
        """Learn the normalisation from ``(N, B)`` valid pixels (nothing to learn here)."""
        return self

    def transform(self, cube: np.ndarray) -> np.ndarray:
        """Normalise a ``(…, B)`` array."""
        return np.asarray(cube, dtype=np.float32)

    def endmembers_to_input(self, endmembers: np.ndarray) -> np.ndarray:
        """Map ``(B, K)`` endmembers from the normalised space back to input units."""
        return np.asarray(endmembers, dtype=np.float32)

    def state(self) -> dict[str, np.ndarray]:
        """The fitted attributes, for provenance."""
        return {}


class BandMinMax(Normalizer):
    """Per-band min–max scaling of the authors' script: ``x' = (x − lo_b) / span_b``.

    ``lo_b`` and ``span_b = hi_b − lo_b`` are the minimum and range of band ``b`` over the
    valid pixels. A band with zero range gets ``span_b = 1`` (it becomes all zeros instead
    of a division by zero). Because abundances sum to one, a mixture
    ``x' = Σₖ aₖ e'ₖ`` maps back exactly to ``x = Σₖ aₖ (e'ₖ·span + lo)``, so endmembers
    return to input units as ``e = e'·span + lo``.
    """

    name: ClassVar[str] = "band_minmax"

    def fit(self, pixels: np.ndarray) -> BandMinMax:
        """Learn ``lo_`` and ``span_`` per band from ``(N, B)`` valid pixels."""
        lo = pixels.min(axis=0).astype(np.float64)
        span = pixels.max(axis=0).astype(np.float64) - lo
        self.lo_ = lo
        self.span_ = np.where(span > 0, span, 1.0)
        return self

    def transform(self, cube: np.ndarray) -> np.ndarray:
        """Scale every band of a ``(…, B)`` array to [0, 1] over the fitted pixels."""
        out = np.asarray(cube, dtype=np.float32) - self.lo_.astype(np.float32)
        out /= self.span_.astype(np.float32)
        return out

    def endmembers_to_input(self, endmembers: np.ndarray) -> np.ndarray:
        """``e = e'·span + lo`` band by band."""
        return (endmembers * self.span_[:, None] + self.lo_[:, None]).astype(np.float32)

    def state(self) -> dict[str, np.ndarray]:
        """``lo`` and ``span`` per band."""
        return {"lo": self.lo_, "span": self.span_}


class BandQuantile(BandMinMax):
    """Robust per-band min–max between percentiles (``data.normalization=band_quantile``).

    ``x' = (x − q_lo) / (q_hi − q_lo)`` with the 1st and 99th percentiles of each band.
    The authors' ``band_minmax`` takes each band's extreme values, so a single spike or a
    hot pixel sets a band's range and squeezes every other pixel towards zero there; on the
    way back to input units that band is multiplied by the spike's size, which shows as
    narrow spikes in the endmembers. Percentiles ignore such outliers. The map back is the
    same exact affine map as ``band_minmax``.

    Args:
        quantile: the lower percentile as a fraction; the upper one is ``1 − quantile``.
    """

    name: ClassVar[str] = "band_quantile"

    def __init__(self, quantile: float = 0.01) -> None:
        self.quantile = quantile

    def fit(self, pixels: np.ndarray) -> BandQuantile:
        """Learn ``lo_`` and ``span_`` per band from the percentiles of ``(N, B)`` pixels."""
        lo, hi = np.quantile(pixels, [self.quantile, 1.0 - self.quantile], axis=0)
        span = hi.astype(np.float64) - lo
        self.lo_ = lo.astype(np.float64)
        self.span_ = np.where(span > 0, span, 1.0)
        return self


def spectral_noise_sigma(pixels: np.ndarray) -> np.ndarray:
    r"""Robust per-band noise level from the spectral second difference.

    For white noise of standard deviation :math:`\sigma_b`, the second difference
    :math:`y_{b+1} - 2y_b + y_{b-1}` has standard deviation :math:`\sqrt 6\,\sigma_b`,
    while smooth absorption bands contribute little to it. The median absolute value over
    pixels, divided by :math:`0.6745\sqrt 6`, estimates :math:`\sigma_b`; the end bands
    copy their neighbours.

    Args:
        pixels: ``(N, B)`` valid pixels.

    Returns:
        ``(B,)`` float64 noise levels (> 0; zero estimates are floored at the smallest
        positive one, or 1 if there is none).
    """
    second = np.abs(np.diff(np.asarray(pixels, dtype=np.float32), n=2, axis=1))
    sigma = np.median(second, axis=0).astype(np.float64) / (0.6745 * np.sqrt(6.0))
    sigma = np.pad(sigma, 1, mode="edge")
    positive = sigma[sigma > 0]
    return np.where(sigma > 0, sigma, positive.min() if positive.size else 1.0)


class BandNoise(Normalizer):
    """Noise-aware per-band scale: ``x' = x / σ_b`` (``data.normalization=band_noise``).

    ``σ_b`` is :func:`spectral_noise_sigma`. Unlike ``band_minmax``, which stretches bands
    where nothing absorbs (noise only) to the same range as the strongest bands, this gives
    every band unit noise, so a band weighs in the spectral angle by its signal-to-noise
    ratio. The map back is exact: ``e = e'·σ``.
    """

    name: ClassVar[str] = "band_noise"

    def fit(self, pixels: np.ndarray) -> BandNoise:
        """Learn ``sigma_`` per band from ``(N, B)`` valid pixels."""
        self.sigma_ = spectral_noise_sigma(pixels)
        return self

    def transform(self, cube: np.ndarray) -> np.ndarray:
        """Divide every band by its noise level."""
        return np.asarray(cube, dtype=np.float32) / self.sigma_.astype(np.float32)

    def endmembers_to_input(self, endmembers: np.ndarray) -> np.ndarray:
        """``e = e'·σ`` band by band."""
        return (endmembers * self.sigma_[:, None]).astype(np.float32)

    def state(self) -> dict[str, np.ndarray]:
        """``sigma`` per band."""
        return {"sigma": self.sigma_}


class PixelL2(Normalizer):
    """Per-pixel vector normalisation: ``x' = x / ‖x‖₂`` (``data.normalization=pixel_l2``).

    It removes per-pixel intensity differences (contact quality in ATR) and leaves spectral
    angles unchanged. A per-pixel scale has no exact inverse for mixtures, so endmembers stay
    in the normalised units (their shapes, and so every spectral-angle metric, are
    unaffected). Pixels with zero norm stay zero.
    """

    name: ClassVar[str] = "pixel_l2"

    def transform(self, cube: np.ndarray) -> np.ndarray:
        """Divide every pixel spectrum by its Euclidean norm."""
        cube = np.asarray(cube, dtype=np.float32)
        norms = np.linalg.norm(cube, axis=-1, keepdims=True)
        return np.divide(cube, norms, out=np.zeros_like(cube), where=norms > 0)


NORMALIZERS: dict[str, type[Normalizer]] = {
    cls.name: cls for cls in (Normalizer, BandMinMax, BandQuantile, BandNoise, PixelL2)
}


def make_normalizer(name: str) -> Normalizer:
    """Build the normaliser registered under ``name`` (the ``data.normalization`` key).

    Raises:
        FTIRUnmixerError: for an unknown name.
    """
    if name not in NORMALIZERS:
        raise FTIRUnmixerError(
            f"data.normalization={name!r} is unknown; use one of {sorted(NORMALIZERS)}."
        )
    return NORMALIZERS[name]()
