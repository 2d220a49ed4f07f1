"""Classical baselines on an easy noiseless mixture, FCLS/VCA building blocks, results contract."""

from __future__ import annotations

import importlib.util
import sys
from itertools import combinations

import numpy as np
import pytest

from ftir_unmixer.baselines.archetypal import ArchetypalUnmixer
from ftir_unmixer.baselines.base import BaseUnmixer
from ftir_unmixer.baselines.mcr_als import MCRALSUnmixer
from ftir_unmixer.baselines.minvol_nmf import MinVolNMFUnmixer
from ftir_unmixer.baselines.nmf import NMFUnmixer, to_abundances
from ftir_unmixer.baselines.vca_fcls import VCAFCLSUnmixer, estimate_snr_db, fcls, vca
from ftir_unmixer.errors import FTIRUnmixerError
from ftir_unmixer.evaluation.ground_truth import abundance_rmse, match_endmembers

B, K, N = 60, 4, 400
PURE_PER_ENDMEMBER = 3
MAX_ANGLE_DEG = 1.0  # noiseless, pure pixels: every baseline should be essentially exact
MAX_ABUNDANCE_RMSE = 0.01

needs_pymcr = pytest.mark.skipif(
    importlib.util.find_spec("pymcr") is None, reason="pyMCR (extra 'baselines') not installed"
)


@pytest.fixture(scope="module")
def mixture() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """X = A Eᵀ: 4 peak-shaped endmembers, Dirichlet abundances, 3 pure pixels each."""
    rng = np.random.default_rng(7)
    bands = np.arange(B)
    E = np.stack(
        [
            np.exp(-0.5 * ((bands - c) / 3.0) ** 2)
            + 0.4 * np.exp(-0.5 * ((bands - c - 6) / 2.0) ** 2)
            for c in (8, 22, 36, 48)
        ],
        axis=1,
    )
    A = rng.dirichlet(np.full(K, 0.7), size=N)
    A[: K * PURE_PER_ENDMEMBER] = np.repeat(np.eye(K), PURE_PER_ENDMEMBER, axis=0)
    A = A[rng.permutation(N)]
    return A @ E.T, E, A


BASELINES = [
    NMFUnmixer(K, seed=0),
    VCAFCLSUnmixer(K, seed=0),
    pytest.param(MCRALSUnmixer(K, seed=0), marks=needs_pymcr),
    pytest.param(MCRALSUnmixer(K, seed=0, init="nmf"), marks=needs_pymcr),
    ArchetypalUnmixer(K, seed=0),
    MinVolNMFUnmixer(K, seed=0),
]


@pytest.mark.parametrize(
    "model", BASELINES, ids=lambda m: f"{m.method}-{m.get_params().get('init', '')}"
)
def test_baseline_recovers_easy_mixture(model: BaseUnmixer, mixture):
    X, E, A = mixture
    fitted = model.fit(X)
    assert fitted is model
    assert model.endmembers_.shape == (B, K)
    assert model.abundances_.shape == (N, K)
    assert model.reconstruction_.shape == (N, B)
    assert model.reconstruction_error_.shape == (N,)
    matching = match_endmembers(model.endmembers_, E)
    assert matching.angles_deg.max() < MAX_ANGLE_DEG
    assert np.all(model.abundances_ >= 0)
    np.testing.assert_allclose(model.abundances_.sum(axis=1), 1.0, atol=1e-9)
    assert abundance_rmse(model.abundances_, A, matching) < MAX_ABUNDANCE_RMSE
    np.testing.assert_allclose(model.reconstruction_, X, atol=0.02)
    np.testing.assert_allclose(model.reconstruction_, model.abundances_ @ model.endmembers_.T)


SEEDED = [
    NMFUnmixer,
    VCAFCLSUnmixer,
    pytest.param(MCRALSUnmixer, marks=needs_pymcr),
    ArchetypalUnmixer,
    MinVolNMFUnmixer,
]


@pytest.mark.parametrize("cls", SEEDED)
def test_baselines_are_seeded(cls, mixture):
    X, _, _ = mixture
    noisy = X + np.random.default_rng(0).normal(0, 0.01, X.shape)
    first = cls(K, seed=3).fit(noisy)
    second = cls(K, seed=3).fit(noisy)
    np.testing.assert_array_equal(first.endmembers_, second.endmembers_)
    np.testing.assert_array_equal(first.abundances_, second.abundances_)


@pytest.mark.parametrize("cls", SEEDED)
def test_slightly_negative_data_are_handled(cls, mixture):
    X, E, _ = mixture
    shifted = X - 0.01  # baseline offset: zero-absorbance bands become negative
    model = cls(K, seed=0).fit(shifted)
    assert np.all(np.isfinite(model.endmembers_))
    assert np.all(model.abundances_ >= 0)
    np.testing.assert_allclose(model.abundances_.sum(axis=1), 1.0, atol=1e-9)
    assert match_endmembers(model.endmembers_, E).angles_deg.max() < 5.0


def test_fcls_recovers_abundances_on_the_simplex_boundary(mixture):
    _, E, _ = mixture
    A = np.array([[1.0, 0.0, 0.0, 0.0], [0.2, 0.0, 0.8, 0.0], [0.25, 0.25, 0.25, 0.25]])
    np.testing.assert_allclose(fcls(A @ E.T, E), A, atol=1e-6)
    # a pixel outside the simplex (scaled by 3) still gets sum-to-one abundances
    a = fcls(3.0 * E[:, :1].T, E)
    np.testing.assert_allclose(a, [[1.0, 0.0, 0.0, 0.0]], atol=1e-6)


def test_fcls_tolerates_duplicate_endmembers(mixture):
    X, E, _ = mixture
    doubled = np.column_stack([E, E[:, 0]])
    a = fcls(X[:10], doubled)
    np.testing.assert_allclose(a.sum(axis=1), 1.0)
    np.testing.assert_allclose(a @ doubled.T, X[:10], atol=1e-6)


@pytest.mark.parametrize("snr_db", [None, 0.0])  # projective and centred branches
def test_vca_picks_the_pure_pixels(mixture, snr_db):
    X, E, A = mixture
    endmembers, indices = vca(X, K, seed=1, snr_db=snr_db)
    assert sorted(A[indices].argmax(axis=1).tolist()) == list(range(K))
    assert np.allclose(A[indices].max(axis=1), 1.0)
    assert match_endmembers(endmembers, E).angles_deg.max() < 1e-4


def test_snr_estimate():
    assert estimate_snr_db(10.0, 10.0, 4, 60) == float("inf")
    assert estimate_snr_db(1.0, 10.0, 4, 60) == pytest.approx(10 * np.log10((1 - 4 / 6) / 9))
    assert estimate_snr_db(0.5, 10.0, 4, 60) == float("-inf")


def test_nmf_rescaling_preserves_the_product():
    rng = np.random.default_rng(2)
    A = rng.dirichlet(np.ones(3), size=50)
    H = rng.uniform(size=(3, 20))
    W = A / np.array([2.0, 0.5, 4.0])  # NMF's arbitrary per-component scales
    E, A_out = to_abundances(W, H)
    np.testing.assert_allclose(A_out, A, atol=1e-10)
    np.testing.assert_allclose(A_out @ E.T, W @ H, atol=1e-10)


def test_invalid_input_is_a_user_error(mixture):
    X, _, _ = mixture
    with pytest.raises(FTIRUnmixerError, match="NaN"):
        VCAFCLSUnmixer(K).fit(np.where(X > 0.9, np.nan, X))
    with pytest.raises(FTIRUnmixerError, match="num_endmembers"):
        NMFUnmixer(1).fit(X)
    with pytest.raises(FTIRUnmixerError, match="init"):
        MCRALSUnmixer(K, init="svd").fit(X)
    with pytest.raises(FTIRUnmixerError, match="flatten"):
        NMFUnmixer(K).fit(X.reshape(20, 20, B))


def test_mcr_without_pymcr_is_a_user_error(mixture, monkeypatch):
    for name in ("pymcr", "pymcr.constraints", "pymcr.mcr", "pymcr.regressors"):
        monkeypatch.setitem(sys.modules, name, None)  # makes the import fail
    with pytest.raises(FTIRUnmixerError, match="pyMCR"):
        MCRALSUnmixer(K).fit(mixture[0])


def test_baseline_unmixes_a_cube_as_the_network_does(mixture):
    X, _, _ = mixture
    noise = np.random.default_rng(1).normal(0.0, 0.05, X.shape)
    cube = np.abs(X + noise).reshape(20, 20, B)  # a fit that leaves angles of degrees
    mask = np.ones((20, 20), dtype=bool)
    mask[3, 4] = mask[17, 0] = False
    model = VCAFCLSUnmixer(K, seed=0)
    unmixing = model.unmix_cube(cube, mask)
    np.testing.assert_array_equal(unmixing.abundances, model.abundances_.reshape(20, 20, K))
    np.testing.assert_array_equal(unmixing.endmembers_model, model.endmembers_)
    np.testing.assert_array_equal(
        unmixing.reconstruction_angle, model.reconstruction_error_.reshape(20, 20)
    )
    assert unmixing.scale == 1.0
    np.testing.assert_array_equal(unmixing.band_weights, np.ones(B))
    assert unmixing.attrs["params"] == model.get_params()
    # The sums cover the 398 valid pixels only: their mean angle is that of those pixels.
    assert unmixing.sums.count == 398
    valid_angles = np.degrees(model.reconstruction_error_.reshape(20, 20)[mask])
    assert unmixing.sums.metrics()["diag/mean_reconstruction_angle_deg"] == pytest.approx(
        valid_angles.mean(), rel=1e-5
    )


def brute_force_fcls(x: np.ndarray, E: np.ndarray) -> np.ndarray:
    """Exact FCLS by enumerating supports and solving each equality-constrained LS (KKT)."""
    best, best_cost = None, np.inf
    k = E.shape[1]
    for size in range(1, k + 1):
        for support in combinations(range(k), size):
            Es = E[:, support]
            kkt = np.block([[2 * Es.T @ Es, np.ones((size, 1))], [np.ones((1, size)), 0]])
            sol = np.linalg.lstsq(kkt, np.concatenate([2 * Es.T @ x, [1.0]]), rcond=None)[0]
            if np.all(sol[:size] >= -1e-12):
                a = np.zeros(k)
                a[list(support)] = sol[:size]
                cost = np.sum((x - E @ a) ** 2)
                if cost < best_cost:
                    best, best_cost = a, cost
    return best


def test_fcls_matches_exact_solution_for_similar_endmembers():
    rng = np.random.default_rng(5)
    base = rng.uniform(0.5, 1.0, B)
    E = np.column_stack([base, base + 0.01 * rng.normal(size=B), base * np.linspace(0.95, 1.05, B)])
    X = rng.dirichlet(np.ones(3), size=20) @ E.T + rng.normal(0, 0.002, (20, B))
    expected = np.array([brute_force_fcls(x, E) for x in X])
    np.testing.assert_allclose(fcls(X, E), expected, atol=1e-5)
