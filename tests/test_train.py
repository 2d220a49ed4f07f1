import csv
import time

import h5py
import numpy as np
import pytest

from conftest import TINY_RUN, assert_scored_against_ground_truth, matched_angles_by_hand
from ftir_unmixer.data.datamodule import FTIRDataModule
from ftir_unmixer.errors import FTIRUnmixerError
from ftir_unmixer.io.input_file import read_input
from ftir_unmixer.io.results_file import DIAGNOSTIC_NAMES, read_results
from ftir_unmixer.training.pipeline import run


def _check_contract(path, loss_name):
    res = read_results(path)
    h, w, k = res.abundances.shape
    b = res.endmembers.shape[0]
    assert (h, w, k, b) == (24, 10, 4, 120)
    assert res.abundances.dtype == np.float32
    assert (res.abundances >= 0).all()
    np.testing.assert_allclose(res.abundances.sum(axis=2), 1.0, atol=1e-5)
    assert res.endmembers.shape == res.endmembers_model.shape == (b, k)
    assert (res.endmembers_model >= 0).all()
    assert res.wavenumbers.dtype == np.float64 and res.wavenumbers.shape == (b,)
    assert res.band_weights.shape == (b,)
    for name in DIAGNOSTIC_NAMES:
        assert res.band_diagnostics[name].shape == (b,)
    assert res.reconstruction_error.shape == (h, w)
    for key in ("config", "loss", "num_endmembers", "seed", "version"):
        assert key in res.attrs
    assert res.attrs["loss"] == loss_name
    assert res.attrs["num_endmembers"] == k
    return res


@pytest.mark.parametrize("loss_name", ["wsad", "sad"])
def test_two_epoch_run_writes_the_results_contract(compose_train, tmp_path, loss_name):
    cfg = compose_train([*TINY_RUN, f"loss={loss_name}"])
    metrics = run(cfg)
    out = tmp_path / "run"
    res = _check_contract(out / "results.h5", loss_name)
    if loss_name == "sad":
        np.testing.assert_array_equal(res.band_weights, 1.0)
    else:
        assert res.band_weights.min() < 1.0
    # endmembers are the model's Eq. 5 endmembers, rescaled by the reconstruction scale the
    # angle loss leaves free, mapped back through band_minmax.
    dm = FTIRDataModule(path=res.attrs["input"], patch_size=5)
    dm.setup()
    scale = res.attrs["reconstruction_scale"]
    assert scale > 0
    np.testing.assert_allclose(
        res.endmembers, dm.normalizer.endmembers_to_input(res.endmembers_model / scale), rtol=1e-5
    )
    # The bundled synthetic scene has ground truth, so the run is scored against it, and its
    # learning curve (before training and after the last epoch; the period is 5) is stored.
    assert_scored_against_ground_truth(res, metrics)
    curve = res.learning_curve
    assert curve.epoch.tolist() == [0, 2] and curve.step.tolist() == [0, 6]
    assert curve.materials == read_input(res.attrs["input"]).ground_truth.names
    np.testing.assert_allclose(np.nanmean(curve.angle_deg, axis=1), curve.mean_angle_deg)
    with open(out / "endmembers.csv") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["wavenumber", *(f"endmember_{i}" for i in range(1, 5))]
    assert len(rows) == 121
    for name in ("abundance_maps.png", "endmembers.png", "band_weights.png"):
        assert (out / name).stat().st_size > 1000
    assert (out / "checkpoints" / "last.ckpt").is_file()
    assert (out / "explorer.html").stat().st_size > 1_000_000  # Plotly's JavaScript inside
    assert not list(out.glob("*.tmp"))


def test_run_with_wandb_offline_and_csv_logs(compose_train, tmp_path):
    metrics = run(compose_train([*TINY_RUN, "logger=[wandb,csv]"]))
    # W&B: one offline run whose log holds the epoch loss and the final metrics.
    (wandb_run,) = (tmp_path / "run" / "wandb").glob("offline-run-*")
    (history,) = wandb_run.glob("run-*.wandb")
    # W&B's service process may still be flushing the offline log when finish() returns on a
    # loaded machine: wait for it (at most 60 s) before reading.
    deadline = time.monotonic() + 60
    while b"gt/mean_angle_deg" not in history.read_bytes() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert b"train/loss_epoch" in history.read_bytes()
    assert b"gt/mean_angle_deg" in history.read_bytes()
    # CSV: one epoch loss per epoch (2), and the final metrics as the run returned them.
    (table,) = (tmp_path / "run" / "csv").rglob("metrics.csv")
    with open(table) as fh:
        rows = list(csv.DictReader(fh))
    assert [r["epoch"] for r in rows if r["train/loss_epoch"]] == ["0", "1"]
    # The learning curve's points (before training, after the last epoch), then the final
    # metrics, the only row with diagnostics.
    scored = [r for r in rows if r["gt/mean_angle_deg"]]
    assert [r["step"] for r in scored] == ["0", "6", "6"]
    (final,) = [r for r in scored if r["diag/mean_reconstruction_angle_deg"]]
    assert float(final["gt/mean_angle_deg"]) == pytest.approx(metrics["gt/mean_angle_deg"])
    curve = read_results(tmp_path / "run" / "results.h5").learning_curve
    assert [float(r["gt/mean_angle_deg"]) for r in scored[:2]] == pytest.approx(
        curve.mean_angle_deg
    )


def test_the_explorer_switches_off_with_one_key(compose_train, tmp_path):
    run(compose_train([*TINY_RUN, "trainer.max_epochs=1", "callbacks.explorer.enabled=false"]))
    assert (tmp_path / "run" / "results.h5").is_file()
    assert not (tmp_path / "run" / "explorer.html").exists()


def test_k_not_smaller_than_bands_stops_before_training(compose_train, tmp_path):
    cfg = compose_train([*TINY_RUN, "model.num_endmembers=120"])
    with pytest.raises(FTIRUnmixerError, match=r"model\.num_endmembers=120"):
        run(cfg)
    assert not (tmp_path / "run" / "results.h5").exists()


def test_patch_larger_than_image_suggests_the_largest_odd_size(compose_train, tmp_path):
    # The image is 24×10 pixels: 10 would be refused as even, 9 is the largest patch.
    cfg = compose_train([*TINY_RUN, "data.patch_size=13"])
    with pytest.raises(FTIRUnmixerError, match=r"data\.patch_size=13 .* at most 9\.$"):
        run(cfg)


def test_same_seed_same_endmembers(compose_train, tmp_path):
    first = compose_train([*TINY_RUN, "trainer.max_epochs=1"])
    run(first)
    e1 = read_results(tmp_path / "run" / "results.h5").endmembers
    second = compose_train([*TINY_RUN, "trainer.max_epochs=1"])
    run(second)
    e2 = read_results(tmp_path / "run" / "results.h5").endmembers
    np.testing.assert_array_equal(e1, e2)


def test_results_h5_is_plain_hdf5(compose_train, tmp_path):
    run(compose_train([*TINY_RUN, "trainer.max_epochs=1"]))
    with h5py.File(tmp_path / "run" / "results.h5") as f:
        assert set(f) >= {
            "abundances",
            "endmembers",
            "endmembers_model",
            "wavenumbers",
            "band_weights",
            "band_diagnostics",
            "reconstruction_error",
        }


BASELINE_RUN = [o for o in TINY_RUN if not o.startswith("model.hidden_channels")]


@pytest.mark.parametrize("baseline", ["nmf", "vca_fcls", "mcr_als", "archetypal", "minvol_nmf"])
def test_baselines_run_through_the_same_pipeline(compose_train, tmp_path, baseline):
    cfg = compose_train([*BASELINE_RUN, f"model={baseline}", "model.num_endmembers=4"])
    metrics = run(cfg)
    res = _check_contract(tmp_path / "run" / "results.h5", baseline)
    assert res.attrs["method"] == baseline
    assert (tmp_path / "run" / "explorer.html").is_file()
    assert res.attrs["runtime_s"] > 0
    assert_scored_against_ground_truth(res, metrics)
    assert (tmp_path / "run" / "abundance_maps.png").is_file()


def test_library_titles_maps_and_scores_identification(compose_train, tmp_path, monkeypatch):
    from ftir_unmixer.data.synthetic import write_reference_library
    from ftir_unmixer.io.input_file import read_input
    from ftir_unmixer.training import results

    run(compose_train([*BASELINE_RUN, "model=vca_fcls"]))  # generates the tiny scene
    scene = read_input(read_results(tmp_path / "run" / "results.h5").attrs["input"])
    library = write_reference_library(tmp_path / "lib", scene.wavenumbers)
    titles = []
    write_figures = results.write_figures

    def spy(output_dir, result, **options):
        titles.extend(options["titles"])
        return write_figures(output_dir, result, **options)

    monkeypatch.setattr(results, "write_figures", spy)
    cfg = compose_train(
        [*BASELINE_RUN, "model=vca_fcls", f"evaluation.library=[{tmp_path / 'lib'}]"]
    )
    metrics = run(cfg)
    res = read_results(tmp_path / "run" / "results.h5")
    # By hand: each endmember's closest reference (the library is on the scene's axis, the
    # band weights of a baseline are 1), named when within the 15° threshold.
    names = [path.stem for path in library]
    refs = np.stack([np.loadtxt(path, delimiter=",")[:, 1] for path in library], axis=1)
    est = res.endmembers / np.linalg.norm(res.endmembers, axis=0)
    angles = np.degrees(np.arccos(np.clip(est.T @ (refs / np.linalg.norm(refs, axis=0)), -1, 1)))
    best = angles.argmin(axis=1)
    labels = [
        f"{names[r]}, {angles[k, r]:.1f}°" if angles[k, r] <= 15.0 else "no match"
        for k, r in enumerate(best)
    ]
    assert titles == [f"Map {k + 1}: {label}" for k, label in enumerate(labels)]
    assert metrics["id/num_identified"] == sum(label != "no match" for label in labels)
    # Accuracy: the matched endmembers whose reference names their true material.
    _, pairs = matched_angles_by_hand(res)
    hits = [material.replace(" ", "_") in labels[k].split(",")[0] for k, material in pairs]
    assert metrics["id/accuracy"] == pytest.approx(np.mean(hits))


def test_drop_window_and_baseline_keep_axis_weights_and_results_consistent(compose_train, tmp_path):
    # The tiny scene spans 3849–3620 cm⁻¹; drop 3800–3700 and remove a rubberband baseline.
    cfg = compose_train(
        [
            *TINY_RUN,
            "data.drop_windows=[[3800,3700]]",
            "data.baseline={method: rubberband}",
            "data.normalization=pixel_l2",
        ]
    )
    run(cfg)
    res = read_results(tmp_path / "run" / "results.h5")
    assert not ((res.wavenumbers > 3700) & (res.wavenumbers < 3800)).any()
    b = len(res.wavenumbers)
    assert b < 120
    assert res.endmembers.shape[0] == res.band_weights.shape[0] == b
    assert "rubberband" in res.attrs["preprocessing"]


def test_vca_initialisation_runs_end_to_end(compose_train, tmp_path):
    metrics = run(compose_train([*TINY_RUN, "model.init_endmembers=vca", "trainer.max_epochs=1"]))
    assert_scored_against_ground_truth(read_results(tmp_path / "run" / "results.h5"), metrics)
