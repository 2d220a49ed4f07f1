from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import h5py
import numpy as np
import pytest
import yaml
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.utils import instantiate

from ftir_unmixer.cli import main
from ftir_unmixer.data.atmosphere import co2_template
from ftir_unmixer.data.materials import MATERIALS, material_library, material_spectrum
from ftir_unmixer.data.synthetic import (
    SOURCE,
    SyntheticConfig,
    _cap,
    _jitter,
    generate_cross_section,
    noise_profile,
    write_synthetic,
)
from ftir_unmixer.errors import FTIRUnmixerError
from ftir_unmixer.io.input_file import read_input
from ftir_unmixer.training.config import CONFIG_DIR

ARTEFACTS_OFF = {
    "atmosphere_co2": 0.0,
    "atmosphere_h2o": 0.0,
    "noise_mau": 0.0,
    "spike_fraction": 0.0,
    "ripple_fraction": 0.0,
    "bad_channels": 0,
    "dead_pixel_fraction": 0.0,
    "baseline_offset": 0.0,
    "baseline_slope": 0.0,
    "gain_range": 0.0,
}


def tiny(**overrides: object) -> SyntheticConfig:
    """2 tiles of 16×12 pixels × 200 bands spanning the whole FPA window (coarse step)."""
    values = {"num_tiles": 2, "tile_rows": 16, "tile_cols": 12, "num_bands": 200, "step": 14.5}
    return SyntheticConfig(**{**values, **overrides})


def reconstruction(scene) -> np.ndarray:
    gt = scene.ground_truth
    return np.einsum("hwk,bk->hwb", gt.abundances, gt.endmembers)


def test_same_seed_gives_identical_arrays_and_another_seed_does_not() -> None:
    first, second = generate_cross_section(tiny(seed=7)), generate_cross_section(tiny(seed=7))
    for a, b in [
        (first.cube, second.cube),
        (first.mask, second.mask),
        (first.atmosphere, second.atmosphere),
        (first.ground_truth.abundances, second.ground_truth.abundances),
        (first.ground_truth.endmembers, second.ground_truth.endmembers),
    ]:
        assert a.dtype == b.dtype and np.array_equal(a, b)
    other = generate_cross_section(tiny(seed=8))
    assert not np.array_equal(first.cube, other.cube)
    assert not np.array_equal(first.ground_truth.abundances, other.ground_truth.abundances)


def test_ground_truth_is_a_simplex_over_the_scene_materials() -> None:
    scene = generate_cross_section(tiny())
    gt = scene.ground_truth
    assert list(scene.tiles) == ["tile_00", "tile_01"]
    assert scene.cube.shape == (32, 12, 200) and scene.cube.dtype == np.float32
    assert gt.abundances.shape == (32, 12, len(gt.names))
    assert gt.abundances.min() >= 0.0
    np.testing.assert_allclose(gt.abundances.sum(axis=-1), 1.0, atol=1e-5)
    assert len(gt.names) >= 8 and set(gt.names) <= set(MATERIALS)
    assert (gt.abundances.max(axis=(0, 1)) > 0).all()
    library = material_library(scene.wavenumbers, gt.names)
    np.testing.assert_allclose(gt.endmembers, np.stack(list(library.values()), 1), rtol=1e-6)


def test_ground_truth_reconstructs_the_clean_cube() -> None:
    clean = generate_cross_section(tiny(**ARTEFACTS_OFF))
    np.testing.assert_allclose(clean.cube, reconstruction(clean), rtol=1e-5, atol=1e-6)
    noisy = generate_cross_section(tiny())
    assert np.abs(noisy.cube - reconstruction(noisy)).max() > 1e-2


def test_chromatic_blur_departs_from_the_linear_model_away_from_1700() -> None:
    scene = generate_cross_section(tiny(chromatic_blur=True, **ARTEFACTS_OFF))
    error = np.abs(scene.cube - reconstruction(scene)).max(axis=(0, 1))
    signal = np.abs(scene.cube).max(axis=(0, 1))
    wn = scene.wavenumbers
    near_1700 = np.argmin(np.abs(wn - 1700))
    assert error[near_1700] < 0.02 * signal[near_1700]
    assert (error[wn > 3000] > 0.02 * signal[wn > 3000]).any()


def test_atmosphere_is_constant_within_a_tile_and_differs_between_tiles() -> None:
    config = tiny(num_tiles=4, seed=3, bad_channels=0, dead_pixel_fraction=0.0)
    with_gas = generate_cross_section(config)
    without = generate_cross_section(
        dataclasses.replace(config, atmosphere_co2=0.0, atmosphere_h2o=0.0)
    )
    assert not without.atmosphere.any()
    residual = (with_gas.cube - without.cube).reshape(4, -1, config.num_bands)
    np.testing.assert_allclose(
        residual, np.broadcast_to(with_gas.atmosphere[:, None], residual.shape), atol=2e-6
    )
    assert np.abs(residual - residual[:, :1]).max() < 2e-6
    per_tile = with_gas.atmosphere
    assert min(np.abs(per_tile[i] - per_tile[j]).max() for i in range(4) for j in range(i)) > 1e-3
    # The CO2 coefficient of each tile is within the configured size.
    co2 = co2_template(with_gas.wavenumbers)
    band = np.argmax(co2)
    assert (
        np.abs(per_tile[:, band]) <= config.atmosphere_co2 * co2[band] + config.atmosphere_h2o
    ).all()


def test_wavenumber_axis_order_and_step() -> None:
    descending = generate_cross_section(tiny(**ARTEFACTS_OFF))
    wn = descending.wavenumbers
    assert wn[0] == pytest.approx(3849.22) and wn.size == 200
    np.testing.assert_allclose(np.diff(wn), -14.5)
    ascending = generate_cross_section(tiny(descending=False, **ARTEFACTS_OFF))
    np.testing.assert_array_equal(ascending.wavenumbers, wn[::-1])
    np.testing.assert_allclose(ascending.cube, descending.cube[..., ::-1], rtol=1e-5, atol=1e-7)
    default = SyntheticConfig(num_tiles=1, tile_rows=2, tile_cols=2)
    axis = generate_cross_section(default).wavenumbers
    assert axis.size == 1504 and axis[-1] == pytest.approx(3849.22 - 1503 * 1.928467)
    np.testing.assert_allclose(np.diff(axis), -1.928467)


def test_dead_pixels_recur_in_every_tile_and_are_masked() -> None:
    scene = generate_cross_section(tiny(**{**ARTEFACTS_OFF, "dead_pixel_fraction": 0.02}))
    mask = scene.mask
    assert (~mask[:16]).sum() == math.ceil(0.02 * 16 * 12)
    np.testing.assert_array_equal(mask[:16], mask[16:])
    assert not scene.cube[~mask].any()
    assert scene.cube[mask].any()


def test_bad_channels_spikes_and_gain() -> None:
    clean = generate_cross_section(tiny(**ARTEFACTS_OFF)).cube
    bad = generate_cross_section(tiny(**{**ARTEFACTS_OFF, "bad_channels": 3})).cube
    changed = np.flatnonzero(np.abs(bad - clean).max(axis=(0, 1)) > 0)
    assert changed.size == 3
    stuck = [band for band in changed if np.ptp(bad[..., band]) == 0]
    assert len(stuck) == 1  # two hot channels, the third stuck

    spiky = generate_cross_section(tiny(**{**ARTEFACTS_OFF, "spike_fraction": 0.2})).cube
    jumps = np.abs(spiky - clean).reshape(-1, 200)
    hit = jumps.max(axis=1) > 0
    assert 0.1 < hit.mean() < 0.3
    assert ((jumps[hit] > 0).sum(axis=1) == 1).all()
    assert (jumps[hit].max(axis=1) >= 0.05 - 1e-6).all()

    scaled = generate_cross_section(tiny(**{**ARTEFACTS_OFF, "gain_range": 0.3})).cube
    strong = clean > 0.05
    gain = scaled[strong] / clean[strong]
    assert gain.min() >= 0.7 - 1e-5 and gain.max() <= 1.0 + 1e-5 and np.ptp(gain) > 0.1


def test_noise_is_u_shaped_with_the_configured_rms() -> None:
    assert noise_profile(np.array([2000.0]), 5.0) == pytest.approx(1.0)
    np.testing.assert_allclose(noise_profile(np.array([950.0, 3850.0]), 5.0), 5.0)
    config = tiny(**{**ARTEFACTS_OFF, "noise_mau": 2.0, "num_tiles": 4})
    noise = (
        generate_cross_section(config).cube
        - generate_cross_section(tiny(**ARTEFACTS_OFF, num_tiles=4)).cube
    )
    wn = config.nu_max - config.step * np.arange(config.num_bands)
    rms = noise.reshape(-1, config.num_bands).std(axis=0)
    middle = np.abs(wn - 2000) < 150
    assert rms[middle].mean() == pytest.approx(2e-3, rel=0.15)
    assert rms[wn < 1000].mean() > 3 * rms[middle].mean()


def test_stratigraphy_of_the_default_geometry() -> None:
    scene = generate_cross_section(SyntheticConfig(num_bands=20, step=100.0))
    gt = scene.ground_truth
    a = {name: gt.abundances[..., k] for k, name in enumerate(gt.names)}
    assert gt.names == [
        "polyester_resin",
        "calcium_oxalate",
        "degraded_oil",
        "linseed_oil",
        "kaolinite",
        "lead_white",
        "lead_soap",
        "chalk",
        "animal_glue",
    ]
    assert a["polyester_resin"][:5].min() > 0.99 and a["polyester_resin"][-5:].min() > 0.99
    rows = np.arange(320)[:, None]
    depth = {name: (rows * m).sum() / m.sum() for name, m in a.items()}
    order = ["calcium_oxalate", "kaolinite", "lead_white", "chalk"]
    assert [depth[n] for n in order] == sorted(depth[n] for n in order)
    assert depth["degraded_oil"] < depth["linseed_oil"]
    # Chalk–glue ground: glue follows chalk; lead soap forms near-pure aggregates.
    assert abs(depth["animal_glue"] - depth["chalk"]) < 10
    assert a["lead_soap"].max() > 0.9


def test_minor_component_stays_below_ten_percent_in_one_layer() -> None:
    scene = generate_cross_section(
        SyntheticConfig(num_bands=20, step=100.0, minor_material="azurite")
    )
    gt = scene.ground_truth
    azurite = gt.abundances[..., gt.names.index("azurite")]
    lead_white = gt.abundances[..., gt.names.index("lead_white")]
    assert 0.05 < azurite.max() <= 0.1
    present = np.flatnonzero(azurite.max(axis=1) > 0.01)
    host = np.flatnonzero(lead_white.max(axis=1) > 0.5)
    assert host.min() - 5 <= present.min() and present.max() <= host.max() + 5


def test_cap_moves_the_excess_to_the_other_materials_in_proportion() -> None:
    # Pixel 1: 0.9 / 0.06 / 0.04 → 0.7, and the 0.2 excess split 0.06 : 0.04 → 0.18 / 0.12.
    # Pixel 2: the exempt material (index 0, resin) may stay at 0.95; the capped 0.05 stays.
    # Pixel 3: one material alone keeps everything (no other material to receive it).
    a = np.array([[[0.0, 0.9, 0.06, 0.04], [0.95, 0.05, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0]]])
    _cap(a, 0.7, exempt=0)
    np.testing.assert_allclose(a[0, 0], [0.0, 0.7, 0.18, 0.12])
    np.testing.assert_allclose(a[0, 1], [0.95, 0.05, 0.0, 0.0])
    np.testing.assert_allclose(a[0, 2], [0.0, 0.0, 1.0, 0.0])


def test_cap_repeats_until_no_receiver_exceeds_the_cap() -> None:
    # 0.8 / 0.2 with cap 0.5 → 0.5 / 0.5 needs the receiver itself to stop at the cap: the
    # second material reaches 0.5 after the first round and nothing moves afterwards.
    a = np.array([[[0.8, 0.2, 0.0]]])
    _cap(a, 0.5, exempt=2)
    np.testing.assert_allclose(a[0, 0], [0.5, 0.5, 0.0])


def test_jitter_keeps_the_simplex_and_the_absent_materials_absent() -> None:
    composition = np.zeros((20, 16, 4))
    composition[..., 1], composition[..., 3] = 0.35, 0.65
    _jitter(composition, 0.6, np.random.default_rng(0))
    np.testing.assert_allclose(composition.sum(axis=-1), 1.0)
    assert (composition[..., [0, 2]] == 0).all()
    assert composition[..., 1].std() > 0.03 and (composition[..., 1] > 0).all()


def test_highly_mixed_preset_has_no_material_above_0_7_but_the_resin() -> None:
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(version_base="1.3", config_dir=str(CONFIG_DIR / "synthetic")):
            config = instantiate(compose(config_name="highly_mixed"))
    finally:
        GlobalHydra.instance().clear()
    small = dataclasses.replace(config, num_tiles=2, num_bands=20, step=100.0)
    scene = generate_cross_section(small)
    gt = scene.ground_truth
    a = gt.abundances.reshape(-1, len(gt.names))
    np.testing.assert_allclose(a.sum(axis=1), 1.0, atol=1e-5)
    resin = gt.names.index("polyester_resin")
    purity = dict(zip(gt.names, gt.purity, strict=True))
    assert purity.pop("polyester_resin") == pytest.approx(1.0)
    assert max(purity.values()) <= 0.7 + 1e-6
    # Facets: most non-resin pixels mix two or three materials above 5 %.
    paint = a[a[:, resin] < 0.05]
    counts = (paint > 0.05).sum(axis=1)
    assert np.isin(counts, [2, 3]).mean() > 0.6
    # The oil binder never stands alone.
    oil = a[:, gt.names.index("linseed_oil")]
    assert oil.max() <= 0.7 + 1e-6


def test_purity_defaults_reproduce_the_bundled_scene() -> None:
    base = generate_cross_section(tiny())
    explicit = generate_cross_section(
        tiny(grain_purity=1.0, soap_purity=1.0, crust_oxalate=0.8, composition_jitter=0.0)
    )
    np.testing.assert_array_equal(base.cube, explicit.cube)
    mixed = generate_cross_section(tiny(grain_purity=0.6))
    np.testing.assert_array_equal(mixed.mask, base.mask)
    assert not np.array_equal(mixed.ground_truth.abundances, base.ground_truth.abundances)


def test_written_file_round_trips_through_read_input(tmp_path: Path) -> None:
    config = tiny(dead_pixel_fraction=0.02)
    scene = generate_cross_section(config)
    path = write_synthetic(tmp_path / "scene.h5", config)
    data = read_input(path)
    np.testing.assert_array_equal(data.cube, scene.cube)
    np.testing.assert_array_equal(data.mask, scene.mask)
    np.testing.assert_array_equal(data.wavenumbers, scene.wavenumbers)
    assert data.tile_names == ["tile_00", "tile_01"] and data.tile_rows == [16, 16]
    assert data.ground_truth.names == scene.ground_truth.names
    np.testing.assert_array_equal(data.ground_truth.abundances, scene.ground_truth.abundances)
    np.testing.assert_array_equal(data.ground_truth.endmembers, scene.ground_truth.endmembers)
    assert data.attrs["source"] == SOURCE and data.attrs["units"] == "absorbance"
    assert SyntheticConfig(**json.loads(data.attrs["synthetic_config"])) == config
    np.testing.assert_allclose(data.ground_truth.purity, scene.ground_truth.purity)
    with h5py.File(path) as f:
        np.testing.assert_allclose(
            f["ground_truth/purity"][()],
            scene.ground_truth.abundances.reshape(-1, len(scene.ground_truth.names)).max(axis=0),
        )


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        ({"num_bands": 1504, "step": 2.0}, "nu_max"),
        ({"paint_layers": ["earth", "gold"], "paint_thickness": [0.1, 0.1]}, "paint_layers"),
        ({"paint_thickness": [0.1, 0.1]}, "paint_thickness"),
        ({"paint_thickness": [0.3, 0.3, 0.3]}, "paint_thickness"),
        ({"noise_mau": "loud"}, "noise_mau"),
        ({"num_tiles": 2.5}, "num_tiles"),
        ({"gain_range": 1.0}, "gain_range"),
        ({"minor_material": "azurite", "minor_layer": "ground"}, "minor_layer"),
        ({"minor_material": "gold"}, "minor_material"),
    ],
)
def test_invalid_settings_name_the_key(overrides: dict, key: str) -> None:
    with pytest.raises(FTIRUnmixerError, match=f"synthetic.{key} "):
        SyntheticConfig(**overrides)


def test_yaml_presets_match_the_dataclass_and_instantiate() -> None:
    directory = CONFIG_DIR / "synthetic"
    default = yaml.safe_load((directory / "default.yaml").read_text())
    assert default.pop("_target_") == "ftir_unmixer.data.synthetic.SyntheticConfig"
    assert default == dataclasses.asdict(SyntheticConfig())
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(version_base="1.3", config_dir=str(directory)):
            strong = instantiate(compose(config_name="strong_artefacts"))
            minor = instantiate(compose(config_name="minor_component"))
    finally:
        GlobalHydra.instance().clear()
    base = SyntheticConfig()
    assert isinstance(strong, SyntheticConfig) and isinstance(strong.paint_layers, list)
    assert strong.atmosphere_co2 > base.atmosphere_co2
    assert strong.atmosphere_h2o > base.atmosphere_h2o
    assert strong.bad_channels > base.bad_channels
    assert (
        dataclasses.replace(strong, atmosphere_co2=0.05, atmosphere_h2o=0.02, bad_channels=2)
        == base
    )
    assert minor.minor_material == "azurite" and minor.minor_abundance <= 0.1
    assert minor.minor_layer in minor.paint_layers


def test_synth_command_writes_the_scene_and_the_library(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output, library = tmp_path / "scene.h5", tmp_path / "refs"
    argv = ["synth", "-o", str(output), "--tiles", "2", "--rows", "8", "--cols", "6"]
    argv += ["--bands", "50", "--seed", "4", "--set", "step=50", "--set", "noise_mau=0.5"]
    argv += ["--set", "paint_layers=[earth, azurite]", "--set", "paint_thickness=[0.2, 0.2]"]
    assert main([*argv, "--library", str(library)]) == 0
    printed = capsys.readouterr().out
    assert str(output) in printed and "synthetic_chalk.dpt" in printed
    data = read_input(output)
    assert data.shape == (16, 6, 50)
    stored = json.loads(data.attrs["synthetic_config"])
    assert stored["seed"] == 4 and stored["noise_mau"] == 0.5 and stored["step"] == 50.0
    assert stored["paint_layers"] == ["earth", "azurite"]
    assert "azurite" in data.ground_truth.names
    purity = ", ".join(
        f"{n} {v:.2f}"
        for n, v in zip(data.ground_truth.names, data.ground_truth.purity, strict=True)
    )
    assert f"purity (largest abundance): {purity}\n" in printed
    for name in MATERIALS:
        table = np.loadtxt(library / f"synthetic_{name}.dpt", delimiter=",")
        assert table.shape == (50, 2)
        assert (np.diff(table[:, 0]) < 0).all()
        np.testing.assert_allclose(table[:, 0], data.wavenumbers, atol=1e-6)
        np.testing.assert_allclose(table[:, 1], material_spectrum(name, table[:, 0]), atol=1e-6)


@pytest.mark.parametrize("bad", ["--set=colour=blue", "--set=noise_mau", "--set=noise_mau=[1,"])
def test_synth_command_rejects_bad_overrides(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], bad: str
) -> None:
    assert main(["synth", "-o", str(tmp_path / "x.h5"), bad]) == 2
    assert "error: synth --set" in capsys.readouterr().err
    assert not (tmp_path / "x.h5").exists()


def test_synth_scene_option_starts_from_a_preset(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "mixed.h5"
    argv = ["synth", "-o", str(output), "--scene", "highly_mixed", "--tiles", "1"]
    argv += ["--rows", "32", "--cols", "16", "--bands", "20", "--set", "step=100"]
    assert main(argv) == 0
    stored = json.loads(read_input(output).attrs["synthetic_config"])
    assert stored["max_abundance"] == 0.7 and stored["num_tiles"] == 1
    assert main(["synth", "-o", str(tmp_path / "x.h5"), "--scene", "muddy"]) == 2
    err = capsys.readouterr().err
    assert "synth --scene 'muddy' is not a synthetic preset" in err and "highly_mixed" in err
    assert not (tmp_path / "x.h5").exists()
