r"""Archetypal decoder (``model.decoder=archetypal``, beyond the paper).

The paper's decoder learns each endmember freely (softplus-positive, Eq. 5), so nothing keeps
it a plausible spectrum. Here each endmember is a convex combination of a fixed set of
candidate pixels :math:`\mathbf C \in \mathbb R^{M \times B}`, with learned logits
:math:`\mathbf V \in \mathbb R^{M \times K}`:

.. math::

    \hat{\mathbf E} = \mathbf C^\top \operatorname{softmax}_M(\mathbf V), \qquad
    \hat{\mathbf x} = \hat{\mathbf E}\,\mathbf a

(archetypal analysis with the pixels' abundances from the encoder). The endmembers stay inside
the convex hull of measured spectra, non-negative wherever the data are. The decoder is
pixel-wise (a 1×1 kernel): an endmember is one spectrum, not a p×p stack of them.

The candidates (:func:`extreme_pixels`) are the pixels found most extreme along random
directions of the data's leading principal subspace, so the hull they span is close to the
data's; :meth:`ArchetypalDecoder.set_endmembers` starts each archetype from the candidates
nearest to a given endmember (e.g. ``model.init_endmembers=vca``).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["ArchetypalDecoder", "extreme_pixels"]

TEMPERATURE = 0.05
"""Softness of the start from given endmembers: each candidate's logit is minus its squared
distance to the endmember, relative to the mean squared distance, divided by this."""


def extreme_pixels(pixels: np.ndarray, count: int, subspace: int, seed: int) -> np.ndarray:
    """The pixels that are most extreme along ``count`` random directions, ``(M ≤ count, B)``.

    The pixels are centred and projected onto their ``subspace`` leading principal axes;
    along each of ``count`` Gaussian random directions there the pixels with the smallest and
    the largest projection are kept; duplicates are dropped.

    Args:
        pixels: ``(N, B)`` valid pixels.
        count: number of directions (about ``count`` to ``2·count`` candidates).
        subspace: dimension of the principal subspace (K is natural).
        seed: seed of the directions.
    """
    pixels = np.asarray(pixels, dtype=np.float64)
    centred = pixels - pixels.mean(axis=0)
    _, _, axes = np.linalg.svd(centred[:: max(1, len(centred) // 20_000)], full_matrices=False)
    coords = centred @ axes[:subspace].T
    directions = np.random.default_rng(seed).standard_normal((subspace, count))
    projections = coords @ directions
    chosen = np.unique(np.concatenate([projections.argmin(0), projections.argmax(0)]))
    return pixels[chosen]


class ArchetypalDecoder(nn.Module):
    """Endmembers as softmax-weighted convex combinations of candidate pixels.

    Args:
        num_endmembers: K.
        num_bands: B.
        num_candidates: M, rows of the candidate buffer (filled by :meth:`set_candidates`).
    """

    kernel_size = 1

    def __init__(self, num_endmembers: int, num_bands: int, num_candidates: int) -> None:
        super().__init__()
        self.register_buffer("candidates", torch.zeros(num_candidates, num_bands))
        self.logits = nn.Parameter(torch.zeros(num_candidates, num_endmembers))

    def set_candidates(self, candidates: np.ndarray, seed: int) -> None:
        """Hold the candidate pixels and start from random convex combinations of them.

        Fewer candidates than the buffer holds are repeated to fill it (a repeated candidate
        only changes how the softmax is parameterised, not the hull).

        Args:
            candidates: ``(M', B)`` non-negative pixel spectra.
            seed: seed of the random logits.
        """
        rows = np.resize(np.arange(len(candidates)), self.candidates.shape[0])
        self.candidates.copy_(torch.as_tensor(np.clip(candidates[rows], 0.0, None)))
        generator = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            self.logits.copy_(torch.randn(self.logits.shape, generator=generator))

    def endmembers(self) -> torch.Tensor:
        """``(B, K)`` = Cᵀ softmax(V), each column a convex combination of candidates."""
        return self.candidates.T @ torch.softmax(self.logits, dim=0)

    def set_endmembers(self, endmembers: torch.Tensor) -> None:
        r"""Start each archetype from the candidates nearest to a given endmember.

        Logit of candidate m for endmember k: :math:`-\|c_m - e_k\|^2 / (\tau\,\bar d_k)`
        with :math:`\bar d_k` the mean squared distance over the candidates and τ
        :data:`TEMPERATURE`.

        Args:
            endmembers: ``(B, K)``.
        """
        target = endmembers.to(self.candidates)
        distance = torch.cdist(self.candidates, target.T) ** 2
        with torch.no_grad():
            self.logits.copy_(-distance / (TEMPERATURE * distance.mean(0, keepdim=True)))

    def forward(self, abundances: torch.Tensor) -> torch.Tensor:
        """Reconstruct ``(N, B, h, w)`` spectra pixel by pixel from ``(N, K, h, w)`` abundances."""
        return F.conv2d(abundances, self.endmembers()[:, :, None, None].to(abundances.dtype))
