"""The error-budget tool (scripts/error_budget.py): its variants, the truth-started fits and the
report, on tiny scenes."""

import dataclasses
import importlib.util
import statistics
import sys
from pathlib import Path

import numpy as np
import pytest
from hydra.utils import instantiate

from ftir_unmixer.data.synthetic import SyntheticConfig, generate_cross_section
from ftir_unmixer.evaluation.ground_truth import endmember_metrics

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "error_budget.py"


def _load_error_budget():
    spec = importlib.util.spec_from_file_location("error_budget", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


eb = _load_error_budget()

TINY = {"num_tiles": 2, "tile_rows": 12, "tile_cols": 10, "num_bands": 120, "step": 24.1}


def _changed(variant: str) -> dict[str, object]:
    """The settings of a variant's reduced scene that differ from the bundled one."""
    bundled = dataclasses.asdict(eb.scene_config("bundled"))
    return {
        k: v for k, v in dataclasses.asdict(eb.scene_config(variant)).items() if bundled[k] != v
    }


def test_each_artefact_row_zeroes_exactly_its_fields_and_keeps_the_rest():
    assert _changed("no_baseline") == {"baseline_offset": 0.0, "baseline_slope": 0.0}
    assert _changed("no_bad_channels") == {"bad_channels": 0, "dead_pixel_fraction": 0.0}
    defaults = SyntheticConfig()
    for name, fields in eb.ARTEFACTS.items():
        assert all(getattr(defaults, f) > 0 for f in fields)  # on in the bundled scene
        assert _changed(f"no_{name}") == dict.fromkeys(fields, 0)
    assert _changed("all_off") == dict.fromkeys(
        [f for fields in eb.ARTEFACTS.values() for f in fields], 0
    )
    assert eb.scene_config("bundled") == SyntheticConfig(num_tiles=2)


def test_all_off_leaves_an_exactly_linear_cube():
    """Every artefact is listed: with all of them off, the cube is A Eᵀ and nothing is masked."""
    scene = generate_cross_section(eb.scene_config("all_off", TINY))
    cube = np.concatenate(list(scene.tiles.values()))
    truth = scene.ground_truth
    np.testing.assert_allclose(cube, truth.abundances @ truth.endmembers.T, atol=1e-6)
    assert scene.mask.all()


def test_highly_mixed_rows_carry_the_preset(compose_train):
    preset = instantiate(compose_train(["synthetic=highly_mixed"]).synthetic)
    expected = dataclasses.replace(preset, **eb.SIZE)
    assert eb.scene_config("highly_mixed") == expected
    assert _changed("highly_mixed")["max_abundance"] == 0.7  # the purity fields, not the size
    assert set(_changed("highly_mixed")) == {
        "grain_purity",
        "soap_purity",
        "crust_oxalate",
        "composition_jitter",
        "max_abundance",
    }
    assert _changed("highly_mixed_all_off") == _changed("highly_mixed") | _changed("all_off")


def _truth_started_angle(settings: dict[str, object], method: str) -> float:
    scene = generate_cross_section(SyntheticConfig(**TINY, **settings))
    pixels = np.concatenate(list(scene.tiles.values())).astype(np.float64)
    endmembers, abundances, _ = eb.from_truth(method, pixels.reshape(-1, 120), scene)
    assert abundances.shape == (240, len(scene.ground_truth.names))
    metrics, _ = endmember_metrics(endmembers, scene.ground_truth, scene.wavenumbers)
    return metrics["gt/mean_angle_deg"]


@pytest.mark.parametrize("method", ["true maps", "ALS from truth"])
def test_truth_started_fit_stays_without_artefacts_and_moves_with_a_baseline(method):
    assert _truth_started_angle(eb.ALL_OFF, method) < 0.01
    baseline = {**eb.ALL_OFF, "baseline_offset": 0.01, "baseline_slope": 0.01}
    assert _truth_started_angle(baseline, method) > 2.0


def test_report_rows_statistics_and_worst_material():
    results = eb.budget(["bundled", "highly_mixed"], [0, 1], TINY)
    assert list(results) == [
        (v, m) for v in ("bundled", "highly_mixed") for m in ("NMF", "VCA + FCLS", *eb.FROM_TRUTH)
    ]
    assert [len(runs) for runs in results.values()] == [2, 2, 1, 1] * 2
    text = eb.report(results, [0, 1], TINY)
    vca = [m["gt/mean_angle_clean_deg"] for m, _ in results["bundled", "VCA + FCLS"]]
    expected = f"{statistics.fmean(vca):.2f} ± {statistics.stdev(vca):.2f}"
    assert f"| bundled | VCA + FCLS | {expected} |" in text
    true_maps = next(line for line in text.splitlines() if "| bundled | true maps |" in line)
    assert "±" not in true_maps and true_maps.endswith("| 0.000 | one NNLS fit |")
    metrics = [m for m, _ in results["highly_mixed", "NMF"]]
    names = [k.split("/")[-1] for k in metrics[0] if k.startswith("gt/angle_clean_deg/")]
    worst = max(names, key=lambda n: sum(m[f"gt/angle_clean_deg/{n}"] for m in metrics))
    section = text.split("Per-material angles, highly_mixed | NMF")[1]
    assert section.startswith(f" (worst: {worst}):")
    assert section.splitlines()[4].startswith(f"| {worst} |")  # first row under the header
    assert "- `highly_mixed`: grain_purity=0.65" in text


def test_unknown_variant_is_one_sentence_and_status_2(capsys, tmp_path):
    out = tmp_path / "budget.md"
    assert eb.main(["--variants", "bundled", "no_such", "-o", str(out)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and "no_such" in captured.err
    assert "no_baseline" in captured.err  # the valid choices are listed
    assert not out.exists()
