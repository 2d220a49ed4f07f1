"""Figures in FTIR conventions: wavenumber axis in cm⁻¹, high wavenumbers on the left.

The drawing helpers, the three figures of every run (abundance maps, endmember spectra, band
weights) and their PNG files, and the learning curves of several runs. Every ``plot_…``
function returns a Matplotlib ``Figure`` (Agg backend, no display needed); callers save it or
hand it to a logger.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.image import AxesImage

from ftir_unmixer.io.input_file import HyperspectralData
from ftir_unmixer.io.results_file import LearningCurve, UnmixingResult
from ftir_unmixer.io.run_folder import FIGURE_FILES

WAVENUMBER_LABEL = "Wavenumber (cm$^{-1}$)"


def with_gaps(wavenumbers: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Insert NaN where the axis jumps (dropped windows), so lines are not joined across gaps.

    A jump is a step larger than 1.5 times the median step.

    Args:
        wavenumbers: ``(B,)`` axis.
        values: ``(B,)`` or ``(B, K)`` values on it.

    Returns:
        The axis and values with one NaN row inserted at every gap.
    """
    wn = np.asarray(wavenumbers, dtype=np.float64)
    vals = np.asarray(values, dtype=np.float64)
    steps = np.abs(np.diff(wn))
    if steps.size == 0:
        return wn, vals
    gaps = np.nonzero(steps > 1.5 * np.median(steps))[0] + 1
    nan_row = np.full((len(gaps), *vals.shape[1:]), np.nan)
    return np.insert(wn, gaps, np.nan), np.insert(vals, gaps, nan_row, axis=0)


def set_wavenumber_axis(ax: plt.Axes, wavenumbers: np.ndarray) -> None:
    """Label the x axis in cm⁻¹ with high wavenumbers on the left (the FTIR convention)."""
    ax.set_xlim(float(np.nanmax(wavenumbers)), float(np.nanmin(wavenumbers)))
    ax.set_xlabel(WAVENUMBER_LABEL)


def shade_windows(ax: plt.Axes, windows: Sequence[Sequence[float]], label: str) -> None:
    """Shade wavenumber windows ``[lo, hi]`` (e.g. bad windows) in grey."""
    for i, (lo, hi) in enumerate(windows):
        ax.axvspan(
            min(lo, hi), max(lo, hi), color="0.8", alpha=0.6, label=label if i == 0 else None
        )


def draw_abundance_map(
    ax: plt.Axes, image: np.ndarray, title: str, tile_rows: Sequence[int] | None = None
) -> AxesImage:
    """Draw one abundance map on the common 0–1 scale, tile seams dotted.

    Args:
        ax: the axes.
        image: ``(H, W)`` abundances.
        title: the panel title; ``"Map 2: lead soap, 4.1°"`` is set on two lines, since maps
            of a tall cross-section are narrow.
        tile_rows: rows per detector tile; dotted lines mark the tile seams.

    Returns:
        The image (for a colour bar).
    """
    image = ax.imshow(image, vmin=0.0, vmax=1.0, cmap="viridis")
    ax.set_title(title.replace(": ", "\n", 1), fontsize=7)
    ax.set_xticks([])
    ax.set_yticks([])
    for seam in np.cumsum(tile_rows or [])[:-1]:
        ax.axhline(seam - 0.5, color="white", lw=0.5, ls=":")
    return image


def draw_spectrum(ax: plt.Axes, wavenumbers: np.ndarray, spectrum: np.ndarray, title: str) -> None:
    """Draw one spectrum on a reversed wavenumber axis, gaps left open, small fonts.

    Args:
        ax: the axes.
        wavenumbers: ``(B,)`` axis in cm⁻¹.
        spectrum: ``(B,)`` values.
        title: the panel title.
    """
    wn, values = with_gaps(wavenumbers, spectrum)
    ax.plot(wn, values, lw=0.8)
    ax.set_title(title, fontsize=8)
    set_wavenumber_axis(ax, wavenumbers)
    ax.tick_params(labelsize=7)
    ax.xaxis.label.set_size(7)


def plot_abundance_maps(
    abundances: np.ndarray,
    titles: Sequence[str] | None = None,
    tile_rows: Sequence[int] | None = None,
) -> Figure:
    """Abundance maps side by side (the paper's Fig. 5–6 layout), on a common 0–1 scale.

    Args:
        abundances: ``(H, W, K)``.
        titles: one title per map (``Map 1`` … by default).
        tile_rows: rows per detector tile; dotted lines mark the tile seams.

    Returns:
        The figure.
    """
    height, width, k = abundances.shape
    titles = list(titles) if titles is not None else [f"Map {i + 1}" for i in range(k)]
    panel_w = max(1.1, 6.0 * width / height)
    fig, axes = plt.subplots(1, k, figsize=(panel_w * k + 1.0, 6.5), squeeze=False)
    image = None
    for i, ax in enumerate(axes[0]):
        image = draw_abundance_map(ax, abundances[:, :, i], titles[i], tile_rows)
    fig.colorbar(image, ax=axes[0].tolist(), fraction=0.02, label="abundance")
    return fig


def plot_endmembers(
    wavenumbers: np.ndarray,
    endmembers: np.ndarray,
    titles: Sequence[str] | None = None,
    ylabel: str = "absorbance",
) -> Figure:
    """One panel per endmember spectrum, wavenumber axis reversed.

    Args:
        wavenumbers: ``(B,)`` axis in cm⁻¹.
        endmembers: ``(B, K)`` spectra.
        titles: one title per endmember (``Endmember 1`` … by default).
        ylabel: y-axis label (the units of the spectra).

    Returns:
        The figure.
    """
    k = endmembers.shape[1]
    titles = list(titles) if titles is not None else [f"Endmember {i + 1}" for i in range(k)]
    cols = min(k, 5)
    rows = int(np.ceil(k / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.4 * rows), squeeze=False)
    for i, ax in enumerate(axes.flat):
        if i >= k:
            ax.set_visible(False)
            continue
        draw_spectrum(ax, wavenumbers, endmembers[:, i], titles[i])
        if i % cols == 0:
            ax.set_ylabel(ylabel, fontsize=7)
    fig.tight_layout()
    return fig


def plot_band_weights(
    wavenumbers: np.ndarray,
    weights: np.ndarray,
    diagnostics: dict[str, np.ndarray],
    bad_windows: Sequence[Sequence[float]] = (),
) -> Figure:
    """Band weights (Eq. 13) over the three diagnostics (Eq. 9, Eq. 10, flatness) and score.

    Args:
        wavenumbers: ``(B,)`` axis.
        weights: ``(B,)`` w.
        diagnostics: ``corr_deficit``, ``roughness``, ``flatness`` and ``score`` arrays.
        bad_windows: windows forced to zero weight, shaded.

    Returns:
        The figure.
    """
    panels = [
        ("weight w (Eq. 13)", weights),
        ("score s (Eq. 12)", diagnostics["score"]),
        ("corr. deficit (Eq. 9)", diagnostics["corr_deficit"]),
        ("roughness (Eq. 10)", diagnostics["roughness"]),
        ("flatness −log var", diagnostics["flatness"]),
    ]
    fig, axes = plt.subplots(len(panels), 1, figsize=(9, 8), sharex=True)
    for ax, (label, values) in zip(axes, panels, strict=True):
        wn, vals = with_gaps(wavenumbers, values)
        ax.plot(wn, vals, lw=0.7)
        ax.set_ylabel(label, fontsize=7)
        ax.tick_params(labelsize=7)
        if bad_windows:
            shade_windows(ax, bad_windows, "bad window")
    set_wavenumber_axis(axes[-1], wavenumbers)
    if bad_windows:
        axes[0].legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    return fig


def plot_learning_curves(curves: Mapping[str, LearningCurve]) -> Figure:
    """The matched angle to the ground truth against the epoch, for several runs.

    One colour per run: a solid line over all bands (``gt/mean_angle_deg``), a dashed one
    over the clean bands (``gt/mean_angle_clean_deg``).

    Args:
        curves: run label → its learning curve.

    Returns:
        The figure.
    """
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for index, (label, curve) in enumerate(curves.items()):
        colour = f"C{index % 10}"
        ax.plot(
            curve.epoch, curve.mean_angle_deg, "-o", ms=3, color=colour, label=f"{label}, all bands"
        )
        ax.plot(
            curve.epoch,
            curve.mean_angle_clean_deg,
            "--",
            color=colour,
            label=f"{label}, clean bands",
        )
    ax.set_xlabel("epoch")
    ax.set_ylabel("mean matched angle to the truth (°)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def save_figure(fig: Figure, path: str) -> None:
    """Save ``fig`` as PNG at 120 dpi and close it."""
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)


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
        Figure name (the keys of :data:`~ftir_unmixer.io.run_folder.FIGURE_FILES`) → open
        Matplotlib figure.
    """
    return {
        "abundance_maps": plot_abundance_maps(result.abundances, titles, tile_rows),
        "endmembers": plot_endmembers(result.wavenumbers, result.endmembers, titles, ylabel=units),
        "band_weights": plot_band_weights(
            result.wavenumbers, result.band_weights, result.band_diagnostics, bad_windows
        ),
    }


def write_figures(
    output_dir: str | os.PathLike[str], result: UnmixingResult, **options: object
) -> dict[str, Path]:
    """Write the figures of :func:`render_figures` (same ``options``) as PNG into a run folder.

    Returns:
        Figure name → written path.
    """
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    figures = render_figures(result, **options)
    paths = {name: out / FIGURE_FILES[name] for name in figures}
    for name, fig in figures.items():
        save_figure(fig, str(paths[name]))
    return paths
