"""Encoder 𝓔: spectral-spatial abundance estimation (paper Sec. II-C1, Eq. 3–4)."""

from __future__ import annotations

import torch
from torch import nn

from ftir_unmixer.models.patch_kernels import patch_conv2d


def scaled_softmax(z: torch.Tensor, scale: float, dim: int = 1) -> torch.Tensor:
    """Abundances by the scaled softmax ``A(:, u, v) = softmax(α·Z₂(:, u, v))`` (Sec. II-C1).

    The softmax over the endmember axis enforces ANC (a ≥ 0) and ASC (Σₖ aₖ = 1); a larger
    ``α`` gives sparser abundances.

    Args:
        z: ``(N, K, h, w)`` logits.
        scale: α > 0.
        dim: the endmember axis.

    Returns:
        Abundances of the same shape, on the simplex along ``dim``.
    """
    return torch.softmax(scale * z, dim=dim)


class ConvBlock(nn.Sequential):
    """``Dropout(σ(BN(Conv(X))))``: one encoder layer (Eq. 3 with a 3×3 kernel, Eq. 4 with 1×1).

    Args:
        in_channels: input channels.
        out_channels: output channels.
        kernel_size: odd kernel size; the padding keeps the spatial size.
        negative_slope: slope of the leaky ReLU σ.
        dropout: probability of the spatial (channel-wise) dropout.
        padding_mode: ``zeros``, ``reflect``, ``replicate`` or ``circular``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        negative_slope: float,
        dropout: float,
        padding_mode: str,
    ) -> None:
        super().__init__(
            nn.Conv2d(
                in_channels,
                out_channels,
                kernel_size,
                padding=kernel_size // 2,
                padding_mode=padding_mode,
            ),
            nn.BatchNorm2d(out_channels),
            nn.LeakyReLU(negative_slope),
            nn.Dropout2d(dropout),
        )

    def forward(self, x: torch.Tensor, patch_kernels: bool = False) -> torch.Tensor:
        """The block on ``x``; ``patch_kernels``: the convolution of :func:`patch_conv2d`."""
        conv, *rest = self
        x = patch_conv2d(conv, x) if patch_kernels else conv(x)
        for layer in rest:
            x = layer(x)
        return x


class Encoder(nn.Module):
    """Two convolutional layers and a scaled softmax: ``A = softmax(α·𝓔(X))``.

    Args:
        num_bands: B, input channels.
        num_endmembers: K, output channels.
        hidden_channels: width of the first layer (48 in the authors' script).
        kernel_size: kernel of the first layer (3 in the paper).
        negative_slope: leaky-ReLU slope (0.01, PyTorch's default, in the script).
        dropout: spatial dropout probability (0.2 in the script).
        softmax_scale: α of the scaled softmax (3.5 in the script).
        padding_mode: padding of the 3×3 convolution (``zeros`` in the script).
    """

    def __init__(
        self,
        num_bands: int,
        num_endmembers: int,
        hidden_channels: int = 48,
        kernel_size: int = 3,
        negative_slope: float = 0.01,
        dropout: float = 0.2,
        softmax_scale: float = 3.5,
        padding_mode: str = "zeros",
    ) -> None:
        super().__init__()
        self.softmax_scale = softmax_scale
        self.layer1 = ConvBlock(
            num_bands, hidden_channels, kernel_size, negative_slope, dropout, padding_mode
        )
        self.layer2 = ConvBlock(
            hidden_channels, num_endmembers, 1, negative_slope, dropout, padding_mode
        )

    def forward(self, x: torch.Tensor, patch_kernels: bool = False) -> torch.Tensor:
        """Map ``(N, B, h, w)`` spectra to ``(N, K, h, w)`` abundances on the simplex.

        ``patch_kernels``: ``x`` are p×p training patches (see :func:`patch_conv2d`).
        """
        hidden = self.layer1(x, patch_kernels=patch_kernels)
        return scaled_softmax(self.layer2(hidden), self.softmax_scale)
