"""The knee of a trade-off curve and the ground-truth-free choice of a regularisation weight."""

from __future__ import annotations

import numpy as np
import pytest

from ftir_unmixer.evaluation.k_selection import reconstruction_knee
from ftir_unmixer.evaluation.knee import knee_index
from ftir_unmixer.evaluation.weight_choice import choose_weight


def test_knee_of_a_clear_l_by_hand():
    x = [0.0, 0.1, 0.2, 1.0, 2.0, 3.0]
    y = [10.0, 3.0, 1.0, 0.8, 0.6, 0.5]
    # Scaled: x̃ = x/3, ỹ = (y − 0.5)/9.5, chord 1 − x̃; depth 1 − x̃ − ỹ is 0.703, 0.881,
    # 0.635, … at indices 1, 2, 3: the corner (0.2, 1.0) is the deepest.
    assert knee_index(x, y) == 2
    assert knee_index(x, y, min_depth=0.88) == 2
    assert knee_index(x, y, min_depth=0.89) is None
    # Units do not matter: the axes are scaled to [0, 1].
    assert knee_index(np.multiply(x, 1e3) - 7.0, np.multiply(y, 1e-3)) == 2


def test_no_knee_on_a_straight_line_a_bulge_or_too_few_points():
    assert knee_index([0, 1, 2, 3, 4], [8, 6, 4, 2, 0]) is None
    assert knee_index(np.linspace(-3.1, 0.7, 9), 0.3 - 1.7 * np.linspace(-3.1, 0.7, 9), 0.1) is None
    assert knee_index([0, 1, 2], [0.0, 0.9, 1.0]) is None  # concave: above the chord
    assert knee_index([0, 1], [1.0, 0.0]) is None
    assert knee_index([0, 1, 2], [1.0, 1.0, 1.0]) is None


def test_reconstruction_knee_uses_the_same_rule():
    assert reconstruction_knee([4, 6, 8, 10, 12], [10.0, 3.0, 2.5, 2.2, 2.0]) == 6
    assert reconstruction_knee([4, 6, 8], [3.0, 2.0, 1.0]) is None


def test_choose_weight_averages_replicates_and_picks_the_corner():
    # λ = 0 … 10, two seeds each. The volume falls with λ; the angle stays near 2° until
    # λ = 1 and jumps at λ = 10. Means, in increasing volume (decreasing λ):
    # (−8, 9.0), (−4, 2.5), (−2, 2.1), (−1.5, 2.05), (−1, 2.0); scaled x̃ = (v + 8)/7,
    # ỹ = (a − 2)/7, depth 1 − x̃ − ỹ: 0.357 at λ = 1, 0.129 at λ = 0.1: the knee is λ = 1.
    weights = [0, 0.01, 0.1, 1, 10] * 2
    volumes = [-1.0, -1.5, -2.0, -4.0, -8.0]
    angles = [2.0, 2.05, 2.1, 2.5, 9.0]
    shifts = [0.1] * 5 + [-0.1] * 5
    choice = choose_weight(
        [*weights, 5.0],
        [*(a + s for a, s in zip(angles * 2, shifts, strict=True)), np.nan],
        [*(v - s for v, s in zip(volumes * 2, shifts, strict=True)), -5.0],
    )
    assert [p.weight for p in choice.points] == [10, 1, 0.1, 0.01, 0]  # the NaN run is left out
    assert [len(p.log_volumes) for p in choice.points] == [2] * 5
    assert [p.log_volume for p in choice.points] == pytest.approx(volumes[::-1])
    assert [p.reconstruction_angle_deg for p in choice.points] == pytest.approx(angles[::-1])
    assert choice.knee == 1 and choice.weight == 1


def test_choose_weight_without_a_corner_chooses_nothing():
    weights = [0.0, 0.1, 1.0, 10.0]
    volumes = [-1.0, -2.0, -3.0, -4.0]
    assert choose_weight(weights, [1.0, 2.0, 3.0, 4.0], volumes).weight is None  # a line
    assert choose_weight(weights[:2], [1.0, 5.0], volumes[:2]).weight is None  # two weights
