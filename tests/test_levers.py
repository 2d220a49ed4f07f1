"""The levers beyond the paper: priors, nuisance subspace, archetypal decoder, refits."""

import math

import numpy as np
import pytest
import torch

from ftir_unmixer.errors import FTIRUnmixerError
from ftir_unmixer.losses import SpectralAngleLoss, spectral_angle_rad
from ftir_unmixer.models.archetypal_decoder import ArchetypalDecoder, extreme_pixels
from ftir_unmixer.models.module import FTIRUnmixerModule
from ftir_unmixer.models.priors import abundance_entropy, log_volume, loss_space
from ftir_unmixer.nuisance import (
    NuisanceBasis,
    atmospheric_basis,
    lowest_polynomial,
    polynomial_basis,
    remove_nuisance,
)
from ftir_unmixer.refit import fit_scales, refit_abundances, refit_endmembers

# ---------------------------------------------------------------- priors (models/priors.py)


def test_log_volume_by_hand_and_free_of_each_endmember_length():
    # Orthonormal columns: Ẽ = E, ẼᵀẼ = I, V = ½ log det(1.01 I) = log 1.01.
    e = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    assert log_volume(e, 0.01).item() == pytest.approx(math.log(1.01))
    assert log_volume(e * torch.tensor([5.0, 0.2]), 0.01).item() == pytest.approx(math.log(1.01))
    # Columns at 60°: ẼᵀẼ = [[1, ½], [½, 1]], det(+δI) = (1 + δ)² − ¼.
    sixty = torch.tensor([[1.0, 0.5], [0.0, math.sqrt(3) / 2]])
    assert log_volume(sixty, 0.01).item() == pytest.approx(0.5 * math.log(1.01**2 - 0.25))
    # Two equal columns: ẼᵀẼ = [[1, 1], [1, 1]], det(+δI) = (1 + δ)² − 1 = 2δ + δ².
    same = torch.tensor([[1.0, 1.0], [0.0, 0.0]])
    assert log_volume(same, 0.01).item() == pytest.approx(0.5 * math.log(0.02 + 1e-4))
    # The volume grows as the columns spread apart.
    angles = [0.1, 0.5, 1.0]
    volumes = [
        log_volume(torch.tensor([[1.0, math.cos(a)], [0.0, math.sin(a)]]), 0.01).item()
        for a in angles
    ]
    assert volumes == sorted(volumes)


def test_abundance_entropy_by_hand():
    uniform = torch.full((2, 3, 1, 1), 1 / 3)
    one_hot = torch.zeros(2, 3, 1, 1)
    one_hot[:, 0] = 1
    half = torch.tensor([0.5, 0.5, 0.0]).reshape(1, 3, 1, 1)
    assert abundance_entropy(uniform).item() == pytest.approx(1.0)
    assert abundance_entropy(one_hot).item() == pytest.approx(0.0, abs=1e-9)
    assert abundance_entropy(half).item() == pytest.approx(math.log(2) / math.log(3))


def test_loss_space_weights_then_projects_out_the_nuisance():
    e = torch.tensor([[1.0], [2.0], [4.0]])
    w = torch.tensor([1.0, 1.0, 0.5])
    q = torch.ones(3, 1) / math.sqrt(3)
    # w ⊙ e = [1, 2, 2]; minus its mean 5/3: [-2/3, 1/3, 1/3].
    got = loss_space(e, w, q)
    assert torch.allclose(got[:, 0], torch.tensor([-2 / 3, 1 / 3, 1 / 3]))


# ------------------------------------------------------- nuisance subspace (nuisance.py)


def test_polynomial_basis_is_legendre_on_the_band_index():
    p = polynomial_basis(3, 2)
    np.testing.assert_allclose(p, [[1, -1, 1], [1, 0, -0.5], [1, 1, 1]])


def test_projected_angle_ignores_the_nuisance_by_hand():
    # x = [1, 1, 2], x̂ = [0, 0, 1]; without their means both are [-1/3, -1/3, 2/3]: angle 0.
    x = torch.tensor([[1.0, 1.0, 2.0]])
    x_hat = torch.tensor([[0.0, 0.0, 1.0]])
    q = torch.ones(3, 1) / math.sqrt(3)
    assert spectral_angle_rad(x, x_hat, dim=1, nuisance=q).item() == pytest.approx(0, abs=1e-3)
    assert spectral_angle_rad(x, x_hat, dim=1).item() > 0.5


def test_loss_with_a_baseline_subspace_is_blind_to_baselines_only():
    torch.manual_seed(0)
    x, x_hat = torch.rand(4, 20), torch.rand(4, 20)
    weights = torch.rand(20) + 0.5
    loss = SpectralAngleLoss(weights, dim=-1, nuisance_shape=(20, 2))
    plain = SpectralAngleLoss(weights, dim=-1)
    assert loss(x, x_hat).item() == pytest.approx(plain(x, x_hat).item())  # zeros basis
    loss.set_nuisance(polynomial_basis(20, 1))
    assert torch.allclose(loss.nuisance.T @ loss.nuisance, torch.eye(2), atol=1e-6)
    t = torch.linspace(-1, 1, 20)
    drifted = x + 0.3 + 0.2 * t  # offset and slope
    assert loss(drifted, x_hat).item() == pytest.approx(loss(x, x_hat).item(), abs=1e-6)
    assert plain(drifted, x_hat).item() != pytest.approx(plain(x, x_hat).item(), abs=1e-3)


def test_lowest_polynomial_by_hand():
    # Degree 0: subtract the minimum.
    np.testing.assert_allclose(
        lowest_polynomial(np.array([3.0, 1, 2]), polynomial_basis(3, 0)), [2, 0, 1]
    )
    # Degree 1 on t = (-1, -1/3, 1/3, 1): maximise 4·c0 s.t. c0 + c1·t ≤ e = (1, 0, 1, 4);
    # the binding bands 2 and 3 give c0 = 0.5, c1 = 1.5, the line (-1, 0, 1, 2).
    got = lowest_polynomial(np.array([1.0, 0, 1, 4]), polynomial_basis(4, 1))
    np.testing.assert_allclose(got, [2, 0, 0, 2], atol=1e-9)


def _co2_scene(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Pixels of two materials with a per-pixel baseline and a per-tile CO2-like doublet."""
    rng = np.random.default_rng(seed)
    wn = np.linspace(3800, 1000, 300)
    band = lambda c, w: np.exp(-0.5 * ((wn - c) / w) ** 2)  # noqa: E731
    materials = np.stack([band(1720, 20) + 0.5 * band(2900, 30), band(1400, 40)], 1)
    doublet = band(2360, 8) - 0.7 * band(2340, 8)
    a = rng.dirichlet([1, 1], 400)
    tile = np.repeat([0.05, -0.03], 200)
    t = np.linspace(-1, 1, 300)
    baseline = rng.uniform(-0.02, 0.02, (400, 1)) + rng.uniform(-0.02, 0.02, (400, 1)) * t
    pixels = a @ materials.T + baseline + tile[:, None] * doublet
    return pixels + 1e-4 * rng.standard_normal(pixels.shape), wn, materials, doublet


def test_atmospheric_basis_finds_a_per_tile_co2_residual():
    pixels, wn, _, doublet = _co2_scene()
    basis = atmospheric_basis(pixels, wn, 1)
    inside = (wn >= 2270) & (wn <= 2400)
    assert (basis[~inside] == 0).all()
    assert np.linalg.norm(basis) == pytest.approx(1.0)
    # The direction is the doublet's (detrended across the window).
    d = doublet[inside] - np.polyval(np.polyfit(wn[inside], doublet[inside], 1), wn[inside])
    assert abs(basis[inside, 0] @ d) / np.linalg.norm(d) > 0.99
    with pytest.raises(FTIRUnmixerError, match="model.atmosphere_components=1 needs"):
        atmospheric_basis(pixels[:, :50], wn[:50], 1)


def test_remove_nuisance_restores_endmembers_with_zero_baselines():
    _, wn, materials, doublet = _co2_scene()
    basis = NuisanceBasis(
        np.hstack([polynomial_basis(300, 1), atmospheric_basis(_co2_scene()[0], wn, 1)]), 2
    )
    t = np.linspace(-1, 1, 300)
    drifted = materials + 0.1 + np.outer(0.05 * t, [1, -1]) + 0.3 * np.outer(doublet, [1, 1])
    cleaned = remove_nuisance(drifted, basis)
    assert (cleaned >= 0).all()
    inside = (wn >= 2270) & (wn <= 2400)
    np.testing.assert_allclose(cleaned[~inside], materials[~inside], atol=2e-3)


# ------------------------------------------------------------------ refits (refit.py)


def test_refits_recover_abundances_scales_nuisance_and_endmembers_exactly():
    rng = np.random.default_rng(1)
    e = rng.uniform(0, 1, (40, 3))
    a = rng.dirichlet([1, 1, 1], 50)
    g = rng.uniform(0.5, 1.0, 50)
    n = polynomial_basis(40, 1)
    beta = rng.normal(0, 0.1, (50, 2))
    x = g[:, None] * (a @ e.T) + beta @ n.T
    w = rng.uniform(0.5, 1.0, 40)
    fit = refit_abundances(x, e, w, n)
    np.testing.assert_allclose(fit.abundances, a, atol=1e-8)
    np.testing.assert_allclose(fit.scales, g, atol=1e-8)
    np.testing.assert_allclose(fit.nuisance, beta @ n.T, atol=1e-8)
    np.testing.assert_allclose(refit_endmembers(x, fit), e, atol=1e-7)


def test_fit_scales_keeps_the_abundances_and_recovers_scales_and_nuisance():
    rng = np.random.default_rng(3)
    e = rng.uniform(0, 1, (30, 3))
    a = rng.dirichlet([1, 1, 1], 40)
    g = rng.uniform(0.5, 1.0, 40)
    n = polynomial_basis(30, 0)
    beta = rng.normal(0, 0.1, (40, 1))
    x = g[:, None] * (a @ e.T) + beta @ n.T
    fit = fit_scales(x, e, a, rng.uniform(0.5, 1.0, 30), n)
    np.testing.assert_array_equal(fit.abundances, a)
    np.testing.assert_allclose(fit.scales, g, atol=1e-9)
    np.testing.assert_allclose(fit.nuisance, beta @ n.T, atol=1e-9)


def test_decoder_refit_puts_the_least_squares_endmembers_of_the_encoder_maps():
    module = _module(patch_size=1, decoder_update="refit").eval()
    cube = torch.rand(6, 7, 20)
    mask = np.ones((6, 7), dtype=bool)
    mask[0, 0] = False
    before = module.unmix_cube(cube, mask)
    pixels = cube.numpy()[mask]
    fit = fit_scales(pixels, before.endmembers, before.abundances[mask])
    expected = refit_endmembers(pixels, fit)
    module.refit_decoder(cube, mask)
    np.testing.assert_allclose(module.net.endmembers().detach().numpy(), expected, atol=1e-5)
    with pytest.raises(FTIRUnmixerError, match="model.decoder_update=refit needs the cube"):
        module.refit_decoder(np.zeros((6, 7, 20)), mask)


# --------------------------------------------------- archetypal decoder (archetypal_decoder)


def test_archetypal_endmembers_are_convex_combinations_of_the_candidates():
    rng = np.random.default_rng(0)
    candidates = rng.uniform(0, 1, (30, 8))
    decoder = ArchetypalDecoder(3, 8, 32)
    decoder.set_candidates(candidates, seed=0)
    e = decoder.endmembers().detach().numpy()
    weights = torch.softmax(decoder.logits, 0).detach().numpy()
    np.testing.assert_allclose(weights.sum(0), 1, atol=1e-6)
    np.testing.assert_allclose(e, decoder.candidates.numpy().T @ weights, atol=1e-6)
    assert (e >= candidates.min(0)[:, None] - 1e-6).all()
    assert (e <= candidates.max(0)[:, None] + 1e-6).all()
    # Started from given endmembers, each archetype leans on its nearest candidate.
    decoder.set_endmembers(torch.as_tensor(candidates[[3, 7, 11]].T, dtype=torch.float32))
    assert decoder.logits.argmax(0).tolist() == [3, 7, 11]
    # Pixel-wise reconstruction, with gradients reaching the logits.
    a = torch.softmax(torch.randn(2, 3, 4, 4), 1)
    out = decoder(a)
    expected = torch.einsum("nkhw,bk->nbhw", a, decoder.endmembers())
    assert torch.allclose(out, expected, atol=1e-5)
    out.sum().backward()
    assert decoder.logits.grad.abs().sum() > 0


def test_extreme_pixels_find_the_vertices_of_a_triangle():
    rng = np.random.default_rng(0)
    vertices = np.array([[1.0, 0, 0, 0], [0, 1.0, 0, 0], [0, 0, 1.0, 0]])
    a = rng.dirichlet([1, 1, 1], 300)
    pixels = np.vstack([a @ vertices, vertices])
    found = extreme_pixels(pixels, 20, 2, seed=0)
    for v in vertices:
        assert np.isclose(found, v).all(axis=1).any()


# ------------------------------------------------------------- the module (models/module.py)


def _module(**kwargs: object) -> FTIRUnmixerModule:
    torch.manual_seed(0)
    return FTIRUnmixerModule(num_bands=20, num_endmembers=3, hidden_channels=4, **kwargs)


def test_defaults_add_nothing_to_the_paper_loss():
    module = _module()
    assert module.prior_penalty(torch.rand(2, 3, 5, 5)) == 0.0
    assert module.loss.nuisance is None and module.nuisance_basis is None


def test_priors_add_their_weighted_values_to_the_loss():
    module = _module(volume_weight=0.3, sparsity_weight=0.2).eval()
    batch = torch.rand(2, 20, 5, 5)
    reconstruction, abundances = module.net(batch)
    angle = module.loss(batch.movedim(1, -1), reconstruction.movedim(1, -1))
    volume = log_volume(module.net.endmembers(), 0.01)
    entropy = abundance_entropy(abundances)
    expected = angle + 0.3 * volume + 0.2 * entropy
    assert module.batch_loss(batch).item() == pytest.approx(expected.item(), rel=1e-6)


def test_module_with_a_baseline_subspace_ignores_offsets_in_the_data():
    module = _module(baseline_degree=0).eval()
    pixels = np.random.default_rng(0).uniform(0, 1, (50, 20))
    module.initialise_from_data(pixels, np.linspace(3800, 1000, 20), seed=0)
    np.testing.assert_allclose(module.nuisance_columns.numpy(), 1.0)
    batch = torch.rand(2, 20, 5, 5)
    assert module.batch_loss(batch + 0.5).item() != pytest.approx(module.batch_loss(batch).item())
    # The encoder sees the offset too; with a fixed reconstruction the loss is blind to it.
    reconstruction, _ = module.net(batch)
    loss = module.loss
    shifted = loss((batch + 0.5).movedim(1, -1), reconstruction.movedim(1, -1))
    assert shifted.item() == pytest.approx(
        loss(batch.movedim(1, -1), reconstruction.movedim(1, -1)).item(), abs=1e-6
    )


def test_refit_gives_least_squares_abundances_whatever_the_encoder():
    rng = np.random.default_rng(2)
    e = rng.uniform(0.1, 1, (20, 3)).astype(np.float32)
    a = rng.dirichlet([1, 1, 1], (6, 7)).astype(np.float32)
    cube = torch.from_numpy(np.einsum("hwk,bk->hwb", a, e).astype(np.float32))
    module = _module(patch_size=1, refit="fcls")
    module.net.decoder.set_endmembers(torch.from_numpy(e))
    unmixed = module.unmix_cube(cube)
    np.testing.assert_allclose(unmixed.abundances, a, atol=1e-4)
    assert unmixed.reconstruction_angle.max() < 1e-3
    nnls = _module(patch_size=1, refit="nnls")
    nnls.net.decoder.set_endmembers(torch.from_numpy(e))
    refitted = nnls.unmix_cube(cube)
    np.testing.assert_allclose(refitted.endmembers, e, rtol=1e-3, atol=1e-4)


def test_nuisance_components_are_removed_from_the_reported_endmembers():
    module = _module(baseline_degree=0, patch_size=1)
    module.initialise_from_data(np.ones((5, 20)), np.linspace(3800, 1000, 20), seed=0)
    e = np.random.default_rng(0).uniform(0, 1, (20, 3)).astype(np.float32)
    module.net.decoder.set_endmembers(torch.from_numpy(e + 0.5))
    unmixed = module.unmix_cube(torch.rand(4, 4, 20))
    np.testing.assert_allclose(unmixed.endmembers, e - e.min(0), atol=1e-4)
    np.testing.assert_allclose(unmixed.endmembers_model, e + 0.5, atol=1e-4)


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [
        ({"decoder": "wavelet"}, "decoder"),
        ({"decoder": "archetypal", "archetype_candidates": 4}, "archetype_candidates"),
        ({"volume_weight": -1.0}, "volume_weight"),
        ({"volume_delta": 0.0}, "volume_delta"),
        ({"sparsity_weight": -0.1}, "sparsity_weight"),
        ({"baseline_degree": 7}, "baseline_degree"),
        ({"atmosphere_components": -1}, "atmosphere_components"),
        ({"refit": "pca"}, "refit"),
        ({"decoder_update": "sgd"}, "decoder_update"),
        ({"decoder": "archetypal", "decoder_update": "refit"}, "decoder_update"),
    ],
)
def test_impossible_levers_name_their_key(kwargs: dict, key: str):
    with pytest.raises(FTIRUnmixerError, match=f"model.{key}="):
        _module(**kwargs)


def test_archetypal_decoder_module_trains_and_stays_in_the_hull():
    module = _module(decoder="archetypal", archetype_candidates=16, init_endmembers="vca")
    pixels = np.random.default_rng(0).uniform(0, 1, (200, 20)).astype(np.float32)
    module.initialise_from_data(pixels, np.linspace(3800, 1000, 20), seed=0)
    assert module.net.receptive_radius == 1
    e = module.net.endmembers().detach().numpy()
    assert (e >= pixels.min(0)[:, None] - 1e-6).all() and (e <= pixels.max(0)[:, None] + 1e-6).all()
    loss = module.batch_loss(
        torch.from_numpy(pixels[:50].reshape(2, 25, 20)).permute(0, 2, 1).reshape(2, 20, 5, 5)
    )
    loss.backward()
    assert module.net.decoder.logits.grad.abs().sum() > 0
