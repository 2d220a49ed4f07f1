"""Checks of settings shared by the CNN and the baselines, run before any work is done."""

from __future__ import annotations

from ftir_unmixer.errors import FTIRUnmixerError


def check_num_endmembers(num_endmembers: int, num_bands: int) -> None:
    """Refuse an impossible K: unmixing needs ``2 ≤ K < B``.

    Raises:
        FTIRUnmixerError: naming ``model.num_endmembers`` and the valid range.
    """
    if not 2 <= num_endmembers < num_bands:
        raise FTIRUnmixerError(
            f"model.num_endmembers={num_endmembers} is impossible for {num_bands} bands; "
            f"choose K with 2 ≤ K < {num_bands}."
        )
