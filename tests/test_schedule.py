"""Learning-rate schedules, early stopping on a loss plateau, and the compare-methods studies."""

import importlib.util
from pathlib import Path

import pytest
import torch
import yaml
from hydra.utils import get_class, instantiate
from omegaconf import OmegaConf
from torch.utils.data import DataLoader

from conftest import TINY_RUN, quiet_trainer
from ftir_unmixer.baselines.base import BaseUnmixer
from ftir_unmixer.errors import FTIRUnmixerError
from ftir_unmixer.models.module import FTIRUnmixerModule, cosine_factor
from ftir_unmixer.training.pipeline import run

B, K, P = 12, 3, 3
SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "compare_methods.py"


def _load_compare_methods():
    spec = importlib.util.spec_from_file_location("compare_methods", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


compare_methods = _load_compare_methods()


def _fit(max_epochs, **hparams):
    """Fit a tiny module for ``max_epochs`` on 16 fixed patches; return its final lr.

    With no dropout and a learning rate of 1e-6 (Adam moves each weight by about that much a
    step) the loss is flat below ReduceLROnPlateau's default relative threshold of 1e-4. (Its
    ``eps`` ignores reductions smaller than 1e-8, so the rate cannot be much smaller.)
    """
    torch.manual_seed(0)
    module = FTIRUnmixerModule(B, K, hidden_channels=4, patch_size=P, dropout=0.0, **hparams)
    patches = torch.rand(16, B, P, P)
    trainer = quiet_trainer(max_epochs)
    trainer.fit(module, DataLoader(patches, batch_size=8))
    return trainer.optimizers[0].param_groups[0]["lr"]


def test_constant_schedule_is_the_plain_optimizer():
    module = FTIRUnmixerModule(B, K, hidden_channels=4, patch_size=P)
    optimizer = module.configure_optimizers()
    assert isinstance(optimizer, torch.optim.Adam)
    assert optimizer.param_groups[0]["lr"] == 0.005


def test_unknown_schedule_is_refused_at_construction():
    with pytest.raises(FTIRUnmixerError, match=r"model\.lr_schedule='step'.*constant"):
        FTIRUnmixerModule(B, K, lr_schedule="step")


@pytest.mark.parametrize(
    "hparams", [{"lr_factor": 1.0}, {"lr_patience": -1}, {"lr_min_factor": 1.5}]
)
def test_out_of_range_schedule_settings_are_refused(hparams):
    with pytest.raises(FTIRUnmixerError, match="model.lr_factor"):
        FTIRUnmixerModule(B, K, **hparams)


def test_plateau_halves_the_lr_after_each_flat_epoch():
    # Epoch 0 sets the best loss; epochs 1 and 2 do not improve on it: two reductions.
    lr = _fit(3, lr=1e-6, lr_schedule="plateau", lr_patience=0, lr_factor=0.5)
    assert lr == pytest.approx(1e-6 * 0.25)


def test_cosine_reaches_the_floor_at_max_epochs():
    lr = _fit(4, lr=1e-6, lr_schedule="cosine", lr_min_factor=0.1)
    assert lr == pytest.approx(1e-7)


def test_cosine_factor_by_hand():
    assert cosine_factor(0, 10, 0.1) == pytest.approx(1.0)
    assert cosine_factor(5, 10, 0.1) == pytest.approx(0.55)  # 0.1 + 0.9 · (1 + cos π/2) / 2
    assert cosine_factor(10, 10, 0.1) == pytest.approx(0.1)
    assert cosine_factor(12, 10, 0.1) == pytest.approx(0.1)


def test_decoder_lr_scale_slows_or_freezes_the_endmembers():
    module = FTIRUnmixerModule(B, K, hidden_channels=4, patch_size=P, decoder_lr_scale=0.1)
    encoder, decoder = module.configure_optimizers().param_groups
    assert (encoder["lr"], decoder["lr"]) == pytest.approx((0.005, 0.0005))
    assert [id(p) for p in decoder["params"]] == [id(module.net.decoder.unconstrained)]
    assert len(encoder["params"]) + 1 == len(list(module.parameters()))
    torch.manual_seed(0)
    frozen = FTIRUnmixerModule(B, K, hidden_channels=4, patch_size=P, decoder_lr_scale=0.0)
    before = frozen.net.endmembers().detach().clone()
    first_conv = next(frozen.net.encoder.parameters()).detach().clone()
    quiet_trainer(1).fit(frozen, DataLoader(torch.rand(16, B, P, P), batch_size=8))
    torch.testing.assert_close(frozen.net.endmembers(), before, rtol=0, atol=0)
    assert not torch.equal(next(frozen.net.encoder.parameters()), first_conv)
    with pytest.raises(FTIRUnmixerError, match="decoder_lr_scale"):
        FTIRUnmixerModule(B, K, decoder_lr_scale=-1.0)


def test_defaults_keep_the_paper_schedule(compose_train):
    cfg = compose_train([])
    assert cfg.model.lr_schedule == "constant"
    assert "early_stopping" not in cfg.callbacks


def test_early_stopping_stops_a_plateaued_run(compose_train, tmp_path):
    # No epoch can improve by 10 rad: patience 1 stops after the second of 6 epochs.
    cfg = compose_train(
        [
            *TINY_RUN,
            "trainer.max_epochs=6",
            "model.lr_schedule=plateau",
            "model.lr_patience=0",
            "callbacks/early_stopping=loss_plateau",
            "callbacks.early_stopping.patience=1",
            "callbacks.early_stopping.min_delta=10",
        ]
    )
    run(cfg)
    last = torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", weights_only=False)
    assert last["epoch"] == 1
    # Saved before the scheduler's step of the last epoch: it has seen epoch 0's loss.
    assert last["lr_schedulers"][0]["best"] < 1.0
    assert (tmp_path / "run" / "results.h5").is_file()


def test_restart_reports_the_seed_with_the_lowest_criterion():
    method = {"overrides": [], "seeds": [0, 1, 2], "select": "diag/x"}
    runs = [
        {"diag/x": 2.0, "gt/mean_angle_deg": 30.0},
        {"diag/x": 1.0, "gt/mean_angle_deg": 35.0},
        {},
    ]
    row = compare_methods.select_restart(method, runs)
    assert row["chosen_seed"] == 1 and row["gt/mean_angle_deg"] == 35.0
    assert row["seed_angle_range_deg"] == "30.00–35.00"
    assert [name for name, _ in compare_methods.method_jobs("a b", method)] == [
        "a_b_s0",
        "a_b_s1",
        "a_b_s2",
    ]


def _set_values(overrides):
    """``key → value`` of the overrides that set a value (not those choosing a config)."""
    pairs = dict(o.split("=", 1) for o in overrides)
    return {k: yaml.safe_load(v) for k, v in pairs.items() if "." in k or k == "seed"}


@pytest.mark.parametrize("study", sorted(compare_methods.STUDIES))
def test_every_study_job_composes_and_instantiates(compose_train, study):
    spec = compare_methods.STUDIES[study]
    for scene in spec["scenes"]:
        for label, method in spec["methods"].items():
            for _, overrides in compare_methods.method_jobs(label, method):
                job = [*overrides, *compare_methods.SCENES[scene], "logger=none"]
                cfg = compose_train(job)
                for key, value in _set_values(overrides).items():
                    assert OmegaConf.select(cfg, key) == value, (label, key)
                if scene == "strong_artefacts":
                    assert cfg.synthetic.atmosphere_co2 == 0.15
                if issubclass(get_class(cfg.model._target_), BaseUnmixer):
                    estimator = instantiate(cfg.model)
                    assert estimator.seed == cfg.seed, label
                    assert f"model={estimator.method}" in overrides, label
                else:
                    module = instantiate(cfg.model, num_bands=120, loss_name=cfg.loss.name)
                    for key in ("lr", "lr_schedule", "decoder_lr_scale", "init_endmembers"):
                        assert module.hparams[key] == cfg.model[key], (label, key)
                dm = instantiate(cfg.data)
                assert (dm.patch_size, dm.normalization, dm.mode, dm.seed) == (
                    cfg.data.patch_size,
                    cfg.data.normalization,
                    cfg.data.mode,
                    cfg.seed,
                ), label


def test_run_directories_are_ascii():
    assert compare_methods.slug("recommended, α=1") == "recommended__alpha_1"
    assert compare_methods.slug("γ_flat=0, lr ×0.1") == "gamma_flat_0__lr_x0_1"
    for study in compare_methods.STUDIES.values():
        for label in study["methods"]:
            assert compare_methods.slug(label).isascii()
