"""DDP (trainer=ddp): two CPU processes with the gloo backend on a tiny scene.

The run is a subprocess of ``python -m ftir_unmixer.train``, as a user starts it; Lightning
relaunches the command for rank 1. :class:`RankProbe`, added through ``+callbacks``, records
what each rank trained on.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import lightning as L
import numpy as np
import torch

from conftest import TINY_RUN
from ftir_unmixer.io.results_file import read_results

TESTS_DIR = Path(__file__).resolve().parent


class RankProbe(L.Callback):
    """Write ``rank<r>.json``: every batch's checksum, the step count and the final decoder."""

    def __init__(self, directory: str) -> None:
        self.directory = Path(directory)
        self.batch_sums: list[float] = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self.batch_sums.append(float(batch.double().sum()))

    def on_train_end(self, trainer, pl_module):
        report = {
            "world_size": trainer.world_size,
            "global_step": trainer.global_step,
            "batch_sums": self.batch_sums,
            "endmembers": pl_module.net.endmembers().tolist(),
        }
        (self.directory / f"rank{trainer.global_rank}.json").write_text(json.dumps(report))


def test_two_cpu_ranks_train_on_different_patches_and_write_once(tmp_path):
    run_dir = tmp_path / "run"
    command = [
        sys.executable,
        "-m",
        "ftir_unmixer.train",
        *TINY_RUN,
        "trainer=ddp",
        "trainer.accelerator=cpu",
        "trainer.devices=2",
        "callbacks.figure_logger.every_n_epochs=0",
        f"hydra.run.dir={run_dir}",
        f"paths.data_dir={tmp_path / 'data'}",
        "+callbacks.rank_probe._target_=test_ddp.RankProbe",
        f"+callbacks.rank_probe.directory={tmp_path}",
    ]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS_DIR), *sys.path])}
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output

    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    # 48 patches per epoch and rank in batches of 16, for 2 epochs: 6 steps on each rank.
    for report in ranks:
        assert report["world_size"] == 2
        assert report["global_step"] == 6
        assert len(report["batch_sums"]) == 6
    # Each rank drew its own patches (rank-aware seeds, no DistributedSampler) ...
    assert ranks[0]["batch_sums"] != ranks[1]["batch_sums"]
    # ... and gradients were averaged, so both ranks end with the same decoder.
    np.testing.assert_allclose(ranks[0]["endmembers"], ranks[1]["endmembers"], rtol=1e-5)

    assert output.count("Results written to") == 1
    result = read_results(run_dir / "results.h5")
    assert result.attrs["global_step"] == 6
    assert torch.isfinite(torch.from_numpy(result.abundances)).all()
