"""Templates of the atmospheric CO2 and water-vapour residuals of an ATR-FPA measurement.

A difference in the gas column between the background and the sample scan leaves, in every
pixel of a tile, a residual ``c·g(ν̃)`` (docs/method.md, "The synthetic cross-section").
The templates ``g`` here are synthesised from measured atmospheric reference spectra on a
1.93 cm⁻¹ grid (their positions and heights below; no line database): each
feature is a pseudo-Voigt of the instrument line shape at 4 cm⁻¹ resolution
(:func:`ftir_unmixer.data.materials.band_sum`, mostly Gaussian), and each template is scaled
to a maximum of 1 on a dense axis, so its values on a 1.93 cm⁻¹ grid reach about 0.9–1.

* CO2 ν3: the rotational lines are unresolved at 4 cm⁻¹, so the P/R envelope is drawn
  with four broad components placed to reproduce the measured reference: R maximum at
  2360.4 cm⁻¹ (1.00), P maximum at 2341.2 (0.65), central dip at 2348.9 (0.41), half-maximum
  envelope 2327.7–2372.0 and the ≥ 5 % extent 2290–2385. The weak ν1+ν3 and 2ν2+ν3
  combination bands (3716, 3609) are a few % of ν3.
* H2O: the 33 bend-region features (1338–1942 cm⁻¹, FWHM 5.7) and 15 stretch-region
  features (3525–3840, FWHM 7.7) with their heights relative to the CO2 R maximum; where the
  reference gives a line only by its strength rank, its height is interpolated between its
  neighbours [estimate].
"""

from __future__ import annotations

from functools import cache

import numpy as np
from numpy.typing import ArrayLike

from ftir_unmixer.data.materials import DENSE_GRID, Band, band_sum

ILS_ETA = 0.1
"""Lorentzian fraction of the apodised instrument line shape (mostly Gaussian)."""

ATMOSPHERIC_WINDOWS: dict[str, tuple[float, float]] = {
    "co2": (2270.0, 2400.0),
    "h2o_bend": (1300.0, 2000.0),
    "h2o_stretch": (3500.0, 3900.0),
}
"""Spectral windows ``(low, high)`` in cm⁻¹ outside which both templates stay below 1 %."""

# P/R envelope of CO2 ν3 (origin 2349 cm⁻¹) and its combination bands.
CO2_BANDS: tuple[Band, ...] = (
    (2359.0, 0.65, 11.9),  # R branch near its maximum
    (2368.0, 0.52, 17.0),  # R branch, high-J lines (compressed, short tail)
    (2341.8, 0.30, 10.4),  # P branch near its maximum
    (2327.0, 0.49, 39.3),  # P branch, high-J lines (long low-wavenumber tail)
    (3716.0, 0.03, 25.0),  # ν1+ν3
    (3609.0, 0.02, 25.0),  # 2ν2+ν3
)

_BEND_FWHM = 5.7
_STRETCH_FWHM = 7.7

# Water-vapour ν2 bend region, (centre cm⁻¹, height relative to the CO2 R maximum).
# From 1489 on, the lines are known by decreasing strength only: heights 0.095 → 0.03 by rank.
_BEND_LINES = (
    (1558.0, 0.23),
    (1541.0, 0.21),
    (1508.0, 0.19),
    (1653.0, 0.17),
    (1699.0, 0.15),
    (1520.0, 0.14),
    (1684.0, 0.13),
    (1716.0, 0.12),
    (1458.0, 0.12),
    (1473.0, 0.11),
    (1635.0, 0.11),
    (1734.0, 0.10),
    (1489.0, 0.095),
    (1749.0, 0.092),
    (1772.0, 0.088),
    (1670.0, 0.085),
    (1576.0, 0.082),
    (1498.0, 0.079),
    (1419.0, 0.075),
    (1396.0, 0.072),
    (1616.0, 0.069),
    (1624.0, 0.066),
    (1792.0, 0.062),
    (1437.0, 0.059),
    (1869.0, 0.056),
    (1830.0, 0.053),
    (1844.0, 0.049),
    (1761.0, 0.046),
    (1338.0, 0.043),
    (1375.0, 0.040),
    (1361.0, 0.036),
    (1890.0, 0.033),
    (1942.0, 0.030),
)

# ν1/ν3 stretch region, same convention; from 3749 on heights 0.085 → 0.03 by rank
# (3525 and 3545 are the weak lines named beside lead white's 3535 band).
_STRETCH_LINES = (
    (3649.0, 0.11),
    (3735.0, 0.11),
    (3676.0, 0.09),
    (3629.0, 0.09),
    (3749.0, 0.085),
    (3710.0, 0.080),
    (3689.0, 0.074),
    (3618.0, 0.069),
    (3566.0, 0.063),
    (3587.0, 0.058),
    (3801.0, 0.052),
    (3820.0, 0.046),
    (3840.0, 0.041),
    (3525.0, 0.036),
    (3545.0, 0.030),
)

WATER_BANDS: tuple[Band, ...] = tuple(
    [(c, h, _BEND_FWHM) for c, h in _BEND_LINES]
    + [(c, h, _STRETCH_FWHM) for c, h in _STRETCH_LINES]
)
"""Water-vapour lines ``(centre cm⁻¹, height relative to the CO2 R maximum, FWHM cm⁻¹)``."""


@cache
def _template_peak(bands: tuple[Band, ...]) -> float:
    return float(band_sum(DENSE_GRID, bands, ILS_ETA).max())


def _template(bands: tuple[Band, ...], wavenumbers: ArrayLike) -> np.ndarray:
    return band_sum(wavenumbers, bands, ILS_ETA) / _template_peak(bands)


def co2_template(wavenumbers: ArrayLike) -> np.ndarray:
    """Render the CO2 residual template (ν3 P/R envelope, combination bands), maximum 1.

    Args:
        wavenumbers: axis in cm⁻¹ (any order).

    Returns:
        Non-negative float64 values on ``wavenumbers``.

    """
    return _template(CO2_BANDS, wavenumbers)


def water_template(wavenumbers: ArrayLike) -> np.ndarray:
    """Render the water-vapour residual template (bend and stretch lines), maximum 1.

    Args:
        wavenumbers: axis in cm⁻¹ (any order).

    Returns:
        Non-negative float64 values on ``wavenumbers``.

    """
    return _template(WATER_BANDS, wavenumbers)
