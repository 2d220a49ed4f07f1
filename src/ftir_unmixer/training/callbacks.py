"""Lightning callbacks: write the run's results at the end of fitting; log figures on the way."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import lightning as L
import numpy as np
import torch

from ftir_unmixer.data.datamodule import FTIRDataModule
from ftir_unmixer.errors import FTIRUnmixerError
from ftir_unmixer.evaluation.library import ReferenceLibrary
from ftir_unmixer.io.results_file import UnmixingResult
from ftir_unmixer.io.run_folder import FIGURE_FILES
from ftir_unmixer.models.module import CubeUnmixing, FTIRUnmixerModule
from ftir_unmixer.outputs import (
    figure_options,
    finish_run,
    render_figures,
    run_attributes,
)
from ftir_unmixer.training.loggers import figure_array, log_images, log_run_end

log = logging.getLogger(__name__)


def unmix(dm: FTIRDataModule, pl_module: FTIRUnmixerModule) -> CubeUnmixing:
    """The network's current state applied to the data module's whole cube.

    In row blocks out of core or with ``data.inference_block_rows``; the same call for the
    final results and for the figures logged during training.
    """
    return pl_module.unmix_cube(dm.source, dm.data.mask, dm.inference_block_rows)


def unmixing_result(
    dm: FTIRDataModule,
    pl_module: FTIRUnmixerModule,
    unmixed: CubeUnmixing,
    attrs: dict[str, object] | None = None,
) -> UnmixingResult:
    """The results contract of the network's current state.

    Args:
        dm: the set-up data module (cube, mask, normaliser, band diagnostics).
        pl_module: the module (its loss holds the WSAD weights, None for SAD).
        unmixed: :meth:`~ftir_unmixer.models.module.FTIRUnmixerModule.unmix_cube` of the cube.
        attrs: root attributes to store.

    Returns:
        The result, endmembers in input units (see :class:`ResultsWriter`).
    """
    weights = pl_module.loss.weights
    used = weights.cpu().numpy() if weights is not None else np.ones(dm.num_bands, np.float32)
    return UnmixingResult(
        abundances=unmixed.abundances,
        endmembers=dm.normalizer.endmembers_to_input(unmixed.endmembers_model / unmixed.scale),
        endmembers_model=unmixed.endmembers_model,
        wavenumbers=dm.data.wavenumbers,
        band_weights=used,
        band_diagnostics=dm.band_weight_estimate.diagnostics,
        reconstruction_error=np.where(dm.data.mask, unmixed.reconstruction_angle, np.nan),
        attrs=attrs or {},
    )


class ResultsWriter(L.Callback):
    """At the end of fitting, unmix the whole cube once and write the results contract.

    ``endmembers`` are Eq. 5's endmembers divided by the reconstruction scale (the angle loss
    leaves the decoder's overall scale free; see
    :class:`~ftir_unmixer.models.module.CubeUnmixing`) and mapped back through the
    preprocessing into the units of the input cube; ``endmembers_model`` is Eq. 5 exactly.

    The weights used are those of the best-loss checkpoint (the authors' script keeps the
    best-loss model) when ``checkpoint="best"`` and one exists, else the final weights.

    Args:
        output_dir: the run's output directory.
        checkpoint: ``best`` or ``last``.
        run_config: the resolved run configuration, stored in the results' attributes (set by
            the training entry point).
        library: reference spectra (files or folders of two-column exports) to name the
            endmembers with (``evaluation.library``); loaded here, so a bad path stops the
            run before training.
        match_threshold_deg: largest spectral angle accepted as an identification.
    """

    def __init__(
        self,
        output_dir: str | os.PathLike[str],
        checkpoint: str = "best",
        run_config: Mapping | None = None,
        library: Sequence[str] | None = None,
        match_threshold_deg: float = 15.0,
    ) -> None:
        super().__init__()
        self.output_dir = Path(output_dir)
        self.checkpoint = checkpoint
        self.run_config = run_config
        self.library = ReferenceLibrary.from_paths(library) if library else None
        self.match_threshold_deg = match_threshold_deg
        self.metrics: dict[str, float] = {}
        self.paths: dict[str, Path] = {}
        self._fit_start = time.perf_counter()

    def on_fit_start(self, trainer: L.Trainer, pl_module: FTIRUnmixerModule) -> None:
        """Start the runtime clock."""
        self._fit_start = time.perf_counter()

    def _load_best(self, trainer: L.Trainer, pl_module: FTIRUnmixerModule) -> None:
        callback = trainer.checkpoint_callback
        best = getattr(callback, "best_model_path", "") if callback is not None else ""
        if self.checkpoint == "best" and best and Path(best).is_file():
            state = torch.load(best, map_location=pl_module.device, weights_only=False)
            pl_module.load_state_dict(state["state_dict"])
            log.info("Results use the best-loss checkpoint %s", best)

    def on_fit_end(self, trainer: L.Trainer, pl_module: FTIRUnmixerModule) -> None:
        """Unmix the cube, evaluate, write the outputs; log metrics, figures and W&B summary."""
        if not trainer.is_global_zero:
            return
        self._load_best(trainer, pl_module)
        dm: FTIRDataModule = trainer.datamodule
        unmixed = unmix(dm, pl_module)
        result = unmixing_result(
            dm,
            pl_module,
            unmixed,
            attrs=run_attributes(
                self.run_config,
                method="ftir_unmixer",
                loss=pl_module.hparams.loss_name,
                num_endmembers=unmixed.abundances.shape[2],
                seed=dm.seed,
                input_path=dm.resolve_path(),
                preprocessing=dm.preprocessing,
                runtime_s=time.perf_counter() - self._fit_start,
            )
            | {
                "epochs": trainer.current_epoch,
                "global_step": trainer.global_step,
                "reconstruction_scale": unmixed.scale,
            },
        )
        evaluation, self.paths = finish_run(
            self.output_dir,
            result,
            dm.data,
            unmixed.sums.rescaled(unmixed.scale),
            bad_windows=dm.band_weight_config.bad_windows,
            library=self.library,
            match_threshold_deg=self.match_threshold_deg,
        )
        self.metrics = evaluation.metrics
        log_run_end(
            trainer.loggers,
            self.metrics,
            {name: self.paths[name] for name in FIGURE_FILES},
            trainer.global_step,
        )
        log.info("Results written to %s", self.paths["results"])


class FigureLogger(L.Callback):
    """Every ``every_n_epochs`` epochs, log the run's figures to W&B and TensorBoard.

    The whole cube is unmixed with the current weights and the three figures written at the
    end of the run (abundance maps, endmember spectra, band weights with their diagnostics)
    are drawn by :func:`~ftir_unmixer.outputs.render_figures`, so a long run can be watched
    while it trains. Loggers that take no images (CSV) are skipped.

    Args:
        every_n_epochs: the logging period in epochs; 0 switches the callback off.
    """

    def __init__(self, every_n_epochs: int = 50) -> None:
        super().__init__()
        if every_n_epochs < 0:
            raise FTIRUnmixerError(
                f"callbacks.figure_logger.every_n_epochs={every_n_epochs} must be ≥ 0 "
                "(0 switches the figure logging off)."
            )
        self.every_n_epochs = every_n_epochs

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: FTIRUnmixerModule) -> None:
        """Unmix the cube and log the figures when the epoch count is a multiple of N."""
        epoch = trainer.current_epoch + 1
        if not self.every_n_epochs or epoch % self.every_n_epochs or not trainer.is_global_zero:
            return
        if not trainer.loggers:
            return
        dm: FTIRDataModule = trainer.datamodule
        result = unmixing_result(dm, pl_module, unmix(dm, pl_module))
        figures = render_figures(
            result, **figure_options(dm.data, dm.band_weight_config.bad_windows)
        )
        log_images(
            trainer.loggers,
            {name: figure_array(fig) for name, fig in figures.items()},
            trainer.global_step,
        )
