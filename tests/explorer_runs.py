"""Hand-made run directories for the explorer tests: an input file and a results.h5."""

from pathlib import Path

import numpy as np

from fake_results import WAVENUMBERS, fake_result, layers, peak
from ftir_unmixer.io.input_file import GroundTruth, write_input
from ftir_unmixer.io.results_file import write_results

NAMES = ["polyester resin", "chalk", "lead soap"]
TRUE_ENDMEMBERS = np.stack([peak(3000), peak(1800), peak(1400)], 1)
MASKED_PIXEL = (2, 3)


def write_scene(path: Path, seed: int = 0) -> Path:
    """Two 6×5 tiles × 40 bands: three layers of mixed materials, one masked pixel."""
    rng = np.random.default_rng(seed)
    abundances = layers(3, rows=4, cols=5)
    abundances = 0.8 * abundances + 0.2 * rng.dirichlet(np.ones(3), size=(12, 5)).astype(np.float32)
    cube = abundances @ TRUE_ENDMEMBERS.T + rng.normal(0, 0.01, (12, 5, WAVENUMBERS.size))
    mask = np.ones((12, 5), bool)
    mask[MASKED_PIXEL] = False
    cube[MASKED_PIXEL] = np.nan
    return write_input(
        path,
        {"tile_1": cube[:6], "tile_2": cube[6:]},
        WAVENUMBERS,
        mask=mask,
        ground_truth=GroundTruth(TRUE_ENDMEMBERS.astype(np.float32), abundances, NAMES),
    )


def write_run(
    directory: Path,
    input_path: Path,
    *,
    loss: str = "wsad",
    order: tuple[int, ...] = (2, 0, 1),
    normalization: str = "band_minmax",
    bands: np.ndarray | None = None,
    config: dict | None = None,
) -> Path:
    """A finished run on ``input_path``: its endmembers are the true ones in ``order``.

    WSAD runs get band weights with four outlier bands (score above τ = 3) and one band
    forced to weight 0; ``bands`` keeps a subset of the bands (as ``data.drop_windows``).
    """
    bands = np.arange(WAVENUMBERS.size) if bands is None else bands
    rng = np.random.default_rng(1)
    abundances = rng.dirichlet(np.ones(3), size=(12, 5)).astype(np.float32)
    result = fake_result(
        TRUE_ENDMEMBERS[bands][:, list(order)],
        abundances,
        wavenumbers=WAVENUMBERS[bands],
        attrs={
            "config": {"loss": {"band_weights": {"tau": 3.0}}, **(config or {})},
            "method": "ftir_unmixer",
            "loss": loss,
            "input": str(input_path),
            "preprocessing": {
                "crop": None,
                "drop_windows": [],
                "baseline": None,
                "normalization": normalization,
            },
        },
    )
    if loss == "wsad":
        result.band_weights[:] = 1.0
        result.band_diagnostics["score"][:] = 0.0
        result.band_weights[10:14] = 0.1
        result.band_diagnostics["score"][10:14] = 4.0
        result.band_weights[20] = 0.0
    result.reconstruction_error[:] = np.radians(3.0)
    directory.mkdir(parents=True, exist_ok=True)
    write_results(directory / "results.h5", result)
    return directory
