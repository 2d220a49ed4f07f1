r"""Priors on the endmembers and abundances, added to the loss (beyond the paper).

* **Minimum volume** (``model.volume_weight``): the reconstruction angle does not identify
  the endmembers when no pixel is pure, since any simplex that contains the data fits it
  (docs/quality.md). The smallest one is the usual answer (MVC-NMF, min-vol NMF):

  .. math::

      V(\mathbf E) = \tfrac12 \log\det\left(\tilde{\mathbf E}^\top \tilde{\mathbf E}
          + \delta \mathbf I\right), \qquad
      \tilde{\mathbf e}_k = \mathbf e_k / \|\mathbf e_k\|

  Each endmember is normalised to unit length, so V depends only on the angles between
  them: the angle loss leaves every endmember's length free (a longer endmember with a
  smaller abundance gives the same direction once the pixel's scale is free), and the volume
  must not shrink by rescaling one of them (as ``model=minvol_nmf`` does, for the same
  reason).
  :func:`ftir_unmixer.evaluation.diagnostics.endmember_log_volume` is the same quantity in
  NumPy, reported for every run. It is computed in the space the loss sees: the band weights
  applied and the nuisance subspace projected out (:func:`loss_space`).
* **Sparsity** (``model.sparsity_weight``): the mean entropy of the abundance vectors,
  normalised by its largest value :math:`\log K`,

  .. math:: S(\mathbf A) = \frac{1}{N \log K} \sum_n \sum_k -a_{nk} \log a_{nk} \in [0, 1],

  0 for one-hot abundances and 1 for uniform ones; lowering it favours pixels made of few
  materials.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = ["abundance_entropy", "log_volume", "loss_space"]


def loss_space(
    endmembers: Tensor, weights: Tensor | None = None, nuisance: Tensor | None = None
) -> Tensor:
    """Endmembers as the loss sees them: band-weighted, the nuisance subspace projected out.

    Args:
        endmembers: ``(B, K)``.
        weights: ``(B,)`` band weights (WSAD) or None.
        nuisance: ``(B, q)`` orthonormal basis of the weighted nuisance subspace, or None.
    """
    if weights is not None:
        endmembers = weights[:, None] * endmembers
    if nuisance is not None:
        endmembers = endmembers - nuisance @ (nuisance.T @ endmembers)
    return endmembers


def log_volume(endmembers: Tensor, delta: float = 0.01) -> Tensor:
    r"""The scale-free log-volume :math:`V(\mathbf E)` of the module docstring.

    Args:
        endmembers: ``(B, K)``.
        delta: δ > 0, keeps the log-determinant finite for rank-deficient endmembers.

    Returns:
        A float64 scalar (float32 endmembers are promoted: the log-determinant of a nearly
        singular Gram matrix needs the precision).
    """
    e = endmembers.to(torch.float64)
    num = e.shape[1]
    normalised = e / torch.linalg.vector_norm(e, dim=0).clamp_min(1e-12)
    gram = normalised.T @ normalised + delta * torch.eye(num, dtype=e.dtype, device=e.device)
    return 0.5 * torch.logdet(gram)


def abundance_entropy(abundances: Tensor, dim: int = 1) -> Tensor:
    r""":math:`S(\mathbf A)`: the mean normalised entropy of the abundance vectors.

    Args:
        abundances: non-negative, summing to one along ``dim`` (e.g. ``(N, K, h, w)``).
        dim: the endmember axis.
    """
    num = abundances.shape[dim]
    entropy = -(abundances * torch.log(abundances.clamp_min(1e-12))).sum(dim=dim)
    return entropy.mean() / math.log(num)
