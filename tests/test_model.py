import numpy as np
import pytest
import torch
import torch.nn.functional as F

from ftir_unmixer.errors import FTIRUnmixerError
from ftir_unmixer.models.autoencoder import UnmixingAutoencoder
from ftir_unmixer.models.decoder import PositiveDecoder, endmembers_from_kernel
from ftir_unmixer.models.encoder import Encoder, scaled_softmax
from ftir_unmixer.models.module import FTIRUnmixerModule, reconstruction_scale

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
    x = torch.rand(10000, 6) + 0.1
    assert reconstruction_scale(x, 7.0 * x) == pytest.approx(7.0, rel=1e-9)


@pytest.mark.parametrize("method", ["vca", "nmf"])
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
