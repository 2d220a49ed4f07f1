r"""Choosing a regularisation weight without ground truth: the knee of the L-curve.

A minimum-volume or sparsity prior with weight :math:`\lambda` trades data fit for
geometry: as :math:`\lambda` grows the endmembers' volume (``diag/endmember_log_volume``,
:func:`~ftir_unmixer.evaluation.diagnostics.endmember_log_volume`) shrinks and the mean
reconstruction angle (``diag/mean_reconstruction_angle_deg``) grows. Plotted against each
other over a sweep of :math:`\lambda`, the runs trace an L: at first the volume falls at
little cost in fit (the prior removes the freedom the data leave, e.g. endmembers placed
outside the data cloud when no pixel is pure), then the fit breaks down (the prior pulls
the endmembers into the data). The chosen :math:`\lambda` is the corner of that L, found by
:func:`~ftir_unmixer.evaluation.knee.knee_index` with the volume on the abscissa. Both metrics
are computed without ground truth, so the choice works on real data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ftir_unmixer.evaluation.knee import knee_index

__all__ = ["DEFAULT_KNEE_DEPTH", "WeightChoice", "WeightPoint", "choose_weight"]

DEFAULT_KNEE_DEPTH = 0.1
"""The corner must lie at least this far below the chord between the end points, on axes
scaled to [0, 1] (:func:`~ftir_unmixer.evaluation.knee.knee_index`); a shallower bend is no
clear trade-off and no weight is chosen."""


@dataclass(frozen=True)
class WeightPoint:
    """One weight of the sweep, over its replicate runs.

    Attributes:
        weight: the value of the swept weight.
        reconstruction_angles_deg: each run's mean reconstruction angle.
        log_volumes: each run's endmember log volume.
    """

    weight: float
    reconstruction_angles_deg: tuple[float, ...]
    log_volumes: tuple[float, ...]

    @property
    def reconstruction_angle_deg(self) -> float:
        """The mean over the runs."""
        return float(np.mean(self.reconstruction_angles_deg))

    @property
    def log_volume(self) -> float:
        """The mean over the runs."""
        return float(np.mean(self.log_volumes))


@dataclass(frozen=True)
class WeightChoice:
    """The L-curve of a weight sweep and its knee.

    Attributes:
        points: one per weight, in increasing log volume (the abscissa of the curve).
        knee: index of the knee in ``points``, None if the curve has none.
    """

    points: tuple[WeightPoint, ...]
    knee: int | None

    @property
    def weight(self) -> float | None:
        """The chosen weight (the knee's), None without a knee."""
        return None if self.knee is None else self.points[self.knee].weight


def choose_weight(
    weights: Sequence[float],
    reconstruction_angles_deg: Sequence[float],
    log_volumes: Sequence[float],
    min_depth: float = DEFAULT_KNEE_DEPTH,
) -> WeightChoice:
    """The knee of the reconstruction angle against the endmember log volume.

    Runs with the same weight (replicate seeds) are averaged into one point; runs with a
    non-finite value are left out. The points are ordered by their mean log volume and
    :func:`~ftir_unmixer.evaluation.knee.knee_index` finds the corner of the L.

    Args:
        weights: each run's weight.
        reconstruction_angles_deg: each run's ``diag/mean_reconstruction_angle_deg``.
        log_volumes: each run's ``diag/endmember_log_volume``.
        min_depth: see :data:`DEFAULT_KNEE_DEPTH`.

    Returns:
        The points and the knee (None with fewer than three weights or no clear corner).
    """
    runs: dict[float, list[tuple[float, float]]] = {}
    for weight, angle, volume in zip(weights, reconstruction_angles_deg, log_volumes, strict=True):
        if np.isfinite([weight, angle, volume]).all():
            runs.setdefault(float(weight), []).append((float(angle), float(volume)))
    points = sorted(
        (
            WeightPoint(
                weight,
                tuple(angle for angle, _ in pairs),
                tuple(volume for _, volume in pairs),
            )
            for weight, pairs in runs.items()
        ),
        key=lambda p: (p.log_volume, -p.weight),
    )
    knee = knee_index(
        [p.log_volume for p in points], [p.reconstruction_angle_deg for p in points], min_depth
    )
    return WeightChoice(points=tuple(points), knee=knee)
