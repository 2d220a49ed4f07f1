"""One training job from a composed configuration: instantiate, fit, write results."""

from __future__ import annotations

import logging
import sys

import lightning as L
import torch
from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from ftir_unmixer.callbacks import ResultsWriter
from ftir_unmixer.errors import FTIRUnmixerError

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


def run(cfg: DictConfig) -> dict[str, float]:
    """Train the FTIR-unmixer on ``cfg.data`` and write the results contract.

    Args:
        cfg: the composed configuration (``conf/train.yaml``).

    Returns:
        The run's final metrics (also stored in ``results.h5``).
    """
    if cfg.get("threads"):
        torch.set_num_threads(int(cfg.threads))
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    datamodule = build(cfg.data)
    datamodule.prepare_data()
    datamodule.setup("fit")
    module = build(
        cfg.model,
        num_bands=datamodule.num_bands,
        loss_name=cfg.loss.name,
        band_weights=datamodule.band_weights.weights,
    )
    resolved = OmegaConf.to_container(cfg, resolve=True)
    callbacks = instantiate_group(cfg.get("callbacks"))
    writers = [cb for cb in callbacks if isinstance(cb, ResultsWriter)]
    if not writers:
        writers = [ResultsWriter(cfg.paths.output_dir)]
        callbacks.extend(writers)
    for writer in writers:
        writer.run_config = resolved
    loggers = instantiate_group(cfg.get("logger"))
    trainer: L.Trainer = build(cfg.trainer, callbacks=callbacks, logger=loggers or False)
    for logger in loggers:
        logger.log_hyperparams(resolved)
    try:
        trainer.fit(module, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"))
    finally:
        finish_wandb()
    writer = writers[0]
    if trainer.is_global_zero:
        log.info("Outputs are in %s", cfg.paths.output_dir)
        for name, path in writer.paths.items():
            log.info("  %-15s %s", name, path)
        if cfg.get("hint"):
            log.info("%s", cfg.hint)
    return writer.metrics
