r"""Reference ATR spectra of paint cross-section materials, built from band tables.

Every material is a table of absorption bands ``(centre cm⁻¹, relative height, FWHM cm⁻¹)``
taken from the spectroscopic literature on paint cross-sections (docs/method.md, "The
synthetic cross-section"). A band is a pseudo-Voigt profile
(:func:`band_sum`), and the ATR spectrum of a material is

.. math::

    A(\tilde\nu) = \frac{A_0}{P}\,\frac{1}{\tilde\nu}
        \sum_j h_j\,\mathrm{pV}\bigl(\tilde\nu;\ c_j - \delta h_j,\ w_j\bigr),

* :math:`1/\tilde\nu`: the ATR penetration depth grows with the wavelength, so the ATR
  absorbance is the transmission one times :math:`\tilde\nu_\mathrm{ref}/\tilde\nu`; the
  stretches above 2800 cm⁻¹ come out 2–4× weaker relative to the fingerprint than in the
  transmission-like heights :math:`h_j` of the tables;
* :math:`\delta h_j`: the anomalous-dispersion red shift of strong bands (a cheap stand-in for a
  dielectric model), proportional to the band's relative height, :math:`\delta` = 3–12 cm⁻¹ for
  the strongest band of each material;
* :math:`A_0/P`: scales the spectrum so that its maximum (on a dense 0.1 cm⁻¹ grid, hence
  independent of the caller's grid) is the material's ``peak_absorbance`` in AU, 0.25–0.55 for
  a pure pixel on a Ge crystal.

Bands below 900 cm⁻¹ (outside the MCT focal-plane-array window) are not modelled, so
the spectra are meant for grids at or above :data:`MIN_WAVENUMBER`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np
from numpy.typing import ArrayLike

from ftir_unmixer.errors import FTIRUnmixerError

Band = tuple[float, float, float]
"""One absorption band: ``(centre cm⁻¹, relative height, FWHM cm⁻¹)``."""

MIN_WAVENUMBER = 900.0
"""Lowest wavenumber (cm⁻¹) the band tables describe: the MCT-FPA cut-off."""

BAND_ETA = 0.5
"""Lorentzian fraction of the pseudo-Voigt profile of solid-state bands."""

DENSE_GRID = np.arange(MIN_WAVENUMBER, 4000.0, 0.1)
"""Fine axis (cm⁻¹) on which spectra and templates are normalised, whatever the output grid."""


def band_sum(wavenumbers: ArrayLike, bands: Sequence[Band], eta: float = BAND_ETA) -> np.ndarray:
    r"""Sum of pseudo-Voigt bands, each of peak height ``h`` at its centre.

    .. math::

        \mathrm{pV}(\tilde\nu) = h\Bigl[\eta\,\frac{1}{1 + 4x^2}
            + (1-\eta)\,e^{-4\ln 2\,x^2}\Bigr],\qquad x = \frac{\tilde\nu - c}{w},

    a Lorentzian and a Gaussian of the same FWHM ``w``.

    Args:
        wavenumbers: axis in cm⁻¹ (any shape, any order).
        bands: ``(centre, height, fwhm)`` triples.
        eta: Lorentzian fraction, 0 (Gaussian) … 1 (Lorentzian).

    Returns:
        The summed profile, float64, with the shape of ``wavenumbers``.

    """
    wn = np.asarray(wavenumbers, dtype=np.float64)
    table = np.asarray(bands, dtype=np.float64).reshape(-1, 3)
    centres, heights, fwhm = table.T
    x = (wn[..., None] - centres) / fwhm
    x2 = x * x
    profile = eta / (1.0 + 4.0 * x2) + (1.0 - eta) * np.exp(-4.0 * np.log(2.0) * x2)
    return profile @ heights


@dataclass(frozen=True)
class Material:
    """A material's band table and its ATR rendering parameters.

    Attributes:
        name: registry key, also the ground-truth endmember name.
        description: what the material is (one line).
        bands: ``(centre cm⁻¹, relative height, FWHM cm⁻¹)`` of each band, transmission-like
            positions and heights.
        peak_absorbance: maximum of the rendered ATR spectrum (AU).
        atr_shift: red shift (cm⁻¹) of a band of relative height 1; weaker bands shift
            proportionally less.

    """

    name: str
    description: str
    bands: tuple[Band, ...]
    peak_absorbance: float
    atr_shift: float

    def atr_profile(self, wavenumbers: ArrayLike) -> np.ndarray:
        """Render the unscaled ATR profile: red-shifted bands times 1/ν̃ (module docstring)."""
        wn = np.asarray(wavenumbers, dtype=np.float64)
        shifted = [(c - self.atr_shift * h, h, w) for c, h, w in self.bands]
        return band_sum(wn, shifted) / wn


MATERIALS: dict[str, Material] = {
    m.name: m
    for m in (
        # polyester (styrene-cross-linked ortho-phthalic) embedding resin.
        Material(
            "polyester_resin",
            "polyester embedding resin",
            (
                (3062.0, 0.06, 15.0),
                (3026.0, 0.06, 15.0),
                (2940.0, 0.25, 30.0),
                (1728.0, 1.00, 33.0),
                (1600.0, 0.08, 10.0),
                (1580.0, 0.06, 10.0),
                (1493.0, 0.08, 10.0),
                (1452.0, 0.15, 15.0),
                (1380.0, 0.10, 15.0),
                (1278.0, 0.60, 35.0),
                (1122.0, 0.45, 32.0),
                (1072.0, 0.40, 32.0),
            ),
            peak_absorbance=0.35,
            atr_shift=4.0,
        ),
        # calcium oxalate monohydrate (whewellite): five O–H bands, νas/νs C–O, ν C–C.
        Material(
            "calcium_oxalate",
            "calcium oxalate monohydrate (whewellite)",
            (
                (3480.0, 0.28, 60.0),
                (3430.0, 0.30, 60.0),
                (3335.0, 0.32, 70.0),
                (3255.0, 0.26, 70.0),
                (3060.0, 0.15, 80.0),
                (1620.0, 1.00, 50.0),
                (1318.0, 0.65, 20.0),
                (950.0, 0.12, 10.0),
            ),
            peak_absorbance=0.45,
            atr_shift=5.0,
        ),
        # degraded (oxidised, hydrolysed, ionomeric) drying oil.
        Material(
            "degraded_oil",
            "oxidised/hydrolysed drying oil with carboxylate ionomer",
            (
                (3350.0, 0.30, 400.0),
                (2925.0, 0.30, 30.0),
                (2854.0, 0.20, 20.0),
                (1778.0, 0.10, 25.0),
                (1735.0, 0.35, 30.0),
                (1710.0, 1.00, 70.0),
                (1570.0, 0.35, 80.0),
                (1415.0, 0.20, 40.0),
                (1240.0, 0.25, 50.0),
                (1170.0, 0.15, 50.0),
            ),
            peak_absorbance=0.25,
            atr_shift=4.0,
        ),
        # cured, aged linseed oil film (ester-dominated).
        Material(
            "linseed_oil",
            "aged linseed oil film",
            (
                (3430.0, 0.12, 300.0),
                (2955.0, 0.10, 15.0),
                (2926.0, 0.60, 30.0),
                (2854.0, 0.40, 18.0),
                (1740.0, 1.00, 40.0),
                (1713.0, 0.30, 30.0),
                (1463.0, 0.18, 20.0),
                (1415.0, 0.08, 18.0),
                (1377.0, 0.08, 18.0),
                (1240.0, 0.20, 50.0),
                (1165.0, 0.45, 50.0),
                (1100.0, 0.20, 40.0),
            ),
            peak_absorbance=0.30,
            atr_shift=5.0,
        ),
        # kaolinite (kaolinitic earth pigment / bole): Al–OH stretches, Si–O, Al–OH bend.
        Material(
            "kaolinite",
            "kaolinite (earth pigment)",
            (
                (3696.0, 0.80, 14.0),
                (3669.0, 0.20, 10.0),
                (3652.0, 0.25, 10.0),
                (3620.0, 0.60, 10.0),
                (1115.0, 0.45, 30.0),
                (1030.0, 1.00, 30.0),
                (1008.0, 0.95, 30.0),
                (938.0, 0.30, 12.0),
                (912.0, 0.55, 14.0),
            ),
            peak_absorbance=0.50,
            atr_shift=6.0,
        ),
        # lead white (hydrocerussite); the ν3 CO3 band is flat-topped in ATR, drawn as
        # two overlapping components.
        Material(
            "lead_white",
            "lead white (basic lead carbonate)",
            (
                (3538.0, 0.40, 17.0),
                (2415.0, 0.05, 15.0),
                (1738.0, 0.10, 9.0),
                (1435.0, 0.85, 90.0),
                (1392.0, 1.00, 100.0),
                (1047.0, 0.30, 10.0),
            ),
            peak_absorbance=0.55,
            atr_shift=8.0,
        ),
        # crystalline lead palmitate/stearate (lead soap), with the CH2 wagging
        # progression of crystalline chains (1190–1350, ~20 cm⁻¹ apart).
        Material(
            "lead_soap",
            "crystalline lead carboxylate (lead soap)",
            (
                (2955.0, 0.12, 10.0),
                (2918.0, 0.55, 17.0),
                (2850.0, 0.40, 11.0),
                (1540.0, 0.35, 12.0),
                (1512.0, 1.00, 17.0),
                (1470.0, 0.30, 8.0),
                (1463.0, 0.25, 8.0),
                (1418.0, 0.35, 15.0),
                *((1190.0 + 20.0 * k, 0.06, 7.0) for k in range(9)),
            ),
            peak_absorbance=0.40,
            atr_shift=3.0,
        ),
        # azurite (optional Van Eyck palette blue).
        Material(
            "azurite",
            "azurite (basic copper carbonate)",
            (
                (3425.0, 0.80, 15.0),
                (1490.0, 0.90, 40.0),
                (1415.0, 1.00, 45.0),
                (1095.0, 0.08, 10.0),
                (952.0, 0.35, 10.0),
            ),
            peak_absorbance=0.45,
            atr_shift=6.0,
        ),
        # natural chalk (calcite); ν3 entered at its transmission position, the ATR shift
        # brings the maximum to ~1408 cm⁻¹.
        Material(
            "chalk",
            "chalk (calcite)",
            (
                (2980.0, 0.02, 20.0),
                (2875.0, 0.04, 20.0),
                (2513.0, 0.08, 25.0),
                (1797.0, 0.06, 10.0),
                (1420.0, 1.00, 100.0),
                (1087.0, 0.02, 10.0),
            ),
            peak_absorbance=0.50,
            atr_shift=12.0,
        ),
        # animal (hide/bone) glue: collagen amide A/B/I/II/III and side-chain bands,
        # heights from the measured collagen mean spectrum.
        Material(
            "animal_glue",
            "animal glue (collagen protein)",
            (
                (3300.0, 0.55, 300.0),
                (3078.0, 0.08, 80.0),
                (2935.0, 0.08, 35.0),
                (2875.0, 0.05, 35.0),
                (1658.0, 1.00, 60.0),
                (1547.0, 0.66, 42.0),
                (1453.0, 0.30, 30.0),
                (1402.0, 0.30, 30.0),
                (1337.0, 0.10, 15.0),
                (1282.0, 0.18, 40.0),
                (1240.0, 0.30, 43.0),
                (1080.0, 0.25, 70.0),
                (1032.0, 0.15, 50.0),
            ),
            peak_absorbance=0.25,
            atr_shift=3.0,
        ),
    )
}
"""The registry of materials, in stratigraphic order (top of a cross-section first)."""


def get_material(name: str) -> Material:
    """Look a material up in :data:`MATERIALS`.

    Raises:
        FTIRUnmixerError: if ``name`` is not registered.

    """
    try:
        return MATERIALS[name]
    except KeyError:
        raise FTIRUnmixerError(
            f"unknown material '{name}'; choose one of {', '.join(MATERIALS)}."
        ) from None


@cache
def _profile_peak(name: str) -> float:
    return float(MATERIALS[name].atr_profile(DENSE_GRID).max())


def material_spectrum(name: str, wavenumbers: ArrayLike) -> np.ndarray:
    """Render the ATR absorbance spectrum of one material.

    Args:
        name: a key of :data:`MATERIALS`.
        wavenumbers: axis in cm⁻¹ (any order), at or above :data:`MIN_WAVENUMBER`.

    Returns:
        Non-negative absorbance (AU), float64, one value per wavenumber; its maximum over the
        whole 900–4000 cm⁻¹ window is the material's ``peak_absorbance``.

    Raises:
        FTIRUnmixerError: if the material is unknown.

    """
    material = get_material(name)
    return material.peak_absorbance * material.atr_profile(wavenumbers) / _profile_peak(name)


def material_library(
    wavenumbers: ArrayLike, names: Sequence[str] | None = None
) -> dict[str, np.ndarray]:
    """Spectra of several materials on one axis.

    Args:
        wavenumbers: axis in cm⁻¹.
        names: materials to render, in this order; ``None`` renders the whole registry.

    Returns:
        Mapping name → spectrum (see :func:`material_spectrum`).

    Raises:
        FTIRUnmixerError: if a name is unknown.

    """
    return {
        name: material_spectrum(name, wavenumbers)
        for name in (MATERIALS if names is None else names)
    }
