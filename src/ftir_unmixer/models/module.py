"""LightningModule: the autoencoder, the SAD/WSAD loss and Adam."""

from __future__ import annotations

from dataclasses import dataclass

import lightning as L
import numpy as np
import torch

from ftir_unmixer.errors import FTIRUnmixerError
from ftir_unmixer.losses import SpectralAngleLoss, spectral_angle
from ftir_unmixer.models.autoencoder import UnmixingAutoencoder
from ftir_unmixer.models.decoder import Readout
from ftir_unmixer.models.initialisation import INITIALISATIONS, initial_endmembers
from ftir_unmixer.validation import check_num_endmembers

LOSS_NAMES = ("sad", "wsad")


@dataclass
class CubeUnmixing:
    """The network applied to a whole cube.

    Attributes:
        abundances: ``(H, W, K)`` abundance maps.
        endmembers_model: ``(B, K)`` Eq. 5 endmembers in the model's space.
        reconstruction_angle: ``(H, W)`` per-pixel SAD between input and reconstruction.
        reconstruction: ``(H, W, B)`` reconstructed cube (model space, as the decoder
            outputs it).
        scale: the least-squares factor ``s`` with ``X ≈ X̂ / s`` over the valid pixels (see
            :func:`reconstruction_scale`).
    """

    abundances: np.ndarray
    endmembers_model: np.ndarray
    reconstruction_angle: np.ndarray
    reconstruction: np.ndarray
    scale: float


def reconstruction_scale(x: torch.Tensor, x_hat: torch.Tensor) -> float:
    r"""The overall scale of a reconstruction trained with an angle loss.

    SAD and WSAD (Eq. 6) are invariant to the scale of :math:`\hat{\mathbf x}`, so the
    decoder's overall scale is arbitrary (with the script's initialisation it starts near
    :math:`p^2 \log 2 ≈ 17` times the data). With

    .. math::

        s = \frac{\sum \hat x^2}{\sum x \hat x},

    :math:`\hat{\mathbf X} / s` is the least-squares fit of the data by a multiple of the
    reconstruction, which puts it, and with it Eq. 5's endmembers (abundances sum to one),
    back in the data's units. Sums run in float64, a block of pixels at a time.

    Args:
        x: ``(n, B)`` data.
        x_hat: ``(n, B)`` reconstruction.

    Returns:
        ``s`` (1 when the reconstruction is orthogonal to the data).
    """
    cross = power = 0.0
    for xb, hb in zip(x.split(4096), x_hat.split(4096), strict=True):
        hb = hb.double()
        cross += float((xb.double() * hb).sum())
        power += float((hb * hb).sum())
    return power / cross if cross > 0 else 1.0


class FTIRUnmixerModule(L.LightningModule):
    """FTIR-unmixer: encoder → scaled softmax → softplus-positive decoder, trained with WSAD.

    Args:
        num_bands: B, set from the data.
        num_endmembers: K.
        loss_name: ``wsad`` (Eq. 6–7 with the band weights) or ``sad`` (all weights 1).
        band_weights: ``(B,)`` weights of Eq. 13 for WSAD; ignored for SAD.
        hidden_channels: encoder width.
        patch_size: p, the decoder kernel.
        negative_slope: leaky-ReLU slope.
        dropout: spatial dropout.
        softmax_scale: α of the scaled softmax.
        padding_mode: convolution padding.
        readout: ``sum`` (Eq. 5) or ``mean`` endmember readout.
        lr: Adam learning rate.
        init_endmembers: ``random`` (the authors' Xavier-uniform U), ``vca`` or ``nmf``: the
            decoder starts from those endmembers (:meth:`initialise_endmembers`).
    """

    def __init__(
        self,
        num_bands: int,
        num_endmembers: int = 10,
        loss_name: str = "wsad",
        band_weights: np.ndarray | torch.Tensor | None = None,
        hidden_channels: int = 48,
        patch_size: int = 5,
        negative_slope: float = 0.01,
        dropout: float = 0.2,
        softmax_scale: float = 3.5,
        padding_mode: str = "zeros",
        readout: Readout = "sum",
        lr: float = 0.005,
        init_endmembers: str = "random",
    ) -> None:
        super().__init__()
        check_num_endmembers(num_endmembers, num_bands)
        if loss_name not in LOSS_NAMES:
            raise FTIRUnmixerError(f"loss.name={loss_name!r} is unknown; use 'sad' or 'wsad'.")
        if init_endmembers not in INITIALISATIONS:
            raise FTIRUnmixerError(
                f"model.init_endmembers={init_endmembers!r} is unknown; use one of "
                f"{list(INITIALISATIONS)}."
            )
        if softmax_scale <= 0 or lr <= 0:
            raise FTIRUnmixerError("model.softmax_scale and model.lr must be positive.")
        self.save_hyperparameters(ignore=["band_weights"])
        self.net = UnmixingAutoencoder(
            num_bands,
            num_endmembers,
            hidden_channels=hidden_channels,
            patch_size=patch_size,
            negative_slope=negative_slope,
            dropout=dropout,
            softmax_scale=softmax_scale,
            padding_mode=padding_mode,
            readout=readout,
        )
        weights = None
        if loss_name == "wsad" and band_weights is not None:
            weights = torch.as_tensor(np.asarray(band_weights), dtype=torch.float32)
        self.loss = SpectralAngleLoss(weights)

    def initialise_endmembers(self, pixels: np.ndarray, seed: int) -> None:
        """Start the decoder from ``model.init_endmembers`` fitted on the preprocessed pixels.

        Does nothing for ``random``; otherwise Eq. 5 returns the VCA or NMF endmembers before
        the first step.

        Args:
            pixels: ``(N, B)`` valid pixels of the cube as fed to the network.
            seed: the run's seed.
        """
        endmembers = initial_endmembers(
            self.hparams.init_endmembers, pixels, self.hparams.num_endmembers, seed
        )
        if endmembers is not None:
            self.net.decoder.set_endmembers(torch.from_numpy(endmembers))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(reconstruction, abundances)`` of ``(N, B, h, w)`` patches."""
        return self.net(x)

    def training_step(self, batch: torch.Tensor, batch_idx: int) -> torch.Tensor:
        """Loss of Eq. 7 over every pixel of every patch of the batch."""
        reconstruction, _ = self.net(batch)
        loss = self.loss(batch, reconstruction)
        self.log("train/loss", loss, on_step=True, on_epoch=True, prog_bar=True)
        return loss

    def configure_optimizers(self) -> torch.optim.Optimizer:
        """Adam with the configured learning rate."""
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr)

    @torch.no_grad()
    def unmix_cube(self, cube: torch.Tensor, mask: np.ndarray | None = None) -> CubeUnmixing:
        """Run the whole ``(H, W, B)`` cube through the network once, in eval mode.

        The same convolutions with their padding as in training, applied to the cube as a
        single image, as in the authors' script.

        Args:
            cube: ``(H, W, B)`` preprocessed cube.
            mask: ``(H, W)`` valid pixels, over which the reconstruction scale is fitted.
        """
        was_training = self.training
        self.eval()
        x = cube.to(self.device).permute(2, 0, 1).unsqueeze(0)
        reconstruction, abundances = self.net(x)
        angle = spectral_angle(x, reconstruction, dim=1)[0]
        self.train(was_training)
        x_hat = reconstruction[0].permute(1, 2, 0)
        valid = torch.as_tensor(mask, device=x.device) if mask is not None else slice(None)
        return CubeUnmixing(
            abundances=abundances[0].permute(1, 2, 0).cpu().numpy(),
            endmembers_model=self.net.endmembers().cpu().numpy(),
            reconstruction_angle=angle.cpu().numpy(),
            reconstruction=x_hat.cpu().numpy(),
            scale=reconstruction_scale(cube.to(x.device)[valid], x_hat[valid]),
        )
