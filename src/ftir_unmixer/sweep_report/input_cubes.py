"""Input cubes for the K evidence's split test, read once per file."""

from __future__ import annotations

import logging

import numpy as np

from ftir_unmixer.errors import FTIRUnmixerError
from ftir_unmixer.io.input_file import read_input
from ftir_unmixer.io.results_file import UnmixingResult

log = logging.getLogger(__name__)


class InputCubes:
    """Input cubes on a result's wavenumber axis, read once per file (for the split test)."""

    def __init__(self) -> None:
        self._cubes: dict[str, tuple[np.ndarray, np.ndarray] | None] = {}

    def cube_for(self, result: UnmixingResult) -> np.ndarray | None:
        """The input cube of ``result`` on its bands, or None if it cannot be read or matched."""
        path = str(result.attrs.get("input", ""))
        if path not in self._cubes:
            try:
                data = read_input(path)
                self._cubes[path] = (data.cube, data.wavenumbers)
            except (FTIRUnmixerError, OSError) as exc:
                log.warning("No split test for runs on %s: %s", path, exc)
                self._cubes[path] = None
        entry = self._cubes[path]
        if entry is None:
            return None
        cube, wavenumbers = entry
        bands = np.isin(wavenumbers, result.wavenumbers)
        if bands.sum() != result.wavenumbers.size or cube.shape[:2] != result.abundances.shape[:2]:
            return None
        return cube[:, :, bands]
