"""A run's files: ``results.h5``, ``endmembers.csv`` and the PNG figures.

Shared by the CNN (through :class:`ftir_unmixer.training.callbacks.ResultsWriter`) and the classical
baselines, so every method writes the same contract and the same figures.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from matplotlib.figure import Figure

from ftir_unmixer import __version__
from ftir_unmixer.evaluation.diagnostics import ReconstructionSums
from ftir_unmixer.evaluation.library import ReferenceLibrary
from ftir_unmixer.evaluation.run_evaluation import RunEvaluation, evaluate_run
from ftir_unmixer.io.input_file import HyperspectralData
from ftir_unmixer.io.results_file import UnmixingResult, write_endmembers_csv, write_results
from ftir_unmixer.io.run_folder import ENDMEMBERS_CSV, FIGURE_FILES, RESULTS_FILE
from ftir_unmixer.plots import (
    plot_abundance_maps,
    plot_band_weights,
    plot_endmembers,
    save_figure,
)


def run_attributes(
    run_config: object,
    *,
    method: str,
    loss: str,
    num_endmembers: int,
    seed: int,
    input_path: str | os.PathLike[str],
    preprocessing: Mapping[str, object],
    runtime_s: float,
) -> dict[str, object]:
    """The provenance attributes every ``results.h5`` carries, whatever the method.

    Args:
        run_config: the resolved configuration (stored as JSON).
        method: ``ftir_unmixer`` or a baseline's name.
        loss: ``sad``/``wsad`` for the CNN, the baseline's objective otherwise.
        num_endmembers: K.
        seed: the run's seed.
        input_path: the input file.
        preprocessing: the preprocessing applied before unmixing (crop, dropped windows,
            baseline, normalisation).
        runtime_s: fitting time in seconds (training, or the baseline's fit).

    Returns:
        The attributes.
    """
    return {
        "config": run_config or {},
        "method": method,
        "loss": loss,
        "num_endmembers": num_endmembers,
        "seed": seed,
        "version": __version__,
        "input": str(input_path),
        "normalization": preprocessing["normalization"],
        "preprocessing": dict(preprocessing),
        "runtime_s": runtime_s,
    }


def component_titles(num_endmembers: int, labels: Sequence[str] | None = None) -> list[str]:
    """``Map i`` titles, with a label (material and angle) appended where one is known."""
    labels = list(labels or [])
    return [
        f"Map {i + 1}: {labels[i]}" if i < len(labels) and labels[i] else f"Map {i + 1}"
        for i in range(num_endmembers)
    ]


def figure_options(
    data: HyperspectralData, bad_windows: Sequence[Sequence[float]] = ()
) -> dict[str, object]:
    """The settings of :func:`render_figures` that come from the data.

    Returns:
        ``tile_rows`` (tile seams), ``bad_windows`` (shaded) and ``units`` (of the spectra).
    """
    return {
        "tile_rows": data.tile_rows,
        "bad_windows": bad_windows,
        "units": str(data.attrs.get("units", "absorbance")),
    }


def render_figures(
    result: UnmixingResult,
    *,
    titles: Sequence[str] | None = None,
    tile_rows: Sequence[int] | None = None,
    bad_windows: Sequence[Sequence[float]] = (),
    units: str = "absorbance",
) -> dict[str, Figure]:
    """Draw the abundance-map, endmember and band-weight figures of a result.

    Returns:
        Figure name (the keys of :data:`FIGURE_FILES`) → open Matplotlib figure.
    """
    return {
        "abundance_maps": plot_abundance_maps(result.abundances, titles, tile_rows),
        "endmembers": plot_endmembers(result.wavenumbers, result.endmembers, titles, ylabel=units),
        "band_weights": plot_band_weights(
            result.wavenumbers, result.band_weights, result.band_diagnostics, bad_windows
        ),
    }


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
    figures = render_figures(
        result, titles=titles, tile_rows=tile_rows, bad_windows=bad_windows, units=units
    )
    paths = {name: out / FIGURE_FILES[name] for name in figures}
    for name, fig in figures.items():
        save_figure(fig, str(paths[name]))
    return paths


def write_run_outputs(
    output_dir: str | os.PathLike[str], result: UnmixingResult, **figure_kwargs: object
) -> dict[str, Path]:
    """Write ``results.h5``, ``endmembers.csv`` and the figures into ``output_dir``.

    Args:
        output_dir: the run's output directory.
        result: the result to write.
        **figure_kwargs: keyword arguments of :func:`write_figures` (``titles``,
            ``tile_rows``, ``bad_windows``, ``units``).

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
    paths.update(write_figures(out, result, **figure_kwargs))
    return paths


def finish_run(
    output_dir: str | os.PathLike[str],
    result: UnmixingResult,
    data: HyperspectralData,
    reconstruction: ReconstructionSums,
    *,
    bad_windows: Sequence[Sequence[float]] = (),
    library: ReferenceLibrary | None = None,
    match_threshold_deg: float = 15.0,
) -> tuple[RunEvaluation, dict[str, Path]]:
    """Score a result, store the metrics in its attributes and write every output file.

    Shared by the CNN and the classical baselines, so both are scored and written alike.

    Args:
        output_dir: the run's output directory.
        result: the unmixing result (attributes are updated with the metrics).
        data: the input data after setup (mask, axis, tiles, ground truth, units).
        reconstruction: sums over the valid pixels of the cube as fed to the method and its
            reconstruction in the same units (see :class:`ReconstructionSums`).
        bad_windows: ``loss.band_weights.bad_windows``, excluded from the clean scores.
        library: reference spectra to name the endmembers with.
        match_threshold_deg: largest angle accepted as an identification.

    Returns:
        The evaluation and the written paths.
    """
    evaluation = evaluate_run(
        result,
        data,
        reconstruction,
        bad_windows,
        library=library,
        match_threshold_deg=match_threshold_deg,
    )
    result.attrs.update(evaluation.metrics)
    paths = write_run_outputs(
        output_dir,
        result,
        titles=component_titles(result.num_endmembers, evaluation.labels),
        **figure_options(data, bad_windows),
    )
    return evaluation, paths
