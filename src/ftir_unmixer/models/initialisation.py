"""Decoder initialisation from a classical method's endmembers (``model.init_endmembers``).

The authors initialise the decoder's unconstrained tensor U at random (Xavier-uniform).
Starting instead from the endmembers of a classical method (VCA, NMF, archetypal analysis or
min-vol NMF with their default settings), spread evenly over the kernel so that Eq. 5 returns
them before training (:meth:`PositiveDecoder.set_endmembers`), puts the network near a
sensible solution from the first step.
"""

from __future__ import annotations

import numpy as np

from ftir_unmixer.baselines.archetypal import ArchetypalUnmixer
from ftir_unmixer.baselines.base import BaseUnmixer
from ftir_unmixer.baselines.minvol_nmf import MinVolNMFUnmixer
from ftir_unmixer.baselines.nmf import NMFUnmixer
from ftir_unmixer.baselines.vca_fcls import vca
from ftir_unmixer.errors import FTIRUnmixerError

FACTORISATIONS: dict[str, type[BaseUnmixer]] = {
    "nmf": NMFUnmixer,
    "archetypal": ArchetypalUnmixer,
    "minvol_nmf": MinVolNMFUnmixer,
}
"""The starts fitted by a baseline (``vca`` takes the VCA pixels without FCLS)."""

INITIALISATIONS = ("random", "vca", *FACTORISATIONS)


def check_initialisation(method: str) -> None:
    """Refuse an unknown ``model.init_endmembers``.

    Raises:
        FTIRUnmixerError: naming the key and the valid choices.
    """
    if method not in INITIALISATIONS:
        raise FTIRUnmixerError(
            f"model.init_endmembers={method!r} is unknown; use one of {list(INITIALISATIONS)}."
        )


def initial_endmembers(
    method: str, pixels: np.ndarray, num_endmembers: int, seed: int
) -> np.ndarray | None:
    """Endmembers to start the decoder from, in the space of ``pixels`` (the model's).

    Args:
        method: ``random`` (the authors' Xavier-uniform U: returns None), ``vca``, ``nmf``,
            ``archetypal`` or ``minvol_nmf``.
        pixels: ``(N, B)`` valid pixels of the preprocessed cube.
        num_endmembers: K.
        seed: the run's seed.

    Returns:
        ``(B, K)`` non-negative endmembers, or None for ``random``.

    Raises:
        FTIRUnmixerError: for an unknown method.
    """
    check_initialisation(method)
    if method == "random":
        return None
    if method == "vca":
        endmembers, _ = vca(pixels, num_endmembers, seed=seed)
    else:
        endmembers = FACTORISATIONS[method](num_endmembers, seed=seed).fit(pixels).endmembers_
    return np.clip(endmembers, 0.0, None).astype(np.float32)
