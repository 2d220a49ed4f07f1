import numpy as np
import pytest

from ftir_unmixer.data.preprocessing import (
    BandMinMax,
    Normalizer,
    band_selection,
    make_normalizer,
    remove_baseline,
    select_bands,
)
from ftir_unmixer.errors import FTIRUnmixerError
from ftir_unmixer.io.input_file import GroundTruth, HyperspectralData


def test_band_minmax_by_hand():
    pixels = np.array([[1.0, 5.0, 2.0], [3.0, 5.0, 6.0], [2.0, 5.0, 4.0]])
    norm = BandMinMax().fit(pixels)
    # band 0: lo 1, span 2; band 1: constant → span 1 (all zeros); band 2: lo 2, span 4.
    np.testing.assert_allclose(norm.lo_, [1, 5, 2])
    np.testing.assert_allclose(norm.span_, [2, 1, 4])
    np.testing.assert_allclose(
        norm.transform(pixels), [[0, 0, 0], [1, 0, 1], [0.5, 0, 0.5]], atol=1e-7
    )


def test_band_minmax_endmembers_map_back_exactly():
    rng = np.random.default_rng(0)
    E = rng.random((20, 3))
    A = rng.dirichlet(np.ones(3), size=50)
    X = A @ E.T
    norm = BandMinMax().fit(X)
    E_model = norm.transform(E.T).T  # endmembers as the model sees them
    # A mixture on the simplex in model space is the normalised mixture in input space …
    np.testing.assert_allclose(A @ E_model.T, norm.transform(X), atol=1e-5)
    # … and the endmembers come back to input units exactly.
    np.testing.assert_allclose(norm.endmembers_to_input(E_model), E, atol=1e-5)


def test_identity_and_unknown():
    x = np.arange(6.0).reshape(2, 3)
    assert isinstance(make_normalizer("none"), Normalizer)
    np.testing.assert_array_equal(make_normalizer("none").fit(x).transform(x), x)
    with pytest.raises(FTIRUnmixerError, match="data.normalization"):
        make_normalizer("zscore")


def test_band_selection_crop_and_drop_both_axis_orders():
    wn = np.arange(1000.0, 1010.0)  # 1000 … 1009
    for axis in (wn, wn[::-1]):
        keep = band_selection(axis, crop=[1008, 1002], drop_windows=[[1004, 1005]])
        assert sorted(axis[keep]) == [1002, 1003, 1006, 1007, 1008]


def test_band_selection_leaving_nothing_is_refused():
    with pytest.raises(FTIRUnmixerError, match=r"data\.crop"):
        band_selection(np.arange(10.0), crop=[20, 30])


def test_select_bands_keeps_cube_axis_and_ground_truth_consistent():
    cube = np.arange(2 * 3 * 5, dtype=np.float32).reshape(2, 3, 5)
    gt = GroundTruth(np.arange(10.0).reshape(5, 2), np.full((2, 3, 2), 0.5), ["a", "b"])
    data = HyperspectralData(cube, np.arange(5.0), np.ones((2, 3), bool), ground_truth=gt)
    out = select_bands(data, np.array([True, False, True, True, False]))
    np.testing.assert_array_equal(out.cube, cube[..., [0, 2, 3]])
    np.testing.assert_array_equal(out.wavenumbers, [0.0, 2.0, 3.0])
    np.testing.assert_array_equal(out.ground_truth.endmembers, gt.endmembers[[0, 2, 3]])


def test_remove_baseline_takes_away_a_linear_ramp():
    # A Gaussian peak on a linear ramp: the rubberband (lower convex hull) is the ramp.
    wn = np.linspace(1000.0, 2000.0, 200)[::-1]
    peak = np.exp(-0.5 * ((wn - 1500.0) / 30.0) ** 2)
    cube = (peak + 0.001 * (wn - 1000.0))[None, None, :].astype(np.float32)
    out = remove_baseline(cube, wn, "rubberband")
    np.testing.assert_allclose(out[0, 0], peak, atol=2e-3)


def test_unknown_baseline_method_is_refused():
    with pytest.raises(FTIRUnmixerError, match=r"data\.baseline\.method"):
        remove_baseline(np.zeros((1, 1, 5), np.float32), np.arange(5.0), "nope")


def test_pixel_l2_gives_unit_norm_and_keeps_zero_pixels():
    cube = np.array([[[3.0, 4.0], [0.0, 0.0]]], dtype=np.float32)
    out = make_normalizer("pixel_l2").fit(cube.reshape(-1, 2)).transform(cube)
    np.testing.assert_allclose(out, [[[0.6, 0.8], [0.0, 0.0]]])


def test_band_noise_recovers_white_noise_level_and_maps_back_exactly():
    rng = np.random.default_rng(0)
    b = 200
    smooth = np.exp(-0.5 * ((np.arange(b) - 100) / 25.0) ** 2)  # broad band, tiny curvature
    sigma = np.linspace(0.01, 0.05, b)
    pixels = rng.uniform(0.5, 1.5, (5000, 1)) * smooth + rng.normal(0, 1, (5000, b)) * sigma
    norm = make_normalizer("band_noise").fit(pixels)
    np.testing.assert_allclose(norm.sigma_[5:-5], sigma[5:-5], rtol=0.1)
    E = rng.random((b, 3))
    np.testing.assert_allclose(norm.endmembers_to_input(norm.transform(E.T).T), E, rtol=1e-5)


def test_band_quantile_ignores_a_spike_that_band_minmax_follows():
    rng = np.random.default_rng(0)
    pixels = rng.uniform(0.0, 1.0, (1000, 3))
    pixels[0, 1] = 100.0  # one spike in band 1
    minmax = make_normalizer("band_minmax").fit(pixels)
    robust = make_normalizer("band_quantile").fit(pixels)
    assert minmax.span_[1] > 99  # the spike sets the authors' range …
    assert robust.span_[1] == pytest.approx(0.98, abs=0.03)  # … not the percentile range
    E = rng.random((3, 2))
    np.testing.assert_allclose(robust.endmembers_to_input(robust.transform(E.T).T), E, rtol=1e-5)
