"""A run's results, assembled one way for the network and the baselines alike.

Every method hands :meth:`RunResults.write` its :class:`~ftir_unmixer.unmixing.CubeUnmixing`
of the preprocessed cube; from it and the set-up data module come the results contract
(endmembers back in input units), the scores (ground truth, diagnostics, library), the files
of the run folder (:mod:`ftir_unmixer.io.run_folder`) and what the loggers receive.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from lightning.pytorch.loggers import Logger
from omegaconf import DictConfig

from ftir_unmixer import __version__
from ftir_unmixer.data.datamodule import FTIRDataModule
from ftir_unmixer.evaluation.library import DEFAULT_MATCH_THRESHOLD_DEG, ReferenceLibrary
from ftir_unmixer.evaluation.run_evaluation import evaluate_run
from ftir_unmixer.io.results_file import (
    LearningCurve,
    UnmixingResult,
    write_endmembers_csv,
    write_results,
)
from ftir_unmixer.io.run_folder import ENDMEMBERS_CSV, FIGURE_FILES, RESULTS_FILE
from ftir_unmixer.plots import component_titles, figure_options, write_figures
from ftir_unmixer.training.loggers import log_run_end
from ftir_unmixer.unmixing import CubeUnmixing


def input_endmembers(dm: FTIRDataModule, endmembers: np.ndarray, scale: float) -> np.ndarray:
    """Model-space ``(B, K)`` endmembers in the units of the input cube.

    Divided by the reconstruction scale ``s`` (:class:`~ftir_unmixer.unmixing.CubeUnmixing`)
    and mapped back through the data module's normaliser.
    """
    return dm.normalizer.endmembers_to_input(endmembers / scale)


def unmixing_result(
    dm: FTIRDataModule, unmixing: CubeUnmixing, attrs: Mapping[str, object] | None = None
) -> UnmixingResult:
    """The results contract of a method's unmixing of the data module's cube.

    ``endmembers`` are the reported model-space endmembers (:attr:`CubeUnmixing.endmembers`)
    in the units of the input cube (:func:`input_endmembers`); ``endmembers_model`` are kept
    as the method holds them.

    Args:
        dm: the set-up data module (cube, mask, normaliser, band diagnostics).
        unmixing: the method's output on the whole cube.
        attrs: root attributes to store.
    """
    return UnmixingResult(
        abundances=unmixing.abundances,
        endmembers=input_endmembers(dm, unmixing.endmembers, unmixing.scale),
        endmembers_model=unmixing.endmembers_model,
        wavenumbers=dm.data.wavenumbers,
        band_weights=unmixing.band_weights,
        band_diagnostics=dm.band_weight_estimate.diagnostics,
        reconstruction_error=np.where(dm.data.mask, unmixing.reconstruction_angle, np.nan),
        attrs=dict(attrs or {}),
    )


class RunResults:
    """Where and how a run's results are written: the settings every method shares.

    A plain class, not a dataclass: Hydra would take a dataclass passed to ``instantiate`` for
    a configuration.

    Args:
        output_dir: the run folder.
        run_config: the resolved configuration, stored as the ``config`` attribute.
        library: reference spectra to name the endmembers with (``evaluation.library``).
        match_threshold_deg: largest angle accepted as an identification.
    """

    def __init__(
        self,
        output_dir: str | os.PathLike[str],
        run_config: Mapping[str, object],
        library: ReferenceLibrary | None = None,
        match_threshold_deg: float = DEFAULT_MATCH_THRESHOLD_DEG,
    ) -> None:
        self.output_dir = Path(output_dir)
        self.run_config = run_config
        self.library = library
        self.match_threshold_deg = match_threshold_deg

    @classmethod
    def from_config(cls, cfg: DictConfig, resolved: Mapping[str, object]) -> RunResults:
        """The settings of a composed configuration.

        The reference library is read here, so a bad path stops the run before any work.

        Args:
            cfg: the composed configuration.
            resolved: the same, resolved to plain containers.
        """
        evaluation = cfg.get("evaluation") or {}
        paths = evaluation.get("library")
        return cls(
            output_dir=Path(cfg.paths.output_dir),
            run_config=resolved,
            library=ReferenceLibrary.from_paths(paths) if paths else None,
            match_threshold_deg=evaluation.get("match_threshold_deg", DEFAULT_MATCH_THRESHOLD_DEG),
        )

    def write(
        self,
        dm: FTIRDataModule,
        unmixing: CubeUnmixing,
        *,
        method: str,
        loss: str,
        runtime_s: float,
        loggers: Sequence[Logger] = (),
        step: int = 0,
        attrs: Mapping[str, object] | None = None,
        learning_curve: LearningCurve | None = None,
    ) -> tuple[dict[str, float], dict[str, Path]]:
        """Score a method's unmixing, write the run folder and log the run's end.

        Args:
            dm: the set-up data module.
            unmixing: the method's output on the whole cube.
            method: ``ftir_unmixer`` or a baseline's name.
            loss: ``sad``/``wsad`` for the network, the baseline's name otherwise.
            runtime_s: fitting time in seconds.
            loggers: the run's loggers (metrics, figures, W&B summary).
            step: the step the metrics and figures are logged at.
            attrs: further attributes (e.g. the network's epochs).
            learning_curve: the network's learning curve, stored as ``learning_curve/``.

        Returns:
            The metrics (also stored in ``results.h5``) and output name → written path.
        """
        provenance = {
            "config": self.run_config,
            "method": method,
            "loss": loss,
            "num_endmembers": unmixing.abundances.shape[2],
            "seed": dm.seed,
            "version": __version__,
            "input": str(dm.input_path),
            "normalization": dm.preprocessing["normalization"],
            "preprocessing": dm.preprocessing,
            "runtime_s": runtime_s,
            "reconstruction_scale": unmixing.scale,
        }
        result = unmixing_result(dm, unmixing, provenance | unmixing.attrs | dict(attrs or {}))
        result.learning_curve = learning_curve
        bad_windows = dm.band_weight_config.bad_windows
        evaluation = evaluate_run(
            result,
            dm.data,
            unmixing.sums.rescaled(unmixing.scale),
            bad_windows,
            library=self.library,
            match_threshold_deg=self.match_threshold_deg,
        )
        result.attrs.update(evaluation.metrics)
        paths = self._write_files(
            result,
            titles=component_titles(result.num_endmembers, evaluation.labels),
            **figure_options(dm.data, bad_windows),
        )
        figures = {name: paths[name] for name in FIGURE_FILES}
        log_run_end(loggers, evaluation.metrics, figures, step)
        return evaluation.metrics, paths

    def _write_files(self, result: UnmixingResult, **figure_kwargs: object) -> dict[str, Path]:
        out = self.output_dir
        paths = {
            "results": write_results(out / RESULTS_FILE, result),
            "endmembers_csv": write_endmembers_csv(
                out / ENDMEMBERS_CSV, result.wavenumbers, result.endmembers
            ),
        }
        return paths | write_figures(out, result, **figure_kwargs)
