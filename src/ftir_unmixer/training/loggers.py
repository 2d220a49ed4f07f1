"""Send a run's figures, explorer and final metrics to the experiment loggers (W&B, TensorBoard).

Images go to every logger that takes them: :class:`~lightning.pytorch.loggers.WandbLogger`
(``log_image``, shown as media panels under ``figures/…``) and
:class:`~lightning.pytorch.loggers.TensorBoardLogger` (``add_image``, the *Images* tab). The
CSV logger takes none and is skipped. Final metrics also go into the W&B run summary, so the
runs table of a dashboard shows them as columns.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from lightning.pytorch.loggers import Logger, TensorBoardLogger, WandbLogger
from matplotlib.figure import Figure

Image = np.ndarray | str | os.PathLike[str]
"""An RGB ``(H, W, 3)`` uint8 array or the path of a PNG file."""

FIGURE_PREFIX = "figures"
"""Key prefix of the logged figures (``figures/abundance_maps`` …)."""


def figure_array(fig: Figure) -> np.ndarray:
    """Render a Matplotlib figure to an RGB array and close it.

    Args:
        fig: the figure.

    Returns:
        ``(H, W, 3)`` uint8 pixels.
    """
    fig.canvas.draw()
    pixels = np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()
    plt.close(fig)
    return pixels


def image_array(image: Image) -> np.ndarray:
    """An image as ``(H, W, 3)`` uint8 pixels (PNG files are read)."""
    if isinstance(image, np.ndarray):
        return image
    pixels = plt.imread(os.fspath(image))[..., :3]
    return pixels if pixels.dtype == np.uint8 else (pixels * 255).round().astype(np.uint8)


def log_images(loggers: Sequence[Logger], images: Mapping[str, Image], step: int) -> None:
    """Log images as ``figures/<name>`` to every W&B and TensorBoard logger.

    Args:
        loggers: the trainer's loggers.
        images: name → RGB array or PNG path.
        step: the global step the images belong to.
    """
    for logger in loggers:
        for name, image in images.items():
            key = f"{FIGURE_PREFIX}/{name}"
            if isinstance(logger, WandbLogger):
                payload = image if isinstance(image, np.ndarray) else os.fspath(image)
                logger.log_image(key=key, images=[payload], step=step)
            elif isinstance(logger, TensorBoardLogger):
                logger.experiment.add_image(key, image_array(image), step, dataformats="HWC")


def log_html(loggers: Sequence[Logger], key: str, path: str | os.PathLike[str], step: int) -> None:
    """Log an HTML file to every W&B logger as an HTML panel (``wandb.Html``).

    The file is logged as it is (no W&B stylesheet injected), so a self-contained page stays
    self-contained. Other loggers take no HTML and are skipped.

    Args:
        loggers: the run's loggers.
        key: the panel's key, e.g. ``explorer``.
        path: the ``.html`` file.
        step: the global step it belongs to.
    """
    for logger in loggers:
        if isinstance(logger, WandbLogger):
            import wandb

            logger.log_metrics({key: wandb.Html(os.fspath(path), inject=False)}, step=step)


def log_summary(loggers: Sequence[Logger], metrics: Mapping[str, float]) -> None:
    """Put the final metrics into the summary of every W&B run.

    Args:
        loggers: the trainer's loggers.
        metrics: the run's final ``gt/…``, ``diag/…`` and ``id/…`` metrics.
    """
    for logger in loggers:
        if isinstance(logger, WandbLogger):
            logger.experiment.summary.update(dict(metrics))


def log_run_end(
    loggers: Sequence[Logger],
    metrics: Mapping[str, float],
    figures: Mapping[str, Image],
    step: int,
) -> None:
    """Log a finished run: its metrics, its figures and the W&B run summary.

    Shared by the network's results writer and the baselines, so both log alike.

    Args:
        loggers: the run's loggers.
        metrics: the final metrics.
        figures: figure name → image (path or array).
        step: the step the metrics and images are logged at.
    """
    for logger in loggers:
        logger.log_metrics(dict(metrics), step=step)
    log_images(loggers, figures, step)
    log_summary(loggers, metrics)


def finish_wandb() -> None:
    """Close the W&B run, if W&B is in use, so the next Hydra multirun job starts a new one."""
    if "wandb" in sys.modules:
        sys.modules["wandb"].finish()
