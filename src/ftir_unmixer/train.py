"""Hydra entry point: ``python -m ftir_unmixer.train [overrides]`` (thin: compose, run).

A single run stops on a user error with one sentence and exit status 2. In a multirun
(``-m``) a failing job must not end the sweep: its error is written to ``error.txt`` in the
job's output directory, logged, and the next job starts (``ftir-unmixer report`` lists it).
"""

from __future__ import annotations

import logging
import math
import sys
import traceback
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from ftir_unmixer.errors import FTIRUnmixerError
from ftir_unmixer.io.run_folder import ERROR_FILE
from ftir_unmixer.training.config import CONFIG_DIR

log = logging.getLogger(__name__)


def record_failure(exc: Exception) -> Path:
    """Write a failed job's error to ``error.txt`` in its output directory and log it.

    User errors are stored as their one sentence, anything else as the full traceback.

    Args:
        exc: the exception the job raised.

    Returns:
        The written file.
    """
    hydra_cfg = HydraConfig.get()
    path = Path(hydra_cfg.runtime.output_dir) / ERROR_FILE
    if isinstance(exc, FTIRUnmixerError):
        text = f"{exc}\n"
    else:
        text = "".join(traceback.format_exception(exc))
    path.write_text(text)
    log.error(
        "Job %s (%s) failed: %s; the sweep goes on (details in %s).",
        hydra_cfg.job.num,
        " ".join(hydra_cfg.overrides.task),
        exc,
        path,
    )
    return path


def optimized_value(cfg: DictConfig, metrics: dict[str, float]) -> float | None:
    """The metric named by ``optimized_metric`` (for sweepers such as Optuna), or None.

    Raises:
        FTIRUnmixerError: if the run did not produce that metric.
    """
    name = cfg.get("optimized_metric")
    if not name:
        return None
    if name not in metrics:
        available = ", ".join(sorted(k for k in metrics if k.count("/") == 1))
        raise FTIRUnmixerError(
            f"optimized_metric={name} is not a metric of this run (gt/… metrics need ground "
            f"truth); choose one of: {available}."
        )
    return metrics[name]


@hydra.main(version_base="1.3", config_path=str(CONFIG_DIR), config_name="train")
def main(cfg: DictConfig) -> float | None:
    """Train one configuration; returns the metric named by ``optimized_metric`` for sweepers.

    A failed multirun job returns NaN, which Optuna records as a failed trial.
    """
    from ftir_unmixer.training.loggers import finish_wandb
    from ftir_unmixer.training.pipeline import run

    try:
        return optimized_value(cfg, run(cfg))
    except Exception as exc:
        if HydraConfig.get().mode == RunMode.MULTIRUN:
            finish_wandb()
            record_failure(exc)
            return math.nan
        if isinstance(exc, FTIRUnmixerError):
            log.error("%s", exc)
            sys.exit(2)
        raise


if __name__ == "__main__":
    main()
