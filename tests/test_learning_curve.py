"""The learning curve: endmember scores logged while training, kept in results.h5, plotted."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import lightning as L
import numpy as np
import pytest
import torch
from lightning.pytorch.loggers import Logger

from conftest import quiet_trainer
from fake_results import WAVENUMBERS, fake_result, layers, peak
from ftir_unmixer.data.datamodule import FTIRDataModule
from ftir_unmixer.data.synthetic import SyntheticConfig
from ftir_unmixer.errors import FTIRUnmixerError
from ftir_unmixer.evaluation.ground_truth import ground_truth_metrics
from ftir_unmixer.io.input_file import read_input, write_input
from ftir_unmixer.io.results_file import (
    LearningCurve,
    read_learning_curve,
    read_results,
    write_results,
)
from ftir_unmixer.models.module import FTIRUnmixerModule
from ftir_unmixer.plots import plot_learning_curves
from ftir_unmixer.training.learning_curve import (
    GroundTruthCurve,
    centre_batches,
    reconstruction_scale,
    sample_centres,
    window_reader,
)
from ftir_unmixer.training.results import input_endmembers

SCENE = SyntheticConfig(num_tiles=2, tile_rows=12, tile_cols=10, num_bands=120, step=24.1)
SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "learning_curves.py"


class Recorder(Logger):
    """A logger that keeps every ``log_metrics`` call."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[int, dict[str, float]]] = []

    @property
    def name(self) -> str:
        return "recorder"

    @property
    def version(self) -> int:
        return 0

    def log_metrics(self, metrics, step=None) -> None:
        self.calls.append((step, dict(metrics)))

    def log_hyperparams(self, params, *args, **kwargs) -> None:
        pass

    def gt_calls(self) -> list[tuple[int, dict[str, float]]]:
        return [(s, m) for s, m in self.calls if any(k.startswith("gt/") for k in m)]


def _datamodule(tmp_path, path=None, **kwargs) -> FTIRDataModule:
    dm = FTIRDataModule(
        path,
        synthetic=SCENE,
        data_dir=tmp_path / "data",
        patches_per_epoch=48,
        batch_size=16,
        seed=0,
        **kwargs,
    )
    dm.prepare_data()
    dm.setup("fit")
    return dm


def _module(dm: FTIRDataModule, seed: int = 0, **levers: object) -> FTIRUnmixerModule:
    torch.manual_seed(seed)
    return FTIRUnmixerModule(
        dm.num_bands,
        4,
        hidden_channels=8,
        band_weights=dm.band_weight_estimate.weights,
        log_step_loss=False,
        **levers,
    )


@torch.no_grad()
def _whole_image(dm, module) -> tuple[np.ndarray, np.ndarray]:
    """Cube and reconstruction ``(H, W, B)`` of one eval-mode pass over the whole image."""
    module.eval()
    x = torch.from_numpy(dm.data.cube).permute(2, 0, 1)[None]
    reconstruction, _ = module.net(x)
    module.train()
    return dm.data.cube, reconstruction[0].permute(1, 2, 0).numpy()


def _expected_metrics(dm, module) -> dict[str, float]:
    """``ground_truth_metrics`` of the current decoder endmembers put in input units by hand."""
    cube, reconstruction = _whole_image(dm, module)
    x = cube[dm.data.mask].astype(np.float64)
    x_hat = reconstruction[dm.data.mask].astype(np.float64)
    scale = np.sum(x_hat**2) / np.sum(x * x_hat)
    raw = read_input(dm.input_path).cube[dm.data.mask]  # band_minmax: lo and span per band
    lo = raw.min(axis=0).astype(np.float64)
    span = raw.max(axis=0) - lo
    span = np.where(span > 0, span, 1.0)
    endmembers = module.net.endmembers().detach().numpy() / scale * span[:, None] + lo[:, None]
    truth = dm.data.ground_truth
    result = SimpleNamespace(endmembers=endmembers, abundances=truth.abundances)
    metrics, _ = ground_truth_metrics(result, truth, dm.data.wavenumbers)
    return metrics


def test_logged_points_are_the_ground_truth_scores_of_the_decoder_endmembers(tmp_path):
    dm = _datamodule(tmp_path)
    module = _module(dm)
    before = _expected_metrics(dm, module)
    recorder, curve = Recorder(), GroundTruthCurve(every_n_epochs=2)
    trainer = quiet_trainer(3, logger=recorder, callbacks=[curve], log_every_n_steps=1)
    trainer.fit(module, datamodule=dm)
    after = _expected_metrics(dm, module)
    calls = recorder.gt_calls()
    # Before training, after epoch 2 and at the end (epoch 3); 3 steps per epoch.
    assert [step for step, _ in calls] == [0, 6, 9]
    assert [p["epoch"] for p in curve.points] == [0, 2, 3]
    names = [f"gt/angle_deg/{n}" for n in dm.data.ground_truth.names]
    for logged, expected in ((calls[0][1], before), (calls[-1][1], after)):
        assert {"gt/mean_angle_deg", "gt/mean_angle_clean_deg", *names} <= logged.keys()
        assert "gt/abundance_rmse" not in logged  # endmembers only
        for key, value in logged.items():
            assert value == pytest.approx(expected[key], rel=1e-6, nan_ok=True), key
    assert before["gt/mean_angle_deg"] != pytest.approx(after["gt/mean_angle_deg"])
    stored = curve.curve(dm.data.ground_truth.names)
    assert stored.mean_angle_deg[-1] == calls[-1][1]["gt/mean_angle_deg"]
    np.testing.assert_allclose(np.nanmean(stored.angle_deg, axis=1), stored.mean_angle_deg)


def test_the_curve_only_observes_training(tmp_path):
    dm = _datamodule(tmp_path)
    weights = []
    for callbacks in ([], [GroundTruthCurve(every_n_epochs=1, sample_pixels=1)]):
        module = _module(dm)
        L.seed_everything(5, verbose=False)
        quiet_trainer(2, callbacks=callbacks).fit(module, datamodule=dm)
        weights.append(module.net.decoder.unconstrained.detach().clone())
    torch.testing.assert_close(weights[0], weights[1], rtol=0, atol=0)


def test_curve_is_off_without_ground_truth_or_with_period_zero(tmp_path):
    scene = read_input(_datamodule(tmp_path).input_path)
    blind = write_input(
        tmp_path / "blind.h5",
        {"top": scene.cube[:12], "bottom": scene.cube[12:]},
        scene.wavenumbers,
    )
    for path, period in ((blind, 1), (None, 0)):
        dm = _datamodule(tmp_path, path)
        recorder, curve = Recorder(), GroundTruthCurve(every_n_epochs=period)
        trainer = quiet_trainer(1, logger=recorder, callbacks=[curve], log_every_n_steps=1)
        trainer.fit(_module(dm), datamodule=dm)
        assert recorder.calls and recorder.gt_calls() == []
        assert curve.points == []
    assert read_input(blind).ground_truth is None
    with pytest.raises(FTIRUnmixerError, match=r"callbacks\.gt_curve\.every_n_epochs"):
        GroundTruthCurve(every_n_epochs=-1)


@pytest.mark.parametrize("out_of_core", [False, True])
def test_sample_scale_is_the_whole_image_scale_at_the_sampled_pixels(tmp_path, out_of_core):
    dm = _datamodule(tmp_path, out_of_core=out_of_core)
    module = _module(dm)
    radius = module.net.receptive_radius
    centres = sample_centres(dm.data.mask, radius, 5, seed=3)
    np.testing.assert_array_equal(centres, sample_centres(dm.data.mask, radius, 5, seed=3))
    assert len(centres) == 5 and dm.data.mask[centres[:, 0], centres[:, 1]].all()
    assert centres.min() >= radius
    assert (centres[:, 0] < 24 - radius).all() and (centres[:, 1] < 10 - radius).all()
    inner = dm.data.mask[radius : 24 - radius, radius : 10 - radius]
    assert len(sample_centres(dm.data.mask, radius, 10**6, seed=3)) == inner.sum() < inner.size
    windows = window_reader(dm, 2 * radius + 1, torch.device("cpu"))
    scale = reconstruction_scale(module, centre_batches(windows, centres, radius, batch_size=2))
    cube, reconstruction = _whole_image(_datamodule(tmp_path), module)
    x = cube[centres[:, 0], centres[:, 1]].astype(np.float64)
    x_hat = reconstruction[centres[:, 0], centres[:, 1]].astype(np.float64)
    assert scale == pytest.approx(np.sum(x_hat**2) / np.sum(x * x_hat), rel=1e-5)
    assert module.training  # back in training mode


@pytest.mark.parametrize(
    "levers", [{}, {"baseline_degree": 1, "atmosphere_components": 1}], ids=["plain", "nuisance"]
)
def test_the_curve_scores_the_endmembers_the_results_report(tmp_path, levers):
    # The image is smaller than 2048 windows of 7×7: the whole image is run through the
    # network, and the endmembers (nuisance components removed, scale of the parts orthogonal
    # to the nuisance subspace) are those of the results, computed from unmix_cube.
    dm = _datamodule(tmp_path)
    module = _module(dm, **levers)
    module.initialise_from_data(dm.valid_pixels(), dm.data.wavenumbers, dm.seed)
    unmixing = module.unmix_cube(dm.source, dm.data.mask)
    expected = input_endmembers(dm, unmixing.endmembers, unmixing.scale)
    curve = GroundTruthCurve().endmembers(dm, module)
    np.testing.assert_allclose(curve, expected, rtol=1e-5, atol=1e-6 * np.abs(expected).max())
    if levers:
        assert not np.allclose(unmixing.endmembers, unmixing.endmembers_model)


def test_callback_estimates_the_scale_on_the_sample_or_the_whole_image(tmp_path):
    dm = _datamodule(tmp_path)
    module = _module(dm)
    radius = module.net.receptive_radius
    # 24×10 = 240 pixels: more than 2 windows of 7×7 (98 pixels), so 2 pixels are sampled;
    # fewer than 2048 windows, so the whole image is run through the network instead.
    centres = sample_centres(dm.data.mask, radius, 2, seed=dm.seed)
    windows = window_reader(dm, 2 * radius + 1, torch.device("cpu"))
    sampled = GroundTruthCurve(sample_pixels=2).reconstruction_scale(dm, module)
    assert sampled == reconstruction_scale(module, centre_batches(windows, centres, radius))
    cube, reconstruction = _whole_image(dm, module)
    x, x_hat = cube[dm.data.mask].astype(float), reconstruction[dm.data.mask].astype(float)
    whole = GroundTruthCurve().reconstruction_scale(dm, module)
    assert whole == pytest.approx(np.sum(x_hat**2) / np.sum(x * x_hat), rel=1e-6)
    assert sampled != pytest.approx(whole)
    # Without an offset in the map back to input units the scale changes no angle.
    plain = _datamodule(tmp_path, normalization="band_noise")
    assert GroundTruthCurve().reconstruction_scale(plain, _module(plain)) == 1.0


def test_curve_state_is_kept_in_checkpoints():
    curve = GroundTruthCurve()
    curve.points = [{"epoch": 0, "step": 0, "mean_angle_deg": 9.0}]
    resumed = GroundTruthCurve()
    resumed.load_state_dict(curve.state_dict())
    assert resumed.points == curve.points


def _curve(offset: float) -> LearningCurve:
    epochs = np.array([0, 5, 10])
    return LearningCurve(
        epoch=epochs,
        step=epochs * 3,
        mean_angle_deg=30.0 - epochs + offset,
        mean_angle_clean_deg=25.0 - epochs + offset,
        angle_deg=np.array([[20.0, np.nan], [18.0, 17.0], [10.0, 12.0]]) + offset,
        materials=["lead white", "chalk"],
    )


def test_learning_curve_round_trips_through_results_h5(tmp_path):
    spectra = np.stack([peak(c) for c in (3000.0, 1500.0)], 1)
    result = fake_result(spectra, layers(2))
    write_results(tmp_path / "none.h5", result)
    assert read_results(tmp_path / "none.h5").learning_curve is None
    with pytest.raises(FTIRUnmixerError, match="no learning curve"):
        read_learning_curve(tmp_path / "none.h5")
    result.learning_curve = _curve(0.0)
    write_results(tmp_path / "results.h5", result)
    for stored in (
        read_results(tmp_path / "results.h5").learning_curve,
        read_learning_curve(tmp_path / "results.h5"),
    ):
        for name in ("epoch", "step", "mean_angle_deg", "mean_angle_clean_deg", "angle_deg"):
            np.testing.assert_array_equal(getattr(stored, name), getattr(_curve(0.0), name))
        assert stored.epoch.dtype == np.int64 and stored.materials == ["lead white", "chalk"]
    assert read_results(tmp_path / "results.h5").wavenumbers.tolist() == WAVENUMBERS.tolist()


def test_plot_draws_every_run_on_all_and_clean_bands(tmp_path):
    fig = plot_learning_curves({"paper": _curve(0.0), "recommended": _curve(-3.0)})
    (ax,) = fig.axes
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert set(lines) == {
        "paper, all bands",
        "paper, clean bands",
        "recommended, all bands",
        "recommended, clean bands",
    }
    np.testing.assert_array_equal(lines["recommended, clean bands"].get_xdata(), [0, 5, 10])
    np.testing.assert_array_equal(lines["recommended, clean bands"].get_ydata(), [22, 17, 12])
    assert lines["paper, clean bands"].get_linestyle() == "--"
    assert ax.get_xlabel() == "epoch"
    # The script: one figure from run directories.
    runs = []
    for name, offset in (("a", 0.0), ("b", 2.0)):
        result = fake_result(np.stack([peak(3000.0), peak(1500.0)], 1), layers(2))
        result.learning_curve = _curve(offset)
        (tmp_path / name).mkdir()
        write_results(tmp_path / name / "results.h5", result)
        runs.append(str(tmp_path / name))
    out = tmp_path / "curves.png"
    done = subprocess.run(
        [sys.executable, str(SCRIPT), *runs, "--labels", "paper", "ours", "-o", str(out)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert out.stat().st_size > 5000
    missing = subprocess.run(
        [sys.executable, str(SCRIPT), str(tmp_path / "nowhere"), "-o", str(out)],
        capture_output=True,
        text=True,
    )
    assert missing.returncode == 2 and "no such results file" in missing.stderr
