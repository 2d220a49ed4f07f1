r"""The learning curve: how far the decoder's endmembers are from the truth while training.

:class:`GroundTruthCurve` scores the endmembers of Eq. 5 against the ground truth before the
first epoch, every ``callbacks.gt_curve.every_n_epochs`` epochs and at the end of training,
logs the ``gt/…`` endmember scores
(:func:`~ftir_unmixer.evaluation.ground_truth.endmember_metrics`: ``gt/mean_angle_deg``,
``gt/mean_angle_clean_deg``, ``gt/angle_deg/<material>``, …) at the current step to every
logger, and hands the curve to the results writer, which stores it as ``learning_curve/`` in
``results.h5``. It needs no abundance map: only the endmembers and a scale (below).

The endmembers are scored as the results score them, before ``model.refit`` (applied once,
to the final results): the reported endmembers
(:meth:`~ftir_unmixer.models.module.FTIRUnmixerModule.reported_endmembers`: Eq. 5, with
their nuisance components removed if the model has a nuisance subspace) divided by the
reconstruction scale :math:`s` and mapped back through the normaliser
(:func:`~ftir_unmixer.training.results.input_endmembers`). ``band_minmax`` maps back affinely
(:math:`e\cdot\mathrm{span} + \mathrm{lo}`), so :math:`s` changes the angles, and the
decoder's scale drifts while training, so :math:`s` is estimated at every point, as the
results define it (:func:`reconstruction_scale`), on:

* a fixed sample: ``sample_pixels`` valid pixels at least :math:`r` pixels from the image
  border (:math:`r` =
  :attr:`~ftir_unmixer.models.autoencoder.UnmixingAutoencoder.receptive_radius`), drawn
  once from the run's seed, each run through the network in eval mode in its
  :math:`(2r+1)\times(2r+1)` window; a window holds everything the centre pixel's output
  depends on, so the centre's reconstruction is exactly the one whole-image inference gives;
* the whole image, run through the network once, when it has no more pixels than the
  sample's windows (:math:`HW \le n(2r+1)^2`, e.g. every scene up to about 320×320 pixels
  with the default 2048 and :math:`r = 3`): cheaper, and exactly the results' :math:`s`;
* nothing, for a normaliser without an offset (``none``, ``band_noise``, ``pixel_l2``): it
  maps back linearly, so :math:`s` changes no score.

The weights scored are the current ones; the results use the best-loss checkpoint, so the
curve's last point can differ from the final ``gt/…`` metrics (which, logged at the same
step, then replace it in the loggers).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import lightning as L
import numpy as np
import torch

from ftir_unmixer.data.datamodule import FTIRDataModule
from ftir_unmixer.data.out_of_core import DiskPatchReader
from ftir_unmixer.data.patches import PatchGatherer
from ftir_unmixer.errors import FTIRUnmixerError
from ftir_unmixer.evaluation.diagnostics import ReconstructionSums
from ftir_unmixer.evaluation.ground_truth import endmember_metrics
from ftir_unmixer.io.results_file import LearningCurve
from ftir_unmixer.models.module import FTIRUnmixerModule
from ftir_unmixer.nuisance import orthogonal_projector
from ftir_unmixer.training.callbacks import ResultsWriter
from ftir_unmixer.training.results import input_endmembers

WindowReader = Callable[[np.ndarray], torch.Tensor]
"""``(n, 2)`` centres → ``(n, B, w, w)`` preprocessed windows on the module's device."""

Batches = Iterable[tuple[torch.Tensor, torch.Tensor]]
"""``(windows (n, B, h, w), picked pixels (n, h, w) bool)`` on the module's device."""

SAMPLE_STREAM = 7
"""Mixed into the run's seed for the sample's draw, so it is not the draw of another sample."""


def sample_centres(mask: np.ndarray, radius: int, count: int, seed: int) -> np.ndarray:
    """Valid pixels at least ``radius`` from the image border, at most ``count`` of them.

    Args:
        mask: ``(H, W)`` valid pixels.
        radius: the border to keep clear.
        count: the sample size; all candidates when there are no more.
        seed: the run's seed (drawn with ``default_rng([seed, SAMPLE_STREAM])``).

    Returns:
        ``(n, 2)`` int64 ``(row, col)``, in row-major order.
    """
    height, width = mask.shape
    inner = np.zeros((height, width), dtype=bool)
    inside = (slice(radius, height - radius), slice(radius, width - radius))
    inner[inside] = mask[inside]
    centres = np.argwhere(inner)
    if len(centres) > count:
        rng = np.random.default_rng([seed, SAMPLE_STREAM])
        centres = centres[np.sort(rng.choice(len(centres), count, replace=False))]
    return centres.astype(np.int64)


def window_reader(dm: FTIRDataModule, size: int, device: torch.device) -> WindowReader:
    """Read ``size × size`` windows of the preprocessed cube as the training batches are read.

    In memory they are gathered from the cube already on ``device`` (no second copy); out of
    core they are read from the file.
    """
    if dm.out_of_core:
        reader = DiskPatchReader(dm.source, size)
        return lambda centres: reader(torch.from_numpy(centres)).to(device)
    gatherer = PatchGatherer(dm.gatherer.cube_on(device), size)
    return lambda centres: gatherer(torch.from_numpy(centres).to(device))


def centre_batches(
    windows: WindowReader, centres: np.ndarray, radius: int, batch_size: int = 256
) -> Batches:
    """Windows around ``centres``, ``batch_size`` at a time, each with its centre picked."""
    for start in range(0, len(centres), batch_size):
        batch = windows(centres[start : start + batch_size])
        pick = torch.zeros(batch.shape[:1] + batch.shape[2:], dtype=torch.bool)
        pick[:, radius, radius] = True
        yield batch, pick.to(batch.device)


def image_batches(dm: FTIRDataModule, device: torch.device) -> Batches:
    """The whole preprocessed image as one window, its valid pixels picked."""
    if dm.out_of_core:
        cube = torch.from_numpy(dm.source.rows(0, dm.source.shape[0])).to(device)
    else:
        cube = dm.gatherer.cube_on(device)
    yield cube.permute(2, 0, 1)[None], torch.from_numpy(dm.data.mask)[None].to(device)


@torch.no_grad()
def reconstruction_scale(module: FTIRUnmixerModule, batches: Batches) -> float:
    """The reconstruction scale ``s`` over picked pixels of windows, in eval mode.

    As the results compute it (:meth:`~ftir_unmixer.models.module.FTIRUnmixerModule.unmix_cube`):
    the least-squares ``s = ∑x̂²/∑x x̂`` (``ReconstructionSums.scale``) of the parts of the
    spectra orthogonal to the model's nuisance subspace, if it has one.

    Args:
        module: the network.
        batches: the windows and the pixels of each that enter the sums.
    """
    project = orthogonal_projector(module.nuisance_basis)
    sums = ReconstructionSums()
    was_training = module.training
    module.eval()
    for windows, pick in batches:
        reconstruction, _ = module(windows)
        x = windows.movedim(1, -1)[pick].cpu().numpy()
        x_hat = reconstruction.movedim(1, -1)[pick].cpu().numpy()
        sums.add(project(x), project(x_hat))
    module.train(was_training)
    return sums.scale


class GroundTruthCurve(L.Callback):
    """Log the decoder endmembers' matched angle to the ground truth every N epochs.

    Off (does nothing) when the data have no ground truth or ``every_n_epochs`` is 0; only
    rank 0 computes. The points are kept in checkpoints, so a resumed run continues its
    curve. See the module's description for the reconstruction scale.

    Args:
        every_n_epochs: the period in epochs (``callbacks.gt_curve.every_n_epochs``); 0: off.
        sample_pixels: ``n``, the pixels the reconstruction scale is estimated on.
        batch_size: windows per forward pass of that estimate.
    """

    def __init__(
        self, every_n_epochs: int = 5, sample_pixels: int = 2048, batch_size: int = 256
    ) -> None:
        super().__init__()
        if every_n_epochs < 0 or sample_pixels < 1 or batch_size < 1:
            raise FTIRUnmixerError(
                "callbacks.gt_curve.every_n_epochs must be ≥ 0 (0 switches the learning curve "
                "off), and callbacks.gt_curve.sample_pixels and batch_size positive."
            )
        self.every_n_epochs = every_n_epochs
        self.sample_pixels = sample_pixels
        self.batch_size = batch_size
        self.points: list[dict] = []
        self._batches: Callable[[], Batches] | None = None

    def state_dict(self) -> dict:
        """The points so far (stored in checkpoints)."""
        return {"points": self.points}

    def load_state_dict(self, state_dict: dict) -> None:
        """Continue the curve of a checkpoint."""
        self.points = list(state_dict["points"])

    @staticmethod
    def _active_on(trainer: L.Trainer) -> bool:
        dm = trainer.datamodule
        return trainer.is_global_zero and dm is not None and dm.data.ground_truth is not None

    def on_train_start(self, trainer: L.Trainer, pl_module: FTIRUnmixerModule) -> None:
        """The first point: the endmembers the training starts from."""
        if self.every_n_epochs and self._active_on(trainer):
            self.record(trainer, pl_module, trainer.current_epoch)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: FTIRUnmixerModule) -> None:
        """A point when the count of finished epochs is a multiple of N."""
        epoch = trainer.current_epoch + 1
        if self.every_n_epochs and epoch % self.every_n_epochs == 0 and self._active_on(trainer):
            self.record(trainer, pl_module, epoch)

    def on_train_end(self, trainer: L.Trainer, pl_module: FTIRUnmixerModule) -> None:
        """The last point (if the last epoch was not one), and the curve to the results."""
        if not (self.every_n_epochs and self._active_on(trainer)):
            return
        self.record(trainer, pl_module, trainer.current_epoch)
        for callback in trainer.callbacks:
            if isinstance(callback, ResultsWriter):
                callback.learning_curve = self.curve(trainer.datamodule.data.ground_truth.names)

    def record(self, trainer: L.Trainer, pl_module: FTIRUnmixerModule, epoch: int) -> None:
        """Score the current endmembers, log the scores and keep the point.

        Nothing happens when the current step already has its point.
        """
        step = trainer.global_step
        if self.points and self.points[-1]["step"] == step:
            return
        dm: FTIRDataModule = trainer.datamodule
        metrics, matching = endmember_metrics(
            self.endmembers(dm, pl_module),
            dm.data.ground_truth,
            dm.data.wavenumbers,
            bad_windows=dm.band_weight_config.bad_windows,
        )
        for logger in trainer.loggers:
            logger.log_metrics(metrics, step=step)
        per_material = np.full(len(dm.data.ground_truth.names), np.nan)
        per_material[matching.true_indices] = matching.angles_deg
        self.points.append(
            {
                "epoch": int(epoch),
                "step": int(step),
                "mean_angle_deg": metrics["gt/mean_angle_deg"],
                "mean_angle_clean_deg": metrics["gt/mean_angle_clean_deg"],
                "angle_deg": per_material.tolist(),
            }
        )

    def endmembers(self, dm: FTIRDataModule, pl_module: FTIRUnmixerModule) -> np.ndarray:
        """The decoder's endmembers in the units of the input cube, as the results put them.

        ``model.refit`` is left out: it is applied once, to the final results.
        """
        model = pl_module.reported_endmembers(pl_module.net.endmembers().detach().cpu().numpy())
        return input_endmembers(dm, model, self.reconstruction_scale(dm, pl_module))

    def reconstruction_scale(self, dm: FTIRDataModule, pl_module: FTIRUnmixerModule) -> float:
        """``s`` of the current network, estimated as the module's description says."""
        if self._batches is None:
            self._batches = self._plan_scale(dm, pl_module)
        return reconstruction_scale(pl_module, self._batches())

    def _plan_scale(
        self, dm: FTIRDataModule, pl_module: FTIRUnmixerModule
    ) -> Callable[[], Batches]:
        """How ``s`` is estimated in this run: no pass, the whole image or the sample."""
        if not dm.normalizer.endmembers_to_input(np.zeros((dm.num_bands, 1))).any():
            return lambda: ()
        radius = pl_module.net.receptive_radius
        size = 2 * radius + 1
        height, width = dm.data.mask.shape
        centres = sample_centres(dm.data.mask, radius, self.sample_pixels, dm.seed)
        device = pl_module.device
        if height * width <= self.sample_pixels * size**2 or not len(centres):
            return lambda: image_batches(dm, device)
        windows = window_reader(dm, size, device)
        return lambda: centre_batches(windows, centres, radius, self.batch_size)

    def curve(self, materials: list[str]) -> LearningCurve:
        """The points so far as a :class:`~ftir_unmixer.io.results_file.LearningCurve`."""
        columns = {
            key: np.array([p[key] for p in self.points], dtype)
            for key, dtype in (
                ("epoch", np.int64),
                ("step", np.int64),
                ("mean_angle_deg", np.float64),
                ("mean_angle_clean_deg", np.float64),
            )
        }
        angles = np.array([p["angle_deg"] for p in self.points], np.float64)
        return LearningCurve(
            **columns,
            angle_deg=angles.reshape(len(self.points), len(materials)),
            materials=list(materials),
        )
