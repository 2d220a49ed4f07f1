"""LightningModule: the autoencoder, the SAD/WSAD loss and Adam."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import lightning as L
import numpy as np
import torch

from ftir_unmixer.errors import FTIRUnmixerError
from ftir_unmixer.losses import SpectralAngleLoss, spectral_angle
from ftir_unmixer.models.autoencoder import UnmixingAutoencoder
from ftir_unmixer.models.decoder import Readout
from ftir_unmixer.models.initialisation import check_initialisation, initial_endmembers
from ftir_unmixer.validation import check_num_endmembers

LOSS_NAMES = ("sad", "wsad")
COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")
"""Values of ``model.compile_mode`` (the modes of ``torch.compile``)."""


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
        channels_last: keep the network's weights, and the patches it is fed, in channels-last
            memory format (the band axis innermost, as the cube stores it): the convolutions
            run on oneDNN's/cuDNN's native layout and the gathered patches need no copy. Same
            maths; only the memory layout and the order of floating-point sums change.
        compile: ``torch.compile`` the training computation (network and loss, forward and
            backward), which fuses the loss's and the normalisation layers' element-wise
            passes. Costs a one-off compilation (tens of seconds on a small CPU, a second one
            for the smaller last batch of an epoch) and, on a CPU, a C++ compiler. Inference
            (:meth:`unmix_cube`) stays eager. Dropout draws from inductor's random stream, so
            the masks differ from eager mode's.
        compile_mode: ``torch.compile`` mode: ``default``, ``reduce-overhead`` (CUDA graphs,
            which remove the per-kernel launch cost of this small network on a GPU) or
            ``max-autotune``.
        fused_adam: Adam's fused kernel (one pass per parameter instead of one per
            operation; the same update up to rounding). Needs torch ≥ 2.4 on a CPU.
        log_step_loss: also log every step's loss (``train/loss_step``, in the progress bar);
            ``None``: only on a CPU, where reading a value costs nothing.

    The training step never reads a value back from the device: the batch losses are summed
    on the device and their mean is logged once per epoch (``train/loss_epoch``, averaged over
    DDP ranks), so on an accelerator the hot loop neither waits for the device nor pays for
    Lightning's per-call logging (unless ``log_step_loss`` asks for the step losses).
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
        channels_last: bool = True,
        compile: bool = False,
        compile_mode: str = "default",
        fused_adam: bool = True,
        log_step_loss: bool | None = None,
    ) -> None:
        super().__init__()
        check_num_endmembers(num_endmembers, num_bands)
        if loss_name not in LOSS_NAMES:
            raise FTIRUnmixerError(f"loss.name={loss_name!r} is unknown; use 'sad' or 'wsad'.")
        check_initialisation(init_endmembers)
        if softmax_scale <= 0 or lr <= 0:
            raise FTIRUnmixerError("model.softmax_scale and model.lr must be positive.")
        if compile_mode not in COMPILE_MODES:
            raise FTIRUnmixerError(
                f"model.compile_mode={compile_mode!r} is unknown; use one of {list(COMPILE_MODES)}."
            )
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
        self.loss = SpectralAngleLoss(weights, dim=-1)
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        self.net.to(memory_format=self.memory_format)
        self._compiled_batch_loss: Callable[[torch.Tensor], torch.Tensor] | None = None
        self._epoch_loss_sum: torch.Tensor | float = 0.0
        self._epoch_patches = 0

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

    def batch_loss(self, batch: torch.Tensor) -> torch.Tensor:
        """Loss of Eq. 7 over every pixel of every ``(N, B, p, p)`` patch of ``batch``.

        The angle is taken over band-last views ``(N, p, p, B)``, which for channels-last
        tensors are contiguous, so its reductions run along contiguous memory (and compiled
        code needs no transposes).
        """
        reconstruction, _ = self.net(batch)
        return self.loss(batch.movedim(1, -1), reconstruction.movedim(1, -1))

    def training_loss(self, batch: torch.Tensor) -> torch.Tensor:
        """:meth:`batch_loss` in the network's memory format, compiled if ``compile`` is set.

        The compiled function is built on first use, in the process that trains (so the
        module can still be pickled, e.g. by DDP's spawn launcher).
        """
        batch = batch.contiguous(memory_format=self.memory_format)
        if not self.hparams.compile:
            return self.batch_loss(batch)
        if self._compiled_batch_loss is None:
            self._compiled_batch_loss = torch.compile(
                self.batch_loss, mode=self.hparams.compile_mode
            )
        return self._compiled_batch_loss(batch)

    def on_train_epoch_start(self) -> None:
        """Start the epoch's loss sum."""
        self._epoch_loss_sum = 0.0
        self._epoch_patches = 0

    def training_step(self, batch: torch.Tensor, batch_idx: int) -> torch.Tensor:
        """Loss of Eq. 7 on a batch of patches, added to the epoch's sum on the device."""
        loss = self.training_loss(batch)
        self._epoch_loss_sum = self._epoch_loss_sum + loss.detach() * len(batch)
        self._epoch_patches += len(batch)
        log_step = self.hparams.log_step_loss
        if log_step or (log_step is None and self.device.type == "cpu"):
            self.log("train/loss_step", loss, on_step=True, on_epoch=False, prog_bar=True)
        return loss

    def on_train_epoch_end(self) -> None:
        """Log the epoch's patch-weighted mean loss (read once per epoch)."""
        if self._epoch_patches:
            mean = self._epoch_loss_sum / self._epoch_patches
            self.log("train/loss_epoch", mean, prog_bar=True, sync_dist=True)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        """Adam with the configured learning rate."""
        fused = self.hparams.fused_adam or None
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr, fused=fused)

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
