"""Min-vol NMF and archetypal analysis: the highly mixed scene, volume, relaxation, KKT."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import nnls

from ftir_unmixer.baselines.archetypal import ArchetypalUnmixer, nearest_hull_point
from ftir_unmixer.baselines.geometry import PrincipalSubspace, project_rows_to_simplex
from ftir_unmixer.baselines.minvol_nmf import MinVolNMFUnmixer
from ftir_unmixer.baselines.vca_fcls import VCAFCLSUnmixer, fcls
from ftir_unmixer.data.materials import material_library
from ftir_unmixer.errors import FTIRUnmixerError
from ftir_unmixer.evaluation.diagnostics import endmember_log_volume
from ftir_unmixer.evaluation.ground_truth import match_endmembers

MATERIALS = ("linseed_oil", "degraded_oil", "animal_glue")  # 42–71° apart: binders and glue
MAX_ABUNDANCE = 0.7


def mixed_abundances(rng: np.random.Generator, num_pixels: int, k: int) -> np.ndarray:
    """Each pixel mixes 2 or 3 of the k materials (Dirichlet), no abundance above 0.7."""
    rows = []
    while len(rows) < num_pixels:
        chosen = rng.choice(k, rng.choice([2, 3]), replace=False)
        mix = rng.dirichlet(np.ones(len(chosen)))
        if mix.max() <= MAX_ABUNDANCE:
            row = np.zeros(k)
            row[chosen] = mix
            rows.append(row)
    return np.array(rows)


@pytest.fixture(scope="module")
def highly_mixed() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """400 pixels × 150 bands of three real material spectra, no pure pixel, 0.2 % noise."""
    rng = np.random.default_rng(0)
    E = np.stack(list(material_library(np.linspace(3800, 900, 150), MATERIALS).values()), 1)
    A = mixed_abundances(rng, 400, 3)
    X = A @ E.T + rng.normal(0.0, 0.002 * E.max(), (400, 150))
    return X, E, A


def mean_angle(E_est: np.ndarray, E: np.ndarray) -> float:
    return float(match_endmembers(E_est, E).angles_deg.mean())


@pytest.mark.parametrize("sum_to_one", ["at_most", "equal"])  # the default first
def test_minvol_beats_vca_on_a_highly_mixed_scene(highly_mixed, sum_to_one):
    X, E, A = highly_mixed
    assert A.max() <= MAX_ABUNDANCE and (A > 0).sum(axis=1).min() >= 2
    vca_angle = mean_angle(VCAFCLSUnmixer(3, seed=0).fit(X).endmembers_, E)
    minvol = MinVolNMFUnmixer(3, seed=0, sum_to_one=sum_to_one)
    minvol_angle = mean_angle(minvol.fit(X).endmembers_, E)
    assert vca_angle > 5.0  # VCA's pixels are mixtures: the scene is hard for it
    assert minvol_angle <= 0.6 * vca_angle


def test_volume_shrinks_as_its_weight_grows(highly_mixed):
    X, _, _ = highly_mixed
    fits = [
        MinVolNMFUnmixer(3, seed=0, volume_weight=w, sum_to_one="equal", max_iter=300).fit(X)
        for w in (0.0, 1e-3, 1e-2)
    ]
    volumes = [fit.log_volume_ for fit in fits]
    assert volumes[0] > volumes[1] > volumes[2]
    assert volumes[0] == pytest.approx(endmember_log_volume(fits[0].endmembers_, 0.1))
    # The absolute weight is λ̃ ‖X_r‖² / K.
    energy = PrincipalSubspace.of(X, 9).energy
    assert fits[1].lambda_ == pytest.approx(1e-3 * energy / 3)


@pytest.mark.parametrize("sum_to_one", ["equal", "at_most"])
def test_minvol_constraints(highly_mixed, sum_to_one):
    X, _, _ = highly_mixed
    fit = MinVolNMFUnmixer(3, seed=0, sum_to_one=sum_to_one, max_iter=50).fit(X)
    assert (fit.endmembers_ >= 0).all()
    assert (fit.abundances_ >= 0).all()
    np.testing.assert_allclose(fit.abundances_.sum(axis=1), 1.0, atol=1e-12)
    assert fit.gains_.max() <= 1.0 + 1e-12
    if sum_to_one == "equal":
        np.testing.assert_allclose(fit.gains_, 1.0, atol=1e-12)


def test_at_most_estimates_a_contact_gain_below_one(highly_mixed):
    X, E, _ = highly_mixed
    gain = np.random.default_rng(1).uniform(0.6, 1.0, len(X))
    fit = MinVolNMFUnmixer(3, seed=0, sum_to_one="at_most").fit(gain[:, None] * X)
    assert np.corrcoef(fit.gains_, gain)[0, 1] > 0.95
    assert mean_angle(fit.endmembers_, E) < 3.0


def test_zero_volume_weight_is_alternating_nmf_with_simplex_abundances(highly_mixed):
    """At λ = 0 the result is a fixed point of exact alternating NNLS / FCLS on X_r."""
    X, _, _ = highly_mixed
    fit = MinVolNMFUnmixer(3, seed=0, volume_weight=0.0, sum_to_one="equal").fit(X)
    subspace = PrincipalSubspace.of(X, 9)
    X_r = subspace.mean + subspace.scores @ subspace.basis.T
    A, E = fit.abundances_, fit.endmembers_
    np.testing.assert_allclose(fcls(X_r, E), A, atol=1e-3)
    E_nnls = np.stack([nnls(A, X_r[:, b])[0] for b in range(X.shape[1])])
    np.testing.assert_allclose(E_nnls, E, atol=1e-3 * E.max())


@pytest.mark.parametrize("relaxation", [0.0, 0.5])
def test_archetypes_are_relaxed_convex_combinations_of_pixels(highly_mixed, relaxation):
    X, _, _ = highly_mixed
    fit = ArchetypalUnmixer(3, seed=0, relaxation=relaxation).fit(X)
    C, alpha = fit.archetype_weights_, fit.expansion_
    assert (C >= 0).all()
    np.testing.assert_allclose(C.sum(axis=1), 1.0, atol=1e-12)
    assert ((alpha >= 1.0) & (alpha <= 1.0 + relaxation + 1e-12)).all()
    mean = X.mean(axis=0)
    np.testing.assert_allclose(fit.endmembers_.T, mean + alpha[:, None] * (C @ X - mean), atol=1e-8)
    if relaxation == 0:
        np.testing.assert_allclose(fit.endmembers_.T, C @ X, atol=1e-8)
    else:  # with no pure pixel, stretching the archetypes out of the hull fits better
        assert (alpha > 1.0).any()
    assert (fit.abundances_ >= 0).all()
    np.testing.assert_allclose(fit.abundances_.sum(axis=1), 1.0, atol=1e-9)


@pytest.mark.parametrize("relaxation", [0.0, 0.5])
def test_nearest_hull_point_matches_the_solution_over_all_points(relaxation):
    """Column generation on a working set ends at the optimum over all points (KKT by hand)."""
    rng = np.random.default_rng(3)
    points = rng.normal(size=(300, 4))
    points -= points.mean(axis=0)
    target = 4.0 * rng.normal(size=4)  # far outside: the sum of the weights is pinned
    support, weights = nearest_hull_point(points, target, relaxation)
    assert (weights > 0).all() and len(support) <= 5
    assert 1.0 - 1e-9 <= weights.sum() <= 1.0 + relaxation + 1e-9
    w = np.zeros(len(points))
    w[support] = weights
    gradient = points @ (w @ points - target)
    # Optimality for Σ w pinned at its bound: gradient ≥ μ everywhere, = μ on the support.
    multiplier = gradient[support].mean()
    np.testing.assert_allclose(gradient[support], multiplier, atol=1e-6 * np.abs(gradient).max())
    assert gradient.min() >= multiplier - 1e-6 * np.abs(gradient).max()
    # Any other feasible point is farther: e.g. every single pixel and the scaled best one.
    best = np.linalg.norm(w @ points - target)
    assert best <= np.linalg.norm(points - target, axis=1).min() + 1e-12


def test_simplex_projection_by_hand():
    V = np.array([[0.5, 0.5, 0.5], [2.0, 0.0, -1.0], [0.2, 0.1, 0.0]])
    # Σ max(v − τ, 0) = 1: τ = 1/6; τ = 1 (only the first entry stays); τ = −0.7/3.
    expected = np.array(
        [[1 / 3, 1 / 3, 1 / 3], [1.0, 0.0, 0.0], [0.2 + 0.7 / 3, 0.1 + 0.7 / 3, 0.7 / 3]]
    )
    np.testing.assert_allclose(project_rows_to_simplex(V), expected)
    # Inside {Σ ≤ 1}: only clipped; outside: as the equality projection.
    np.testing.assert_allclose(
        project_rows_to_simplex(V, equal=False), [[1 / 3] * 3, [1.0, 0.0, 0.0], [0.2, 0.1, 0.0]]
    )


@pytest.mark.parametrize(
    ("model", "key"),
    [
        (ArchetypalUnmixer(3, relaxation=-0.1), "relaxation"),
        (ArchetypalUnmixer(3, n_init=0), "n_init"),
        (MinVolNMFUnmixer(3, sum_to_one="below"), "sum_to_one"),
        (MinVolNMFUnmixer(3, volume_weight=-1.0), "volume_weight"),
        (MinVolNMFUnmixer(3, volume_delta=0.0), "volume_delta"),
        (MinVolNMFUnmixer(3, init="svd"), "init"),
    ],
)
def test_impossible_settings_are_user_errors(highly_mixed, model, key):
    with pytest.raises(FTIRUnmixerError, match=rf"model\.{key}"):
        model.fit(highly_mixed[0])
