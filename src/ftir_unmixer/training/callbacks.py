"""Lightning callbacks: write the run's results and explorer at the end; log figures on the way."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.loggers import Logger

from ftir_unmixer.data.datamodule import FTIRDataModule
from ftir_unmixer.errors import FTIRUnmixerError
from ftir_unmixer.io.results_file import LearningCurve
from ftir_unmixer.io.run_folder import EXPLORER_FILE, RESULTS_FILE
from ftir_unmixer.models.module import FTIRUnmixerModule
from ftir_unmixer.plots import figure_options, render_figures
from ftir_unmixer.training.loggers import figure_array, log_html, log_images
from ftir_unmixer.training.results import RunResults, unmixing_result
from ftir_unmixer.unmixing import CubeUnmixing

log = logging.getLogger(__name__)


def unmix(dm: FTIRDataModule, pl_module: FTIRUnmixerModule) -> CubeUnmixing:
    """The network's current state applied to the data module's whole cube.

    In row blocks out of core or with ``data.inference_block_rows``; the same call for the
    final results and for the figures logged during training.
    """
    return pl_module.unmix_cube(dm.source, dm.data.mask, dm.inference_block_rows)


class ResultsWriter(L.Callback):
    """At the end of fitting, unmix the whole cube once and write the run's results.

    The weights used are those of the best-loss checkpoint (the authors' script keeps the
    best-loss model) when ``checkpoint="best"`` and one exists, else the final weights.
    ``learning_curve``, when a callback has set it by the end of training
    (:class:`~ftir_unmixer.training.learning_curve.GroundTruthCurve`), is stored with them.

    Args:
        results: where and how the results are written (built by the pipeline, which reads
            the reference library before any work is done).
        checkpoint: ``best`` or ``last`` (``callbacks.results_writer.checkpoint``).
    """

    def __init__(self, results: RunResults, checkpoint: str = "best") -> None:
        super().__init__()
        self.results = results
        self.checkpoint = checkpoint
        self.metrics: dict[str, float] = {}
        self.paths: dict[str, Path] = {}
        self.learning_curve: LearningCurve | None = None
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
        """Unmix the cube and write, score and log the results (rank 0 only)."""
        if not trainer.is_global_zero:
            return
        self._load_best(trainer, pl_module)
        dm: FTIRDataModule = trainer.datamodule
        self.metrics, self.paths = self.results.write(
            dm,
            unmix(dm, pl_module),
            method="ftir_unmixer",
            loss=pl_module.hparams.loss_name,
            runtime_s=time.perf_counter() - self._fit_start,
            loggers=trainer.loggers,
            step=trainer.global_step,
            attrs={"epochs": trainer.current_epoch, "global_step": trainer.global_step},
            learning_curve=self.learning_curve,
        )
        log.info("Results written to %s", self.paths["results"])


class FigureLogger(L.Callback):
    """Every ``every_n_epochs`` epochs, log the run's figures to W&B and TensorBoard.

    The whole cube is unmixed with the current weights and the three figures written at the
    end of the run (abundance maps, endmember spectra, band weights with their diagnostics)
    are drawn by :func:`~ftir_unmixer.plots.render_figures`, so a long run can be watched
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
        result = unmixing_result(dm, unmix(dm, pl_module))
        figures = render_figures(
            result, **figure_options(dm.data, dm.band_weight_config.bad_windows)
        )
        log_images(
            trainer.loggers,
            {name: figure_array(fig) for name, fig in figures.items()},
            trainer.global_step,
        )


class ExplorerWriter(L.Callback):
    """At the end of fitting, write ``explorer.html`` beside ``results.h5`` and log it to W&B.

    The page (:mod:`ftir_unmixer.explorer`) is built from the written ``results.h5`` and the
    input file, so it must run after :class:`ResultsWriter`; W&B shows it as the HTML panel
    ``explorer``. A page that cannot be built (e.g. the input file was removed during the run)
    is reported as a warning: the results are already written.

    Args:
        output_dir: the run's output directory.
        enabled: False switches the explorer off (``callbacks.explorer.enabled=false``).
    """

    def __init__(self, output_dir: str | os.PathLike[str], enabled: bool = True) -> None:
        super().__init__()
        self.output_dir = Path(output_dir)
        self.enabled = enabled

    def write(self, loggers: Sequence[Logger], step: int) -> Path | None:
        """Write the run's explorer and log it; used by the baselines too.

        Returns:
            The written page, None when switched off or when it could not be built.
        """
        if not self.enabled:
            return None
        from ftir_unmixer.explorer.page import write_explorer

        try:
            page = write_explorer([self.output_dir / RESULTS_FILE], self.output_dir / EXPLORER_FILE)
        except FTIRUnmixerError as exc:
            log.warning("explorer.html not written: %s", exc)
            return None
        log_html(loggers, "explorer", page.path, step)
        log.info("Explorer written to %s (%.1f MB)", page.path, page.size_bytes / 1e6)
        return page.path

    def on_fit_end(self, trainer: L.Trainer, pl_module: FTIRUnmixerModule) -> None:
        """Write and log the explorer (rank 0)."""
        if trainer.is_global_zero:
            self.write(trainer.loggers, trainer.global_step)
