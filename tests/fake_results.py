"""Hand-made unmixing results for the report and K-selection tests (no training)."""

import numpy as np

from ftir_unmixer.io.results_file import DIAGNOSTIC_NAMES, UnmixingResult

WAVENUMBERS = np.linspace(3800.0, 1000.0, 40)


def peak(centre: float, width: float = 60.0, wavenumbers: np.ndarray = WAVENUMBERS) -> np.ndarray:
    """A Gaussian absorption band on a small offset."""
    return np.exp(-0.5 * ((wavenumbers - centre) / width) ** 2) + 0.01


def layers(k: int, rows: int = 6, cols: int = 4) -> np.ndarray:
    """``(k·rows, cols, k)`` abundances: k horizontal layers, each pure in one component."""
    a = np.zeros((k * rows, cols, k), np.float32)
    for i in range(k):
        a[i * rows : (i + 1) * rows, :, i] = 1.0
    return a


def fake_result(
    endmembers: np.ndarray,
    abundances: np.ndarray,
    *,
    wavenumbers: np.ndarray = WAVENUMBERS,
    error_deg: float = 5.0,
    attrs: dict | None = None,
) -> UnmixingResult:
    """A result with unit band weights, zero diagnostics and a constant reconstruction error."""
    bands = endmembers.shape[0]
    return UnmixingResult(
        abundances=abundances.astype(np.float32),
        endmembers=endmembers.astype(np.float32),
        endmembers_model=endmembers.astype(np.float32),
        wavenumbers=wavenumbers,
        band_weights=np.ones(bands, np.float32),
        band_diagnostics={n: np.zeros(bands, np.float32) for n in DIAGNOSTIC_NAMES},
        reconstruction_error=np.full(abundances.shape[:2], np.radians(error_deg), np.float32),
        attrs={"seed": 0, **(attrs or {})},
    )
