"""Band-reliability weights (paper Eq. 8–13) against values computed by hand.

The hand example is a 4-pixel × 5-band cube built from two centred, orthogonal pixel patterns
    u = [-3, -1, 1, 3]   (Σu² = 20, Var = 5)
    v = [ 1, -1, -1, 1]  (Σv² = 4,  Var = 1),   Σ u·v = 0
with the bands (columns)
    b1 = u + 3      = [0, 2, 4, 6]    median (2+4)/2 = 3   Var 5
    b2 = 2u + 6     = [0, 4, 8, 12]   median 6             Var 20
    b3 = v + 2      = [3, 1, 1, 3]    median 2             Var 1
    b4 = 2v + 3     = [5, 1, 1, 5]    median 3             Var 4
    b5 = u + 2v + 3 = [2, 0, 2, 8]    median (2+2)/2 = 2   Var (20 + 4·4)/4 = 9
The ε = 1e-8 of the implementation shifts every value below by at most a few 1e-8 relative,
hence the tolerances.
"""

from __future__ import annotations

import numpy as np
import pytest

from ftir_unmixer.band_weights import (
    BandWeightConfig,
    estimate_band_weights,
    median_spectrum_roughness,
    neighbour_correlation,
    neighbour_correlation_deficit,
    outlier_score,
    robust_standardize,
    robust_zscore,
    score_to_weight,
    spatial_flatness,
    window_mask,
)
from ftir_unmixer.errors import FTIRUnmixerError
from ftir_unmixer.io.results_file import DIAGNOSTIC_NAMES

U = np.array([-3.0, -1.0, 1.0, 3.0])
V = np.array([1.0, -1.0, -1.0, 1.0])
Y = np.column_stack([U + 3, 2 * U + 6, V + 2, 2 * V + 3, U + 2 * V + 3])
TOL = {"rtol": 1e-6, "atol": 1e-6}

# Eq. 9: after standardisation ρ_b is the Pearson correlation of adjacent columns:
#   ρ1 = corr(u, 2u) = 1;  ρ2 = corr(2u, v) = 0;  ρ3 = corr(v, 2v) = 1;
#   ρ4 = corr(2v, u + 2v) = Σ v(u + 2v) / sqrt(Σv² · Σ(u + 2v)²) = 8 / sqrt(4 · 36) = 2/3
RHO = np.array([1.0, 0.0, 1.0, 2 / 3])
# c = [ρ1, min(ρ1,ρ2), min(ρ2,ρ3), min(ρ3,ρ4), ρ4] = [1, 0, 0, 2/3, 2/3];  d = 1 − c
D_CORR = np.array([0.0, 1.0, 1.0, 1 / 3, 1 / 3])
# Eq. 10 on the median spectrum m = [3, 6, 2, 3, 2]:
#   d2 = |2 − 12 + 3| = 7,  d3 = |3 − 4 + 6| = 5,  d4 = |2 − 6 + 2| = 2;
#   ends copied: d1 = d2 = 7, d5 = d4 = 2
D_ROUGH = np.array([7.0, 7.0, 5.0, 2.0, 2.0])
# d_flat = −log Var = [−log 5, −log 20, −log 1, −log 4, −log 9]
D_FLAT = -np.log([5.0, 20.0, 1.0, 4.0, 9.0])
# Eq. 11 (B = 5, the median is the 3rd sorted value):
#   d_corr sorted [0, 1/3, 1/3, 1, 1] → median 1/3; |d − 1/3| = [1/3, 2/3, 2/3, 0, 0] → MAD 1/3
#     z_corr = (d − 1/3)/(1/3) = [−1, 2, 2, 0, 0]
Z_CORR = np.array([-1.0, 2.0, 2.0, 0.0, 0.0])
#   d_rough sorted [2, 2, 5, 7, 7] → median 5; |d − 5| = [2, 2, 0, 3, 3] → MAD 2
#     z_rough = (d − 5)/2 = [1, 1, 0, −1.5, −1.5]
Z_ROUGH = np.array([1.0, 1.0, 0.0, -1.5, -1.5])
#   d_flat sorted [−log 20, −log 9, −log 5, −log 4, 0] → median −log 5;
#   |d + log 5| = [0, log 4, log 5, log(5/4), log(9/5)] → sorted middle value MAD = log 1.8
#     z_flat = (d + log 5)/log 1.8 = [0, −log 4, log 5, log 1.25, −log 1.8]/log 1.8
L18 = np.log(1.8)
Z_FLAT = np.array([0.0, -np.log(4.0), np.log(5.0), np.log(1.25), -L18]) / L18
# Eq. 12 with γ_rough = 0.75, γ_flat = 0.5 (positive parts only):
#   s = [0 + 0.75·1, 2 + 0.75·1, 2 + 0.5·log5/log1.8, 0.5·log1.25/log1.8, 0]
SCORE = np.array([0.75, 2.75, 2 + 0.5 * np.log(5.0) / L18, 0.5 * np.log(1.25) / L18, 0.0])
# ... and with γ_flat = 0 (the reference script): s = [0.75, 2.75, 2, 0, 0]
SCORE_SCRIPT = np.array([0.75, 2.75, 2.0, 0.0, 0.0])


def sigmoid(t: float) -> float:
    return 1.0 / (1.0 + np.exp(-t))


def test_robust_standardize_matches_the_zscore_of_each_band() -> None:
    Z = robust_standardize(Y)
    # b1: (u + 3 − mean 3)/sqrt(5) = u/√5;  b3: v/1;  b5: (u + 2v)/3
    np.testing.assert_allclose(Z[:, 0], U / np.sqrt(5), **TOL)
    np.testing.assert_allclose(Z[:, 2], V, **TOL)
    np.testing.assert_allclose(Z[:, 4], (U + 2 * V) / 3, **TOL)
    np.testing.assert_allclose(Z.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose((Z**2).mean(axis=0), 1.0, **TOL)


def test_neighbour_correlation_and_deficit() -> None:
    rho = neighbour_correlation(robust_standardize(Y))
    np.testing.assert_allclose(rho, RHO, **TOL)
    np.testing.assert_allclose(neighbour_correlation_deficit(RHO), D_CORR, atol=1e-15)


def test_neighbour_correlation_is_clipped_to_unit_interval() -> None:
    # Mean products 1.5·1.5 = 2.25 and 1.5·(−2) = −3 are clipped to 1 and −1.
    Z = np.array([[1.5, 1.5, -2.0], [1.5, 1.5, -2.0]])
    np.testing.assert_array_equal(neighbour_correlation(Z), [1.0, -1.0])


def test_deficit_end_rules() -> None:
    # ρ = [0.2, 0.9, 0.5] → c = [0.2, min(.2,.9), min(.9,.5), 0.5] = [0.2, 0.2, 0.5, 0.5]
    np.testing.assert_allclose(
        neighbour_correlation_deficit([0.2, 0.9, 0.5]), [0.8, 0.8, 0.5, 0.5], atol=1e-15
    )


def test_roughness_and_flatness() -> None:
    np.testing.assert_allclose(median_spectrum_roughness(Y), D_ROUGH, atol=1e-12)
    np.testing.assert_allclose(spatial_flatness(Y), D_FLAT, **TOL)


def test_robust_zscore() -> None:
    np.testing.assert_allclose(robust_zscore(D_CORR), Z_CORR, **TOL)
    np.testing.assert_allclose(robust_zscore(D_ROUGH), Z_ROUGH, **TOL)
    np.testing.assert_allclose(robust_zscore(D_FLAT), Z_FLAT, **TOL)


def test_outlier_score_with_and_without_flatness() -> None:
    score = outlier_score(D_CORR, D_ROUGH, D_FLAT, gamma_rough=0.75, gamma_flat=0.5)
    np.testing.assert_allclose(score, SCORE, **TOL)
    script = outlier_score(D_CORR, D_ROUGH, D_FLAT, gamma_rough=0.75, gamma_flat=0.0)
    np.testing.assert_allclose(script, SCORE_SCRIPT, **TOL)


def test_gamma_flat_zero_is_exactly_the_script_score() -> None:
    bw = estimate_band_weights(Y, config=BandWeightConfig(gamma_flat=0.0))
    # The script: max(z_corr, 0) + γ_rough·max(z_rough, 0), nothing else.
    script = np.maximum(robust_zscore(bw.corr_deficit), 0) + 0.75 * np.maximum(
        robust_zscore(bw.roughness), 0
    )
    np.testing.assert_array_equal(bw.score, script)
    # The flatness diagnostic is still reported.
    np.testing.assert_allclose(bw.flatness, D_FLAT, **TOL)


def test_score_to_weight_by_hand() -> None:
    # s = τ → σ(0) = 1/2 → 0.05 + 0.95/2 = 0.525
    # s = τ − ln3/α → σ(ln 3) = 3/4 → 0.05 + 0.95·0.75 = 0.7625
    # s = 1e6 → σ(−∞) = 0 → w_min exactly;  s = −1e6 → 1 exactly (no overflow warnings)
    s = [3.0, 3.0 - np.log(3.0) / 2.0, 1e6, -1e6]
    with np.errstate(all="raise"):
        w = score_to_weight(s, tau=3.0, sharpness=2.0, w_min=0.05)
    np.testing.assert_allclose(w, [0.525, 0.7625, 0.05, 1.0], rtol=1e-12)


def test_estimate_band_weights_end_to_end() -> None:
    bw = estimate_band_weights(Y)
    np.testing.assert_allclose(bw.corr_deficit, D_CORR, **TOL)
    np.testing.assert_allclose(bw.roughness, D_ROUGH, **TOL)
    np.testing.assert_allclose(bw.flatness, D_FLAT, **TOL)
    np.testing.assert_allclose(bw.score, SCORE, **TOL)
    # Eq. 13, τ = 3, α = 2, w_min = 0.05:  w = 0.05 + 0.95·σ(−2(s − 3))
    #   s1 = 0.75 → σ(4.5) = 0.98901;  s2 = 2.75 → σ(0.5) = 0.62246;
    #   s3 = 3.3691 → σ(−0.7381) = 0.32342;  s4 = 0.18982 → σ(5.6204) = 0.99639;  s5 = 0 → σ(6)
    expected = 0.05 + 0.95 * np.array([sigmoid(-2 * (s - 3)) for s in SCORE])
    np.testing.assert_allclose(bw.weights, expected, **TOL)
    np.testing.assert_allclose(bw.weights, [0.98956, 0.64134, 0.35724, 0.99657, 0.99765], atol=1e-5)
    assert {name: bw.diagnostics[name] for name in DIAGNOSTIC_NAMES} == bw.diagnostics


@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("window", [(1150.0, 1310.0), (1310.0, 1150.0)])
def test_bad_windows_are_exactly_zero(descending: bool, window: tuple[float, float]) -> None:
    wavenumbers = np.array([1000.0, 1100.0, 1200.0, 1300.0, 1400.0])
    data = Y
    if descending:
        wavenumbers, data = wavenumbers[::-1], Y[:, ::-1]
    inside = (wavenumbers > 1150) & (wavenumbers < 1310)
    plain = estimate_band_weights(data, wavenumbers)
    masked = estimate_band_weights(data, wavenumbers, BandWeightConfig(bad_windows=[window]))
    assert np.all(masked.weights[inside] == 0.0)
    np.testing.assert_array_equal(masked.weights[~inside], plain.weights[~inside])
    np.testing.assert_array_equal(masked.score, plain.score)


def test_window_mask_is_closed_and_unions_windows() -> None:
    wavenumbers = [4000.0, 2400.0, 2350.0, 2300.0, 1000.0]
    mask = window_mask(wavenumbers, [(2300, 2400), (900, 1000)])
    np.testing.assert_array_equal(mask, [False, True, True, True, True])
    assert not window_mask(wavenumbers, []).any()


def test_degenerate_bands_stay_finite() -> None:
    # Band 2 is constant (MAD 0, Var 0); band 3 = [0, 0, 0, 1] has MAD 0 but Var > 0.
    data = np.column_stack([U, U + V, np.full(4, 7.0), [0.0, 0.0, 0.0, 1.0], V])
    Z = robust_standardize(data)
    np.testing.assert_array_equal(Z[:, 2], 0.0)
    # Zero MAD still standardises to the z-score: ([0,0,0,1] − 1/4)/sqrt(3/16)
    np.testing.assert_allclose(Z[:, 3], np.array([-1.0, -1.0, -1.0, 3.0]) / np.sqrt(3), **TOL)
    bw = estimate_band_weights(data)
    for name, values in {"weights": bw.weights, **bw.diagnostics}.items():
        assert np.isfinite(values).all(), name
    # The constant band correlates with nothing (ρ = 0 both sides) and is the flattest.
    assert bw.corr_deficit[2] == pytest.approx(1.0)
    assert bw.flatness[2] == pytest.approx(-np.log(1e-8))
    assert bw.weights[2] == bw.weights.min()


def test_all_equal_diagnostics_give_zero_scores() -> None:
    # Identical bands: every diagnostic ties, the MADs are 0 and the ε keeps z at 0.
    data = np.tile(U[:, None], (1, 6))
    bw = estimate_band_weights(data)
    np.testing.assert_allclose(bw.score, 0.0, atol=1e-6)
    assert np.isfinite(bw.weights).all()


@pytest.mark.parametrize(
    ("settings", "key"),
    [
        ({"w_min": 1.0}, "loss.band_weights.w_min"),
        ({"w_min": -0.1}, "loss.band_weights.w_min"),
        ({"sharpness": 0.0}, "loss.band_weights.sharpness"),
        ({"gamma_rough": -1.0}, "loss.band_weights.gamma_rough"),
        ({"gamma_flat": -0.5}, "loss.band_weights.gamma_flat"),
        ({"tau": float("nan")}, "loss.band_weights.tau"),
        ({"eps": 0.0}, "loss.band_weights.eps"),
        ({"bad_windows": [[2300, 2400, 2500]]}, "loss.band_weights.bad_windows"),
        ({"bad_windows": [["a", "b"]]}, "loss.band_weights.bad_windows"),
        ({"bad_windows": 2300}, "loss.band_weights.bad_windows"),
    ],
)
def test_invalid_settings_name_the_key(settings: dict[str, object], key: str) -> None:
    with pytest.raises(FTIRUnmixerError, match=key.replace(".", r"\.")) as info:
        BandWeightConfig(**settings)
    message = str(info.value)
    assert message.endswith(".") and "\n" not in message


def test_from_mapping() -> None:
    config = BandWeightConfig.from_mapping({"gamma_flat": 0.0, "bad_windows": [[2400, 2300]]})
    assert config == BandWeightConfig(gamma_flat=0.0, bad_windows=((2400.0, 2300.0),))
    with pytest.raises(FTIRUnmixerError, match=r"loss\.band_weights\.gamma_falt"):
        BandWeightConfig.from_mapping({"gamma_falt": 0.5})


def test_bad_windows_need_a_matching_axis() -> None:
    config = BandWeightConfig(bad_windows=[[1150, 1310]])
    with pytest.raises(FTIRUnmixerError, match=r"loss\.band_weights\.bad_windows"):
        estimate_band_weights(Y, None, config)
    with pytest.raises(FTIRUnmixerError, match=r"loss\.band_weights\.bad_windows"):
        estimate_band_weights(Y, np.arange(4.0), config)
    everything = BandWeightConfig(bad_windows=[[0, 1e4]])
    with pytest.raises(FTIRUnmixerError, match=r"loss\.band_weights\.bad_windows"):
        estimate_band_weights(Y, np.arange(5.0), everything)


@pytest.mark.parametrize(
    "data",
    [np.arange(5.0), np.ones((1, 5)), np.ones((4, 2)), np.ones((2, 3, 4))],
)
def test_cube_shape_is_checked(data: np.ndarray) -> None:
    with pytest.raises(FTIRUnmixerError, match="at least 2 valid pixels and 3 bands"):
        estimate_band_weights(data)


def test_cube_must_be_finite() -> None:
    data = Y.copy()
    data[1, 2] = np.nan
    with pytest.raises(FTIRUnmixerError, match="NaN or Inf"):
        estimate_band_weights(data)


def test_float32_input_is_computed_in_float64() -> None:
    bw = estimate_band_weights(Y.astype(np.float32))
    assert all(v.dtype == np.float64 for v in (bw.weights, *bw.diagnostics.values()))
    np.testing.assert_allclose(bw.score, SCORE, **TOL)


def test_within_tile_flatness_exposes_a_tile_constant_offset():
    # Band 0: signal varying inside each tile; band 1: a value constant within each tile but
    # different between tiles (an atmospheric residual). Over the image both vary; within
    # tiles only band 0 does.
    rng = np.random.default_rng(0)
    tiles = np.repeat([0, 1, 2], 100)
    signal = rng.uniform(0, 1, 300)
    offset = np.array([0.0, 1.0, -1.0])[tiles] + rng.normal(0, 1e-3, 300)
    Y = np.stack([signal, offset], axis=1)
    image = spatial_flatness(Y)
    tile = spatial_flatness(Y, groups=tiles)
    assert image[1] < image[0]  # over the image the offset band looks *less* flat …
    assert tile[1] > tile[0] + 5  # … within tiles it is far flatter (variance ~1e-6)
    # By hand: the within-tile variance of band 1 is the noise variance 1e-6 → −log ≈ 13.8.
    assert tile[1] == pytest.approx(-np.log(1e-6), abs=0.3)


def test_tile_scope_needs_tiles():
    with pytest.raises(FTIRUnmixerError, match=r"flatness_scope"):
        estimate_band_weights(
            np.random.default_rng(0).random((10, 5)),
            config=BandWeightConfig(flatness_scope="tile"),
        )


def test_block_wise_correlation_equals_the_whole_array() -> None:
    # 150 bands span three blocks of 64: the pairs across block edges must not be lost.
    Y = np.cumsum(np.random.default_rng(5).normal(size=(40, 150)), axis=1).astype(np.float32)
    whole = neighbour_correlation_deficit(neighbour_correlation(robust_standardize(Y)))
    np.testing.assert_allclose(estimate_band_weights(Y).corr_deficit, whole, rtol=0, atol=1e-12)
