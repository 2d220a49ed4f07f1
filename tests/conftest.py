"""Shared fixtures: W&B offline into a temporary directory, Hydra composition, tiny scenes."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import lightning as L
import numpy as np
import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, open_dict
from scipy.optimize import linear_sum_assignment

from ftir_unmixer.training.config import CONFIG_DIR

WANDB_VARS = ("WANDB_DIR", "WANDB_CACHE_DIR", "WANDB_CONFIG_DIR", "WANDB_DATA_DIR")

# A scene small enough for a 2-epoch run in seconds: 2 tiles of 12×10 pixels × 120 bands
# spread over the whole window (3849–982 cm⁻¹, 24.1 cm⁻¹ apart).
TINY_SCENE = [
    "synthetic.num_tiles=2",
    "synthetic.tile_rows=12",
    "synthetic.tile_cols=10",
    "synthetic.num_bands=120",
    "synthetic.step=24.1",
]
TINY_RUN = [
    *TINY_SCENE,
    "model.num_endmembers=4",
    "model.hidden_channels=8",
    "data.patches_per_epoch=48",
    "data.batch_size=16",
    "trainer.max_epochs=2",
    "threads=1",
    "logger=none",
]


def matched_angles_by_hand(result) -> tuple[np.ndarray, list[tuple[int, str]]]:
    """Hungarian matching of a result's endmembers to its scene's true ones, done here.

    Reads the ground truth of the input file named in the result, keeps the result's bands,
    and matches on the spectral angle with NumPy and SciPy only (not the package's code).

    Returns:
        The matched angles in degrees and ``(endmember index, material name)`` per pair.
    """
    from ftir_unmixer.io.input_file import read_input

    scene = read_input(result.attrs["input"])
    truth = scene.ground_truth.endmembers[np.isin(scene.wavenumbers, result.wavenumbers)]
    est = result.endmembers / np.linalg.norm(result.endmembers, axis=0)
    true = truth / np.linalg.norm(truth, axis=0)
    angles = np.degrees(np.arccos(np.clip(est.T @ true, -1.0, 1.0)))
    rows, cols = linear_sum_assignment(angles)
    return angles[rows, cols], [
        (int(k), scene.ground_truth.names[m]) for k, m in zip(rows, cols, strict=True)
    ]


def assert_scored_against_ground_truth(result, metrics: dict[str, float]) -> None:
    """The run's ``gt/mean_angle_deg`` is the hand-matched mean angle, and it is stored."""
    angles, _ = matched_angles_by_hand(result)
    assert metrics["gt/mean_angle_deg"] == pytest.approx(angles.mean(), rel=1e-5)
    assert result.attrs["gt/mean_angle_deg"] == metrics["gt/mean_angle_deg"]


def quiet_trainer(max_epochs: int, **kwargs: object) -> L.Trainer:
    """A CPU Lightning trainer without logger, checkpoints, progress bar or model summary."""
    options = {
        "accelerator": "cpu",
        "logger": False,
        "enable_checkpointing": False,
        "enable_progress_bar": False,
        "enable_model_summary": False,
    }
    return L.Trainer(max_epochs=max_epochs, **(options | kwargs))


@pytest.fixture(scope="session", autouse=True)
def _offline_wandb(tmp_path_factory: pytest.TempPathFactory) -> None:
    root = tmp_path_factory.mktemp("wandb")
    for var in WANDB_VARS:
        os.environ[var] = str(root)
    os.environ["WANDB_MODE"] = "offline"
    os.environ["WANDB_SILENT"] = "true"


@pytest.fixture
def compose_train(tmp_path: Path) -> Callable[..., DictConfig]:
    """Compose ``conf/train.yaml`` with overrides, outputs and data under ``tmp_path``."""

    def _compose(overrides: list[str], data_dir: Path | None = None) -> DictConfig:
        GlobalHydra.instance().clear()
        with initialize_config_dir(version_base="1.3", config_dir=str(CONFIG_DIR)):
            cfg = compose(config_name="train", overrides=overrides, return_hydra_config=True)
        with open_dict(cfg):
            cfg.paths.output_dir = str(tmp_path / "run")
            cfg.paths.log_dir = str(tmp_path / "logs")
            cfg.paths.data_dir = str(data_dir or tmp_path / "data")
            cfg.hydra.runtime.output_dir = str(tmp_path / "run")
        HydraConfig().set_config(cfg)
        with open_dict(cfg):
            del cfg["hydra"]  # as in a real Hydra job, the task config has no hydra node
        return cfg

    yield _compose
    GlobalHydra.instance().clear()
