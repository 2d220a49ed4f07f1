r"""Archetypal analysis (AA) with an optional relaxation outside the data hull.

AA (Cutler and Breiman, 1994) writes every pixel as a convex combination of K archetypes and
every archetype as a convex combination of pixels:
:math:`\mathbf X \approx \mathbf A \mathbf Z`, :math:`\mathbf Z = \mathbf C \mathbf X`, with the
rows of :math:`\mathbf A` ``(N, K)`` and :math:`\mathbf C` ``(K, N)`` on the simplex. With no
pure pixel the true endmembers lie outside the data hull, where plain AA cannot reach. The
relaxation (in the spirit of Mørup and Hansen's relaxed AA, 2012) lets archetype k move away
from the mean pixel :math:`\bar{\mathbf x}` by a factor :math:`\alpha_k \in [1, 1 + \delta]`:

.. math:: \mathbf z_k = \bar{\mathbf x} + \alpha_k\,(\mathbf c_k^\top \mathbf X - \bar{\mathbf x}),

``relaxation`` = δ (0: plain AA). In centred coordinates this is :math:`\mathbf z_k =
\mathbf w_k^\top (\mathbf X - \mathbf 1 \bar{\mathbf x}^\top)` with :math:`\mathbf w_k =
\alpha_k \mathbf c_k \ge 0` and :math:`1 \le \sum_n w_{kn} \le 1 + \delta`, a convex set, so
every step below solves a convex problem.

The fit minimises :math:`\tfrac12 \|\mathbf X_r - \mathbf A \mathbf Z\|_F^2` on the data's top
``n_components`` principal components (:class:`~ftir_unmixer.baselines.geometry.PrincipalSubspace`),
alternating

* **A**: ``inner_iter`` accelerated projected-gradient steps, rows projected onto the simplex;
* **Z**: an exact block update of each archetype in turn (as in Chen, Mairal and Harchaoui's
  active-set AA, 2014): with the others fixed, the best unconstrained archetype is
  :math:`\mathbf z^\star = \mathbf R_{-k}^\top \mathbf a_k / \|\mathbf a_k\|^2`, and
  :math:`\mathbf w_k` is the point of the (expanded) hull nearest to it, found by column
  generation: a non-negative least-squares problem on a small working set of pixels (its sum
  pinned to the violated bound if needed), then the pixels that violate the optimality
  conditions over all N pixels join the set, until none does.

It stops when the objective falls by less than ``tol`` (relative) in an iteration or after
``max_iter`` iterations. It starts from the VCA pixels (seed ``seed``); with ``n_init`` > 1
it restarts from the VCA pixels of seeds ``seed + 1, …`` and keeps the lowest objective. The
abundances returned are the FCLS abundances of the archetypes in band space (the same FCLS
as VCA + FCLS).

Why not the ``archetypes`` package (0.12.2): docs/method.md, "Classical baselines".
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import nnls
from tqdm.auto import tqdm

from ftir_unmixer.baselines.base import BaseUnmixer
from ftir_unmixer.baselines.geometry import PrincipalSubspace, fit_rows_on_simplex
from ftir_unmixer.baselines.vca_fcls import fcls, vca
from ftir_unmixer.errors import FTIRUnmixerError

__all__ = ["ArchetypalUnmixer", "nearest_hull_point"]

_PIN_WEIGHT = 1e3
"""Weight of the extra row that pins the sum of the weights (as in FCLS)."""


def _restricted_hull_point(points: np.ndarray, target: np.ndarray, low: float, high: float):
    """``w ≥ 0`` with ``low ≤ Σ w ≤ high`` minimising ``‖pointsᵀ w − target‖`` (few points)."""
    weights, _ = nnls(points.T, target)
    total = weights.sum()
    if low <= total <= high:
        return weights
    pinned = low if total < low else high
    pin = _PIN_WEIGHT * np.sqrt(np.mean(np.sum(points**2, axis=1)) + target @ target)
    system = np.vstack([points.T, np.full((1, len(points)), pin)])
    weights, _ = nnls(system, np.append(target, pin * pinned))
    return weights * (pinned / weights.sum())


def nearest_hull_point(
    points: np.ndarray,
    target: np.ndarray,
    relaxation: float = 0.0,
    working_set: np.ndarray | None = None,
    tol: float = 1e-9,
    max_rounds: int = 100,
) -> tuple[np.ndarray, np.ndarray]:
    r"""The combination of ``points`` nearest to ``target``, by column generation.

    The weights w ≥ 0 satisfy :math:`1 \le \sum w \le 1 + \delta` (module docstring). With
    δ = 0 this is the nearest point of the convex hull of the rows of ``points``; with centred
    points, δ > 0 also allows the hull expanded about their mean by up to 1 + δ.

    Args:
        points: ``(N, r)`` the candidate points (pixels).
        target: ``(r,)`` the point to approach.
        relaxation: δ ≥ 0.
        working_set: row indices to start the working set with (the previous support).
        tol: a pixel joins when its optimality condition is violated by more than ``tol``
            times the largest gradient entry.
        max_rounds: at most so many additions to the working set.

    Returns:
        ``(support, weights)``: the rows with positive weight and their weights.
    """
    support = np.arange(1) if working_set is None else np.asarray(working_set)
    for _ in range(max_rounds):
        weights = _restricted_hull_point(points[support], target, 1.0, 1.0 + relaxation)
        keep = weights > 0
        support, weights = support[keep], weights[keep]
        gradient = points @ (weights @ points[support] - target)
        total = weights.sum()
        free = 1.0 + 1e-12 < total < (1.0 + relaxation) * (1.0 - 1e-12)
        # Optimality: gradient ≥ μ everywhere, = μ on the support (μ = 0 when the sum is free).
        multiplier = 0.0 if free else gradient[support].mean()
        violation = gradient - multiplier
        worst = np.argsort(violation)[: points.shape[1]]
        scale = max(float(np.abs(gradient).max()), np.finfo(float).tiny)
        worst = np.setdiff1d(worst[violation[worst] < -tol * scale], support)
        if not len(worst):
            break
        support = np.concatenate([support, worst])
    else:
        weights = _restricted_hull_point(points[support], target, 1.0, 1.0 + relaxation)
        support, weights = support[weights > 0], weights[weights > 0]
    return support, weights


class ArchetypalUnmixer(BaseUnmixer):
    """Archetypal analysis with archetypes relaxed up to ``1 + relaxation`` from the mean.

    Args:
        num_endmembers: K, the number of archetypes.
        seed: seed of the VCA start (restart i uses ``seed + i``).
        relaxation: δ ≥ 0; archetype k lies at ``x̄ + α_k (C_k X − x̄)``, α_k ∈ [1, 1 + δ].
        n_components: principal components the fit works on; None: 3K.
        max_iter: maximum number of alternations.
        tol: relative decrease of the objective below which the alternations stop.
        inner_iter: accelerated projected-gradient steps on the abundances per alternation.
        n_init: starts (VCA with seeds ``seed``, ``seed + 1``, …); the best fit is kept.

    Attributes:
        endmembers_: ``(B, K)`` the archetypes Z (transposed).
        abundances_: ``(N, K)`` FCLS abundances of the archetypes.
        reconstruction_: ``(N, B)``.
        reconstruction_error_: ``(N,)`` per-pixel SAD in radians.
        archetype_weights_: ``(K, N)`` C, rows on the simplex.
        expansion_: ``(K,)`` α, in ``[1, 1 + relaxation]``.
        objective_: the final ½‖X_r − A Z‖² on the principal subspace.
        n_iter_: alternations run (of the kept start).
    """

    method = "archetypal"

    def __init__(
        self,
        num_endmembers: int = 10,
        seed: int | None = 0,
        relaxation: float = 0.0,
        n_components: int | None = None,
        max_iter: int = 300,
        tol: float = 1e-6,
        inner_iter: int = 10,
        n_init: int = 1,
    ):
        self.num_endmembers = num_endmembers
        self.seed = seed
        self.relaxation = relaxation
        self.n_components = n_components
        self.max_iter = max_iter
        self.tol = tol
        self.inner_iter = inner_iter
        self.n_init = n_init

    def _check_params(self) -> None:
        if not self.relaxation >= 0:
            raise FTIRUnmixerError(
                f"model.relaxation must be ≥ 0 (0: plain archetypal analysis), got "
                f"{self.relaxation}."
            )
        if self.n_init < 1:
            raise FTIRUnmixerError(f"model.n_init must be at least 1, got {self.n_init}.")

    def _unmix(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        self._check_params()
        k = self.num_endmembers
        subspace = PrincipalSubspace.of(X, self.n_components or 3 * k)
        best = None
        for start in range(self.n_init):
            seed = None if self.seed is None else self.seed + start
            _, pixels = vca(X, k, seed)
            fit = self._fit(subspace.scores, pixels)
            if best is None or fit[-1] < best[-1]:
                best = fit
        supports, weights, self.n_iter_, self.objective_ = best
        expanded = np.zeros((k, len(X)))
        for row, (support, w) in enumerate(zip(supports, weights, strict=True)):
            expanded[row, support] = w
        # The solver keeps α in [1, 1 + δ]; clipping only removes the rounding of the sum.
        self.expansion_ = np.clip(expanded.sum(axis=1), 1.0, 1.0 + self.relaxation)
        self.archetype_weights_ = expanded / self.expansion_[:, None]
        mean = subspace.mean
        archetypes = mean + self.expansion_[:, None] * (self.archetype_weights_ @ X - mean)
        return archetypes.T, fcls(X, archetypes.T)

    def _fit(
        self, scores: np.ndarray, pixels: np.ndarray
    ) -> tuple[list[np.ndarray], list[np.ndarray], int, float]:
        """Alternate the A and Z updates on the centred scores from the given start pixels."""
        k = self.num_endmembers
        supports = [np.array([p]) for p in pixels]
        weights = [np.ones(1) for _ in pixels]
        archetypes = scores[pixels].copy()
        abundances = np.full((len(scores), k), 1.0 / k)
        previous = np.inf
        with tqdm(total=self.max_iter, desc="archetypal analysis", delay=5.0) as progress:
            for iteration in range(1, self.max_iter + 1):
                abundances, _ = fit_rows_on_simplex(
                    archetypes @ archetypes.T,
                    scores @ archetypes.T,
                    abundances,
                    self.inner_iter if iteration > 1 else 10 * self.inner_iter,
                )
                residual = scores - abundances @ archetypes
                for row in range(k):
                    a = abundances[:, row]
                    norm = a @ a
                    if norm == 0:
                        continue
                    residual += np.outer(a, archetypes[row])
                    supports[row], weights[row] = nearest_hull_point(
                        scores, residual.T @ a / norm, self.relaxation, supports[row]
                    )
                    archetypes[row] = weights[row] @ scores[supports[row]]
                    residual -= np.outer(a, archetypes[row])
                objective = 0.5 * float(np.sum(residual**2))
                progress.update()
                if previous - objective <= self.tol * objective:
                    break
                previous = objective
        return supports, weights, iteration, objective
