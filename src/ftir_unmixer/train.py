"""Hydra entry point: ``python -m ftir_unmixer.train [overrides]`` (thin: compose, run)."""

from __future__ import annotations

import logging
import sys

import hydra
from omegaconf import DictConfig

from ftir_unmixer.config import CONFIG_DIR
from ftir_unmixer.errors import FTIRUnmixerError

log = logging.getLogger(__name__)


@hydra.main(version_base="1.3", config_path=str(CONFIG_DIR), config_name="train")
def main(cfg: DictConfig) -> float | None:
    """Train one configuration; returns the metric named by ``optimized_metric`` for sweepers."""
    from ftir_unmixer.pipeline import run

    try:
        metrics = run(cfg)
    except FTIRUnmixerError as exc:
        log.error("%s", exc)
        sys.exit(2)
    name = cfg.get("optimized_metric")
    return metrics.get(name) if name else None


if __name__ == "__main__":
    main()
