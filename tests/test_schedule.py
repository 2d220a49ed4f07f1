"""Learning-rate schedules and early stopping on a loss plateau."""

import pytest
import torch
from torch.utils.data import DataLoader

from conftest import TINY_RUN, quiet_trainer
from ftir_unmixer.errors import FTIRUnmixerError
from ftir_unmixer.models.module import FTIRUnmixerModule, cosine_factor
from ftir_unmixer.training.pipeline import run

B, K, P = 12, 3, 3


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
