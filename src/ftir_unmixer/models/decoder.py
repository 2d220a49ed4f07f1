"""Decoder 𝓓: a softplus-positive convolution whose summed kernel is the endmember matrix.

Paper Sec. II-C2 and Eq. 2 and 5: ``X̂_c = W * A_c`` with ``W = softplus(U)``,
``U ∈ ℝ^{B×K×p×p}`` unconstrained, and ``Ê = Σ_{u,v} W_{u,v} ∈ ℝ^{B×K}``.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

Readout = Literal["sum", "mean"]


def endmembers_from_kernel(weight: torch.Tensor, readout: Readout = "sum") -> torch.Tensor:
    """Eq. 5: ``Ê = Σ_{u=1}^{p} Σ_{v=1}^{p} W_{u,v}``, the kernel summed over its two spatial axes.

    Args:
        weight: ``(B, K, p, p)`` non-negative decoder kernel ``W``.
        readout: ``sum`` (the paper's Eq. 5) or ``mean`` (the variant of other CNNAEU code,
            ``Ê / p²``; same directions, different scale).

    Returns:
        ``(B, K)`` endmember matrix.
    """
    summed = weight.sum(dim=(2, 3))
    return summed / (weight.shape[2] * weight.shape[3]) if readout == "mean" else summed


class PositiveDecoder(nn.Module):
    """Linear convolutional decoder with softplus-positive weights (ENC).

    Args:
        num_endmembers: K, input channels.
        num_bands: B, output channels.
        kernel_size: p, the decoder kernel (5, the patch size, in the script).
        padding_mode: how abundances are padded so the output keeps the input's size
            (``zeros`` in the script, or ``reflect``/``replicate``/``circular``).
        readout: how endmembers are read from the kernel (see :func:`endmembers_from_kernel`).
    """

    def __init__(
        self,
        num_endmembers: int,
        num_bands: int,
        kernel_size: int = 5,
        padding_mode: str = "zeros",
        readout: Readout = "sum",
    ) -> None:
        super().__init__()
        self.padding_mode = padding_mode
        self.readout: Readout = readout
        self.unconstrained = nn.Parameter(
            torch.empty(num_bands, num_endmembers, kernel_size, kernel_size)
        )
        nn.init.xavier_uniform_(self.unconstrained)

    @property
    def kernel_size(self) -> int:
        """p, the kernel's side."""
        return self.unconstrained.shape[-1]

    @property
    def weight(self) -> torch.Tensor:
        """``W = softplus(U)``, the non-negative ``(B, K, p, p)`` kernel."""
        return F.softplus(self.unconstrained)

    def endmembers(self) -> torch.Tensor:
        """Eq. 5 on the current kernel: ``(B, K)``, non-negative."""
        return endmembers_from_kernel(self.weight, self.readout)

    def set_endmembers(self, endmembers: torch.Tensor) -> None:
        """Initialise ``U`` so that Eq. 5 returns ``endmembers``, spread evenly over the kernel.

        Each spatial slice gets ``E / p²`` (times ``p²`` for the ``mean`` readout), mapped
        through the inverse softplus. Values are floored at a tiny positive number, since
        softplus never reaches zero.

        Args:
            endmembers: ``(B, K)`` non-negative spectra.
        """
        p2 = self.unconstrained.shape[2] * self.unconstrained.shape[3]
        per_slice = endmembers / p2 if self.readout == "sum" else endmembers
        per_slice = per_slice.clamp_min(1e-6).to(self.unconstrained)
        inverse = per_slice + torch.log(-torch.expm1(-per_slice))
        with torch.no_grad():
            self.unconstrained.copy_(inverse[:, :, None, None].expand_as(self.unconstrained))

    def forward(self, abundances: torch.Tensor) -> torch.Tensor:
        """Reconstruct ``(N, B, h, w)`` spectra from ``(N, K, h, w)`` abundances (Eq. 2)."""
        weight = self.weight
        pad = weight.shape[-1] // 2
        if self.padding_mode == "zeros":
            return F.conv2d(abundances, weight, padding=pad)
        padded = F.pad(abundances, (pad, pad, pad, pad), mode=self.padding_mode)
        return F.conv2d(padded, weight)
