"""Starting endmembers of the iterative baselines (MCR-ALS, min-vol NMF): VCA or NMF."""

from __future__ import annotations

import numpy as np

from ftir_unmixer.baselines.nmf import NMFUnmixer
from ftir_unmixer.baselines.vca_fcls import vca
from ftir_unmixer.errors import FTIRUnmixerError

__all__ = ["STARTS", "check_start", "start_endmembers"]

STARTS = ("vca", "nmf")
"""Accepted values of the baselines' ``init``."""


def check_start(init: str, method: str) -> None:
    """Refuse an unknown ``init`` of the baseline named ``method``.

    Raises:
        FTIRUnmixerError: naming the key ``model.init`` and the valid choices.
    """
    if init not in STARTS:
        raise FTIRUnmixerError(
            f"{method} init must be one of {', '.join(STARTS)}, got {init!r}; set model.init."
        )


def start_endmembers(X: np.ndarray, num_endmembers: int, seed: int | None, init: str) -> np.ndarray:
    """The VCA pixels or the NMF components of ``X``, clipped at zero.

    Args:
        X: ``(N, B)`` pixels × bands.
        num_endmembers: K.
        seed: seed of VCA's directions or NMF's ``random_state``.
        init: ``"vca"`` or ``"nmf"`` (checked with :func:`check_start` first).

    Returns:
        ``(B, K)`` non-negative endmembers.
    """
    if init == "vca":
        endmembers, _ = vca(X, num_endmembers, seed)
    else:
        endmembers = NMFUnmixer(num_endmembers, seed).fit(X).endmembers_
    return np.clip(endmembers, 0.0, None)
