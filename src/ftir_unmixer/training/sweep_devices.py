"""GPUs for the jobs of a local parallel sweep: ``-m hydra/launcher=parallel trainer=gpu``.

Hydra's joblib launcher runs the jobs of a sweep in worker processes on one machine; left
alone, every job would train on the first GPU. Here job ``i`` of the sweep trains on GPU
``i mod n`` of the ``n`` visible GPUs (``CUDA_VISIBLE_DEVICES`` still chooses which those
are), and the launcher runs ``n`` jobs at once unless ``hydra.launcher.n_jobs`` says
otherwise. The GPU is chosen when the job's trainer is built, before the job touches CUDA,
as an index (``trainer.devices=[i mod n]``) rather than through ``CUDA_VISIBLE_DEVICES``: the
launcher reuses its worker processes, and a worker that already initialised CUDA for an
earlier job ignores a changed environment.

Jobs are handed to free workers in order, so with more jobs than GPUs a job that finishes
early can let job ``i + n`` start on a GPU where job ``i`` is still running (two jobs on one
GPU for a while, both fine at these model sizes).

Single runs, SLURM jobs (``hydra/launcher=slurm``: one allocated GPU each) and DDP
(``trainer=ddp``, which sets its own ``devices``) are left as they are.
"""

from __future__ import annotations

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode

PARALLEL_LAUNCHER = "parallel"
"""The option of ``hydra/launcher`` that runs jobs in local worker processes."""

CPU_JOBS = 2
"""``hydra.launcher.n_jobs`` on CPUs (one torch thread per job)."""


def gpu_count() -> int:
    """The number of CUDA devices this process sees (0 without CUDA).

    torch is imported here, when a resolver asks, so that composing a configuration (and the
    command line's help) does not pay for it.
    """
    import torch

    return torch.cuda.device_count()


def job_gpu(job_num: int, count: int) -> int:
    """The GPU of sweep job ``job_num`` among ``count`` GPUs: ``job_num mod count``."""
    return job_num % count


def parallel_jobs(accelerator: str) -> int:
    """Default ``hydra.launcher.n_jobs``: one job per GPU for GPU training, else 2."""
    from ftir_unmixer.training.checks import GPU_ACCELERATORS

    if accelerator in GPU_ACCELERATORS:
        return max(gpu_count(), 1)
    return CPU_JOBS


def trainer_devices() -> int | list[int]:
    """``trainer.devices`` of ``trainer=gpu``: ``[i mod n]`` for job ``i`` of a parallel sweep.

    Anything else (a single run, another launcher, one GPU, no Hydra job at all) gets 1, the
    first visible GPU.
    """
    if not HydraConfig.initialized():
        return 1
    hydra_cfg = HydraConfig.get()
    parallel = hydra_cfg.runtime.choices.get("hydra/launcher") == PARALLEL_LAUNCHER
    if hydra_cfg.mode != RunMode.MULTIRUN or not parallel:
        return 1
    count = gpu_count()
    if count < 2:
        return 1
    return [job_gpu(int(hydra_cfg.job.num), count)]
