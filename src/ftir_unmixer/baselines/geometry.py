r"""Numerical pieces shared by the geometric baselines (archetypal analysis, min-vol NMF).

* :func:`project_rows_to_simplex`: the Euclidean projection of every row onto the probability
  simplex :math:`\{\mathbf a \ge 0, \sum_k a_k = 1\}` (sort-based, Held, Wolfe and Crowder
  1974) or onto :math:`\{\mathbf a \ge 0, \sum_k a_k \le 1\}`;
* :func:`fast_projected_gradient`: Nesterov's accelerated projected gradient (FISTA) with a
  fixed step :math:`1/L`, which keeps the start when the steps did not lower the objective
  (FISTA is not monotone), so that the alternations that use it never go uphill, and
  :func:`fit_rows_on_simplex`, the abundance step of both baselines;
* :class:`PrincipalSubspace`: the data as their mean plus their coordinates on the top ``r``
  principal directions. Both baselines fit this denoised copy of the data, so that an iteration
  costs :math:`O(N r K)` instead of :math:`O(N B K)` (the bands beyond the first few tens of
  principal components of an FTIR image hold noise: on the bundled scene the eigenvalues are
  flat from the 12th component on).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.linalg

__all__ = [
    "PrincipalSubspace",
    "fast_projected_gradient",
    "fit_rows_on_simplex",
    "project_rows_to_simplex",
]


def project_rows_to_simplex(V: np.ndarray, equal: bool = True) -> np.ndarray:
    """Project every row of ``V`` onto the simplex.

    Args:
        V: ``(N, K)`` rows to project.
        equal: project onto ``{a ≥ 0, Σ a = 1}``; False: onto ``{a ≥ 0, Σ a ≤ 1}`` (a row
            whose positive part sums to at most one is only clipped at zero).

    Returns:
        ``(N, K)`` the nearest points of the set, row by row.

    """
    if not equal:
        clipped = np.maximum(V, 0.0)
        over = clipped.sum(axis=1) > 1.0
        if over.any():
            clipped[over] = project_rows_to_simplex(V[over])
        return clipped
    num_rows, k = V.shape
    descending = -np.sort(-V, axis=1)
    cumulative = np.cumsum(descending, axis=1) - 1.0
    positive = descending * np.arange(1, k + 1) > cumulative
    last = k - 1 - np.argmax(positive[:, ::-1], axis=1)
    threshold = cumulative[np.arange(num_rows), last] / (last + 1)
    return np.maximum(V - threshold[:, None], 0.0)


def fast_projected_gradient(
    gradient: Callable[[np.ndarray], np.ndarray],
    project: Callable[[np.ndarray], np.ndarray],
    start: np.ndarray,
    lipschitz: float,
    iterations: int,
    objective: Callable[[np.ndarray], float],
) -> tuple[np.ndarray, float]:
    """Run FISTA steps ``x ← P(y − ∇f(y)/L)`` with Nesterov's extrapolation of ``y``.

    Args:
        gradient: ∇f.
        project: P, the projection onto the feasible set.
        start: a feasible starting point.
        lipschitz: L, a Lipschitz constant of ∇f (the step is 1/L).
        iterations: number of steps.
        objective: f.

    Returns:
        ``(x, f(x))``: the last iterate, or ``start`` if f is not lower there.

    """
    x = start
    y = start
    t = 1.0
    step = 1.0 / max(lipschitz, np.finfo(float).tiny)
    for _ in range(iterations):
        x_new = project(y - step * gradient(y))
        t_new = 0.5 * (1.0 + np.sqrt(1.0 + 4.0 * t * t))
        y = x_new + ((t - 1.0) / t_new) * (x_new - x)
        x, t = x_new, t_new
    start_value, value = objective(start), objective(x)
    return (x, value) if value <= start_value else (start, start_value)


def fit_rows_on_simplex(
    gram: np.ndarray,
    projections: np.ndarray,
    start: np.ndarray,
    iterations: int,
    equal: bool = True,
) -> tuple[np.ndarray, float]:
    r"""Abundances for fixed endmembers, every row on the simplex.

    FISTA on :math:`\tfrac12 \|\mathbf X - \mathbf A \mathbf E^\top\|^2`.

    Args:
        gram: ``(K, K)`` :math:`\mathbf E^\top \mathbf E`.
        projections: ``(N, K)`` :math:`\mathbf X \mathbf E`.
        start: ``(N, K)`` feasible abundances to start from.
        iterations: number of steps.
        equal: rows sum to one (else at most one, see :func:`project_rows_to_simplex`).

    Returns:
        ``(A, f)``: the abundances and :math:`\tfrac12 \operatorname{tr}(\mathbf A \mathbf G
        \mathbf A^\top) - \langle \mathbf A, \mathbf X \mathbf E \rangle`, the objective
        less the constant :math:`\tfrac12\|\mathbf X\|^2`.
    """
    return fast_projected_gradient(
        lambda a: a @ gram - projections,
        lambda a: project_rows_to_simplex(a, equal),
        start,
        np.linalg.norm(gram, 2),
        iterations,
        lambda a: float(np.sum(a * (0.5 * (a @ gram) - projections))),
    )


@dataclass(frozen=True)
class PrincipalSubspace:
    r"""``X ≈ 1 mᵀ + S Vᵀ``: the mean, the top principal directions and the pixels' scores.

    Attributes:
        mean: ``(B,)`` the mean pixel m.
        basis: ``(B, r)`` orthonormal principal directions V (largest variance first).
        scores: ``(N, r)`` coordinates S = (X − 1 mᵀ) V of the centred pixels.
    """

    mean: np.ndarray
    basis: np.ndarray
    scores: np.ndarray

    @classmethod
    def of(cls, X: np.ndarray, num_components: int) -> PrincipalSubspace:
        """Fit the subspace of ``num_components`` directions (at most ``min(N − 1, B)``)."""
        num_pixels, num_bands = X.shape
        r = max(1, min(num_components, num_pixels - 1, num_bands))
        mean = X.mean(axis=0)
        centred = X - mean
        _, vectors = scipy.linalg.eigh(
            centred.T @ centred, subset_by_index=[num_bands - r, num_bands - 1]
        )
        basis = np.ascontiguousarray(vectors[:, ::-1])
        return cls(mean=mean, basis=basis, scores=centred @ basis)

    @property
    def energy(self) -> float:
        r"""The energy :math:`\|1 m^\top + S V^\top\|_F^2 = N \|m\|^2 + \|S\|_F^2`.

        The centred scores are orthogonal to the constant.
        """
        return float(len(self.scores) * self.mean @ self.mean + np.sum(self.scores**2))

    def times(self, E: np.ndarray) -> np.ndarray:
        """``X_r E`` ``(N, K)`` for ``E`` ``(B, K)``, in O(N r K)."""
        return (self.mean @ E)[None, :] + self.scores @ (self.basis.T @ E)

    def transpose_times(self, A: np.ndarray) -> np.ndarray:
        """``X_rᵀ A`` ``(B, K)`` for ``A`` ``(N, K)``, in O(N r K)."""
        return np.outer(self.mean, A.sum(axis=0)) + self.basis @ (self.scores.T @ A)
