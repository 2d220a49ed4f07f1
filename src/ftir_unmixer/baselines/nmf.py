r"""Non-negative matrix factorisation baseline (:class:`sklearn.decomposition.NMF`).

NMF fits :math:`\mathbf X_+ \approx \mathbf W \mathbf H` with :math:`\mathbf W \in
\mathbb R_+^{N \times K}`, :math:`\mathbf H \in \mathbb R_+^{K \times B}` (Frobenius loss),
where :math:`\mathbf X_+ = \max(\mathbf X, 0)`: NMF needs non-negative data, and the slightly
negative absorbances left by baseline correction are clipped to zero (the reconstruction
error is still measured against the unclipped data).

NMF has no sum-to-one constraint, so its coefficients are turned into abundances by moving a
per-component scale into the endmembers, which leaves the product unchanged:
:math:`\mathbf W \mathbf H = (\mathbf W \mathbf D)(\mathbf D^{-1} \mathbf H)` for any positive
diagonal :math:`\mathbf D = \operatorname{diag}(\mathbf d)`. The scales are chosen so that the
rows of :math:`\mathbf W \mathbf D` sum to one as nearly as possible,
:math:`\mathbf d = \arg\min_{\mathbf d \ge 0} \|\mathbf W \mathbf d - \mathbf 1\|^2` (NNLS).
When the data obey the linear mixing model with sum-to-one abundances this is exact; the
remaining per-pixel deviation is removed by dividing each row by its sum, which is the only
step that changes the reconstruction. A component whose NNLS scale is 0 gets
:math:`d_k = 1 / \max_n W_{nk}` (its largest abundance becomes one before the row
normalisation), and a pixel with all-zero coefficients gets uniform abundances.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import nnls
from sklearn.decomposition import NMF

from ftir_unmixer.baselines.base import BaseUnmixer, sum_to_one

__all__ = ["NMFUnmixer", "to_abundances"]


def to_abundances(W: np.ndarray, H: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rescale an NMF ``W H`` into sum-to-one abundances and endmembers (module docstring).

    Args:
        W: ``(N, K)`` non-negative coefficients.
        H: ``(K, B)`` non-negative components.

    Returns:
        ``(E, A)``: ``(B, K)`` endmembers and ``(N, K)`` abundances on the simplex.

    """
    scales, _ = nnls(W, np.ones(W.shape[0]))
    peaks = W.max(axis=0)
    fallback = np.divide(1.0, peaks, out=np.ones_like(peaks), where=peaks > 0)
    scales = np.where(scales > 0, scales, fallback)
    return H.T / scales, sum_to_one(W * scales)


class NMFUnmixer(BaseUnmixer):
    """NMF with abundances renormalised to sum to one.

    Args:
        num_endmembers: K.
        seed: ``random_state`` of the NMF initialisation.
        max_iter: maximum number of NMF iterations.
        tol: NMF stopping tolerance.
        init: NMF initialisation (``"nndsvda"``, ``"nndsvdar"``, ``"random"`` …).

    Attributes:
        endmembers_: ``(B, K)`` rescaled NMF components.
        abundances_: ``(N, K)``.
        reconstruction_: ``(N, B)``.
        reconstruction_error_: ``(N,)`` per-pixel SAD in radians.
        n_iter_: iterations NMF ran.

    """

    method = "nmf"

    def __init__(
        self,
        num_endmembers: int = 10,
        seed: int | None = 0,
        max_iter: int = 500,
        tol: float = 1e-4,
        init: str = "nndsvda",
    ):
        self.num_endmembers = num_endmembers
        self.seed = seed
        self.max_iter = max_iter
        self.tol = tol
        self.init = init

    def _unmix(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        model = NMF(
            n_components=self.num_endmembers,
            init=self.init,
            max_iter=self.max_iter,
            tol=self.tol,
            random_state=self.seed,
        )
        W = model.fit_transform(np.clip(X, 0.0, None))
        self.n_iter_ = model.n_iter_
        return to_abundances(W, model.components_)
