"""OmegaConf resolvers used by the Hydra configuration in ``conf/``.

Importing this module registers them; the training entry point and the tests do so before
composing any configuration.
"""

from __future__ import annotations

import netrc
import os
from pathlib import Path

from omegaconf import OmegaConf

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CONFIG_DIR = PROJECT_ROOT / "conf"


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
    """Register ``ftir_root`` (the project directory) and ``ftir_wandb_offline``."""
    if not OmegaConf.has_resolver("ftir_root"):
        OmegaConf.register_new_resolver("ftir_root", lambda: str(PROJECT_ROOT))
    if not OmegaConf.has_resolver("ftir_wandb_offline"):
        OmegaConf.register_new_resolver("ftir_wandb_offline", wandb_offline)


register_resolvers()
