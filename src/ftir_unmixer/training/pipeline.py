"""One training job from a composed configuration: instantiate, fit, write results.

``cfg.model`` selects the method: the FTIR-unmixer network (trained by Lightning) or a
classical baseline (``model=nmf|mcr_als|vca_fcls``, fitted directly). Both read the same
DataModule (same file, mask and preprocessing) and finish through
:func:`ftir_unmixer.outputs.finish_run`, so they write the same contract and metrics.
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

import lightning as L
import numpy as np
import torch
from hydra.errors import InstantiationException
from hydra.utils import get_class, instantiate
from omegaconf import DictConfig, OmegaConf

from ftir_unmixer.baselines.base import BaseUnmixer
from ftir_unmixer.data.datamodule import FTIRDataModule
from ftir_unmixer.errors import FTIRUnmixerError
from ftir_unmixer.evaluation.diagnostics import ReconstructionSums
from ftir_unmixer.evaluation.library import ReferenceLibrary
from ftir_unmixer.io.run_folder import FIGURE_FILES
from ftir_unmixer.outputs import finish_run, run_attributes
from ftir_unmixer.training.callbacks import ResultsWriter
from ftir_unmixer.training.loggers import log_run_end
from ftir_unmixer.unmixing import check_num_endmembers

log = logging.getLogger(__name__)


def build(node: DictConfig, **kwargs: object) -> object:
    """``hydra.utils.instantiate``, re-raising our own user-facing errors unwrapped.

    Hydra wraps exceptions raised by a target in an ``InstantiationException``; a
    :class:`FTIRUnmixerError` inside it is the one sentence the user should see.
    """
    try:
        return instantiate(node, **kwargs)
    except InstantiationException as exc:
        cause = exc.__cause__
        if isinstance(cause, FTIRUnmixerError):
            raise cause from None
        raise


def instantiate_group(group: DictConfig | None) -> list:
    """Instantiate every entry of a config group such as ``callbacks`` or ``logger``."""
    if not group:
        return []
    return [build(node) for node in group.values() if node and "_target_" in node]


def finish_wandb() -> None:
    """Close the W&B run so the next Hydra multirun job starts a new one."""
    if "wandb" in sys.modules:
        sys.modules["wandb"].finish()


def is_baseline(model_cfg: DictConfig) -> bool:
    """Whether ``cfg.model`` is a classical baseline rather than the network."""
    return issubclass(get_class(model_cfg._target_), BaseUnmixer)


def fit_network(
    cfg: DictConfig, datamodule: FTIRDataModule, resolved: dict, loggers: list
) -> tuple[dict[str, float], dict[str, Path]]:
    """Train the FTIR-unmixer with Lightning; the :class:`ResultsWriter` writes the outputs."""
    module = build(
        cfg.model,
        num_bands=datamodule.num_bands,
        loss_name=cfg.loss.name,
        band_weights=datamodule.band_weight_estimate.weights,
    )
    if not cfg.get("ckpt_path"):
        module.initialise_endmembers(datamodule.valid_pixels(), datamodule.seed)
    callbacks = instantiate_group(cfg.get("callbacks"))
    writers = [cb for cb in callbacks if isinstance(cb, ResultsWriter)]
    if not writers:
        writers = [ResultsWriter(cfg.paths.output_dir)]
        callbacks.extend(writers)
    for writer in writers:
        writer.run_config = resolved
    trainer: L.Trainer = build(cfg.trainer, callbacks=callbacks, logger=loggers or False)
    trainer.fit(module, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"))
    return writers[0].metrics, writers[0].paths


def fit_baseline(
    cfg: DictConfig, datamodule: FTIRDataModule, resolved: dict, loggers: list
) -> tuple[dict[str, float], dict[str, Path]]:
    """Fit a classical baseline on the same preprocessed cube and write the same outputs."""
    library_paths = cfg.get("evaluation", {}).get("library")
    library = ReferenceLibrary.from_paths(library_paths) if library_paths else None
    estimator: BaseUnmixer = build(cfg.model)
    cube = datamodule.data.cube
    height, width, bands = cube.shape
    start = time.perf_counter()
    estimator.fit(cube.reshape(-1, bands))
    runtime = time.perf_counter() - start
    result = estimator.to_result(
        datamodule.data.wavenumbers,
        (height, width),
        attrs=run_attributes(
            resolved,
            method=estimator.method,
            loss=estimator.method,
            num_endmembers=estimator.num_endmembers,
            seed=datamodule.seed,
            input_path=datamodule.resolve_path(),
            preprocessing=datamodule.preprocessing,
            runtime_s=runtime,
        ),
    )
    result.endmembers = datamodule.normalizer.endmembers_to_input(estimator.endmembers_)
    result.band_diagnostics = datamodule.band_weight_estimate.diagnostics
    result.reconstruction_error = np.where(
        datamodule.data.mask, result.reconstruction_error, np.nan
    )
    reconstruction = ReconstructionSums.of(
        cube,
        estimator.reconstruction_.reshape(height, width, bands).astype(np.float32),
        datamodule.data.mask,
        band_weights=result.band_weights,
    )
    evaluation, paths = finish_run(
        cfg.paths.output_dir,
        result,
        datamodule.data,
        reconstruction,
        bad_windows=datamodule.band_weight_config.bad_windows,
        library=library,
        match_threshold_deg=cfg.get("evaluation", {}).get("match_threshold_deg", 15.0),
    )
    log_run_end(loggers, evaluation.metrics, {name: paths[name] for name in FIGURE_FILES}, 0)
    return evaluation.metrics, paths


def run(cfg: DictConfig) -> dict[str, float]:
    """Unmix ``cfg.data`` with ``cfg.model`` and write the results contract.

    Args:
        cfg: the composed configuration (``conf/train.yaml``).

    Returns:
        The run's final metrics (also stored in ``results.h5``).
    """
    if cfg.get("threads"):
        torch.set_num_threads(int(cfg.threads))
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    baseline = is_baseline(cfg.model)
    if baseline and cfg.data.get("out_of_core"):
        raise FTIRUnmixerError(
            f"{cfg.model._target_.rsplit('.', 1)[-1]} fits the whole cube in memory and cannot "
            "be combined with data.out_of_core=true; set data.out_of_core=false or use "
            "model=ftir_unmixer."
        )
    datamodule = build(cfg.data)
    datamodule.prepare_data()
    datamodule.setup("fit")
    resolved = OmegaConf.to_container(cfg, resolve=True)
    check_num_endmembers(cfg.model.num_endmembers, datamodule.num_bands)
    fit = fit_baseline if baseline else fit_network
    loggers = instantiate_group(cfg.get("logger"))
    for logger in loggers:
        logger.log_hyperparams(resolved)
    try:
        metrics, paths = fit(cfg, datamodule, resolved, loggers)
    finally:
        finish_wandb()
    if paths:
        log.info("Outputs are in %s", cfg.paths.output_dir)
        for name, path in paths.items():
            log.info("  %-15s %s", name, path)
        if cfg.get("hint"):
            log.info("%s", cfg.hint)
    return metrics
