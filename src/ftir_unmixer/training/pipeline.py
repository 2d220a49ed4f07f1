"""One training job from a composed configuration: instantiate, fit, write results.

``cfg.model`` selects the method: the FTIR-unmixer network (trained by Lightning) or a
classical baseline (``model=nmf|mcr_als|vca_fcls``, fitted directly). Both read the same
DataModule (same file, mask and preprocessing) and finish through
:meth:`ftir_unmixer.training.results.RunResults.write`, so they write the same contract and
metrics.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import lightning as L
import torch
from hydra.errors import InstantiationException
from hydra.utils import get_class, instantiate
from omegaconf import DictConfig, OmegaConf

from ftir_unmixer.baselines.base import BaseUnmixer
from ftir_unmixer.data.datamodule import FTIRDataModule
from ftir_unmixer.errors import FTIRUnmixerError
from ftir_unmixer.training.callbacks import ResultsWriter
from ftir_unmixer.training.checks import check_run_config
from ftir_unmixer.training.console import quiet_console
from ftir_unmixer.training.loggers import finish_wandb
from ftir_unmixer.training.results import RunResults
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
    """Instantiate every entry of a config group such as ``logger``."""
    if not group:
        return []
    return [build(node) for node in group.values() if node and "_target_" in node]


def build_callbacks(group: DictConfig | None, results: RunResults) -> list[L.Callback]:
    """The ``callbacks`` group, the results writer given ``results`` (added if absent)."""
    callbacks = []
    for node in (group or {}).values():
        if not node or "_target_" not in node:
            continue
        writes_results = issubclass(get_class(node._target_), ResultsWriter)
        callbacks.append(build(node, results=results) if writes_results else build(node))
    if not any(isinstance(callback, ResultsWriter) for callback in callbacks):
        callbacks.append(ResultsWriter(results))
    return callbacks


def is_baseline(model_cfg: DictConfig) -> bool:
    """Whether ``cfg.model`` is a classical baseline rather than the network."""
    return issubclass(get_class(model_cfg._target_), BaseUnmixer)


def fit_network(
    cfg: DictConfig, datamodule: FTIRDataModule, results: RunResults, loggers: list
) -> tuple[dict[str, float], dict[str, Path]]:
    """Train the FTIR-unmixer with Lightning; the :class:`ResultsWriter` writes the outputs."""
    module = build(
        cfg.model,
        num_bands=datamodule.num_bands,
        loss_name=cfg.loss.name,
        band_weights=datamodule.band_weight_estimate.weights,
    )
    if not cfg.get("ckpt_path"):
        module.initialise_from_data(
            datamodule.valid_pixels(), datamodule.data.wavenumbers, datamodule.seed
        )
    callbacks = build_callbacks(cfg.get("callbacks"), results)
    trainer: L.Trainer = build(cfg.trainer, callbacks=callbacks, logger=loggers or False)
    trainer.fit(module, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"))
    writer = next(callback for callback in callbacks if isinstance(callback, ResultsWriter))
    return writer.metrics, writer.paths


def fit_baseline(
    cfg: DictConfig, datamodule: FTIRDataModule, results: RunResults, loggers: list
) -> tuple[dict[str, float], dict[str, Path]]:
    """Fit a classical baseline on the same preprocessed cube and write the same outputs."""
    estimator: BaseUnmixer = build(cfg.model)
    start = time.perf_counter()
    unmixing = estimator.unmix_cube(datamodule.data.cube, datamodule.data.mask)
    metrics, paths = results.write(
        datamodule,
        unmixing,
        method=estimator.method,
        loss=estimator.method,
        runtime_s=time.perf_counter() - start,
        loggers=loggers,
    )
    explorer = (cfg.get("callbacks") or {}).get("explorer")
    page = build(explorer).write(loggers, 0) if explorer else None
    return metrics, paths | ({"explorer": page} if page is not None else {})


def run(cfg: DictConfig) -> dict[str, float]:
    """Unmix ``cfg.data`` with ``cfg.model`` and write the results contract.

    Args:
        cfg: the composed configuration (``conf/train.yaml``).

    Returns:
        The run's final metrics (also stored in ``results.h5``).
    """
    quiet_console()
    check_run_config(cfg)
    resolved = OmegaConf.to_container(cfg, resolve=True)
    results = RunResults.from_config(cfg, resolved)
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
    check_num_endmembers(cfg.model.num_endmembers, datamodule.num_bands)
    fit = fit_baseline if baseline else fit_network
    loggers = instantiate_group(cfg.get("logger"))
    for logger in loggers:
        logger.log_hyperparams(resolved)
    try:
        metrics, paths = fit(cfg, datamodule, results, loggers)
    finally:
        finish_wandb()
    if paths:
        log.info("Outputs are in %s", cfg.paths.output_dir)
        for name, path in paths.items():
            log.info("  %-15s %s", name, path)
        if cfg.get("hint"):
            log.info("%s", cfg.hint)
    return metrics
