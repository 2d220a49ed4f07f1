"""What the explorer shows of a run: its results, the measured cube it unmixed, its labels.

A run directory holds ``results.h5``; the measured spectra come from the input file named in
its ``input`` attribute (for the bundled synthetic scene, the cached file under ``data/``),
read again and prepared as the run prepared it before normalising: the same bands (``crop``,
``drop_windows``: the result's wavenumbers) and the same baseline removal. So the measured
spectra are in input units, like the ``endmembers`` dataset.

The reconstruction of a pixel in input units is ``f·A·Eᵀ`` with its abundances ``A`` and the
``endmembers`` dataset ``E``. For the per-band affine normalisations (``band_minmax``,
``band_quantile``, ``band_noise``, ``none``) ``f = 1``: ``x′ = (x − lo)/span`` maps back
exactly because the abundances sum to one, ``Σₖ aₖ (e′ₖ·span + lo) = (Σₖ aₖ e′ₖ)·span + lo``.
``pixel_l2`` divides each pixel by its own norm, which no endmember can carry, so
``E`` stays in normalised units and ``f`` is the pixel's norm ``‖x‖₂``.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from ftir_unmixer.data.preprocessing import PixelL2, remove_baseline
from ftir_unmixer.errors import FTIRUnmixerError
from ftir_unmixer.evaluation.ground_truth import match_endmembers
from ftir_unmixer.evaluation.library import ReferenceLibrary, identification_labels, identify
from ftir_unmixer.evaluation.run_evaluation import ground_truth_labels
from ftir_unmixer.io.input_file import HyperspectralData, read_input
from ftir_unmixer.io.results_file import UnmixingResult, read_results
from ftir_unmixer.io.run_folder import HYDRA_DIR, RESULTS_FILE

log = logging.getLogger(__name__)


@dataclass
class MeasuredCube:
    """The measured spectra of a run, prepared as the run prepared them before normalising.

    Attributes:
        path: the input file.
        wavenumbers: ``(B,)`` the run's bands.
        pixels: ``(H·W, B)`` float32 spectra in input units (row-major pixels).
        valid: ``(H·W,)`` bool: in the input's mask and finite.
        shape: ``(H, W)``.
        tile_rows: rows of each detector tile, in stacking order.
        units: the input's ``units`` attribute.
        reconstruction_factor: ``(H·W,)`` the ``f`` of the module docstring for
            ``pixel_l2``, None (``f = 1``) otherwise.
        description: how the spectra were prepared, for the page.
    """

    path: Path
    wavenumbers: np.ndarray
    pixels: np.ndarray
    valid: np.ndarray
    shape: tuple[int, int]
    tile_rows: list[int]
    units: str
    reconstruction_factor: np.ndarray | None = None
    description: str = "measured"


@dataclass
class ExplorerRun:
    """One run as the explorer shows it.

    Attributes:
        directory: the run directory.
        name: its short name on the page.
        result: its ``results.h5``.
        cube: its measured spectra.
        labels: per endmember, the identified material with its angle (library first, else
            ground truth), or ``""``.
        details: per endmember, every identification line (ground truth, library candidates
            with angle and correlation).
        ignored: ``(B,)`` bool, the bands WSAD ignores: forced to weight 0
            (``loss.band_weights.bad_windows``) or scored above τ (Eq. 13's outliers).
    """

    directory: Path
    name: str
    result: UnmixingResult
    cube: MeasuredCube
    labels: list[str] = field(default_factory=list)
    details: list[list[str]] = field(default_factory=list)
    ignored: np.ndarray | None = None

    @property
    def title(self) -> str:
        """``name: method loss, K = …, seed …``."""
        attrs = self.result.attrs
        return (
            f"{self.name}: {attrs.get('method', 'ftir_unmixer')} {attrs.get('loss', '')}, "
            f"K = {self.result.num_endmembers}, seed {attrs.get('seed', '?')}"
        )

    def reconstruction(self, pixel: int) -> np.ndarray:
        """``(B,)`` the reconstruction of a pixel (row-major index) in input units."""
        height, width = self.cube.shape
        abundances = self.result.abundances.reshape(height * width, -1)[pixel]
        factor = self.cube.reconstruction_factor
        scale = 1.0 if factor is None else float(factor[pixel])
        return scale * (self.result.endmembers.astype(np.float64) @ abundances)


def _json_attr(attrs: Mapping[str, object], key: str) -> dict:
    value = attrs.get(key)
    if isinstance(value, bytes):
        value = value.decode()
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            return {}
    return value if isinstance(value, dict) else {}


def _config_value(config: Mapping, dotted: str, default: object) -> object:
    node: object = config
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return default
        node = node[part]
    return default if node is None else node


def _band_indices(data: HyperspectralData, result: UnmixingResult, path: Path) -> np.ndarray:
    """Indices of the result's bands in the input file's axis."""
    index = {float(w): i for i, w in enumerate(data.wavenumbers)}
    picked = [index.get(float(w)) for w in result.wavenumbers]
    if any(i is None for i in picked):
        raise FTIRUnmixerError(
            f"{path}: its wavenumbers do not contain the bands of the run (results.h5 "
            "wavenumbers); give the input file the run was trained on with --input."
        )
    return np.asarray(picked, dtype=np.intp)


def read_measured_cube(
    path: str | os.PathLike[str], result: UnmixingResult, preprocessing: Mapping
) -> MeasuredCube:
    """Read a run's input file and prepare it as the run did before normalising.

    Args:
        path: the input file.
        result: the run's results (its wavenumbers select the bands).
        preprocessing: the ``preprocessing`` attribute of ``results.h5`` (``baseline``,
            ``normalization``).

    Returns:
        The spectra in input units on the run's bands.

    Raises:
        FTIRUnmixerError: if the file cannot be read or does not match the run.
    """
    path = Path(path)
    data = read_input(path)
    height, width = result.abundances.shape[:2]
    if data.shape[:2] != (height, width):
        raise FTIRUnmixerError(
            f"{path}: the image is {data.shape[0]}×{data.shape[1]} pixels but the run's "
            f"abundance maps are {height}×{width}; give the run's input file with --input."
        )
    cube = data.cube[:, :, _band_indices(data, result, path)]
    description = "measured"
    baseline = preprocessing.get("baseline")
    if baseline:
        cube = remove_baseline(cube, result.wavenumbers, baseline["method"], baseline.get("params"))
        description = f"measured, {baseline['method']} baseline removed"
    pixels = cube.reshape(height * width, -1)
    valid = data.mask.reshape(-1) & np.all(np.isfinite(pixels), axis=1)
    factor = None
    if preprocessing.get("normalization") == PixelL2.name:
        factor = np.linalg.norm(np.where(valid[:, None], pixels, 0.0), axis=1)
        factor = factor.astype(np.float32)
    return MeasuredCube(
        path=path,
        wavenumbers=np.asarray(result.wavenumbers, np.float64),
        pixels=pixels,
        valid=valid,
        shape=(height, width),
        tile_rows=list(data.tile_rows),
        units=str(data.attrs.get("units", "absorbance")),
        reconstruction_factor=factor,
        description=description,
    )


def _ground_truth_lines(
    result: UnmixingResult, data: HyperspectralData, bands: np.ndarray
) -> list[str]:
    ground_truth = data.ground_truth
    if ground_truth is None:
        return []
    matching = match_endmembers(result.endmembers, ground_truth.endmembers[bands])
    return ground_truth_labels(matching, ground_truth.names)


def _library_lines(
    result: UnmixingResult, library: ReferenceLibrary, threshold_deg: float
) -> tuple[list[str], list[list[str]]]:
    identifications = identify(
        result.endmembers,
        result.wavenumbers,
        library,
        band_weights=result.band_weights,
        threshold_deg=threshold_deg,
    )
    details = [
        [
            f"library: {c.reference}, {c.angle_deg:.1f}°, r = {c.correlation:.2f}"
            for c in ident.candidates
        ]
        for ident in identifications
    ]
    return identification_labels(identifications), details


def ignored_bands(result: UnmixingResult, config: Mapping) -> np.ndarray:
    """``(B,)`` the bands WSAD ignores: weight 0, or an outlier score above τ (Eq. 13).

    SAD runs (all weights 1) ignore none.
    """
    weights = np.asarray(result.band_weights, np.float64)
    if np.all(weights == 1.0):
        return np.zeros(weights.shape, bool)
    tau = float(_config_value(config, "loss.band_weights.tau", 3.0))
    score = np.asarray(result.band_diagnostics["score"], np.float64)
    return (weights == 0.0) | (score > tau)


def recorded_input(directory: Path, result: UnmixingResult) -> Path:
    """The input file named in ``results.h5``.

    A relative name (``data.path=scene.h5``) is relative to the directory the run was started
    from: Hydra records it in ``.hydra/hydra.yaml`` (``hydra.runtime.cwd``).
    """
    path = Path(str(result.attrs.get("input", "")))
    hydra_file = directory / HYDRA_DIR / "hydra.yaml"
    if path.is_absolute() or path.is_file() or not hydra_file.is_file():
        return path
    runtime = (yaml.safe_load(hydra_file.read_text()) or {}).get("hydra", {}).get("runtime", {})
    return Path(runtime.get("cwd", ".")) / path


def load_run(
    run_dir: str | os.PathLike[str],
    *,
    input_path: str | os.PathLike[str] | None = None,
    cubes: dict[tuple, MeasuredCube] | None = None,
    name: str | None = None,
) -> ExplorerRun:
    """Read a run directory and everything the explorer shows of it.

    Args:
        run_dir: a run's output directory (with ``results.h5``).
        input_path: the input file, if not the one named in ``results.h5``.
        cubes: measured cubes already read, keyed by (file, bands, preprocessing); runs on
            the same input (a SAD/WSAD pair) share one.
        name: the run's name on the page (default: the directory name).

    Returns:
        The run.

    Raises:
        FTIRUnmixerError: if the results or the input file are missing or do not match.
    """
    directory = Path(run_dir)
    results_path = directory / RESULTS_FILE if directory.is_dir() else directory
    if directory.is_file():
        directory = directory.parent
    result = read_results(results_path)
    path = Path(input_path) if input_path else recorded_input(directory, result)
    if not path.is_file():
        raise FTIRUnmixerError(
            f"{results_path}: its input file {str(path) or '(none recorded)'} does not exist; "
            "give the file the run was trained on with --input."
        )
    preprocessing = _json_attr(result.attrs, "preprocessing")
    key = (
        str(path.resolve()),
        result.wavenumbers.tobytes(),
        json.dumps(preprocessing, sort_keys=True),
    )
    cubes = {} if cubes is None else cubes
    if key not in cubes:
        cubes[key] = read_measured_cube(path, result, preprocessing)
    cube = cubes[key]
    config = _json_attr(result.attrs, "config")
    data = read_input(path, load_cube=False)
    labels = _ground_truth_lines(result, data, _band_indices(data, result, path))
    details = [[f"ground truth: {label}"] if label else [] for label in labels]
    library_paths = _config_value(config, "evaluation.library", None)
    if library_paths:
        try:
            library = ReferenceLibrary.from_paths(library_paths)
        except FTIRUnmixerError as exc:
            log.warning("No library names in the explorer of %s: %s", directory, exc)
        else:
            threshold = float(_config_value(config, "evaluation.match_threshold_deg", 15.0))
            labels, library_details = _library_lines(result, library, threshold)
            details = [
                (details[k] if k < len(details) else []) + library_details[k]
                for k in range(result.num_endmembers)
            ]
    return ExplorerRun(
        directory=directory,
        name=name or directory.name,
        result=result,
        cube=cube,
        labels=labels or [""] * result.num_endmembers,
        details=details or [[] for _ in range(result.num_endmembers)],
        ignored=ignored_bands(result, config),
    )
