"""The FTIR-unmixer autoencoder: encoder → abundances → positive decoder (Fig. 3)."""

from __future__ import annotations

import torch
from torch import nn

from ftir_unmixer.models.archetypal_decoder import ArchetypalDecoder
from ftir_unmixer.models.decoder import PositiveDecoder, Readout
from ftir_unmixer.models.encoder import Encoder

DECODERS = ("free", "archetypal")
"""Values of ``model.decoder``."""


class UnmixingAutoencoder(nn.Module):
    """Under-complete CNN autoencoder for patch-wise unmixing (paper Sec. II-C).

    Args:
        num_bands: B.
        num_endmembers: K.
        hidden_channels: encoder width.
        patch_size: p, the decoder kernel size.
        negative_slope: leaky-ReLU slope of the encoder.
        dropout: spatial dropout of the encoder.
        softmax_scale: α of the scaled softmax.
        padding_mode: padding of the encoder's 3×3 and of the decoder's p×p convolutions.
        readout: ``sum`` (Eq. 5) or ``mean`` endmember readout.
        decoder: ``free`` (the paper's p×p softplus decoder) or ``archetypal``
            (:class:`~ftir_unmixer.models.archetypal_decoder.ArchetypalDecoder`, pixel-wise).
        archetype_candidates: M, candidate pixels of the archetypal decoder.
    """

    def __init__(
        self,
        num_bands: int,
        num_endmembers: int,
        hidden_channels: int = 48,
        patch_size: int = 5,
        negative_slope: float = 0.01,
        dropout: float = 0.2,
        softmax_scale: float = 3.5,
        padding_mode: str = "zeros",
        readout: Readout = "sum",
        decoder: str = "free",
        archetype_candidates: int = 256,
    ) -> None:
        super().__init__()
        self.encoder = Encoder(
            num_bands,
            num_endmembers,
            hidden_channels=hidden_channels,
            negative_slope=negative_slope,
            dropout=dropout,
            softmax_scale=softmax_scale,
            padding_mode=padding_mode,
        )
        self.decoder: PositiveDecoder | ArchetypalDecoder = (
            ArchetypalDecoder(num_endmembers, num_bands, archetype_candidates)
            if decoder == "archetypal"
            else PositiveDecoder(
                num_endmembers, num_bands, patch_size, padding_mode=padding_mode, readout=readout
            )
        )

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return ``(reconstruction (N, B, h, w), abundances (N, K, h, w))``."""
        abundances = self.encoder(x)
        return self.decoder(abundances), abundances

    @property
    def receptive_radius(self) -> int:
        """How many rows (and columns) around a pixel its outputs depend on.

        The encoder's convolution radii plus the decoder's ``p // 2``: an image cut into row
        blocks, each extended by this many rows on both sides, gives the same outputs in the
        blocks' own rows as the whole image.
        """
        encoder = sum(
            m.dilation[0] * (m.kernel_size[0] - 1) // 2
            for m in self.encoder.modules()
            if isinstance(m, nn.Conv2d)
        )
        return encoder + self.decoder.kernel_size // 2

    def endmembers(self) -> torch.Tensor:
        """Eq. 5: the ``(B, K)`` endmembers of the decoder."""
        return self.decoder.endmembers()
