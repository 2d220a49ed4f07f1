"""Parallel sweeps on GPUs: job i trains on GPU i mod n, n jobs at once (fake GPU counts)."""

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf, open_dict

from ftir_unmixer.training import sweep_devices
from ftir_unmixer.training.config import CONFIG_DIR

PARALLEL_GPU = ["hydra/launcher=parallel", "trainer=gpu"]


@pytest.fixture
def job_config():
    """The configuration job ``num`` of a sweep (or a single run) sees, Hydra set up as in it."""

    def _job(overrides: list[str], num: int = 0, mode: RunMode = RunMode.MULTIRUN) -> DictConfig:
        GlobalHydra.instance().clear()
        with initialize_config_dir(version_base="1.3", config_dir=str(CONFIG_DIR)):
            cfg = compose(config_name="train", overrides=overrides, return_hydra_config=True)
        with open_dict(cfg):
            cfg.hydra.job.num = num
            cfg.hydra.mode = mode
        HydraConfig.instance().set_config(cfg)
        return cfg

    yield _job
    GlobalHydra.instance().clear()


def _devices(cfg: DictConfig):
    return OmegaConf.to_container(cfg.trainer, resolve=True)["devices"]


def test_job_gpu_by_hand():
    assert [sweep_devices.job_gpu(i, 3) for i in range(7)] == [0, 1, 2, 0, 1, 2, 0]


@pytest.mark.parametrize("gpus", [2, 3, 4])
def test_parallel_gpu_sweep_puts_job_i_on_gpu_i_mod_n(job_config, monkeypatch, gpus):
    monkeypatch.setattr(sweep_devices, "gpu_count", lambda: gpus)
    devices = [_devices(job_config(PARALLEL_GPU, num=job)) for job in range(7)]
    assert devices == [[job % gpus] for job in range(7)]
    # Every GPU gets work, and as many jobs run at once as there are GPUs.
    assert {device for (device,) in devices} == set(range(gpus))
    assert job_config(PARALLEL_GPU).hydra.launcher.n_jobs == gpus


def test_an_explicit_n_jobs_wins(job_config, monkeypatch):
    monkeypatch.setattr(sweep_devices, "gpu_count", lambda: 4)
    cfg = job_config([*PARALLEL_GPU, "hydra.launcher.n_jobs=8"], num=5)
    assert cfg.hydra.launcher.n_jobs == 8
    assert _devices(cfg) == [1]


@pytest.mark.parametrize(
    ("overrides", "mode", "expected"),
    [
        (["trainer=gpu"], RunMode.RUN, 1),  # a single run: the first visible GPU
        (["hydra/launcher=parallel", "trainer=gpu"], RunMode.RUN, 1),
        (["hydra/launcher=slurm", "trainer=gpu"], RunMode.MULTIRUN, 1),  # one GPU per job
        (["hydra/launcher=parallel", "trainer=ddp"], RunMode.MULTIRUN, -1),  # all, by DDP
    ],
)
def test_other_runs_keep_their_devices(job_config, monkeypatch, overrides, mode, expected):
    monkeypatch.setattr(sweep_devices, "gpu_count", lambda: 4)
    assert _devices(job_config(overrides, num=3, mode=mode)) == expected


def test_one_gpu_and_cpu_sweeps(job_config, monkeypatch):
    monkeypatch.setattr(sweep_devices, "gpu_count", lambda: 1)
    cfg = job_config(PARALLEL_GPU, num=3)
    assert _devices(cfg) == 1
    assert cfg.hydra.launcher.n_jobs == 1
    # On CPUs the launcher keeps two one-thread jobs, whatever the GPUs.
    cpu = job_config(["hydra/launcher=parallel"], num=3)
    assert cpu.hydra.launcher.n_jobs == sweep_devices.CPU_JOBS == 2
    assert _devices(cpu) == 1


def test_without_a_hydra_job_the_first_gpu(monkeypatch):
    # The benchmark and the GPU check compose configurations outside a Hydra job.
    monkeypatch.setattr(sweep_devices, "gpu_count", lambda: 4)
    HydraConfig.instance().cfg = None
    assert sweep_devices.trainer_devices() == 1
