"""Where the Hydra configuration lives (inside the package) and the resolvers it uses.

Importing this module registers the resolvers; the training entry point and the tests do so
before composing any configuration.
"""

from __future__ import annotations

import netrc
import os
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from omegaconf import OmegaConf

from ftir_unmixer.training.sweep_devices import parallel_jobs, trainer_devices

CONFIG_DIR = Path(__file__).resolve().parents[1] / "conf"
"""The configuration shipped with the package (``train.yaml`` and its groups)."""


def working_directory() -> str:
    """The directory the run was started from: the root of ``data/`` and ``outputs/``.

    Inside a Hydra job this is Hydra's ``runtime.cwd`` (also when ``hydra.job.chdir=true``
    moved the job into its output directory); elsewhere the current directory. Never the
    installed package's directory.
    """
    if HydraConfig.initialized():
        return str(HydraConfig.get().runtime.cwd)
    return os.getcwd()


def wandb_offline() -> bool:
    """Whether W&B should log offline.

    ``WANDB_MODE`` decides when it is set. Otherwise runs go online only when the user has
    configured a key (``WANDB_API_KEY`` or a ``wandb login`` entry in ``~/.netrc``), so the
    default works with no account and no network; offline runs can be uploaded later with
    ``wandb sync``.
    """
    mode = os.environ.get("WANDB_MODE")
    if mode:
        return mode in ("offline", "dryrun", "disabled")
    if os.environ.get("WANDB_API_KEY"):
        return False
    try:
        return netrc.netrc().authenticators("api.wandb.ai") is None
    except (FileNotFoundError, netrc.NetrcParseError):
        return True


def register_resolvers() -> None:
    """Register the resolvers the configuration uses.

    ``ftir_workdir`` (:func:`working_directory`), ``ftir_wandb_offline``, and the GPU choices
    of parallel sweeps, ``ftir_parallel_jobs`` and ``ftir_trainer_devices``
    (:mod:`ftir_unmixer.training.sweep_devices`).
    """
    resolvers = {
        "ftir_workdir": working_directory,
        "ftir_wandb_offline": wandb_offline,
        "ftir_parallel_jobs": parallel_jobs,
        "ftir_trainer_devices": trainer_devices,
    }
    for name, resolver in resolvers.items():
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, resolver)


register_resolvers()
