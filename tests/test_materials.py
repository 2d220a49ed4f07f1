from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from ftir_unmixer.data.atmosphere import (
    ATMOSPHERIC_WINDOWS,
    CO2_BANDS,
    WATER_BANDS,
    co2_template,
    water_template,
)
from ftir_unmixer.data.materials import (
    MATERIALS,
    MIN_WAVENUMBER,
    get_material,
    material_library,
    material_spectrum,
)
from ftir_unmixer.errors import FTIRUnmixerError

DENSE = np.arange(900.0, 4000.0, 0.25)
FPA = 3849.22 - 1.928467 * np.arange(1504)


def peak_position(values: np.ndarray, wn: np.ndarray, low: float, high: float) -> float:
    inside = (wn >= low) & (wn <= high)
    return float(wn[inside][np.argmax(values[inside])])


@pytest.mark.parametrize(
    ("name", "low", "high"),
    [
        # Strongest ATR band of each material (literature band positions, ATR red shift included).
        ("calcium_oxalate", 1610.0, 1618.0),  # νas C=O 1618–1620, shifted ~5
        ("lead_soap", 1505.0, 1513.0),  # νas COO⁻ 1510–1513
        ("chalk", 1395.0, 1410.0),  # ν3 CO3, ATR max ~1395–1410
        ("animal_glue", 1648.0, 1660.0),  # amide I 1650–1660
        ("lead_white", 1390.0, 1410.0),  # ν3 CO3 1390–1410
        ("linseed_oil", 1730.0, 1740.0),  # ester C=O 1740 → 1735 in ATR
        ("degraded_oil", 1700.0, 1718.0),  # acid C=O 1705–1715
        ("polyester_resin", 1718.0, 1730.0),  # ester C=O 1725–1730
        ("kaolinite", 1000.0, 1030.0),  # Si–O 1030/1008
        ("azurite", 1400.0, 1420.0),  # ν3 CO3 1415
    ],
)
def test_strongest_band_where_the_domain_notes_put_it(name: str, low: float, high: float) -> None:
    spectrum = material_spectrum(name, DENSE)
    assert low <= DENSE[np.argmax(spectrum)] <= high


def test_registry_has_the_required_materials_and_no_bands_below_the_window() -> None:
    required = {
        "calcium_oxalate",
        "animal_glue",
        "lead_soap",
        "lead_white",
        "linseed_oil",
        "chalk",
        "kaolinite",
        "polyester_resin",
        "degraded_oil",
    }
    assert required <= set(MATERIALS)
    for material in MATERIALS.values():
        centres = [centre for centre, _, _ in material.bands]
        assert min(centres) >= MIN_WAVENUMBER, material.name


def test_spectra_are_non_negative_with_realistic_peak_absorbance() -> None:
    library = material_library(DENSE)
    assert list(library) == list(MATERIALS)
    for name, spectrum in library.items():
        assert spectrum.min() >= 0.0
        assert spectrum.max() == pytest.approx(MATERIALS[name].peak_absorbance, rel=1e-3)
        assert 0.1 <= spectrum.max() <= 0.6


def test_amplitude_does_not_depend_on_the_grid() -> None:
    # A grid that misses the 1620 band must not be rescaled to the peak absorbance.
    high = 3849.22 - 1.928467 * np.arange(200)
    coarse = material_spectrum("calcium_oxalate", high)
    assert coarse.max() < 0.5 * MATERIALS["calcium_oxalate"].peak_absorbance
    np.testing.assert_allclose(
        coarse, material_spectrum("calcium_oxalate", FPA)[:200], rtol=1e-12, atol=0
    )


def test_strong_bands_are_red_shifted_more_than_weak_ones() -> None:
    oxalate = get_material("calcium_oxalate")
    unshifted = dataclasses.replace(oxalate, atr_shift=0.0)
    strong_shift = peak_position(unshifted.atr_profile(DENSE), DENSE, 1550, 1700) - (
        peak_position(oxalate.atr_profile(DENSE), DENSE, 1550, 1700)
    )
    weak_shift = peak_position(unshifted.atr_profile(DENSE), DENSE, 930, 970) - (
        peak_position(oxalate.atr_profile(DENSE), DENSE, 930, 970)
    )
    assert 2.0 <= strong_shift <= 10.0
    assert 0.0 <= weak_shift < 1.0


def test_atr_scaling_weakens_the_stretches_relative_to_the_fingerprint() -> None:
    # Amide A is tabulated at 0.55 × amide I; the 1/ν̃ ATR factor halves that ratio.
    glue = material_spectrum("animal_glue", DENSE)
    ratio = glue[np.argmin(np.abs(DENSE - 3300))] / glue.max()
    assert 0.2 < ratio < 0.35


def test_unknown_material_is_a_user_error() -> None:
    with pytest.raises(FTIRUnmixerError, match="unknown material 'gold'"):
        material_spectrum("gold", FPA)
    with pytest.raises(FTIRUnmixerError):
        material_library(FPA, ["chalk", "gold"])


def test_co2_template_has_the_measured_p_r_envelope() -> None:
    fine = np.arange(2200.0, 2500.0, 0.05)
    co2 = co2_template(fine)
    assert co2.max() == pytest.approx(1.0, abs=1e-3)
    assert fine[np.argmax(co2)] == pytest.approx(2360.4, abs=1.5)
    p_branch = fine < 2349.0
    assert fine[p_branch][np.argmax(co2[p_branch])] == pytest.approx(2341.2, abs=1.5)
    assert co2[p_branch].max() == pytest.approx(0.65, abs=0.03)
    centre = (fine > 2343) & (fine < 2357)
    assert fine[centre][np.argmin(co2[centre])] == pytest.approx(2348.9, abs=1.5)
    assert co2[centre].min() == pytest.approx(0.41, abs=0.03)
    above_5_percent = fine[co2 >= 0.05]
    assert above_5_percent.min() == pytest.approx(2290, abs=3)
    assert above_5_percent.max() == pytest.approx(2385, abs=3)


def test_water_template_has_the_bend_and_stretch_lines() -> None:
    fine = np.arange(900.0, 4000.0, 0.05)
    water = water_template(fine)
    assert water.min() >= 0.0
    assert water.max() == pytest.approx(1.0, abs=1e-3)
    assert fine[np.argmax(water)] == pytest.approx(1558.0, abs=0.5)
    stretch = fine > 3400
    strongest = fine[stretch][np.argmax(water[stretch])]
    assert min(abs(strongest - 3649), abs(strongest - 3735)) < 1.0
    assert water[stretch].max() == pytest.approx(0.11 / 0.23, abs=0.05)
    assert water[(fine > 2100) & (fine < 3400)].max() < 0.01


@pytest.mark.parametrize(
    ("template", "bands"), [(co2_template, CO2_BANDS), (water_template, WATER_BANDS)]
)
def test_templates_stay_inside_the_atmospheric_windows(template, bands) -> None:
    fine = np.arange(900.0, 4000.0, 0.5)
    values = template(fine)
    inside = np.zeros(fine.shape, dtype=bool)
    for low, high in ATMOSPHERIC_WINDOWS.values():
        inside |= (fine >= low) & (fine <= high)
    assert values[~inside].max() < 0.01
    assert all(
        any(low <= centre <= high for low, high in ATMOSPHERIC_WINDOWS.values())
        for centre, _, _ in bands
    )
