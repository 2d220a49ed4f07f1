"""Assemble the explorer: one self-contained HTML file for one or more runs.

The file embeds Plotly's JavaScript (no CDN, no server: it opens offline from disk), the page
logic (``explorer.js``), the figure templates (:mod:`ftir_unmixer.explorer.figures`) and the
data as deflated base64 blobs (:mod:`ftir_unmixer.explorer.encoding`): the quantised measured
spectra of each input once, and per run the abundances, the error map and the endmembers.
"""

from __future__ import annotations

import html
import json
import logging
import os
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from string import Template

import numpy as np
import plotly.io as pio
from plotly.offline import get_plotlyjs

from ftir_unmixer.errors import FTIRUnmixerError
from ftir_unmixer.evaluation.ground_truth import Matching, match_endmembers
from ftir_unmixer.explorer.encoding import (
    LEVELS,
    QuantisationError,
    encode_array,
    quantisation_error,
    quantise_spectra,
)
from ftir_unmixer.explorer.figures import (
    bars_figure,
    endmembers_figure,
    gap_positions,
    maps_figure,
    partner_map,
    spectrum_figure,
)
from ftir_unmixer.explorer.run_data import ExplorerRun, MeasuredCube, load_run
from ftir_unmixer.io.atomic import atomic_path

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExplorerPage:
    """What :func:`write_explorer` wrote.

    Attributes:
        path: the HTML file.
        size_bytes: its size.
        error: the quantisation error of the displayed spectra, over every cube shown.
    """

    path: Path
    size_bytes: int
    error: QuantisationError


def _figure(fig: object) -> dict:
    return json.loads(pio.to_json(fig, validate=False))


def _matchings(runs: Sequence[ExplorerRun]) -> list[Matching | None]:
    first = runs[0].result
    matchings: list[Matching | None] = [None]
    for run in runs[1:]:
        same_axis = np.array_equal(run.result.wavenumbers, first.wavenumbers)
        if not same_axis:
            log.warning(
                "%s is on other bands than %s: endmembers not matched", run.name, runs[0].name
            )
        matchings.append(
            match_endmembers(run.result.endmembers, first.endmembers) if same_axis else None
        )
    return matchings


def _default_rgb(run: ExplorerRun) -> list[int]:
    """The three endmembers with the largest mean abundance (fewer if K < 3)."""
    means = np.nanmean(run.result.abundances.reshape(-1, run.result.num_endmembers), axis=0)
    order = np.argsort(-means, kind="stable")
    return [int(order[min(i, len(order) - 1)]) for i in range(3)]


def _cube_payload(cube: MeasuredCube) -> tuple[dict, QuantisationError]:
    quantised = quantise_spectra(cube.pixels, cube.valid)
    error = quantisation_error(cube.pixels, quantised, cube.valid)
    factor = cube.reconstruction_factor
    return {
        "wavenumbers": encode_array(cube.wavenumbers.astype(np.float64)),
        "gaps": gap_positions(cube.wavenumbers),
        "deltas": encode_array(quantised.deltas, strategy=zlib.Z_HUFFMAN_ONLY),
        "offset": encode_array(quantised.offset),
        "step": encode_array(quantised.step),
        "valid": encode_array(cube.valid.astype(np.uint8)),
        "factor": encode_array(factor) if factor is not None else None,
        "units": cube.units,
        "description": cube.description,
        "path": str(cube.path),
    }, error


def build_payload(runs: Sequence[ExplorerRun], title: str) -> tuple[dict, QuantisationError]:
    """Everything the page needs, as JSON-ready data.

    Args:
        runs: the runs, on one image geometry.
        title: the page title.

    Returns:
        The payload and the largest quantisation error over its cubes.
    """
    cubes: list[MeasuredCube] = []
    for run in runs:
        if not any(run.cube is c for c in cubes):
            cubes.append(run.cube)
    encoded = [_cube_payload(cube) for cube in cubes]
    errors = [e for _, e in encoded]
    error = QuantisationError(
        max_relative=max(e.max_relative for e in errors),
        rms_relative=max(e.rms_relative for e in errors),
        max_absolute=max(e.max_absolute for e in errors),
        rms_absolute=max(e.rms_absolute for e in errors),
    )
    matchings = _matchings(runs)
    height, width = runs[0].cube.shape
    run_payloads = []
    for run, matching in zip(runs, matchings, strict=True):
        result = run.result
        partners = partner_map(matching) if matching is not None else None
        run_payloads.append(
            {
                "name": run.name,
                "title": run.title,
                "directory": str(run.directory),
                "cube": next(i for i, c in enumerate(cubes) if c is run.cube),
                "k": result.num_endmembers,
                "abundances": encode_array(
                    result.abundances.reshape(height * width, -1).astype(np.float32)
                ),
                "error_deg": encode_array(
                    np.degrees(result.reconstruction_error).astype(np.float32)
                ),
                "endmembers": encode_array(result.endmembers.astype(np.float32)),
                "labels": run.labels,
                "details": run.details,
                "rgb": _default_rgb(run),
                "figures": {
                    "maps": _figure(maps_figure(run, partners)),
                    "spectrum": _figure(spectrum_figure(run)),
                    "bars": _figure(bars_figure(run, partners)),
                },
            }
        )
    payload = {
        "title": title,
        "shape": [height, width],
        "levels": LEVELS,
        "quantisation": {
            "max_relative": error.max_relative,
            "rms_relative": error.rms_relative,
        },
        "cubes": [c for c, _ in encoded],
        "runs": run_payloads,
        "endmembers": _figure(endmembers_figure(runs, matchings)),
    }
    return payload, error


def render_html(payload: dict) -> str:
    """The page: template, Plotly's JavaScript, the payload and the page logic in one file."""
    package = resources.files("ftir_unmixer.explorer")
    template = Template(package.joinpath("template.html").read_text(encoding="utf-8"))
    data = json.dumps(payload, separators=(",", ":"), allow_nan=False).replace("</", "<\\/")
    return template.substitute(
        title=html.escape(payload["title"]),
        plotly=get_plotlyjs(),
        payload=data,
        script=package.joinpath("explorer.js").read_text(encoding="utf-8"),
    )


def write_explorer(
    run_dirs: Sequence[str | os.PathLike[str]],
    output: str | os.PathLike[str],
    *,
    input_path: str | os.PathLike[str] | None = None,
    names: Sequence[str] | None = None,
    title: str | None = None,
) -> ExplorerPage:
    """Write the explorer of one or more runs (e.g. a SAD and a WSAD run of one sweep).

    Args:
        run_dirs: run directories (or their ``results.h5``).
        output: the HTML file to write.
        input_path: the input file of every run, if not the one named in its results.
        names: the runs' names on the page (default: their directory names).
        title: the page title (default: the runs' names).

    Returns:
        The written page.

    Raises:
        FTIRUnmixerError: if a run cannot be read or the runs' images differ in size.
    """
    if not run_dirs:
        raise FTIRUnmixerError("no run given; pass at least one run directory.")
    cubes: dict[tuple, MeasuredCube] = {}
    runs = [
        load_run(d, input_path=input_path, cubes=cubes, name=names[i] if names else None)
        for i, d in enumerate(run_dirs)
    ]
    shapes = {run.cube.shape for run in runs}
    if len(shapes) > 1:
        raise FTIRUnmixerError(
            f"the runs' images differ in size ({', '.join(f'{h}×{w}' for h, w in sorted(shapes))} "
            "pixels); explore runs of the same input together."
        )
    payload, error = build_payload(runs, title or " vs ".join(r.name for r in runs))
    text = render_html(payload)
    with atomic_path(output) as tmp:
        tmp.write_text(text, encoding="utf-8")
    path = Path(output)
    return ExplorerPage(path, path.stat().st_size, error)
