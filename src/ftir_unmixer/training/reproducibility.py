"""Reproducible training: every step's randomness depends only on (seed, epoch, batch, rank).

The patch sampler already draws its centres from ``(seed, epoch, rank)``
(:class:`~ftir_unmixer.data.patches.RandomCentreSampler`). The other random stream of
training is torch's global generator (dropout masks). Lightning checkpoints do not store it,
and Lightning and the DataLoader draw from it themselves at moments that differ between a
fresh and a resumed fit, so a run resumed with ``ckpt_path=…/last.ckpt`` would continue with
other dropout masks than the uninterrupted run. :class:`StepSeeder` reseeds it before every
training batch, which makes

* two runs with the same ``seed`` give identical results on CPU, and
* a run resumed from the checkpoint of a finished epoch end in the same state as the run
  that was never interrupted.

On a GPU, cuDNN and atomic adds are not deterministic by default; add
``trainer.deterministic=true`` (and ``CUBLAS_WORKSPACE_CONFIG=:4096:8`` in the environment)
for bitwise-identical GPU runs, at some cost in speed.
"""

from __future__ import annotations

import lightning as L
import numpy as np
import torch

STREAM = 2
"""Key of the dropout stream in the seed derivation (the sampler uses its own keys)."""


def step_seed(seed: int, epoch: int, batch: int, rank: int = 0) -> int:
    """The seed of torch's generator for one training batch of one process.

    Args:
        seed: the run's seed.
        epoch: the epoch index (0-based).
        batch: the batch index within the epoch.
        rank: the process rank.

    Returns:
        A 63-bit seed, independent between batches, epochs and ranks.
    """
    sequence = np.random.SeedSequence([seed, epoch, batch, rank, STREAM])
    return int(sequence.generate_state(1, np.uint64)[0] >> np.uint64(1))


class StepSeeder(L.Callback):
    """Reseed torch's global generator from ``(seed, epoch, batch, rank)`` before every batch.

    Args:
        seed: the run's seed (``seed`` of the configuration).
    """

    def __init__(self, seed: int) -> None:
        super().__init__()
        self.seed = seed

    def on_train_batch_start(
        self, trainer: L.Trainer, pl_module: L.LightningModule, batch: object, batch_idx: int
    ) -> None:
        """Seed torch (CPU and every CUDA device) for this batch."""
        torch.manual_seed(
            step_seed(self.seed, trainer.current_epoch, batch_idx, trainer.global_rank)
        )
