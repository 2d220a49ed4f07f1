"""Ground-truth metrics and ground-truth-free diagnostics on hand-computable arrays."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ftir_unmixer.errors import FTIRUnmixerError
from ftir_unmixer.evaluation.diagnostics import (
    ReconstructionSums,
    abundance_entropy,
    abundance_sparsity,
    empty_maps,
    endmember_log_volume,
    ground_truth_free_diagnostics,
    near_duplicate_pairs,
    replicate_stability,
)
from ftir_unmixer.evaluation.ground_truth import (
    abundance_rmse,
    abundance_rmse_per_pair,
    ground_truth_metrics,
    match_endmembers,
)
from ftir_unmixer.evaluation.spectral_angles import (
    pearson_correlation,
    spectral_angle_deg,
    spectral_angle_matrix,
)
from ftir_unmixer.io.input_file import GroundTruth
from ftir_unmixer.io.results_file import UnmixingResult


def rotation(theta_deg: float) -> np.ndarray:
    t = math.radians(theta_deg)
    return np.array([[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]])


@pytest.fixture
def truth() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    E = rng.uniform(0.0, 1.0, size=(30, 4))
    A = rng.dirichlet(np.ones(4), size=(5, 6))
    return E, A


def test_rotation_by_theta_scores_theta():
    e_true = np.array([[1.0], [0.0]])
    for theta in (0.0, 7.5, 30.0, 90.0, 135.0):
        e_est = rotation(theta) @ e_true
        assert spectral_angle_matrix(e_est, e_true)[0, 0] == pytest.approx(theta, abs=1e-9)
    two = np.hstack([rotation(10.0) @ e_true, rotation(-25.0) @ e_true])
    np.testing.assert_allclose(spectral_angle_matrix(two, e_true), [[10.0], [25.0]])


def test_angle_ignores_positive_scale_and_zero_vector_is_90():
    x = np.array([1.0, 2.0, 3.0])
    assert spectral_angle_deg(x, 4.5 * x) == pytest.approx(0.0, abs=1e-6)
    assert spectral_angle_deg(x, -x) == pytest.approx(180.0)
    assert spectral_angle_deg(x, np.zeros(3)) == pytest.approx(90.0)


def test_band_mask_and_weights():
    x = np.array([1.0, 0.0, 5.0])
    y = np.array([1.0, 1.0, -7.0])
    assert spectral_angle_deg(x, y, band_mask=[True, True, False]) == pytest.approx(45.0)
    # a zero weight drops the band, like the mask
    assert spectral_angle_deg(x, y, weights=[1.0, 1.0, 0.0]) == pytest.approx(45.0)
    # weights scale components before the angle: (1, 0) vs (1, 2) after w = (1, 2)
    assert spectral_angle_deg(x[:2], y[:2], weights=[1.0, 2.0]) == pytest.approx(
        math.degrees(math.atan(2.0))
    )


def test_pearson_ignores_offset_and_scale():
    x = np.array([0.0, 1.0, 3.0, 2.0])
    assert pearson_correlation(x, 3.0 * x + 10.0) == pytest.approx(1.0)
    assert pearson_correlation(x, -x) == pytest.approx(-1.0)
    assert pearson_correlation(x, np.ones(4)) == 0.0


def test_permuted_scaled_copy_scores_zero(truth):
    E, A = truth
    perm = [2, 0, 3, 1]
    E_est = E[:, perm] * np.array([0.5, 2.0, 3.0, 10.0])
    matching = match_endmembers(E_est, E)
    np.testing.assert_allclose(matching.angles_deg, 0.0, atol=1e-5)
    np.testing.assert_array_equal(matching.true_indices, [0, 1, 2, 3])
    np.testing.assert_array_equal(matching.est_indices, np.argsort(perm))
    assert matching.unmatched_est == () and matching.unmatched_true == ()
    assert abundance_rmse(A[..., perm], A, matching) == pytest.approx(0.0, abs=1e-12)
    assert matching.true_index(0) == 2


def test_rectangular_matching_reports_unmatched():
    e1, e2, e3 = np.eye(3)
    E_true = np.stack([e1, e2], axis=1)
    E_est = np.stack([e3, e2 + 0.01 * e1, e1], axis=1)  # e3 has no partner
    matching = match_endmembers(E_est, E_true)
    assert matching.pairs == [(2, 0), (1, 1)]
    assert matching.unmatched_est == (0,)
    assert matching.unmatched_true == ()
    assert matching.labels(["a", "b"]) == [None, "b", "a"]

    fewer = match_endmembers(E_est[:, [1]], E_true)
    assert fewer.pairs == [(0, 1)]
    assert fewer.unmatched_true == (0,)
    assert fewer.unmatched_est == ()


def test_abundance_rmse_by_hand():
    A_true = np.array([[[1.0, 0.0], [0.5, 0.5]]])  # (1, 2, 2)
    A_est = np.array([[[0.8, 0.2], [0.5, 0.5]]])
    matching = match_endmembers(np.eye(2), np.eye(2))
    # errors per map: (0.2, 0) and (0.2, 0) → RMSE sqrt(0.04 / 2) each
    np.testing.assert_allclose(
        abundance_rmse_per_pair(A_est, A_true, matching), [math.sqrt(0.02)] * 2
    )
    assert abundance_rmse(A_est, A_true, matching) == pytest.approx(math.sqrt(0.02))
    mask = np.array([[False, True]])
    assert abundance_rmse(A_est, A_true, matching, mask) == pytest.approx(0.0)


def test_reconstruction_sre_by_hand():
    X = np.array([[3.0, 4.0]])
    sre = ReconstructionSums.of(X, np.array([[3.0, 3.0]])).metrics()["diag/reconstruction_sre_db"]
    assert sre == pytest.approx(10 * math.log10(25.0))
    assert ReconstructionSums.of(X, X).metrics()["diag/reconstruction_sre_db"] == math.inf


def test_ground_truth_metrics_keys_clean_bands_and_names():
    wn = np.linspace(3800.0, 1000.0, 141)  # descending, 20 cm⁻¹ steps
    rng = np.random.default_rng(0)
    E_true = rng.uniform(0.1, 1.0, size=(141, 3))
    A_true = rng.dirichlet(np.ones(3), size=(4, 5))
    co2 = (wn > 2300) & (wn < 2390)
    E_est = E_true[:, [1, 0]].copy()  # K = 2 < M = 3: "oxalate" is missing
    E_est[co2, 0] += 5.0  # a CO₂ artefact on one estimate
    result = UnmixingResult(
        abundances=A_true[..., [1, 0]],
        endmembers=E_est,
        endmembers_model=E_est,
        wavenumbers=wn,
        band_weights=np.ones(141),
        band_diagnostics={},
        reconstruction_error=np.zeros((4, 5)),
    )
    gt = GroundTruth(E_true, A_true, ["lead soap", "protein/glue", "oxalate"])
    metrics, matching = ground_truth_metrics(result, gt, wn)

    assert matching.pairs == [(1, 0), (0, 1)]
    assert metrics["gt/angle_deg/lead_soap"] == pytest.approx(0.0, abs=1e-5)
    assert metrics["gt/angle_deg/protein_glue"] > 10.0
    assert metrics["gt/angle_clean_deg/protein_glue"] == pytest.approx(0.0, abs=1e-5)
    assert metrics["gt/mean_angle_clean_deg"] == pytest.approx(0.0, abs=1e-5)
    assert metrics["gt/mean_angle_deg"] == pytest.approx(metrics["gt/angle_deg/protein_glue"] / 2)
    assert math.isnan(metrics["gt/angle_deg/oxalate"])
    assert math.isnan(metrics["gt/abundance_rmse/oxalate"])
    assert metrics["gt/abundance_rmse"] == pytest.approx(0.0, abs=1e-7)
    assert metrics["gt/unmatched_true"] == 1.0
    assert metrics["gt/unmatched_est"] == 0.0
    assert all(isinstance(v, float) for v in metrics.values())

    # a user bad window covering everything else leaves no clean band
    metrics, _ = ground_truth_metrics(result, gt, wn, bad_windows=[(900, 4000)])
    assert math.isnan(metrics["gt/mean_angle_clean_deg"])


def test_shape_mismatch_is_a_user_error():
    with pytest.raises(FTIRUnmixerError):
        spectral_angle_matrix(np.ones((5, 2)), np.ones((6, 2)))


def test_reconstruction_diagnostics():
    X = np.array([[[1.0, 0.0], [1.0, 1.0]]])
    X_hat = np.array([[[1.0, 1.0], [1.0, 1.0]]])
    sums = ReconstructionSums.of(X, X_hat, band_weights=np.array([1.0, 0.0]))
    metrics = sums.metrics()
    assert metrics["diag/mean_reconstruction_angle_deg"] == pytest.approx((45.0 + 0.0) / 2)
    assert metrics["diag/mean_weighted_reconstruction_angle_deg"] == pytest.approx(0.0)
    # mean residual (0, -0.5): RMS over the two bands sqrt(0.25 / 2)
    assert metrics["diag/mean_residual_rms"] == pytest.approx(math.sqrt(0.125))
    masked = ReconstructionSums.of(X, X_hat, mask=np.array([[False, True]])).metrics()
    assert masked["diag/mean_residual_rms"] == 0.0
    assert masked["diag/mean_weighted_reconstruction_angle_deg"] == pytest.approx(0.0)


def test_reconstruction_sums_scale_and_blocks():
    rng = np.random.default_rng(0)
    X = rng.uniform(size=(7, 5))
    X_hat = 3.0 * X + rng.normal(scale=0.01, size=X.shape)
    whole = ReconstructionSums.of(X, X_hat)
    # least-squares s of X ≈ X_hat / s, by hand
    assert whole.scale == pytest.approx(np.sum(X_hat**2) / np.sum(X * X_hat))
    blocks = ReconstructionSums().add(X[:3], X_hat[:3]).add(X[3:], X_hat[3:])
    for key, value in whole.metrics().items():
        assert blocks.metrics()[key] == pytest.approx(value)
    rescaled = whole.rescaled(whole.scale).metrics()
    direct = ReconstructionSums.of(X, X_hat / whole.scale).metrics()
    for key, value in direct.items():
        assert rescaled[key] == pytest.approx(value)


def test_abundance_statistics():
    pure = np.eye(3)[[0, 1, 2, 0]]
    even = np.full((4, 3), 1 / 3)
    assert abundance_entropy(pure) == pytest.approx(0.0)
    assert abundance_entropy(even) == pytest.approx(1.0)
    assert abundance_entropy(np.array([[0.5, 0.5, 0.0]])) == pytest.approx(
        math.log(2) / math.log(3)
    )
    assert abundance_sparsity(pure) == pytest.approx(8 / 12)
    assert abundance_sparsity(even) == 0.0
    A = np.array([[0.95, 0.05, 0.0], [0.5, 0.45, 0.05]])
    assert empty_maps(A) == [2]


def test_near_duplicates_with_map_correlation():
    e = np.array([1.0, 2.0, 3.0, 0.0])
    E = np.array([e, e + np.array([0.0, 0.0, 0.0, 0.2]), [3.0, 0.0, 0.0, 1.0]]).T
    A = np.array([[0.6, 0.0, 0.4], [0.0, 0.6, 0.4], [0.3, 0.3, 0.4], [0.5, 0.1, 0.4]])
    pairs = near_duplicate_pairs(E, A, threshold_deg=10.0)
    assert [(p.first, p.second) for p in pairs] == [(0, 1)]
    assert pairs[0].angle_deg == pytest.approx(spectral_angle_deg(E[:, 0], E[:, 1]))
    assert pairs[0].map_correlation == pytest.approx(np.corrcoef(A[:, 0], A[:, 1])[0, 1])


def test_replicate_stability():
    rng = np.random.default_rng(1)
    E = rng.uniform(size=(20, 3))
    assert replicate_stability([E, 2.0 * E[:, [2, 0, 1]], E[:, [1, 2, 0]]]) == pytest.approx(
        0.0, abs=1e-5
    )
    e_true = np.array([[1.0, 0.0], [0.0, 1.0]])
    run_b = rotation(4.0) @ e_true
    assert replicate_stability([e_true, run_b]) == pytest.approx(4.0)
    with pytest.raises(FTIRUnmixerError):
        replicate_stability([E])


def test_ground_truth_free_diagnostics_keys(truth):
    E, A = truth
    X = A @ E.T
    metrics = ground_truth_free_diagnostics(
        ReconstructionSums.of(X, X, band_weights=np.ones(30)), E, A
    )
    assert metrics["diag/mean_reconstruction_angle_deg"] == pytest.approx(0.0, abs=1e-5)
    assert metrics["diag/mean_weighted_reconstruction_angle_deg"] == pytest.approx(0.0, abs=1e-5)
    assert metrics["diag/reconstruction_sre_db"] == math.inf
    assert metrics["diag/mean_residual_rms"] == 0.0
    assert metrics["diag/min_endmember_angle_deg"] == pytest.approx(
        spectral_angle_matrix(E, E)[np.triu_indices(4, 1)].min()
    )
    assert metrics["diag/num_near_duplicates"] == 0.0
    assert 0.0 < metrics["diag/abundance_entropy"] < 1.0
    assert metrics["diag/num_empty_maps"] == 0.0
    assert metrics["diag/endmember_log_volume"] == endmember_log_volume(E)
    assert set(metrics) == {
        "diag/mean_reconstruction_angle_deg",
        "diag/mean_weighted_reconstruction_angle_deg",
        "diag/reconstruction_sre_db",
        "diag/mean_residual_rms",
        "diag/min_endmember_angle_deg",
        "diag/num_near_duplicates",
        "diag/abundance_entropy",
        "diag/abundance_sparsity",
        "diag/num_empty_maps",
        "diag/endmember_log_volume",
    }


def test_endmember_log_volume_by_hand():
    # Columns (1, 0) and (1, 1), 45° apart: the cosine matrix is [[1, c], [c, 1]], c = 1/√2.
    E = np.array([[1.0, 1.0], [0.0, 1.0]])
    assert endmember_log_volume(E) == pytest.approx(0.5 * math.log(1.01**2 - 0.5))
    # 3×2: columns (2, 0, 0) and (1, 2, 2) of norms 2 and 3, cosine 2/6 = 1/3.
    E = np.array([[2.0, 1.0], [0.0, 2.0], [0.0, 2.0]])
    assert endmember_log_volume(E) == pytest.approx(0.5 * math.log(1.01**2 - 1 / 9))
    # Without δ: ½ log(1 − cos²) = log sin θ.
    assert endmember_log_volume(E, delta=0.0) == pytest.approx(math.log(math.sqrt(8 / 9)))
    # Orthogonal columns of any lengths: the cosine matrix is I.
    assert endmember_log_volume(np.diag([3.0, 0.2])) == pytest.approx(math.log(1.01))


def test_endmember_log_volume_is_the_volume_prior():
    import torch

    from ftir_unmixer.models.priors import log_volume

    E = np.random.default_rng(1).uniform(0.0, 1.0, (50, 5))
    for delta in (0.01, 0.3):
        prior = log_volume(torch.from_numpy(E), delta).item()
        assert endmember_log_volume(E, delta) == pytest.approx(prior, rel=1e-12)


def test_endmember_log_volume_invariances_and_bounds():
    rng = np.random.default_rng(0)
    E = rng.uniform(0.0, 1.0, (30, 4))
    v = endmember_log_volume(E)
    assert endmember_log_volume(7.5 * E) == pytest.approx(v)  # the scale does not count,
    assert endmember_log_volume(E * [1.0, 0.1, 3.0, 0.2]) == pytest.approx(v)  # per column too
    assert endmember_log_volume(E[:, [2, 0, 3, 1]]) == pytest.approx(v)  # nor the order
    closer = E.copy()
    closer[:, 3] = 0.5 * (E[:, 3] + E[:, 0])  # one endmember moved towards another
    assert endmember_log_volume(closer) < v
    # Bounds: all columns parallel (rank one) and mutually orthogonal columns.
    parallel = np.outer(E[:, 0], [1.0, 2.0, 0.5, 3.0])
    lowest = 0.5 * (math.log(4 + 0.01) + 3 * math.log(0.01))
    assert endmember_log_volume(parallel) == pytest.approx(lowest)
    assert endmember_log_volume(np.eye(30)[:, :4] * [5.0, 1.0, 2.0, 9.0]) == pytest.approx(
        2 * math.log(1.01)
    )
    assert lowest < v < 2 * math.log(1.01)


def test_window_residual_by_hand():
    from ftir_unmixer.evaluation.ground_truth import window_residual

    # true t = [1, 1, 1, 1]; estimate e = 2·t except +2 in band 3 (the "window").
    t = np.array([[1.0, 1.0, 1.0, 1.0]])
    e = np.array([[2.0, 2.0, 2.0, 4.0]])
    clean = np.array([True, True, True, False])
    window = np.array([False, False, False, True])
    # scale on clean bands c = 6/12 = 0.5; residual in window 0.5·4 − 1 = 1; RMS(t) = 1.
    np.testing.assert_allclose(window_residual(e, t, clean, window), [1.0])
    # A clean estimate leaves nothing.
    np.testing.assert_allclose(window_residual(3 * t, t, clean, window), [0.0])
