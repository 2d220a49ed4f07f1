r"""MCR-ALS baseline (multivariate curve resolution – alternating least squares, pyMCR).

MCR-ALS alternates two least-squares fits of :math:`\mathbf X \approx \mathbf C \mathbf S^\top`
(:math:`\mathbf C`: ``(N, K)`` concentrations = abundances, :math:`\mathbf S^\top`: ``(K, B)``
spectra = endmembers), each followed by its constraints:

* :math:`\mathbf C \leftarrow \mathbf X \mathbf S (\mathbf S^\top \mathbf S)^{-1}`, negatives set
  to 0, a row that became all zero replaced by the uniform row, then every row divided by its
  sum (closure, i.e. sum-to-one);
* :math:`\mathbf S^\top \leftarrow (\mathbf C^\top \mathbf C)^{-1} \mathbf C^\top \mathbf X`,
  negatives set to 0.

This is pyMCR's ``McrAR`` with OLS regressors and ``ConstraintNonneg``,
``ConstraintReplaceZeros`` and ``ConstraintNorm``: the classic clipping form of MCR-ALS, much
faster than per-pixel NNLS on ~20k pixels. The iterations start from the VCA endmembers
(default) or the NMF endmembers, negatives clipped; they stop after ``max_iter`` iterations,
when the mean squared error changes by less than ``tol`` times the mean squared data value per
iteration, or after 10 half-iterations without a new minimum. The matrices with the lowest
error are kept (pyMCR's ``C_opt_``/``ST_opt_``), and both satisfy their constraints.

Negative absorbances in the data are used as they are: the regressions are unconstrained,
and only the estimates are clipped.

pyMCR is an optional dependency (``pip install -e ".[baselines]"``); it is imported when
:meth:`MCRALSUnmixer.fit` runs.
"""

from __future__ import annotations

import numpy as np

from ftir_unmixer.baselines.base import BaseUnmixer
from ftir_unmixer.baselines.starts import check_start, start_endmembers
from ftir_unmixer.errors import FTIRUnmixerError

__all__ = ["MCRALSUnmixer"]


class MCRALSUnmixer(BaseUnmixer):
    """MCR-ALS with non-negative spectra and non-negative, closed concentrations.

    Args:
        num_endmembers: K.
        seed: seed of the initialisation (VCA directions or NMF ``random_state``).
        max_iter: maximum number of ALS iterations.
        tol: relative change of the MSE per iteration below which the iterations stop.
        init: ``"vca"`` or ``"nmf"``, the method giving the initial endmembers.

    Attributes:
        endmembers_: ``(B, K)`` resolved spectra.
        abundances_: ``(N, K)`` resolved concentrations (closure: rows sum to one).
        reconstruction_: ``(N, B)``.
        reconstruction_error_: ``(N,)`` per-pixel SAD in radians.
        initial_endmembers_: ``(B, K)`` the starting spectra (after clipping).
        n_iter_: iterations run.

    """

    method = "mcr_als"

    def __init__(
        self,
        num_endmembers: int = 10,
        seed: int | None = 0,
        max_iter: int = 100,
        tol: float = 1e-7,
        init: str = "vca",
    ):
        self.num_endmembers = num_endmembers
        self.seed = seed
        self.max_iter = max_iter
        self.tol = tol
        self.init = init

    def _unmix(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        check_start(self.init, "MCR-ALS")
        try:
            from pymcr.constraints import ConstraintNonneg, ConstraintNorm, ConstraintReplaceZeros
            from pymcr.mcr import McrAR
            from pymcr.regressors import OLS
        except ImportError:
            raise FTIRUnmixerError(
                "the MCR-ALS baseline needs pyMCR; install it with "
                '`pip install -e ".[baselines]"` (or `pip install pymcr`).'
            ) from None
        self.initial_endmembers_ = start_endmembers(X, self.num_endmembers, self.seed, self.init)
        mcr = McrAR(
            c_regr=OLS(),
            st_regr=OLS(),
            c_constraints=[
                ConstraintNonneg(),
                ConstraintReplaceZeros(axis=-1, feature=list(range(self.num_endmembers))),
                ConstraintNorm(axis=-1),
            ],
            st_constraints=[ConstraintNonneg()],
            max_iter=self.max_iter,
            tol_increase=None,
            tol_n_increase=None,
            tol_err_change=self.tol * float(np.mean(X**2)),
            tol_n_above_min=10,
        )
        mcr.fit(X, ST=self.initial_endmembers_.T)
        self.n_iter_ = mcr.n_iter
        return mcr.ST_opt_.T, mcr.C_opt_
