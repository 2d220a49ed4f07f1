import numpy as np
import pytest

from ftir_unmixer.data.preprocessing import BandMinMax, Normalizer, make_normalizer
from ftir_unmixer.errors import FTIRUnmixerError


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
