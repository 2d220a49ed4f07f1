import numpy as np
import pytest

from fake_results import WAVENUMBERS, fake_result, layers, peak
from ftir_unmixer.errors import FTIRUnmixerError
from ftir_unmixer.evaluation.k_selection import (
    MapSplit,
    RunEvidence,
    map_splits,
    recommend_k,
    reconstruction_knee,
    run_evidence,
)
from ftir_unmixer.evaluation.spectral_angles import spectral_angle_deg


def test_duplicated_endmember_with_correlated_map_is_over_modelling():
    e = np.stack([peak(3000), peak(1700), peak(1100)], axis=1)
    a = layers(3)
    # A fourth component: a copy of endmember 2 whose map is a faint replica of map 2.
    dup = e[:, 1] * 1.02 + 0.001 * peak(2000)
    e4 = np.column_stack([e, dup])
    a4 = np.concatenate([a, 0.2 * a[:, :, 1:2]], axis=2)
    a4[:, :, 1] *= 0.8
    evidence = run_evidence(fake_result(e4, a4), label="dup")
    assert evidence.over_modelled
    assert [(p.first, p.second) for p in evidence.duplicates] == [(1, 3)]
    assert evidence.duplicates[0].map_correlation > 0.9
    assert "maps 2 and 4 duplicate each other" in evidence.describe()[0]


def test_similar_spectra_in_different_places_are_not_duplicates():
    # Two carbonates a few degrees apart (lead white and chalk in the bundled scene) that
    # occupy different layers: anti-correlated maps, so not over-modelling.
    e = np.stack([peak(1400), peak(1410), peak(3000)], axis=1)
    assert spectral_angle_deg(e[:, 0], e[:, 1]) < 10.0
    evidence = run_evidence(fake_result(e, layers(3)))
    assert not evidence.duplicates
    assert not evidence.over_modelled


def test_near_empty_map_is_over_modelling():
    e = np.stack([peak(3000), peak(1700), peak(1100)], axis=1)
    a = layers(3)
    a = np.concatenate([a * 0.95, np.full((*a.shape[:2], 1), 0.05)], axis=2)
    e4 = np.column_stack([e, peak(2200)])
    evidence = run_evidence(fake_result(e4, a))
    assert evidence.empty == [3]
    assert evidence.over_modelled


def test_map_holding_two_materials_splits_and_a_pure_map_does_not():
    rng = np.random.default_rng(0)
    h, w = 30, 8
    materials = np.stack([peak(3000), peak(1700), peak(1100)], axis=1)
    cube = np.empty((h, w, WAVENUMBERS.size))
    cube[:10] = materials[:, 0]
    cube[10:20] = materials[:, 1]
    cube[20:] = materials[:, 2]
    cube += rng.normal(0, 0.002, cube.shape)
    # A K = 2 model: map 1 covers material 1 alone, map 2 merges materials 2 and 3.
    a = np.zeros((h, w, 2))
    a[:10, :, 0] = 1.0
    a[10:, :, 1] = 1.0
    splits = map_splits(a, cube)
    assert [s.index for s in splits] == [1]
    true_angle = spectral_angle_deg(materials[:, 1], materials[:, 2])
    assert splits[0].angle_deg == pytest.approx(true_angle, abs=1.0)
    assert splits[0].fractions == pytest.approx((0.5, 0.5), abs=0.01)
    assert splits[0].num_pixels == 160
    evidence = run_evidence(fake_result(materials[:, :2], a), cube)
    assert evidence.under_modelled and not evidence.over_modelled


def test_a_few_outlier_pixels_do_not_make_a_split():
    cube = np.tile(peak(1700), (20, 5, 1))
    cube[0, 0] = peak(3000)  # one spike pixel: 1 % of the map
    a = np.ones((20, 5, 1))
    assert map_splits(a, cube) == []


def test_knee_of_reconstruction_error():
    assert reconstruction_knee([2, 3, 4, 5, 6], [10.0, 5.0, 3.0, 2.8, 2.7]) == 4
    assert reconstruction_knee([2, 3], [10.0, 5.0]) is None
    assert reconstruction_knee([2, 3, 4], [1.0, 1.0, 1.0]) is None


def _evidence(k, *, over=False, split=False, error=10.0, seed=0):
    return RunEvidence(
        label=f"K{k}",
        num_endmembers=k,
        seed=seed,
        reconstruction_angle_deg=error,
        empty=[k - 1] if over else [],
        splits=[MapSplit(0, 30.0, (0.5, 0.5), 100)] if split else [],
    )


def test_recommend_largest_k_before_over_modelling():
    runs = [
        _evidence(6, split=True, error=12.0),
        _evidence(8, error=8.0),
        _evidence(10, error=7.0),
        _evidence(12, over=True, error=6.9),
        _evidence(14, over=True, error=6.8),
    ]
    rec = recommend_k(runs)
    assert rec.k == 10
    assert "from K = 12 on" in rec.reason
    assert [s.over_modelled for s in rec.per_k] == [False, False, False, True, True]
    assert rec.per_k[0].under_modelled
    assert rec.per_k[0].error_drop == pytest.approx(4.0 / 12.0)


def test_replicates_vote_and_no_over_modelling_falls_back_to_the_knee():
    runs = [
        _evidence(4, error=20.0),
        _evidence(6, error=8.0),
        _evidence(8, error=7.0),
        _evidence(8, over=True, error=7.2, seed=1),  # one of three replicates: outvoted
        _evidence(8, error=7.1, seed=2),
        _evidence(10, error=6.8),
    ]
    rec = recommend_k(runs)
    assert not any(s.over_modelled for s in rec.per_k)
    assert rec.knee == 6 and rec.k == 6
    assert "knee" in rec.reason
    assert rec.per_k[2].reconstruction_angle_deg == pytest.approx(7.1)


def test_over_modelling_at_the_smallest_k_says_sweep_lower():
    rec = recommend_k([_evidence(6, over=True), _evidence(8, over=True)])
    assert rec.k == 6
    assert "sweep smaller K" in rec.reason


def test_one_k_is_not_a_sweep():
    with pytest.raises(FTIRUnmixerError, match="model.num_endmembers"):
        recommend_k([_evidence(6), _evidence(6, seed=1)])
