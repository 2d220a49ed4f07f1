"""A run's files: ``results.h5``, ``endmembers.csv`` and the PNG figures.

Shared by the CNN (through :class:`ftir_unmixer.callbacks.ResultsWriter`) and the classical
baselines, so every method writes the same contract and the same figures.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from ftir_unmixer.io.results_file import UnmixingResult, write_endmembers_csv, write_results
from ftir_unmixer.plots import (
    plot_abundance_maps,
    plot_band_weights,
    plot_endmembers,
    save_figure,
)

RESULTS_FILE = "results.h5"
ENDMEMBERS_CSV = "endmembers.csv"
FIGURE_FILES = {
    "abundance_maps": "abundance_maps.png",
    "endmembers": "endmembers.png",
    "band_weights": "band_weights.png",
}


def component_titles(num_endmembers: int, labels: Sequence[str] | None = None) -> list[str]:
    """``Map i`` titles, with a label (material and angle) appended where one is known."""
    labels = list(labels or [])
    return [
        f"Map {i + 1}: {labels[i]}" if i < len(labels) and labels[i] else f"Map {i + 1}"
        for i in range(num_endmembers)
    ]


def write_figures(
    output_dir: str | os.PathLike[str],
    result: UnmixingResult,
    *,
    titles: Sequence[str] | None = None,
    tile_rows: Sequence[int] | None = None,
    bad_windows: Sequence[Sequence[float]] = (),
    units: str = "absorbance",
) -> dict[str, Path]:
    """Write the abundance-map, endmember and band-weight figures as PNG.

    Returns:
        Figure name → written path.
    """
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {name: out / filename for name, filename in FIGURE_FILES.items()}
    save_figure(
        plot_abundance_maps(result.abundances, titles, tile_rows), str(paths["abundance_maps"])
    )
    save_figure(
        plot_endmembers(result.wavenumbers, result.endmembers, titles, ylabel=units),
        str(paths["endmembers"]),
    )
    save_figure(
        plot_band_weights(
            result.wavenumbers, result.band_weights, result.band_diagnostics, bad_windows
        ),
        str(paths["band_weights"]),
    )
    return paths


def write_run_outputs(
    output_dir: str | os.PathLike[str],
    result: UnmixingResult,
    *,
    titles: Sequence[str] | None = None,
    tile_rows: Sequence[int] | None = None,
    bad_windows: Sequence[Sequence[float]] = (),
    units: str = "absorbance",
) -> dict[str, Path]:
    """Write ``results.h5``, ``endmembers.csv`` and the figures into ``output_dir``.

    Returns:
        Output name → written path (``results``, ``endmembers_csv`` and the figures).
    """
    out = Path(output_dir)
    paths = {
        "results": write_results(out / RESULTS_FILE, result),
        "endmembers_csv": write_endmembers_csv(
            out / ENDMEMBERS_CSV, result.wavenumbers, result.endmembers
        ),
    }
    paths.update(
        write_figures(
            out,
            result,
            titles=titles,
            tile_rows=tile_rows,
            bad_windows=bad_windows,
            units=units,
        )
    )
    return paths
