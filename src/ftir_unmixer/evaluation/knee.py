r"""The knee of a trade-off curve (Kneedle, on axes scaled to [0, 1]).

Used to choose K (reconstruction error against K, :mod:`ftir_unmixer.evaluation.k_selection`)
and a regularisation weight (reconstruction angle against endmember volume,
:mod:`ftir_unmixer.evaluation.weight_choice`): both curves fall steeply, then flatten, and
the knee is where a further step stops paying off.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["knee_index"]


def knee_index(x: ArrayLike, y: ArrayLike, min_depth: float = 0.0) -> int | None:
    r"""The point of a curve farthest below the chord between its end points.

    With the points in increasing :math:`x`, both axes are scaled to [0, 1],

    .. math::
        \tilde x_i = \frac{x_i - x_0}{x_{n-1} - x_0}, \qquad
        \tilde y_i = \frac{y_i - \min_j y_j}{\max_j y_j - \min_j y_j},

    and each point's depth below the chord is
    :math:`d_i = \tilde y_0 + (\tilde y_{n-1} - \tilde y_0)\,\tilde x_i - \tilde y_i`. The
    knee is :math:`\arg\max_i d_i` if :math:`d_i > ` ``min_depth``. The perpendicular
    distance to the chord is :math:`d_i` times a constant, so this is also the point farthest
    from the chord on that side. A straight line has :math:`d = 0` everywhere (no knee); an L
    has its corner at depth close to 1; a curve bulging above the chord (concave where an L
    is convex) has no knee.

    Args:
        x: ``(n,)`` increasing abscissae.
        y: ``(n,)`` values.
        min_depth: the smallest depth that counts as a knee (0: any point below the chord).

    Returns:
        The index of the knee, or None with fewer than three points, a constant ``y``, equal
        end abscissae or no point deeper than ``min_depth``.
    """
    xs = np.asarray(x, dtype=np.float64)
    ys = np.asarray(y, dtype=np.float64)
    if xs.size < 3 or np.ptp(ys) == 0 or xs[-1] == xs[0]:
        return None
    xt = (xs - xs[0]) / (xs[-1] - xs[0])
    yt = (ys - ys.min()) / np.ptp(ys)
    depth = yt[0] + (yt[-1] - yt[0]) * xt - yt
    best = int(np.argmax(depth))
    return best if depth[best] > min_depth else None
