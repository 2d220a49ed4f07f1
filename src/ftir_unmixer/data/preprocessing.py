"""Per-band normalisations fitted on valid pixels, with the exact map back to input units.

Each normaliser follows the scikit-learn pattern: ``fit`` learns fitted attributes ending in
``_`` from the valid pixels, ``transform`` maps a cube, and ``endmembers_to_input`` maps
endmembers learned in the normalised space back to the units of the input cube (the
``endmembers`` dataset of the results contract).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from ftir_unmixer.errors import FTIRUnmixerError


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


NORMALIZERS: dict[str, type[Normalizer]] = {cls.name: cls for cls in (Normalizer, BandMinMax)}


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
