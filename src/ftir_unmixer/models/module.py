"""LightningModule: the autoencoder, the SAD/WSAD loss and Adam."""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial
from typing import Protocol

import lightning as L
import numpy as np
import torch
from tqdm.auto import tqdm

from ftir_unmixer.errors import FTIRUnmixerError
from ftir_unmixer.evaluation.diagnostics import ReconstructionSums
from ftir_unmixer.io.disk_cube import row_blocks, rows_per_block
from ftir_unmixer.losses import LOSS_NAMES, SpectralAngleLoss, spectral_angle_rad
from ftir_unmixer.models.archetypal_decoder import extreme_pixels
from ftir_unmixer.models.autoencoder import DECODERS, UnmixingAutoencoder
from ftir_unmixer.models.decoder import Readout
from ftir_unmixer.models.initialisation import check_initialisation, initial_endmembers
from ftir_unmixer.models.patch_kernels import decoded_angles, fuses
from ftir_unmixer.models.priors import abundance_entropy, log_volume, loss_space
from ftir_unmixer.nuisance import NuisanceBasis, orthogonal_projector, remove_nuisance
from ftir_unmixer.refit import REFITS, fit_scales, refit_abundances, refit_endmembers
from ftir_unmixer.unmixing import CubeUnmixing, check_num_endmembers

Batch = torch.Tensor | tuple[torch.Tensor, torch.Tensor]
"""A training batch: ``(N, B, p, p)`` patches, or ``(windows, pixel mask)`` in full-image mode."""
COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")
"""Values of ``model.compile_mode`` (the modes of ``torch.compile``)."""
LR_SCHEDULES = ("constant", "plateau", "cosine")
"""Values of ``model.lr_schedule``."""
DECODER_UPDATES = ("gradient", "refit")
"""Values of ``model.decoder_update``."""
EPOCH_LOSS = "train/loss_epoch"
"""The epoch's mean loss, logged in :meth:`FTIRUnmixerModule.on_train_epoch_end`."""


def cosine_factor(epoch: int, epochs: int, floor: float) -> float:
    r"""Cosine annealing of the learning rate, as a factor of each group's initial rate.

    .. math:: f(t) = f_{\min} + (1 - f_{\min})\,\frac{1 + \cos(\pi \min(t, T) / T)}{2}

    (``CosineAnnealingLR`` with ``eta_min = f_min·lr``, but per parameter group.)

    Args:
        epoch: t, epochs done.
        epochs: T, ``trainer.max_epochs``.
        floor: :math:`f_{\min}`, ``model.lr_min_factor``.
    """
    return floor + (1.0 - floor) * (1.0 + math.cos(math.pi * min(epoch, epochs) / epochs)) / 2


def check_levers(
    *,
    decoder: str,
    archetype_candidates: int,
    num_endmembers: int,
    volume_weight: float,
    volume_delta: float,
    sparsity_weight: float,
    baseline_degree: int,
    atmosphere_components: int,
    refit: str,
    decoder_update: str,
) -> None:
    """Refuse impossible settings of the levers beyond the paper, naming the key.

    Raises:
        FTIRUnmixerError: one sentence per problem found first.
    """
    rules = [
        ("decoder", decoder in DECODERS, f"one of {list(DECODERS)}"),
        (
            "archetype_candidates",
            archetype_candidates >= 2 * num_endmembers,
            f"at least 2·K = {2 * num_endmembers}",
        ),
        ("volume_weight", volume_weight >= 0, "≥ 0 (0: no volume prior, the paper)"),
        ("volume_delta", volume_delta > 0, "positive (e.g. 0.01)"),
        ("sparsity_weight", sparsity_weight >= 0, "≥ 0 (0: no sparsity prior, the paper)"),
        (
            "baseline_degree",
            -1 <= baseline_degree <= 3,
            "between -1 (no baseline, the paper) and 3",
        ),
        ("atmosphere_components", atmosphere_components >= 0, "≥ 0 (0: none, the paper)"),
        ("refit", refit in REFITS, f"one of {list(REFITS)}"),
        ("decoder_update", decoder_update in DECODER_UPDATES, f"one of {list(DECODER_UPDATES)}"),
        (
            "decoder_update",
            decoder_update == "gradient" or decoder == "free",
            "gradient with model.decoder=archetypal (its endmembers are convex combinations "
            "of pixels, which a least-squares refit would leave)",
        ),
    ]
    for key, ok, requirement in rules:
        if not ok:
            value = locals()[key]
            raise FTIRUnmixerError(f"model.{key}={value!r} is invalid; it must be {requirement}.")


class RowSource(Protocol):
    """A preprocessed ``(H, W, B)`` cube read a block of rows at a time (e.g. from disk)."""

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(H, W, B)``."""

    def rows(self, start: int, stop: int) -> np.ndarray:
        """Rows ``[start, stop)`` as a ``(stop − start, W, B)`` float32 array."""


class FTIRUnmixerModule(L.LightningModule):
    """FTIR-unmixer: encoder → scaled softmax → softplus-positive decoder, trained with WSAD.

    The keyword arguments are the keys of ``conf/model/ftir_unmixer.yaml``, which documents
    each one (docs/method.md gives the paper's and the script's values); the pipeline adds
    ``num_bands`` (B of the preprocessed cube), ``loss_name`` (``loss.name``) and
    ``band_weights`` (the ``(B,)`` weights of Eq. 13, ignored for SAD). Impossible values stop
    with one sentence naming their key.

    Two implementation notes the configuration does not carry:

    * with ``compile`` the training computation (network and loss, forward and backward) is
      compiled on first use in the training process, so the module can still be pickled (DDP's
      spawn launcher); :meth:`unmix_cube` stays eager, and dropout then draws from inductor's
      random stream;
    * the training step never reads a value back from the device: the batch losses are summed
      on the device and their mean is logged once per epoch (``train/loss_epoch``, averaged
      over DDP ranks), unless ``log_step_loss`` asks for the step losses.
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
        lr_schedule: str = "constant",
        lr_factor: float = 0.5,
        lr_patience: int = 5,
        lr_min_factor: float = 0.01,
        decoder_lr_scale: float = 1.0,
        init_endmembers: str = "random",
        decoder: str = "free",
        archetype_candidates: int = 256,
        volume_weight: float = 0.0,
        volume_delta: float = 0.01,
        sparsity_weight: float = 0.0,
        baseline_degree: int = -1,
        atmosphere_components: int = 0,
        refit: str = "none",
        decoder_update: str = "gradient",
        channels_last: bool = True,
        compile: bool = False,
        compile_mode: str = "default",
        fused_adam: bool = True,
        patch_kernels: bool | None = None,
        log_step_loss: bool | None = None,
    ) -> None:
        super().__init__()
        check_num_endmembers(num_endmembers, num_bands)
        if loss_name not in LOSS_NAMES:
            raise FTIRUnmixerError(f"loss.name={loss_name!r} is unknown; use 'sad' or 'wsad'.")
        check_initialisation(init_endmembers)
        for key, value, paper in (("softmax_scale", softmax_scale, 3.5), ("lr", lr, 0.005)):
            if value <= 0:
                raise FTIRUnmixerError(
                    f"model.{key}={value} must be positive; the paper uses {paper}."
                )
        if compile_mode not in COMPILE_MODES:
            raise FTIRUnmixerError(
                f"model.compile_mode={compile_mode!r} is unknown; use one of {list(COMPILE_MODES)}."
            )
        if lr_schedule not in LR_SCHEDULES:
            raise FTIRUnmixerError(
                f"model.lr_schedule={lr_schedule!r} is unknown; use one of {list(LR_SCHEDULES)}."
            )
        if not 0 < lr_factor < 1 or lr_patience < 0 or not 0 <= lr_min_factor <= 1:
            raise FTIRUnmixerError(
                "model.lr_factor must lie in (0, 1), model.lr_patience must be ≥ 0 and "
                "model.lr_min_factor must lie in [0, 1]."
            )
        if decoder_lr_scale < 0:
            raise FTIRUnmixerError(
                f"model.decoder_lr_scale={decoder_lr_scale} must be ≥ 0 (0 freezes the "
                "endmembers, 1 is the paper)."
            )
        check_levers(
            decoder=decoder,
            archetype_candidates=archetype_candidates,
            num_endmembers=num_endmembers,
            volume_weight=volume_weight,
            volume_delta=volume_delta,
            sparsity_weight=sparsity_weight,
            baseline_degree=baseline_degree,
            atmosphere_components=atmosphere_components,
            refit=refit,
            decoder_update=decoder_update,
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
            decoder=decoder,
            archetype_candidates=archetype_candidates,
        )
        weights = None
        if loss_name == "wsad" and band_weights is not None:
            weights = torch.as_tensor(np.asarray(band_weights), dtype=torch.float32)
        nuisance_shape = (num_bands, baseline_degree + 1 + atmosphere_components)
        self.loss = SpectralAngleLoss(weights, dim=-1, nuisance_shape=nuisance_shape)
        self.register_buffer(
            "nuisance_columns", torch.zeros(nuisance_shape) if nuisance_shape[1] else None
        )
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        self.net.to(memory_format=self.memory_format)
        self._compiled_batch_loss: Callable[..., torch.Tensor] | None = None
        self._epoch_loss_sum: torch.Tensor | float = 0.0
        self._epoch_patches = 0

    def initialise_from_data(self, pixels: np.ndarray, wavenumbers: np.ndarray, seed: int) -> None:
        """Set what the model estimates once from the data, before the first step.

        In this order: the nuisance subspace (``model.baseline_degree``,
        ``model.atmosphere_components``), the archetypal decoder's candidate pixels, and the
        decoder's start (``model.init_endmembers``; ``random`` keeps the authors'
        initialisation), whose nuisance components are removed as at the end of the run.

        Args:
            pixels: ``(N, B)`` valid pixels of the cube as fed to the network.
            wavenumbers: ``(B,)`` their axis.
            seed: the run's seed.
        """
        hp = self.hparams
        basis = None
        if self.nuisance_columns is not None:
            basis = NuisanceBasis.fit(
                pixels, wavenumbers, hp.baseline_degree, hp.atmosphere_components, seed
            )
            self.nuisance_columns.copy_(torch.from_numpy(basis.matrix))
            self.loss.set_nuisance(basis.matrix)
        if hp.decoder == "archetypal":
            candidates = extreme_pixels(
                pixels, hp.archetype_candidates // 2, hp.num_endmembers, seed
            )
            self.net.decoder.set_candidates(candidates, seed)
        endmembers = initial_endmembers(hp.init_endmembers, pixels, hp.num_endmembers, seed)
        if endmembers is not None:
            if basis is not None:
                endmembers = remove_nuisance(endmembers, basis).astype(np.float32)
            self.net.decoder.set_endmembers(torch.from_numpy(endmembers))

    @property
    def nuisance_basis(self) -> NuisanceBasis | None:
        """The nuisance subspace fitted by :meth:`initialise_from_data`, or None."""
        if self.nuisance_columns is None:
            return None
        return NuisanceBasis(
            self.nuisance_columns.cpu().double().numpy(), self.hparams.baseline_degree + 1
        )

    def reported_endmembers(self, endmembers_model: np.ndarray) -> np.ndarray:
        """Eq. 5 endmembers as the results report them, before ``model.refit``.

        Their unidentified nuisance components are set as a material's spectrum has them
        (:func:`~ftir_unmixer.nuisance.remove_nuisance`); without a nuisance subspace they are
        returned unchanged.

        Args:
            endmembers_model: ``(B, K)`` the decoder's endmembers.
        """
        basis = self.nuisance_basis
        return endmembers_model if basis is None else remove_nuisance(endmembers_model, basis)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(reconstruction, abundances)`` of ``(N, B, h, w)`` patches."""
        return self.net(x)

    def batch_loss(self, batch: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Loss of Eq. 7 over every pixel of every ``(N, B, h, w)`` window of ``batch``.

        The angle is taken over band-last views ``(N, h, w, B)``, which for channels-last
        tensors are contiguous, so its reductions run along contiguous memory (and compiled
        code needs no transposes). With ``patch_kernels``, p×p patches take the hand-written
        kernels instead (same values).

        Args:
            batch: patches, or whole-image crops in the full-image mode.
            mask: ``(N, h, w)`` valid pixels (full-image mode), or None for all.
        """
        patches = self.hparams.patch_kernels
        if patches is None:  # compiled, the kernels' per-pixel loops ran slower than the plain step
            patches = batch.device.type == "cpu" and not self.hparams.compile
        patches = patches and mask is None and fuses(self.net.decoder, self.loss, batch)
        abundances = self.net.encoder(batch, patch_kernels=patches)
        if patches:
            loss = decoded_angles(self.net.decoder, batch, abundances, self.loss).mean()
        else:
            reconstruction = self.net.decoder(abundances)
            loss = self.loss(batch.movedim(1, -1), reconstruction.movedim(1, -1), mask)
        return loss + self.prior_penalty(abundances)

    def log_volume(self) -> torch.Tensor:
        """V(Ê) of the decoder's endmembers in the loss's space (:mod:`~.priors`)."""
        endmembers = loss_space(self.net.endmembers(), self.loss.weights, self.loss.nuisance)
        return log_volume(endmembers, self.hparams.volume_delta)

    def prior_penalty(self, abundances: torch.Tensor) -> torch.Tensor | float:
        """``volume_weight · V(Ê) + sparsity_weight · S(A)`` (0 with both weights 0).

        Args:
            abundances: the batch's ``(N, K, h, w)`` abundances.
        """
        hp = self.hparams
        penalty: torch.Tensor | float = 0.0
        if hp.volume_weight:
            penalty = penalty + hp.volume_weight * self.log_volume()
        if hp.sparsity_weight:
            penalty = penalty + hp.sparsity_weight * abundance_entropy(abundances)
        return penalty

    def training_loss(self, batch: Batch) -> torch.Tensor:
        """:meth:`batch_loss` in the network's memory format, compiled if ``compile`` is set.

        The compiled function is built on first use, in the process that trains (so the
        module can still be pickled, e.g. by DDP's spawn launcher).

        Args:
            batch: ``(N, B, p, p)`` patches, or ``(windows, mask)`` in the full-image mode.
        """
        windows, mask = batch if isinstance(batch, tuple) else (batch, None)
        windows = windows.contiguous(memory_format=self.memory_format)
        if not self.hparams.compile:
            return self.batch_loss(windows, mask)
        if self._compiled_batch_loss is None:
            self._compiled_batch_loss = torch.compile(
                self.batch_loss, mode=self.hparams.compile_mode
            )
        return self._compiled_batch_loss(windows, mask)

    def on_train_epoch_start(self) -> None:
        """Start the epoch's loss sum."""
        self._epoch_loss_sum = 0.0
        self._epoch_patches = 0

    def training_step(self, batch: Batch, batch_idx: int) -> torch.Tensor:
        """Loss of Eq. 7 on a batch, added to the epoch's sum on the device."""
        loss = self.training_loss(batch)
        size = len(batch[0] if isinstance(batch, tuple) else batch)
        self._epoch_loss_sum = self._epoch_loss_sum + loss.detach() * size
        self._epoch_patches += size
        log_step = self.hparams.log_step_loss
        if log_step or (log_step is None and self.device.type == "cpu"):
            self.log("train/loss_step", loss, on_step=True, on_epoch=False, prog_bar=True)
        return loss

    def on_train_epoch_end(self) -> None:
        """Log the epoch's patch-weighted mean loss (read once per epoch) and learning rate."""
        if self._epoch_patches:
            mean = self._epoch_loss_sum / self._epoch_patches
            self.log("train/loss_epoch", mean, prog_bar=True, sync_dist=True)
        self.log("train/lr", float(self.optimizers().param_groups[0]["lr"]))
        if self.hparams.volume_weight:
            self.log("train/log_volume", self.log_volume().detach().float())
        if self.hparams.decoder_update == "refit":
            dm = self.trainer.datamodule
            self.refit_decoder(dm.source, dm.data.mask, dm.inference_block_rows)

    @torch.no_grad()
    def refit_decoder(
        self, cube: torch.Tensor | RowSource, mask: np.ndarray, block_rows: int | None = None
    ) -> None:
        """``model.decoder_update=refit``: refit the decoder's endmembers to the encoder's maps.

        The endmembers that best explain the cube given the maps
        (:func:`~ftir_unmixer.refit.fit_scales`, then
        :func:`~ftir_unmixer.refit.refit_endmembers`), without their nuisance components,
        replace Eq. 5's.

        Args:
            cube: the preprocessed cube (in memory).
            mask: ``(H, W)`` valid pixels.
            block_rows: rows per block of the pass over the cube.

        Raises:
            FTIRUnmixerError: for a cube left on disk.
        """
        if not isinstance(cube, torch.Tensor):
            raise FTIRUnmixerError(
                "model.decoder_update=refit needs the cube in memory; set "
                "data.out_of_core=false or model.decoder_update=gradient."
            )
        unmixed = self.unmix_cube(cube, mask, block_rows, refit=False)
        pixels = cube.cpu().numpy()[mask]
        weights = self.loss.weights.cpu().numpy() if self.loss.weights is not None else None
        basis = self.nuisance_basis
        columns = None if basis is None else basis.matrix
        fit = fit_scales(pixels, unmixed.endmembers, unmixed.abundances[mask], weights, columns)
        endmembers = self.reported_endmembers(refit_endmembers(pixels, fit))
        self.net.decoder.set_endmembers(torch.from_numpy(endmembers.astype(np.float32)))

    def configure_optimizers(self) -> torch.optim.Optimizer | dict:
        """Adam with the configured learning rate and, unless ``constant``, its schedule.

        Both schedules step once per epoch. Lightning steps ``ReduceLROnPlateau`` after
        :meth:`on_train_epoch_end`, so it sees that epoch's ``train/loss_epoch``.

        Returns:
            The optimizer alone for ``constant``; otherwise Lightning's dictionary with the
            optimizer and the scheduler's configuration.

        Raises:
            FTIRUnmixerError: ``cosine`` without a positive ``trainer.max_epochs``.
        """
        hp = self.hparams
        decoder = list(self.net.decoder.parameters())
        encoder = [p for p in self.parameters() if all(p is not d for d in decoder)]
        groups = [
            {"params": encoder, "lr": hp.lr},
            {"params": decoder, "lr": hp.lr * hp.decoder_lr_scale},
        ]
        optimizer = torch.optim.Adam(groups, lr=hp.lr, fused=hp.fused_adam or None)
        if hp.lr_schedule == "constant":
            return optimizer
        if hp.lr_schedule == "plateau":
            scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
                optimizer, mode="min", factor=hp.lr_factor, patience=hp.lr_patience
            )
        else:
            max_epochs = self.trainer.max_epochs
            if not max_epochs or max_epochs < 1:
                raise FTIRUnmixerError(
                    "model.lr_schedule=cosine needs a positive trainer.max_epochs."
                )
            scheduler = torch.optim.lr_scheduler.LambdaLR(
                optimizer, partial(cosine_factor, epochs=max_epochs, floor=hp.lr_min_factor)
            )
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "monitor": EPOCH_LOSS, "interval": "epoch"},
        }

    @torch.no_grad()
    def unmix_cube(
        self,
        cube: torch.Tensor | RowSource,
        mask: np.ndarray | None = None,
        block_rows: int | None = None,
        refit: bool = True,
    ) -> CubeUnmixing:
        """Run the whole ``(H, W, B)`` cube through the network once, in eval mode.

        The same convolutions with their padding as in training, applied to the cube as a
        single image, as in the authors' script. The image is processed in blocks of
        ``block_rows`` rows, each read with :attr:`~UnmixingAutoencoder.receptive_radius`
        extra rows on both sides and cropped back, so the stitched outputs equal those of
        the whole image at once (the out-of-core mode streams a cube on disk this way).

        With a nuisance subspace the reconstruction angles and sums are those of the parts
        orthogonal to it (what the loss compares), and the endmembers reported in input units
        have their nuisance components removed (:func:`~ftir_unmixer.nuisance.remove_nuisance`;
        ``endmembers_model`` stays Eq. 5). ``model.refit`` then re-estimates the abundances
        and, for ``nnls``, the endmembers (:mod:`ftir_unmixer.refit`).

        Args:
            cube: the preprocessed cube: a tensor, or a :class:`RowSource` such as a cube on
                disk.
            mask: ``(H, W)`` valid pixels, over which the reconstruction is summarised.
            block_rows: rows per block; None: the whole cube for a tensor, blocks of about
                128 MB for a row source.
            refit: apply ``model.refit`` (False: the network's own outputs).

        Raises:
            FTIRUnmixerError: for blocks with ``circular`` padding, which wraps each block
                onto itself rather than the image, and for a refit of a cube left on disk.
        """
        height, width, bands = cube.shape
        refit = self.hparams.refit if refit else "none"
        if refit != "none" and not isinstance(cube, torch.Tensor):
            raise FTIRUnmixerError(
                f"model.refit={refit} needs the cube in memory; set data.out_of_core=false or "
                "model.refit=none."
            )
        if block_rows is None:
            block_rows = height if isinstance(cube, torch.Tensor) else rows_per_block(width, bands)
        if block_rows < height and self.hparams.padding_mode == "circular":
            raise FTIRUnmixerError(
                "model.padding_mode=circular cannot be unmixed in row blocks (data.out_of_core "
                "or data.inference_block_rows); use zeros, reflect or replicate padding."
            )
        mask = np.ones((height, width), dtype=bool) if mask is None else np.asarray(mask)
        weights = self.loss.weights.cpu().numpy() if self.loss.weights is not None else None
        basis = self.nuisance_basis
        project = orthogonal_projector(basis)
        halo = self.net.receptive_radius
        abundances = np.empty((height, width, self.hparams.num_endmembers), dtype=np.float32)
        angle = np.empty((height, width), dtype=np.float32)
        sums = ReconstructionSums()
        was_training = self.training
        self.eval()
        blocks = list(row_blocks(height, block_rows))
        for start, stop in tqdm(blocks, desc="Unmixing row blocks", disable=len(blocks) == 1):
            lo, hi = max(0, start - halo), min(height, stop + halo)
            rows = cube[lo:hi] if isinstance(cube, torch.Tensor) else cube.rows(lo, hi)
            x = torch.as_tensor(rows).to(self.device).permute(2, 0, 1).unsqueeze(0)
            reconstruction, block_abundances = self.net(x)
            own = slice(start - lo, stop - lo)
            abundances[start:stop] = block_abundances[0, :, own].permute(1, 2, 0).cpu().numpy()
            x = project(x[0, :, own].permute(1, 2, 0).cpu().numpy())
            reconstruction = project(reconstruction[0, :, own].permute(1, 2, 0).cpu().numpy())
            angle[start:stop] = _angles(x, reconstruction)
            valid = mask[start:stop]
            sums.add(x[valid], reconstruction[valid], band_weights=weights)
        self.train(was_training)
        endmembers_model = self.net.endmembers().cpu().numpy()
        endmembers = self.reported_endmembers(endmembers_model)
        if refit != "none":
            pixels = cube.cpu().numpy()[mask]
            fit = refit_abundances(
                pixels, endmembers, weights, None if basis is None else basis.matrix
            )
            if refit == "nnls":
                endmembers = refit_endmembers(pixels, fit)
            abundances[mask] = fit.abundances
            reconstruction = project(abundances @ endmembers.T.astype(np.float32))
            x = project(cube.cpu().numpy())
            angle = _angles(x, reconstruction)
            sums = ReconstructionSums.of(x, reconstruction, mask, band_weights=weights)
        return CubeUnmixing(
            abundances=abundances,
            endmembers_model=endmembers_model,
            endmembers_fit=endmembers,
            reconstruction_angle=angle,
            sums=sums,
            scale=sums.scale,
            band_weights=np.ones(bands, np.float32) if weights is None else weights,
        )


def _angles(x: np.ndarray, x_hat: np.ndarray) -> np.ndarray:
    """Per-pixel spectral angle (radians, float32) of ``(..., B)`` arrays."""
    return spectral_angle_rad(torch.from_numpy(x), torch.from_numpy(x_hat), dim=-1).numpy()
