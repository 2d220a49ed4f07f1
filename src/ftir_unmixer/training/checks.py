"""Checks of a composed configuration that run before any work is done.

* Every value of ``data``, ``model``, ``trainer`` and the ``callbacks`` entries must have a type
  its target's constructor accepts: a number where it takes a number, true/false where it
  takes a flag. Hydra passes an override such as ``model.lr=abc`` on as text; without this
  check it would fail deep inside the constructor with a multi-line error that names no key.
* ``trainer=gpu`` (``trainer.accelerator=gpu``) needs a GPU that torch can use.
"""

from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Iterator

import torch
from hydra.utils import get_class
from omegaconf import DictConfig

from ftir_unmixer.errors import FTIRUnmixerError

CHECKED_GROUPS = ("data", "model", "trainer")
"""Config nodes whose values are checked against their ``_target_``'s signature."""

GPU_ACCELERATORS = ("gpu", "cuda")
"""Values of ``trainer.accelerator`` that need a GPU."""

_KINDS = {bool: "true or false", int: "an integer", float: "a number", str: "text"}


def _accepts(hint: object, value: object) -> bool:
    """Whether ``value`` fits a type hint; hints other than numbers, flags and text pass."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return any(_accepts(arg, value) for arg in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    return True


def _kind(hint: object) -> str:
    """``a number``, ``an integer or null`` …: what a hint of simple types asks for."""
    args = typing.get_args(hint) if typing.get_origin(hint) else (hint,)
    words = [_KINDS[arg] for arg in args if arg in _KINDS]
    return " or ".join(words + ["null"] * (type(None) in args))


def _targets(cfg: DictConfig) -> Iterator[DictConfig]:
    for name in CHECKED_GROUPS:
        node = cfg.get(name)
        if isinstance(node, DictConfig) and "_target_" in node:
            yield node
    for node in (cfg.get("callbacks") or {}).values():
        if isinstance(node, DictConfig) and "_target_" in node:
            yield node


def check_value_types(cfg: DictConfig) -> None:
    """Refuse a value its target cannot take, naming the key, the expected type and default.

    Raises:
        FTIRUnmixerError: e.g. ``model.lr='abc' must be a number (default 0.005)``.
    """
    for node in _targets(cfg):
        target = get_class(node._target_)
        try:
            hints = typing.get_type_hints(target.__init__)
        except (NameError, TypeError):
            continue  # annotations that cannot be evaluated here: the constructor checks
        parameters = inspect.signature(target.__init__).parameters
        for key in node:
            if key.startswith("_") or key not in hints or _accepts(hints[key], node[key]):
                continue
            default = parameters[key].default
            example = "" if default is inspect.Parameter.empty else f" (default {default})"
            raise FTIRUnmixerError(
                f"{node._get_full_key(key)}={node[key]!r} must be {_kind(hints[key])}"
                f"{example}; correct the override."
            )


def gpu_available() -> bool:
    """Whether torch can use a GPU (CUDA, or Apple's MPS)."""
    return torch.cuda.is_available() or torch.backends.mps.is_available()


def check_accelerator(cfg: DictConfig) -> None:
    """Refuse ``trainer=gpu`` where torch sees no GPU.

    Raises:
        FTIRUnmixerError: naming ``trainer.accelerator`` and the CPU alternative.
    """
    accelerator = str(cfg.get("trainer", {}).get("accelerator", "cpu"))
    if accelerator in GPU_ACCELERATORS and not gpu_available():
        raise FTIRUnmixerError(
            f"trainer.accelerator={accelerator} needs a GPU, but no GPU is available to torch "
            "on this machine; use trainer=cpu (or trainer=default; with trainer=ddp add "
            "trainer.accelerator=cpu)."
        )


def check_run_config(cfg: DictConfig) -> None:
    """All checks of this module."""
    check_value_types(cfg)
    check_accelerator(cfg)
