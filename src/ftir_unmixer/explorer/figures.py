"""The explorer's Plotly figures, built in Python and filled with pixel data by the page.

Every figure follows the FTIR conventions (cm⁻¹, high wavenumbers on the left) and the maps
keep the cross-section's true aspect ratio with the detector-tile boundaries drawn. The maps,
spectra and bars are templates: their traces are declared here in a fixed order (the page
fills the heat maps from the abundance blobs and the spectra on every click); the endmember
figure is complete.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.colors import qualitative
from plotly.subplots import make_subplots

from ftir_unmixer.evaluation.ground_truth import Matching
from ftir_unmixer.explorer.run_data import ExplorerRun

PALETTE = qualitative.Plotly
"""Endmember colours, shared by the bars and the endmember figure."""
MAP_HEIGHT_PX = 420
"""Height of a map panel for a tall cross-section (wide images: width :data:`MAP_WIDTH_PX`)."""
MAP_WIDTH_PX = 220
PANEL_GAP_PX = 34
SPECTRUM_AXIS = {"title": {"text": "wavenumber (cm⁻¹)"}, "autorange": "reversed"}
IGNORED_COLOUR = "rgba(214, 39, 40, 0.13)"


def colour(k: int) -> str:
    """The colour of endmember ``k``."""
    return PALETTE[k % len(PALETTE)]


def gap_positions(wavenumbers: np.ndarray) -> list[int]:
    """Indices ``i`` after which the band axis jumps (a dropped window): lines break there."""
    steps = np.abs(np.diff(np.asarray(wavenumbers, np.float64)))
    if steps.size == 0:
        return []
    return np.flatnonzero(steps > 1.5 * np.median(steps)).tolist()


def with_gaps(values: np.ndarray, gaps: Sequence[int]) -> np.ndarray:
    """``values`` as float64 with NaN inserted after each index of ``gaps``."""
    return np.insert(np.asarray(values, np.float64), np.asarray(gaps, np.intp) + 1, np.nan)


def ignored_trace(wavenumbers: np.ndarray, ignored: np.ndarray, name: str) -> go.Scatter:
    """One filled step trace on the ``y2`` axis (0–1) shading the bands WSAD ignores.

    A single path, so redrawing the figure on every click stays cheap (one shape per
    ignored window would be redrawn one by one).
    """
    gaps = gap_positions(wavenumbers)
    return go.Scatter(
        x=with_gaps(wavenumbers, gaps),
        y=with_gaps(np.where(ignored, 1.0, 0.0), gaps),
        yaxis="y2",
        mode="lines",
        line={"width": 0, "shape": "hvh"},
        fill="tozeroy",
        fillcolor=IGNORED_COLOUR,
        hoverinfo="skip",
        name=name,
    )


def panel_size(height: int, width: int) -> tuple[int, int]:
    """Pixel width and height of one map panel at the image's true aspect ratio."""
    scale = min(MAP_HEIGHT_PX / height, MAP_WIDTH_PX / width, 12.0)
    return max(round(width * scale), 8), max(round(height * scale), 8)


def map_titles(run: ExplorerRun, partners: dict[int, tuple[int, float]] | None) -> list[str]:
    """Titles of the map panels: ``Map k`` over the label (and the partner in the first run)."""
    titles = []
    for k in range(run.result.num_endmembers):
        lines = [f"Map {k + 1}"]
        if partners is not None and k in partners:
            lines.append(f"↔ {partners[k][0] + 1} ({partners[k][1]:.0f}°)")
        if run.labels[k]:
            lines.append(run.labels[k].split(",")[0][:14])
        titles.append("<br>".join(lines))
    return [*titles, "RGB", "error (°)"]


def maps_figure(
    run: ExplorerRun, partners: dict[int, tuple[int, float]] | None = None
) -> go.Figure:
    """The abundance maps, the RGB composite and the reconstruction-error map of a run.

    Traces, in order: K abundance heat maps, the RGB image, the error heat map. Rows grow
    downwards and each panel keeps the image's aspect ratio; white dashed lines mark the
    detector-tile boundaries (the page draws the selected pixel's marker over the panels).

    Args:
        run: the run.
        partners: for a second run, its endmember index → (matched endmember of the first
            run, angle in degrees).

    Returns:
        The figure (heat-map values are filled in by the page).
    """
    height, width = run.cube.shape
    k = run.result.num_endmembers
    panels = k + 2
    panel_w, panel_h = panel_size(height, width)
    left, right, top, bottom = 30, 110, 78, 30
    fig_width = panels * panel_w + (panels - 1) * PANEL_GAP_PX + left + right
    fig = make_subplots(
        rows=1,
        cols=panels,
        subplot_titles=map_titles(run, partners),
        horizontal_spacing=PANEL_GAP_PX / (fig_width - left - right),
    )
    colourbar = {"len": 0.45, "thickness": 10, "x": 1.0, "xpad": 8}
    for i in range(k):
        fig.add_trace(
            go.Heatmap(
                z=None,
                zmin=0,
                zmax=1,
                colorscale="Viridis",
                showscale=i == 0,
                colorbar=colourbar | {"y": 1.0, "yanchor": "top", "title": {"text": "a"}},
                hovertemplate=f"row %{{y}}, col %{{x}}<br>a{i + 1} = %{{z:.3f}}<extra></extra>",
                name=f"map {i + 1}",
            ),
            row=1,
            col=i + 1,
        )
    fig.add_trace(
        go.Image(z=None, hovertemplate="row %{y}, col %{x}<extra>RGB</extra>", name="RGB"),
        row=1,
        col=k + 1,
    )
    fig.add_trace(
        go.Heatmap(
            z=None,
            colorscale="Inferno",
            colorbar=colourbar | {"y": 0.0, "yanchor": "bottom", "x": 1.0, "title": {"text": "°"}},
            hovertemplate="row %{y}, col %{x}<br>error %{z:.2f}°<extra></extra>",
            name="error",
        ),
        row=1,
        col=k + 2,
    )
    boundaries = np.cumsum(run.cube.tile_rows)[:-1]
    for col in range(1, panels + 1):
        suffix = "" if col == 1 else str(col)
        fig.update_xaxes(
            range=[-0.5, width - 0.5], showticklabels=False, showgrid=False, row=1, col=col
        )
        fig.update_yaxes(
            range=[height - 0.5, -0.5],
            scaleanchor=f"x{suffix}",
            constrain="domain",
            showticklabels=col == 1,
            showgrid=False,
            row=1,
            col=col,
        )
        for boundary in boundaries:
            fig.add_shape(
                type="line",
                xref=f"x{suffix}",
                yref=f"y{suffix}",
                x0=-0.5,
                x1=width - 0.5,
                y0=boundary - 0.5,
                y1=boundary - 0.5,
                line={"color": "white", "width": 1, "dash": "dash"},
            )
    fig.update_annotations(font_size=10)
    fig.update_layout(
        width=fig_width,
        height=panel_h + top + bottom,
        margin={"l": left, "r": right, "t": top, "b": bottom},
        hovermode="closest",
        dragmode=False,
        plot_bgcolor="#ddd",
    )
    return fig


def spectrum_figure(run: ExplorerRun) -> go.Figure:
    """The selected pixel's measured spectrum, its reconstruction ``f·A·Eᵀ`` and the residual.

    Traces, in order: measured, reconstruction, residual (filled by the page), then the
    shading of the bands WSAD ignores.
    """
    units = run.cube.units
    fig = go.Figure(
        [
            go.Scatter(name=run.cube.description, line={"color": "black", "width": 1}),
            go.Scatter(name="reconstruction", line={"color": "#d62728", "width": 1.5}),
            go.Scatter(name="residual", line={"color": "#7f7f7f", "width": 1}),
            ignored_trace(run.cube.wavenumbers, run.ignored, "bands WSAD ignores"),
        ]
    )
    fig.update_layout(
        title={"text": f"{run.name}: spectrum", "font": {"size": 13}},
        xaxis=SPECTRUM_AXIS,
        yaxis={"title": {"text": units}, "zeroline": True},
        yaxis2={"overlaying": "y", "range": [0, 1], "visible": False},
        height=360,
        margin={"l": 60, "r": 10, "t": 40, "b": 45},
        legend={"orientation": "h", "y": -0.2, "font": {"size": 10}},
        hovermode="x",
    )
    return fig


def bars_figure(
    run: ExplorerRun, partners: dict[int, tuple[int, float]] | None = None
) -> go.Figure:
    """The selected pixel's abundances as one bar per endmember (filled by the page).

    Bars take their endmember's colour in the endmember figure: a second run's matched
    endmembers that of their partner in the first run.
    """
    k = run.result.num_endmembers
    names = [str(i + 1) for i in range(k)]
    rows = {e: partner for e, (partner, _) in (partners or {}).items()}
    fig = go.Figure(
        go.Bar(
            x=names,
            y=[0.0] * k,
            marker={"color": [colour(rows.get(i, i)) for i in range(k)]},
            hovertext=[f"{i + 1}: {run.labels[i] or 'unnamed'}" for i in range(k)],
            hovertemplate="%{hovertext}<br>a = %{y:.3f}<extra></extra>",
        )
    )
    fig.update_layout(
        title={"text": "abundances", "font": {"size": 13}},
        xaxis={"title": {"text": "endmember"}, "type": "category"},
        yaxis={"range": [0, 1.05], "title": {"text": "abundance"}},
        height=300,
        margin={"l": 50, "r": 10, "t": 40, "b": 45},
    )
    return fig


def partner_map(matching: Matching) -> dict[int, tuple[int, float]]:
    """Second run's endmember → (first run's matched endmember, angle)."""
    return {
        int(est): (int(true), float(angle))
        for est, true, angle in zip(
            matching.est_indices, matching.true_indices, matching.angles_deg, strict=True
        )
    }


def _stacked(spectrum: np.ndarray) -> np.ndarray:
    """A spectrum scaled onto [0, 0.9] for an offset stack."""
    values = np.asarray(spectrum, np.float64)
    span = np.nanmax(values) - np.nanmin(values)
    return 0.9 * (values - np.nanmin(values)) / (span if span > 0 else 1.0)


def endmembers_figure(
    runs: Sequence[ExplorerRun], matchings: Sequence[Matching | None]
) -> go.Figure:
    """The endmembers of the first run stacked, each other run's matched endmember overlaid.

    Each spectrum is scaled to its own range (shapes, not intensities, are compared); the
    first run's are solid, the others' dashed in the same row with their angle. Band weights
    of every WSAD run are shaded (right axis) and the bands it ignores marked.

    Args:
        runs: the runs; the first one sets the rows.
        matchings: per run, its endmembers matched to the first run's (None for the first
            run and for runs on another band axis).

    Returns:
        The figure.
    """
    first = runs[0]
    k = first.result.num_endmembers
    extra = [
        [e for e in range(run.result.num_endmembers) if m is None or e not in m.est_indices]
        for run, m in zip(runs, matchings, strict=True)
    ]
    extra[0] = []
    rows = k + sum(len(e) for e in extra[1:])
    fig = go.Figure()
    dashes = ["solid", "dash", "dot", "dashdot"]
    for index, (run, matching) in enumerate(zip(runs, matchings, strict=True)):
        gaps = gap_positions(run.result.wavenumbers)
        x = with_gaps(run.result.wavenumbers, gaps)
        angles = partner_map(matching) if matching is not None else {}
        row_of = {e: e for e in range(k)} if index == 0 else {}
        row_of |= {e: partner for e, (partner, _) in angles.items()}
        first_extra = k + sum(len(e) for e in extra[1:index])
        row_of |= {e: first_extra + i for i, e in enumerate(extra[index])}
        for e, row in sorted(row_of.items()):
            offset = rows - 1 - row
            label = run.labels[e] or "unnamed"
            angle = (
                f", {angles[e][1]:.1f}° from {first.name} {angles[e][0] + 1}" if e in angles else ""
            )
            fig.add_trace(
                go.Scatter(
                    x=x,
                    y=with_gaps(_stacked(run.result.endmembers[:, e]), gaps) + offset,
                    name=f"{run.name} {e + 1}: {label}{angle}",
                    line={"color": colour(row), "dash": dashes[index % len(dashes)], "width": 1.3},
                    hovertemplate="%{x:.1f} cm⁻¹<extra>%{fullData.name}</extra>",
                    legendgroup=run.name,
                )
            )
        if not np.all(run.result.band_weights == 1.0):
            fig.add_trace(
                go.Scatter(
                    x=x,
                    y=with_gaps(run.result.band_weights, gaps),
                    yaxis="y2",
                    name=f"{run.name} band weight",
                    fill="tozeroy",
                    line={"color": "rgba(120,120,120,0.5)", "width": 0.5},
                    fillcolor="rgba(150,150,150,0.18)",
                    hovertemplate="%{x:.1f} cm⁻¹: w = %{y:.2f}<extra></extra>",
                )
            )
            fig.add_trace(
                ignored_trace(run.result.wavenumbers, run.ignored, f"{run.name}: ignored bands")
            )
    fig.update_layout(
        title={"text": "endmembers (each scaled to its own range)", "font": {"size": 13}},
        xaxis=SPECTRUM_AXIS,
        yaxis={"showticklabels": False, "range": [-0.1, rows], "zeroline": False},
        yaxis2={
            "overlaying": "y",
            "side": "right",
            "range": [0, 1.05],
            "tickvals": [0, 0.5, 1],
            "title": {"text": "band weight"},
            "showgrid": False,
        },
        height=max(300, 46 * rows + 140),
        margin={"l": 20, "r": 60, "t": 40, "b": 45},
        legend={"font": {"size": 10}},
        hovermode="closest",
    )
    return fig
