"""SAD and WSAD (paper Eq. 6–7) against angles known by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ftir_unmixer.errors import FTIRUnmixerError
from ftir_unmixer.losses import SADLoss, SpectralAngleLoss, WSADLoss, build_loss, spectral_angle_rad

F64 = torch.float64


def t(values: list) -> torch.Tensor:
    return torch.tensor(values, dtype=F64)


def patches(seed: int = 0, shape: tuple[int, ...] = (3, 6, 5, 5)) -> torch.Tensor:
    return torch.rand(shape, generator=torch.Generator().manual_seed(seed), dtype=F64) + 0.1


def test_two_band_angles_by_hand() -> None:
    # x = [1, 0], x̂ = [1, 1]: cos = 1/√2 → 45°;  x = [1, 0], x̂ = [0, 1]: cos = 0 → 90°;
    # x = [1, 0], x̂ = [−1, 0]: cos = −1 → clamped to −(1 − 1e-7) → π − arccos(1 − 1e-7).
    x = t([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0]])
    x_hat = t([[1.0, 1.0], [0.0, 1.0], [-1.0, 0.0]])
    angles = spectral_angle_rad(x, x_hat, dim=1)
    floor = math.acos(1 - 1e-7)
    torch.testing.assert_close(angles, t([math.pi / 4, math.pi / 2, math.pi - floor]))


def test_weighted_angle_by_hand() -> None:
    # w = [1, √3], x = [1, 1], x̂ = [1, 0]:  w⊙x = [1, √3] (norm 2), w⊙x̂ = [1, 0] (norm 1),
    # cos = 1/2 → 60°, while the unweighted angle is 45°.
    x, x_hat, w = t([[1.0, 1.0]]), t([[1.0, 0.0]]), t([1.0, math.sqrt(3.0)])
    torch.testing.assert_close(spectral_angle_rad(x, x_hat, w), t([math.pi / 3]))
    torch.testing.assert_close(spectral_angle_rad(x, x_hat), t([math.pi / 4]))


def test_identical_and_scaled_spectra_have_zero_angle() -> None:
    x = patches()
    # Without ε and clamp margin the angle is 0 up to rounding (≈ sqrt(2·2⁻⁵²) ≈ 2e-8).
    exact = {"eps": 0.0, "clamp": 0.0}
    torch.testing.assert_close(
        spectral_angle_rad(x, x, **exact), torch.zeros(3, 5, 5, dtype=F64), atol=1e-7, rtol=0
    )
    torch.testing.assert_close(
        spectral_angle_rad(x, 3.5 * x, **exact), torch.zeros(3, 5, 5, dtype=F64), atol=1e-7, rtol=0
    )
    # With the default clamp the floor is arccos(1 − 1e-7) ≈ 4.47e-4 rad.
    torch.testing.assert_close(
        spectral_angle_rad(x, x), torch.full((3, 5, 5), math.acos(1 - 1e-7), dtype=F64)
    )


def test_scale_invariance() -> None:
    x, x_hat = patches(0), patches(1)
    base = spectral_angle_rad(x, x_hat)
    torch.testing.assert_close(spectral_angle_rad(7.0 * x, 0.25 * x_hat), base)
    w = torch.linspace(0.1, 1.0, 6, dtype=F64)
    torch.testing.assert_close(spectral_angle_rad(2 * x, x_hat, w), spectral_angle_rad(x, x_hat, w))


def test_orthogonal_patches() -> None:
    x = torch.zeros(2, 4, 3, 3, dtype=F64)
    x_hat = torch.zeros_like(x)
    x[:, :2], x_hat[:, 2:] = 1.0, 2.0
    torch.testing.assert_close(
        spectral_angle_rad(x, x_hat), torch.full((2, 3, 3), math.pi / 2, dtype=F64)
    )


def test_wsad_with_unit_weights_equals_sad() -> None:
    x, x_hat = patches(0), patches(1)
    sad = SADLoss()(x, x_hat)
    wsad = WSADLoss(torch.ones(6))(x, x_hat)
    assert sad.item() == pytest.approx(wsad.item(), abs=1e-12)


def test_loss_is_mean_over_every_pixel_of_every_patch() -> None:
    x, x_hat = patches(0), patches(1)
    w = np.linspace(0.2, 1.0, 6)
    loss = WSADLoss(w)(x, x_hat)
    angles = spectral_angle_rad(x, x_hat, torch.as_tensor(w, dtype=torch.float32))
    assert angles.shape == (3, 5, 5)
    assert loss.ndim == 0
    assert loss.item() == pytest.approx(angles.mean().item(), abs=1e-12)


def test_zero_weight_band_is_ignored() -> None:
    x, x_hat = patches(0), patches(1)
    loss = WSADLoss(torch.tensor([1.0, 1.0, 0.0, 1.0, 0.5, 1.0]))
    before = loss(x, x_hat)
    x_hat_changed = x_hat.clone()
    x_hat_changed[:, 2] = 100.0 * torch.rand(3, 5, 5, dtype=F64)
    x_changed = x.clone()
    x_changed[:, 2] = -3.0
    assert loss(x_changed, x_hat_changed).item() == before.item()
    assert SADLoss()(x, x_hat_changed).item() != SADLoss()(x, x_hat).item()


@pytest.mark.parametrize("identical", [False, True])
def test_gradients_are_finite(identical: bool) -> None:
    x = patches(0)
    x_hat = (x.clone() if identical else patches(1)).requires_grad_(True)
    loss = WSADLoss(torch.linspace(0.1, 1.0, 6))
    loss(x, x_hat).backward()
    assert x_hat.grad is not None
    assert torch.isfinite(x_hat.grad).all()
    # Distinct spectra pull the reconstruction; a perfect fit is a flat point (clamped).
    assert (x_hat.grad.abs().sum() > 0) != identical


def test_bands_on_last_axis() -> None:
    x, x_hat = patches(0), patches(1)
    moved = spectral_angle_rad(x.movedim(1, -1), x_hat.movedim(1, -1), dim=-1)
    torch.testing.assert_close(moved, spectral_angle_rad(x, x_hat))
    loss = SpectralAngleLoss(torch.ones(6), dim=-1)
    assert loss(x.movedim(1, -1), x_hat.movedim(1, -1)).item() == pytest.approx(
        SADLoss()(x, x_hat).item(), abs=1e-12
    )


def test_low_precision_inputs_are_computed_in_float32() -> None:
    x, x_hat = patches(0).bfloat16(), patches(1).bfloat16().requires_grad_(True)
    loss = WSADLoss(torch.linspace(0.1, 1.0, 6))(x, x_hat)
    assert loss.dtype == torch.float32
    loss.backward()
    assert x_hat.grad is not None and x_hat.grad.dtype == torch.bfloat16
    reference = WSADLoss(torch.linspace(0.1, 1.0, 6))(x.double(), x_hat.detach().double())
    assert loss.item() == pytest.approx(reference.item(), rel=1e-5)


def test_weights_are_a_buffer_that_moves_with_the_module() -> None:
    loss = WSADLoss(np.linspace(0.1, 1.0, 6))
    assert loss.name == "wsad" and SADLoss().name == "sad"
    torch.testing.assert_close(loss.state_dict()["weights"], torch.linspace(0.1, 1.0, 6))
    assert "weights" not in SADLoss().state_dict()
    loss = loss.to(torch.device("cpu"), F64)
    assert loss.weights is not None and loss.weights.dtype == F64
    assert loss(patches(0), patches(1)).dtype == F64
    assert not list(loss.parameters())


@pytest.mark.parametrize(
    "weights",
    [
        torch.ones(2, 3),
        torch.tensor([1.0, -1.0]),
        torch.tensor([1.0, float("nan")]),
        torch.zeros(3),
    ],
)
def test_invalid_weights_are_rejected(weights: torch.Tensor) -> None:
    with pytest.raises(ValueError, match="weights"):
        WSADLoss(weights)


def test_shape_mismatches_are_rejected() -> None:
    with pytest.raises(ValueError, match="same shape"):
        spectral_angle_rad(torch.ones(2, 3), torch.ones(2, 4))
    with pytest.raises(ValueError, match=r"shape \(6,\)"):
        WSADLoss(torch.ones(5))(patches(0), patches(1))


def test_build_loss() -> None:
    assert isinstance(build_loss("sad"), SADLoss)
    wsad = build_loss("wsad", torch.ones(6))
    assert isinstance(wsad, WSADLoss) and wsad.name == "wsad"
    with pytest.raises(FTIRUnmixerError, match=r"loss\.name"):
        build_loss("mse")
