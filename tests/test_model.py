import numpy as np
import pytest
import torch
import torch.nn.functional as F

from conftest import quiet_trainer
from ftir_unmixer.errors import FTIRUnmixerError
from ftir_unmixer.evaluation.diagnostics import ReconstructionSums
from ftir_unmixer.models.autoencoder import UnmixingAutoencoder
from ftir_unmixer.models.decoder import PositiveDecoder, endmembers_from_kernel
from ftir_unmixer.models.encoder import Encoder, scaled_softmax
from ftir_unmixer.models.module import FTIRUnmixerModule

B, K, P = 12, 4, 5


def test_scaled_softmax_by_hand():
    # softmax(2·[0, ln 3]) = [1, 9] / 10
    z = torch.tensor([0.0, torch.log(torch.tensor(3.0))]).reshape(1, 2, 1, 1)
    a = scaled_softmax(z, 2.0).flatten()
    assert torch.allclose(a, torch.tensor([0.1, 0.9]), atol=1e-6)


@pytest.mark.parametrize("padding_mode", ["zeros", "reflect"])
def test_encoder_abundances_on_simplex(padding_mode):
    torch.manual_seed(0)
    enc = Encoder(B, K, hidden_channels=8, padding_mode=padding_mode).eval()
    a = enc(torch.rand(3, B, P, P))
    assert a.shape == (3, K, P, P)
    assert (a >= 0).all()
    assert torch.allclose(a.sum(dim=1), torch.ones(3, P, P), atol=1e-6)


def test_encoder_layers_follow_eq_3_and_4_with_the_script_settings():
    # Eq. 3: Conv3×3 → BN → leaky ReLU → spatial dropout, width 48; Eq. 4: the same with a
    # 1×1 convolution to K channels; then softmax(3.5·Z₂) over the channels.
    enc = FTIRUnmixerModule(num_bands=B, num_endmembers=K).net.encoder
    kinds = [torch.nn.Conv2d, torch.nn.BatchNorm2d, torch.nn.LeakyReLU, torch.nn.Dropout2d]
    for layer in (enc.layer1, enc.layer2):
        assert [type(m) for m in layer] == kinds
    conv1, bn1, act1, drop1 = enc.layer1
    conv2, bn2, act2, drop2 = enc.layer2
    assert (conv1.in_channels, conv1.out_channels, conv1.kernel_size, conv1.padding) == (
        B,
        48,
        (3, 3),
        (1, 1),
    )
    assert (conv2.in_channels, conv2.out_channels, conv2.kernel_size, conv2.padding) == (
        48,
        K,
        (1, 1),
        (0, 0),
    )
    assert conv1.bias is not None and conv2.bias is not None
    assert (bn1.num_features, bn2.num_features) == (48, K)
    assert act1.negative_slope == act2.negative_slope == 0.01
    assert drop1.p == drop2.p == 0.2
    assert enc.softmax_scale == 3.5
    # The forward pass composes them in that order (eval mode: dropout off, BN statistics).
    enc.eval()
    x = torch.rand(2, B, 5, 5)
    z1 = F.leaky_relu(bn1(conv1(x)), 0.01)
    z2 = F.leaky_relu(bn2(conv2(z1)), 0.01)
    torch.testing.assert_close(enc(x), torch.softmax(3.5 * z2, dim=1))


def test_decoder_places_each_kernel_slice_as_eq_2_says():
    # Eq. 2: x̂_c = Σ_{u,v} W_{u,v} a^{(u,v)}, with a^{(u,v)} the abundances at offset
    # (u − p//2, v − p//2) from c. One unit abundance of endmember 1 at pixel (3, 2) therefore
    # reaches the output pixel (3 − u + 1, 2 − v + 1) through W[:, 1, u, v]: a flipped kernel
    # (a true convolution) or a shifted one would put the slices elsewhere.
    torch.manual_seed(3)
    dec = PositiveDecoder(num_endmembers=2, num_bands=4, kernel_size=3)
    a = torch.zeros(1, 2, 6, 5)
    a[0, 1, 3, 2] = 1.0
    out = dec(a)[0].detach()
    w = dec.weight.detach()
    for u in range(3):
        for v in range(3):
            torch.testing.assert_close(out[:, 3 - u + 1, 2 - v + 1], w[:, 1, u, v])
    assert out.abs().sum() == pytest.approx(w[:, 1].sum().item(), rel=1e-6)


@pytest.mark.parametrize("padding_mode", ["zeros", "replicate"])
def test_decoder_equals_a_loop_over_eq_2_for_varying_abundances(padding_mode):
    torch.manual_seed(4)
    dec = PositiveDecoder(num_endmembers=3, num_bands=4, kernel_size=3, padding_mode=padding_mode)
    a = torch.rand(1, 3, 5, 6)
    w = dec.weight.detach()
    mode = "constant" if padding_mode == "zeros" else padding_mode
    padded = F.pad(a, (1, 1, 1, 1), mode=mode)[0]
    expected = torch.zeros(4, 5, 6)
    for i in range(5):
        for j in range(6):
            for u in range(3):
                for v in range(3):
                    expected[:, i, j] += w[:, :, u, v] @ padded[:, i + u, j + v]
    torch.testing.assert_close(dec(a)[0].detach(), expected)


def test_decoder_endmembers_are_positive_kernel_sum():
    dec = PositiveDecoder(K, B, P)
    e = dec.endmembers()
    assert e.shape == (B, K)
    assert (e > 0).all()
    assert torch.allclose(e, F.softplus(dec.unconstrained).sum(dim=(2, 3)))


def test_mean_readout_is_sum_over_p_squared():
    w = torch.rand(B, K, 3, 3)
    assert torch.allclose(endmembers_from_kernel(w, "mean"), w.sum(dim=(2, 3)) / 9)


def test_constant_abundances_reconstruct_centre_as_E_a():
    # Eq. 2 with a spatially constant abundance vector a: x̂_c = Σ_{u,v} W_{u,v} a = Ê a (Eq. 5).
    torch.manual_seed(1)
    dec = PositiveDecoder(K, B, P)
    a = torch.softmax(torch.randn(K), 0)
    patch = a.reshape(1, K, 1, 1).expand(1, K, P, P)
    centre = dec(patch)[0, :, P // 2, P // 2]
    assert torch.allclose(centre, dec.endmembers() @ a, atol=1e-5)


@pytest.mark.parametrize("readout", ["sum", "mean"])
def test_set_endmembers_round_trip(readout):
    dec = PositiveDecoder(K, B, P, readout=readout)
    target = torch.rand(B, K) + 0.05
    dec.set_endmembers(target)
    assert torch.allclose(dec.endmembers(), target, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("padding_mode", ["zeros", "replicate"])
def test_autoencoder_output_shape_equals_input(padding_mode):
    net = UnmixingAutoencoder(B, K, hidden_channels=8, patch_size=P, padding_mode=padding_mode)
    x = torch.rand(2, B, 7, 6)
    recon, ab = net(x)
    assert recon.shape == x.shape
    assert ab.shape == (2, K, 7, 6)
    assert (recon >= 0).all()


@pytest.mark.parametrize("k", [1, B, B + 3])
def test_impossible_k_is_refused(k):
    with pytest.raises(FTIRUnmixerError, match="model.num_endmembers"):
        FTIRUnmixerModule(num_bands=B, num_endmembers=k)


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ({"lr": -0.01}, r"^model\.lr=-0\.01 must be positive; the paper uses 0\.005\.$"),
        ({"softmax_scale": 0.0}, r"^model\.softmax_scale=0\.0 must be positive"),
    ],
)
def test_non_positive_rate_or_scale_names_its_key(setting, message):
    with pytest.raises(FTIRUnmixerError, match=message):
        FTIRUnmixerModule(num_bands=B, num_endmembers=K, **setting)


def test_unknown_loss_is_refused():
    with pytest.raises(FTIRUnmixerError, match="loss.name"):
        FTIRUnmixerModule(num_bands=B, num_endmembers=K, loss_name="mse")


def test_training_step_is_differentiable_and_unmix_cube_shapes():
    torch.manual_seed(0)
    module = FTIRUnmixerModule(
        num_bands=B, num_endmembers=K, hidden_channels=8, band_weights=torch.rand(B)
    )
    loss = module.training_step(torch.rand(4, B, P, P) + 0.1, 0)
    loss.backward()
    grad = module.net.decoder.unconstrained.grad
    assert grad is not None and torch.isfinite(grad).all() and grad.abs().sum() > 0
    out = module.unmix_cube(torch.rand(9, 7, B))
    assert out.abundances.shape == (9, 7, K)
    assert out.endmembers_model.shape == (B, K)
    assert out.reconstruction_angle.shape == (9, 7)
    assert module.training  # unmix_cube restores the training mode


def test_reconstruction_scale_recovers_a_known_factor():
    # x̂ = 7·x exactly → s = Σ(7x)² / Σ x·7x = 7.
    x = torch.rand(10000, 6).numpy() + 0.1
    assert ReconstructionSums.of(x, 7.0 * x).scale == pytest.approx(7.0, rel=1e-9)


@pytest.mark.parametrize("method", ["vca", "nmf", "archetypal", "minvol_nmf"])
def test_initialisation_puts_classical_endmembers_into_the_decoder(method):
    from ftir_unmixer.models.initialisation import initial_endmembers

    rng = np.random.default_rng(0)
    E = rng.random((B, 3)) + 0.1
    A = rng.dirichlet(np.ones(3), size=300)
    A[:3] = np.eye(3)  # pure pixels
    init = initial_endmembers(method, A @ E.T, 3, seed=0)
    assert init.shape == (B, 3) and (init >= 0).all()
    dec = PositiveDecoder(3, B, P)
    dec.set_endmembers(torch.from_numpy(init))
    # Eq. 5 returns the classical endmembers before any training.
    np.testing.assert_allclose(dec.endmembers().detach().numpy(), init, rtol=1e-4, atol=1e-6)


def test_unknown_initialisation_is_refused():
    from ftir_unmixer.models.initialisation import initial_endmembers

    with pytest.raises(FTIRUnmixerError, match=r"model\.init_endmembers"):
        initial_endmembers("pca", np.ones((10, 5)), 2, seed=0)


def _twin_modules(**switches):
    """A plain module and one with ``switches`` (only), holding the same weights."""
    torch.manual_seed(0)
    kwargs = dict(num_bands=B, num_endmembers=K, hidden_channels=8, band_weights=torch.rand(B))
    plain = FTIRUnmixerModule(**kwargs, channels_last=False, fused_adam=False, patch_kernels=False)
    fast = FTIRUnmixerModule(**kwargs, **({"patch_kernels": False} | switches))
    fast.load_state_dict(plain.state_dict())
    return plain, fast


def _patches(n=6):
    return torch.rand(n, B, P, P, generator=torch.Generator().manual_seed(3)) + 0.1


def test_batch_loss_is_the_mean_weighted_angle_over_every_pixel():
    from ftir_unmixer.losses import spectral_angle_rad

    torch.manual_seed(0)
    weights = torch.rand(B)
    module = FTIRUnmixerModule(
        num_bands=B, num_endmembers=K, hidden_channels=8, band_weights=weights
    ).eval()
    x = _patches()
    expected = spectral_angle_rad(x, module(x)[0], weights, dim=1).mean()
    torch.testing.assert_close(module.batch_loss(x), expected)


def test_channels_last_gives_the_plain_outputs_and_gradients():
    plain, fast = _twin_modules(channels_last=True)
    assert fast.net.encoder.layer1[0].weight.is_contiguous(memory_format=torch.channels_last)
    x = _patches()
    plain.eval(), fast.eval()
    for a, b in zip(plain(x), fast(x), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    plain.training_loss(x).backward()
    fast.training_loss(x).backward()
    for (name, p), q in zip(plain.named_parameters(), fast.parameters(), strict=True):
        torch.testing.assert_close(p.grad, q.grad, rtol=1e-4, atol=1e-6, msg=name)


def test_fused_adam_takes_the_plain_steps():
    plain, fused = _twin_modules(fused_adam=True, channels_last=False)
    optimisers = plain.configure_optimizers(), fused.configure_optimizers()
    assert optimisers[1].defaults["fused"] and not optimisers[0].defaults["fused"]
    for step in range(3):
        x = _patches() + step
        for module, optimiser in zip((plain, fused), optimisers, strict=True):
            optimiser.zero_grad()
            module.eval()  # no dropout: both modules see the same function
            module.training_loss(x).backward()
            optimiser.step()
    for p, q in zip(plain.parameters(), fused.parameters(), strict=True):
        torch.testing.assert_close(q, p, rtol=1e-5, atol=1e-6)


def test_gathered_patches_feed_a_channels_last_model_without_a_copy():
    from ftir_unmixer.data.patches import PatchGatherer

    patches = PatchGatherer(torch.rand(9, 8, B), P)(torch.tensor([[2, 2], [6, 5]]))
    assert patches.is_contiguous(memory_format=torch.channels_last)
    same = patches.contiguous(memory_format=torch.channels_last)
    assert same.data_ptr() == patches.data_ptr()


def test_compiled_training_loss_equals_eager():
    # Dropout off: compiled code draws dropout masks from its own random stream.
    plain, fast = _twin_modules(compile=True, channels_last=True)
    plain.net.encoder.layer1[3].p = fast.net.encoder.layer1[3].p = 0.0
    plain.net.encoder.layer2[3].p = fast.net.encoder.layer2[3].p = 0.0
    x = _patches()
    eager, compiled = plain.training_loss(x), fast.training_loss(x)
    torch.testing.assert_close(compiled, eager, rtol=1e-5, atol=1e-6)
    eager.backward()
    compiled.backward()
    grads = [p.grad for p in plain.parameters()], [p.grad for p in fast.parameters()]
    for g_plain, g_fast in zip(*grads, strict=True):
        torch.testing.assert_close(g_fast, g_plain, rtol=1e-4, atol=1e-6)


def test_unknown_compile_mode_is_refused():
    with pytest.raises(FTIRUnmixerError, match=r"model\.compile_mode"):
        FTIRUnmixerModule(num_bands=B, num_endmembers=K, compile_mode="fastest")


def test_cpu_training_logs_step_and_epoch_loss(tmp_path):
    import lightning as L

    class StepLosses(L.Callback):
        def __init__(self):
            self.weighted = []

        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            self.weighted.append((float(outputs["loss"]), len(batch)))

    torch.manual_seed(0)
    module = FTIRUnmixerModule(num_bands=B, num_endmembers=K, hidden_channels=8)
    # 5 patches in batches of 2: the last batch is smaller, so the epoch mean is weighted.
    loader = torch.utils.data.DataLoader(torch.rand(5, B, P, P) + 0.1, batch_size=2)
    steps = StepLosses()
    trainer = quiet_trainer(1, default_root_dir=tmp_path, callbacks=[steps])
    trainer.fit(module, train_dataloaders=loader)
    metrics = trainer.callback_metrics
    assert {"train/loss_step", "train/loss_epoch"} <= set(metrics)
    expected = sum(loss * n for loss, n in steps.weighted) / 5
    assert float(metrics["train/loss_epoch"]) == pytest.approx(expected, rel=1e-6)


READ_BACKS = ("item", "tolist", "numpy", "cpu", "__bool__", "__float__", "__int__")
"""Tensor methods that make the host wait for an accelerator (a device-to-host read)."""


def test_training_loop_reads_nothing_back_between_batches(tmp_path, monkeypatch):
    # The accelerator path, run on the CPU: from the first batch's start to the last batch's
    # end (steps, Lightning's bookkeeping, fetching and gathering the next batches, the
    # progress bar) no tensor value may be read on the host.
    import lightning as L

    from ftir_unmixer.data.patches import CentreDataset, PatchGatherer, keep_batch

    class NoReadBack(L.Callback):
        def __init__(self):
            self.guarded_steps = 0

        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
            if batch_idx == 0:
                for name in READ_BACKS:
                    monkeypatch.setattr(torch.Tensor, name, _forbidden(name))

        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            self.guarded_steps += 1
            if batch_idx == trainer.num_training_batches - 1:
                monkeypatch.undo()

    class Patches(L.LightningDataModule):
        def __init__(self):
            super().__init__()
            self.gatherer = PatchGatherer(torch.rand(9, 8, B), P)

        def train_dataloader(self):
            centres = np.array([[r, c] for r in range(2, 7) for c in range(2, 6)])
            return torch.utils.data.DataLoader(
                CentreDataset(centres), batch_size=4, shuffle=True, collate_fn=keep_batch
            )

        def on_after_batch_transfer(self, batch, dataloader_idx):
            return self.gatherer(batch)

    torch.manual_seed(0)
    module = FTIRUnmixerModule(
        num_bands=B, num_endmembers=K, hidden_channels=8, log_step_loss=False
    )
    guard = NoReadBack()
    trainer = quiet_trainer(
        2,
        enable_progress_bar=True,
        log_every_n_steps=1,
        default_root_dir=tmp_path,
        callbacks=[guard],
    )
    trainer.fit(module, datamodule=Patches())
    assert guard.guarded_steps == 10
    assert "train/loss_epoch" in trainer.callback_metrics
    assert "train/loss_step" not in trainer.callback_metrics


def _forbidden(name):
    def read_back(self, *args, **kwargs):
        raise AssertionError(f"Tensor.{name}() in the training loop would wait for the device")

    return read_back
