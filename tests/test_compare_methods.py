"""The study harness (scripts/compare_methods.py): jobs, statistics over seeds, normalisation
choice, resumption and the report, with training replaced by hand-made results."""

import csv
import importlib.util
import math
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import yaml
from hydra.utils import get_class, instantiate
from omegaconf import OmegaConf

from fake_results import fake_result, layers, peak
from ftir_unmixer.baselines.base import BaseUnmixer
from ftir_unmixer.io.results_file import write_results
from ftir_unmixer.io.run_folder import HYDRA_DIR, OVERRIDES_FILE, RESULTS_FILE
from ftir_unmixer.models.initialisation import INITIALISATIONS
from ftir_unmixer.training.config import CONFIG_DIR

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "compare_methods.py"


def _load_compare_methods():
    spec = importlib.util.spec_from_file_location("compare_methods", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


cm = _load_compare_methods()

CLEAN, RMSE = "gt/mean_angle_clean_deg", "gt/abundance_rmse"


def test_mean_and_sample_std_by_hand():
    mean, std, n = cm.mean_std([1.0, 2.0, None, 4.0, math.nan])
    # mean 7/3; squared deviations 16/9 + 1/9 + 25/9 = 42/9, over n − 1 = 2
    assert (mean, std, n) == (pytest.approx(7 / 3), pytest.approx(math.sqrt(7 / 3)), 3)
    mean, std, n = cm.mean_std([5.0])
    assert mean == 5.0 and math.isnan(std) and n == 1
    assert cm.mean_std([None])[2] == 0 and math.isnan(cm.mean_std([])[0])
    assert cm.format_mean_std([1.0, 2.0, 4.0], CLEAN) == "2.33 ± 1.53"
    assert cm.format_mean_std([0.25], RMSE) == "0.250"


def test_paired_differences_wins_and_gain_over_three_seeds_by_hand():
    reference = {0: {CLEAN: 10.0}, 1: {CLEAN: 12.0}, 2: {CLEAN: 20.0}, 3: {CLEAN: 1.0}}
    other = {0: {CLEAN: 11.0}, 1: {CLEAN: 15.0}, 2: {CLEAN: 18.0}, 4: {CLEAN: 99.0}}
    p = cm.paired(reference, other, CLEAN)
    assert p.seeds == (0, 1, 2)  # seeds 3 and 4 have no partner
    # differences −1, −3, +2: mean −2/3; deviations −1/3, −7/3, 8/3 → (1 + 49 + 64)/9 / 2
    assert p.diff_mean == pytest.approx(-2 / 3)
    assert p.diff_std == pytest.approx(math.sqrt(114 / 18))
    assert p.wins == 2
    assert p.gain == pytest.approx(1 - 14 / (44 / 3))  # 1 − mean 14 / mean 14.67 = 1/22
    assert cm.format_gain(p.gain) == "+4.5 %"
    none = cm.paired(reference, {5: {CLEAN: 1.0}}, CLEAN)
    assert none.seeds == () and none.wins == 0 and math.isnan(none.gain)


def _runs(angles, rmses=None):
    """Seed → metrics from per-seed clean angles (and RMSEs)."""
    rmses = rmses or [0.1] * len(angles)
    return {s: {CLEAN: a, RMSE: r} for s, (a, r) in enumerate(zip(angles, rmses, strict=True))}


def test_normalisation_with_the_lowest_mean_clean_angle_is_chosen():
    trials = {
        "none": _runs([30.0, 31.0, 32.0]),
        "band_minmax": _runs([20.0, 35.0, 20.0]),  # mean 25
        "band_noise": _runs([26.0, 26.0, 26.0]),
    }
    assert cm.choose_normalization(trials, [0, 1, 2]) == "band_minmax"


def test_normalisation_ties_go_to_the_lowest_rmse_and_incomplete_candidates_drop_out():
    trials = {
        "none": _runs([22.0, 22.0, 22.0], [0.20, 0.20, 0.20]),
        "band_minmax": {0: {CLEAN: 5.0, RMSE: 0.0}, 1: {CLEAN: 5.0, RMSE: 0.0}},  # no seed 2
        "band_noise": _runs([21.0, 22.0, 23.0], [0.10, 0.20, 0.15]),
    }
    assert cm.choose_normalization(trials, [0, 1, 2]) == "band_noise"
    assert cm.choose_normalization({"none": {0: {CLEAN: math.nan}}}, [0]) is None
    assert cm.choose_normalization({}, [0]) is None


def test_best_baseline_is_the_lowest_mean_among_the_baselines_only():
    runs = {
        "net": _runs([1.0, 1.0]),
        "NMF": _runs([30.0, 20.0]),  # 25
        "VCA": _runs([24.0, 27.0]),  # 25.5
        "broken": {},
    }
    assert cm.best_method(runs, ["NMF", "VCA", "broken", "absent"], CLEAN) == "NMF"
    assert cm.best_method(runs, ["broken"], CLEAN) is None


STUDY = {
    "scenes": ["bundled", "highly_mixed"],
    "seeds": [0, 1, 2],
    "select_scene": "highly_mixed",
    "reference": "net",
    "baselines": ["NMF", "VCA"],
    "methods": {
        "net": cm.tuned(["experiment=recommended"]),
        "NMF": cm.tuned(["model=nmf"]),
        "VCA": ["model=vca_fcls"],
    },
}
COMMON = ["logger=none", "threads=1"]


def _jobs(tmp_path, extra):
    return cm.study_jobs(
        tmp_path,
        STUDY["scenes"],
        STUDY["methods"],
        [0, 1],
        COMMON,
        STUDY["select_scene"],
        extra,
    )


def test_job_list_is_trials_then_scenes_times_methods_times_seeds(tmp_path):
    jobs = _jobs(tmp_path, {})
    keys = [(j.scene, j.method, j.normalization, j.seed) for j in jobs]
    trials = [
        ("highly_mixed", m, n, s)
        for m in ("net", "NMF")
        for n in ("none", "band_minmax", "band_noise")
        for s in (0, 1)
    ]
    assert keys[: len(trials)] == trials
    assert keys[len(trials) :] == [
        ("bundled", "net", "band_minmax", 0),
        ("bundled", "net", "band_minmax", 1),
        ("bundled", "NMF", "band_minmax", 0),
        ("bundled", "NMF", "band_minmax", 1),
        ("bundled", "VCA", None, 0),
        ("bundled", "VCA", None, 1),
        ("highly_mixed", "VCA", None, 0),  # the trials already cover the tuned methods
        ("highly_mixed", "VCA", None, 1),
    ]
    by_key = dict(zip(keys, jobs, strict=True))
    nmf = by_key[("highly_mixed", "NMF", "band_noise", 1)]
    assert nmf.overrides == (
        "synthetic=highly_mixed",
        *COMMON,
        "model=nmf",
        "data.normalization=band_noise",
        "seed=1",
    )
    assert nmf.run_dir == tmp_path / "runs" / "highly_mixed" / "nmf" / "band_noise" / "s1"
    vca = by_key[("bundled", "VCA", None, 0)]
    assert vca.overrides == (*COMMON, "model=vca_fcls", "seed=0")
    assert vca.run_dir == tmp_path / "runs" / "bundled" / "vca" / "s0"
    # Once chosen, a normalisation runs on every scene too (no job twice).
    chosen = _jobs(tmp_path, {"NMF": ["band_noise"], "net": ["band_minmax"]})
    added = [(j.scene, j.method, j.normalization) for j in chosen if j not in jobs]
    assert added == [("bundled", "NMF", "band_noise")] * 2
    assert len({j.run_dir for j in chosen}) == len(chosen)


def _fake_metrics(overrides):
    """Hand-made metrics of a job: clean angle and RMSE by method and normalisation, + seed."""
    values = dict(o.split("=", 1) for o in overrides)
    method = values.get("experiment", values.get("model"))
    normalization = values.get("data.normalization", "as configured")
    seed = int(values["seed"])
    if (method, normalization, seed) == ("recommended", "band_noise", 2):
        return None  # this job fails
    angle, rmse = {
        ("recommended", "none"): (30.0, 0.10),
        ("recommended", "band_minmax"): (20.0, 0.10),
        ("recommended", "band_noise"): (25.0, 0.10),
        ("nmf", "none"): (22.0, 0.20),
        ("nmf", "band_minmax"): (28.0, 0.30),
        ("nmf", "band_noise"): (22.0, 0.15),  # ties with none on the angle, lower RMSE
        ("vca_fcls", "as configured"): (24.0, 0.12),
    }[method, normalization]
    offset = 0.0 if "synthetic=highly_mixed" in overrides else 1.0
    return {
        CLEAN: angle + seed + offset,
        "gt/mean_angle_deg": angle,
        RMSE: rmse + 0.01 * seed,
        "runtime_s": 2.0,
    }


@pytest.fixture
def fake_training(monkeypatch):
    """Replace each job's training process by writing hand-made results; record the calls."""
    calls = []

    def run(cmd, stdout, stderr, env, check):
        assert cmd[1:3] == ["-m", "ftir_unmixer.train"] and not check
        overrides, run_dir = cmd[3:-1], Path(cmd[-1].removeprefix("hydra.run.dir="))
        calls.append((overrides, env))
        (run_dir / HYDRA_DIR).mkdir(parents=True, exist_ok=True)
        (run_dir / HYDRA_DIR / OVERRIDES_FILE).write_text(yaml.safe_dump(overrides))
        metrics = _fake_metrics(overrides)
        if metrics is not None:
            endmembers = np.stack([peak(1500.0), peak(2900.0)], axis=1)
            write_results(run_dir / RESULTS_FILE, fake_result(endmembers, layers(2), attrs=metrics))
        return subprocess.CompletedProcess(cmd, 0 if metrics else 1)

    monkeypatch.setattr(cm.subprocess, "run", run)
    monkeypatch.setitem(cm.STUDIES, "test", STUDY)
    return calls


def test_finished_jobs_are_not_rerun_and_each_prints_a_progress_line(
    tmp_path, fake_training, capsys
):
    jobs = _jobs(tmp_path, {})[:4]  # net: none s0, s1; band_minmax s0, s1
    done = jobs[1]
    (done.run_dir / HYDRA_DIR).mkdir(parents=True)
    write_results(done.run_dir / RESULTS_FILE, fake_result(peak(1500.0)[:, None], layers(1)))
    cm.run_jobs(jobs, parallel=2)
    ran = sorted(tuple(overrides) for overrides, _ in fake_training)
    assert ran == sorted(jobs[i].overrides for i in (0, 2, 3))
    assert all(env["OMP_NUM_THREADS"] == env["MKL_NUM_THREADS"] == "1" for _, env in fake_training)
    assert all("threads=1" in overrides for overrides, _ in fake_training)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "1 of 4 jobs already finished: reused."
    assert len(lines) == 4 and lines[-1].endswith("ETA done")
    assert any("highly_mixed | net (none) | seed 0: ok in" in line for line in lines)
    assert all(j.finished for j in jobs)
    fake_training.clear()
    cm.run_jobs(jobs, parallel=2)
    assert fake_training == []


def test_ctrl_c_starts_no_further_job(tmp_path, monkeypatch, capsys):
    calls = []
    drained = threading.Event()

    class Pool(cm.ThreadPoolExecutor):
        """Tells the job when the main thread has shut the queue down (or not)."""

        def shutdown(self, wait=True, *, cancel_futures=False):
            super().shutdown(wait=False, cancel_futures=cancel_futures)
            drained.set()
            super().shutdown(wait=wait)

    def interrupted(cmd, **_):
        """Ctrl-C while the job runs: SIGINT to this process; the job ends after the main
        thread has reacted."""
        calls.append(cmd)
        os.kill(os.getpid(), signal.SIGINT)
        drained.wait(timeout=30)
        return subprocess.CompletedProcess(cmd, -2)

    monkeypatch.setattr(cm, "ThreadPoolExecutor", Pool)
    monkeypatch.setattr(cm.subprocess, "run", interrupted)
    monkeypatch.setitem(cm.STUDIES, "test", STUDY)
    argv = ["--study", "test", "--out", str(tmp_path), "--methods", "VCA", "--jobs", "1"]
    assert cm.main(argv) == 130
    assert len(calls) == 1  # of the six VCA jobs
    assert "run the same command again to resume" in capsys.readouterr().err


def _read_csv(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_study_chooses_normalisations_and_reports_means_pairs_and_summary(
    tmp_path, fake_training, capsys
):
    argv = ["--study", "test", "--out", str(tmp_path), "--jobs", "2", "--epochs", "3"]
    assert cm.main(argv) == 0
    # Trials 2 × 3 × 3 and VCA 3 on highly_mixed, band_minmax and VCA on bundled (9), then
    # NMF's choice, band_noise, on bundled (3).
    assert len(fake_training) == 18 + 3 + 9 + 3
    assert all("trainer.max_epochs=3" in o for o, _ in fake_training)
    out = capsys.readouterr().out
    assert "normalisation of 'net': band_minmax" in out
    assert "normalisation of 'NMF': band_noise" in out  # the RMSE breaks the angle tie

    table = {
        (r["scene"], r["method"], r["normalization"]): r for r in _read_csv(tmp_path / "table.csv")
    }
    nmf = table["highly_mixed", "NMF", "band_noise"]
    assert nmf["role"] == "chosen" and nmf["seeds"] == "3"
    assert float(nmf[f"{CLEAN} mean"]) == pytest.approx(23.0)  # 22 + seeds 0, 1, 2
    assert float(nmf[f"{CLEAN} std"]) == pytest.approx(1.0)
    assert float(nmf[f"{RMSE} mean"]) == pytest.approx(0.16)
    assert table["bundled", "NMF", "band_minmax"]["role"] == "paper"
    assert table["highly_mixed", "NMF", "none"]["role"] == "trial"
    assert table["bundled", "VCA", ""]["role"] == "fixed"
    assert table["highly_mixed", "net", "band_noise"]["seeds"] == "2"  # seed 2 failed

    summary = {(r["scene"], r["metric"]): r for r in _read_csv(tmp_path / "summary.csv")}
    angle, rmse = summary["highly_mixed", CLEAN], summary["highly_mixed", RMSE]
    # net 21 (20 + seeds) against NMF at band_noise 23; RMSE 0.11 against VCA's 0.13
    assert angle["best_baseline"] == "NMF" and float(angle["gain"]) == pytest.approx(1 - 21 / 23)
    assert rmse["best_baseline"] == "VCA" and float(rmse["gain"]) == pytest.approx(1 - 0.11 / 0.13)
    assert angle["wins"] == rmse["wins"] == "3"

    paired = {(r["scene"], r["method"], r["metric"]): r for r in _read_csv(tmp_path / "paired.csv")}
    vs_nmf = paired["bundled", "NMF", CLEAN]
    assert float(vs_nmf["diff_mean"]) == pytest.approx(-2.0)  # 21 + s vs 23 + s
    assert float(vs_nmf["diff_std"]) == pytest.approx(0.0)
    assert (vs_nmf["seeds"], vs_nmf["wins"]) == ("3", "3")

    report = (tmp_path / "table.md").read_text()
    assert (
        "| net | 31.00 / 0.110 (3) | 21.00 / 0.110 (3) | 25.50 / 0.105 (2 of 3) | band_minmax |"
        in report
    )
    assert "| `highly_mixed` | 21.00 | NMF | 23.00 | +8.7 % | 3 of 3 |" in report
    assert "net beats the best baseline on both metrics on 2 of 2 scenes." in report
    assert "| NMF | band_noise | 3 | 24.00 ± 1.00 |" in report  # bundled: + 1
    assert "| NMF | band_minmax | 3 | 30.00 ± 1.00 |" in report  # bundled, paper's table

    # A rerun reuses every finished job and retries the failed one only.
    fake_training.clear()
    assert cm.main(argv) == 0
    library = f"evaluation.library=[{tmp_path / 'library'}]"
    assert [o for o, _ in fake_training] == [
        [
            "synthetic=highly_mixed",
            *COMMON,
            "trainer.max_epochs=3",
            library,
            "experiment=recommended",
            "data.normalization=band_noise",
            "seed=2",
        ]
    ]


def test_finished_runs_made_with_other_settings_stop_the_study(tmp_path, fake_training, capsys):
    argv = ["--study", "test", "--out", str(tmp_path), "--methods", "VCA", "--scenes", "bundled"]
    assert cm.main([*argv, "--epochs", "2"]) == 0
    fake_training.clear()
    assert cm.main([*argv, "--epochs", "3"]) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"error: {tmp_path / 'runs' / 'bundled' / 'vca' / 's0'} holds")
    assert "trainer.max_epochs=2 trainer.max_epochs=3" in error
    assert fake_training == []


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--methods", "nope"], "--methods 'nope': not in this study"),
        (["--scenes", "mars"], "--scenes 'mars'"),
        (["--reference", "nope"], "--reference 'nope'"),
        (["--select-scene", "mars"], "--select-scene 'mars'"),
        (["--jobs", "0"], "--jobs and --epochs must be at least 1"),
        (["--set", "seed=3"], "give --seeds instead"),
        (["--set", "data.normalization=none"], "choose their own normalisation"),
    ],
)
def test_bad_arguments_stop_before_any_job(tmp_path, fake_training, capsys, argv, message):
    assert cm.main(["--study", "test", "--out", str(tmp_path), *argv]) == 2
    assert message in capsys.readouterr().err
    assert fake_training == [] and not (tmp_path / "runs").exists()


def test_a_method_that_does_not_compose_stops_before_any_job(
    tmp_path, fake_training, capsys, monkeypatch
):
    monkeypatch.setitem(STUDY["methods"], "typo", ["model=nmf", "model.no_such_key=1"])
    assert cm.main(["--study", "test", "--out", str(tmp_path)]) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: method 'typo' on scene 'bundled' does not compose (")
    assert error.rstrip().endswith("or leave it out with --methods.")
    assert fake_training == []


def _lacking(overrides):
    """The overrides this checkout has no implementation for (another branch adds them)."""
    missing = []
    for override in overrides:
        key, _, value = override.partition("=")
        if key == "model" and not (CONFIG_DIR / "model" / f"{value}.yaml").is_file():
            missing.append(override)
        if key == "model.init_endmembers" and value not in INITIALISATIONS:
            missing.append(override)
    return missing


def _set_values(overrides):
    """``key → value`` of the overrides that set a value (not those choosing a config)."""
    pairs = dict(o.split("=", 1) for o in overrides)
    return {k: yaml.safe_load(v) for k, v in pairs.items() if "." in k or k == "seed"}


@pytest.mark.parametrize("study", sorted(cm.STUDIES))
def test_every_study_job_composes_and_instantiates(compose_train, tmp_path, study):
    spec = cm.STUDIES[study]
    candidates = {m: cm.method_spec(spec["methods"][m])[1] or [] for m in spec["methods"]}
    jobs = cm.study_jobs(
        tmp_path, spec["scenes"], spec["methods"], [3], [], spec.get("select_scene"), candidates
    )
    assert {j.scene for j in jobs} == set(spec["scenes"])
    lacking = {o for j in jobs for o in _lacking(j.overrides)}
    # Only the geometric baselines and starts of the baselines branch may be absent here.
    assert lacking <= {
        "model=archetypal",
        "model=minvol_nmf",
        "model.init_endmembers=archetypal",
        "model.init_endmembers=minvol_nmf",
    }
    # Each scene, method and normalisation at least once; instantiate each method once.
    seen: set[tuple[str, object]] = set()
    methods = set()
    for job in jobs:
        aspects = {("scene", job.scene), ("method", job.method), ("norm", job.normalization)}
        if _lacking(job.overrides) or aspects <= seen:
            continue
        seen |= aspects
        cfg = compose_train([*job.overrides, "logger=none"])
        for key, value in _set_values(job.overrides).items():
            assert OmegaConf.select(cfg, key) == value, (job.method, key)
        assert cfg.seed == 3
        if job.normalization:
            assert cfg.data.normalization == job.normalization
        if job.scene == "strong_artefacts":
            assert cfg.synthetic.atmosphere_co2 == 0.15
        if job.scene == "highly_mixed":
            assert cfg.synthetic.max_abundance == 0.7
        if job.method in methods:
            continue
        methods.add(job.method)
        if issubclass(get_class(cfg.model._target_), BaseUnmixer):
            estimator = instantiate(cfg.model)
            assert estimator.seed == cfg.seed, job.method
            assert f"model={estimator.method}" in job.overrides, job.method
        else:
            module = instantiate(cfg.model, num_bands=120, loss_name=cfg.loss.name)
            for key in ("lr", "lr_schedule", "decoder_lr_scale", "init_endmembers", "refit"):
                assert module.hparams[key] == cfg.model[key], (job.method, key)
        dm = instantiate(cfg.data)
        assert (dm.patch_size, dm.normalization, dm.mode, dm.seed) == (
            cfg.data.patch_size,
            cfg.data.normalization,
            cfg.data.mode,
            cfg.seed,
        ), job.method


def test_mixing_study_runs_every_method_at_three_normalisations_against_all_baselines():
    spec = cm.STUDIES["mixing"]
    assert spec["scenes"] == ["bundled", "strong_artefacts", "minor_component", "highly_mixed"]
    assert spec["seeds"] == [0, 1, 2] and spec["select_scene"] == "highly_mixed"
    assert spec["baselines"] == ["NMF", "MCR-ALS", "VCA + FCLS", "archetypal", "min-vol NMF"]
    assert spec["reference"] in spec["methods"]
    for label, method in spec["methods"].items():
        assert cm.method_spec(method)[1] == ["none", "band_minmax", "band_noise"], label
        assert not any(o.startswith("data.normalization=") for o in method["overrides"]), label


def test_ablations_change_one_key_of_the_recommendation_each():
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    spec = cm.STUDIES["ablations"]
    assert spec["methods"]["recommended"] == ["experiment=recommended"]
    GlobalHydra.instance().clear()
    with initialize_config_dir(version_base="1.3", config_dir=str(CONFIG_DIR)):
        recommended = compose(config_name="train", overrides=["experiment=recommended"])
        for lever in cm.LEVERS:
            overrides = spec["methods"][lever.removeprefix("model.")]
            assert overrides == ["experiment=recommended", lever]
            key, value = lever.split("=")
            ablated = compose(config_name="train", overrides=overrides)
            assert str(OmegaConf.select(ablated, key)) == value, lever
            assert str(OmegaConf.select(recommended, key)) != value, lever
    GlobalHydra.instance().clear()


def test_run_directories_are_ascii():
    assert cm.slug("recommended, α=1") == "recommended__alpha_1"
    assert cm.slug("γ_flat=0, lr ×0.1") == "gamma_flat_0__lr_x0_1"
    for study in cm.STUDIES.values():
        slugs = [cm.slug(label) for label in study["methods"]]
        assert all(s.isascii() for s in slugs) and len(set(slugs)) == len(slugs)
