"""Error budget of the synthetic scenes: where the endmember error comes from (issue 11, item 0).

Each variant of the study's reduced scene (``SyntheticConfig(num_tiles=2)``, 128 × 64 × 1504)
switches one artefact off (its size fields in :data:`ARTEFACTS` set to 0, which the dataclass
reads as off), all of them, or mixes the scene as the ``highly_mixed`` preset does (its
settings read from ``conf/synthetic/highly_mixed.yaml``). On the raw cube (no normalisation;
every pixel, as the training pipeline fits a baseline) it runs

* ``NMF`` and ``VCA + FCLS`` with K = 10 (the study's), once per seed: the total error;
* ``true maps``: the NNLS endmembers given the true abundances
  (:func:`ftir_unmixer.refit.refit_endmembers`): where the artefacts pull the least-squares
  endmembers when the maps are known, with no identifiability question;
* ``ALS from truth``: K = the true materials, FCLS abundances
  (:func:`ftir_unmixer.baselines.vca_fcls.fcls`) and NNLS endmembers alternated from the true
  endmembers until an alternation lowers the squared residual by less than ``TOL`` × ‖X‖², or
  ``MAX_ALS`` alternations: adds the drift along directions the data hardly pin down.

Every fit is scored by :func:`ftir_unmixer.evaluation.ground_truth.ground_truth_metrics`, as the
training runs are (endmembers in the cube's units, abundance RMSE over the mask). The table gives
mean ± sample std over the seeds (the truth-started rows are deterministic), then the
per-material angles of :data:`PER_MATERIAL`, worst material first.

    OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 .venv/bin/python scripts/error_budget.py \\
        --seeds 0 1 2 -o outputs/error_budget.md      # 18 min on one shared core
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Sequence
from itertools import chain
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import yaml

from ftir_unmixer.baselines.nmf import NMFUnmixer
from ftir_unmixer.baselines.vca_fcls import VCAFCLSUnmixer, fcls
from ftir_unmixer.data.synthetic import SyntheticConfig, SyntheticScene, generate_cross_section
from ftir_unmixer.errors import FTIRUnmixerError
from ftir_unmixer.evaluation.ground_truth import ground_truth_metrics
from ftir_unmixer.io.atomic import atomic_path
from ftir_unmixer.refit import AbundanceFit, refit_endmembers
from ftir_unmixer.sweep_report.tables import markdown_table
from ftir_unmixer.training.config import CONFIG_DIR

K = 10  # the study's model.num_endmembers
SIZE = {"num_tiles": 2}  # the study's reduced scene
MAX_ALS, TOL = 200, 1e-7  # ALS from truth: cap, stop when a step gains < TOL·‖X‖²
ARTEFACTS = {
    "noise": ("noise_mau",),
    "spikes": ("spike_fraction", "ripple_fraction"),
    "baseline": ("baseline_offset", "baseline_slope"),
    "gain": ("gain_range",),
    "atmosphere": ("atmosphere_co2", "atmosphere_h2o"),
    "bad_channels": ("bad_channels", "dead_pixel_fraction"),
    "blur": ("blur_fwhm_px",),
}
"""Each artefact's size fields in :class:`SyntheticConfig` (0: off)."""
ALL_OFF = dict.fromkeys(chain(*ARTEFACTS.values()), 0)
HIGHLY_MIXED = yaml.safe_load((CONFIG_DIR / "synthetic" / "highly_mixed.yaml").read_text())
del HIGHLY_MIXED["defaults"]
VARIANTS: dict[str, dict[str, object]] = {
    "bundled": {},
    **{f"no_{name}": dict.fromkeys(names, 0) for name, names in ARTEFACTS.items()},
    "all_off": ALL_OFF,
    "highly_mixed": HIGHLY_MIXED,
    "highly_mixed_all_off": {**HIGHLY_MIXED, **ALL_OFF},
}
"""Variant → its settings that differ from the defaults."""
BLIND = {"NMF": NMFUnmixer, "VCA + FCLS": VCAFCLSUnmixer}
FROM_TRUTH = ("true maps", "ALS from truth")
PER_MATERIAL = [("bundled", "NMF"), ("highly_mixed", "NMF"), ("bundled", "true maps")]
COLUMNS = {  # metric key → (column, decimals)
    "gt/mean_angle_clean_deg": ("clean-band angle (°)", 2),
    "gt/mean_angle_deg": ("all-band angle (°)", 2),
    "gt/abundance_rmse": ("abundance RMSE", 3),
}
Fit = tuple[np.ndarray, np.ndarray, str]  # (B, K) endmembers, (N, K) abundances, a note
Runs = dict[tuple[str, str], list[tuple[dict[str, float], str]]]


def scene_config(variant: str, size: dict[str, object] = SIZE) -> SyntheticConfig:
    """The scene of one variant (at the reduced size by default)."""
    return SyntheticConfig(**{**size, **VARIANTS[variant]})


def endmembers_given(pixels: np.ndarray, abundances: np.ndarray) -> np.ndarray:
    """The ``(B, K)`` NNLS endmembers of ``(N, B)`` pixels given ``(N, K)`` abundances."""
    return refit_endmembers(
        pixels, AbundanceFit(abundances, np.ones(len(pixels)), np.zeros_like(pixels))
    )


def from_truth(method: str, pixels: np.ndarray, scene: SyntheticScene) -> Fit:
    """``true maps`` or ``ALS from truth`` (module docstring)."""
    if method == "true maps":
        abundances = scene.ground_truth.abundances.reshape(len(pixels), -1).astype(np.float64)
        return endmembers_given(pixels, abundances), abundances, "one NNLS fit"
    endmembers, previous = scene.ground_truth.endmembers.astype(np.float64), np.inf
    energy = float(np.sum(pixels**2))
    for alternation in range(1, MAX_ALS + 1):
        abundances = fcls(pixels, endmembers)
        endmembers = endmembers_given(pixels, abundances)
        residual = float(np.sum((pixels - abundances @ endmembers.T) ** 2))
        if previous - residual <= TOL * energy:
            return endmembers, abundances, f"converged in {alternation} alternations"
        previous = residual
    return endmembers, abundances, f"stopped at {MAX_ALS} alternations"


def fit(method: str, pixels: np.ndarray, scene: SyntheticScene, seed: int | None) -> Fit:
    """One method's endmembers and abundances on the scene's pixels."""
    if method in BLIND:
        model = BLIND[method](K, seed).fit(pixels)
        return model.endmembers_, model.abundances_, ""
    return from_truth(method, pixels, scene)


def budget(variants: Sequence[str], seeds: Sequence[int], size: dict[str, object] = SIZE) -> Runs:
    """Fit and score every method on every variant: (variant, method) → (metrics, note)s."""
    start, results = time.monotonic(), {}
    for variant in variants:
        scene = generate_cross_section(scene_config(variant, size))
        pixels = np.concatenate(list(scene.tiles.values())).astype(np.float64)
        pixels = pixels.reshape(-1, scene.wavenumbers.size)
        jobs = [(m, s) for m in BLIND for s in seeds] + [(m, None) for m in FROM_TRUTH]
        for method, seed in jobs:
            began = time.monotonic()
            endmembers, abundances, note = fit(method, pixels, scene, seed)
            result = SimpleNamespace(
                endmembers=endmembers, abundances=abundances.reshape(*scene.mask.shape, -1)
            )
            metrics, _ = ground_truth_metrics(
                result, scene.ground_truth, scene.wavenumbers, mask=scene.mask
            )
            results.setdefault((variant, method), []).append((metrics, note))
            clean, angle, rmse = (metrics[key] for key in COLUMNS)
            print(
                f"[{time.monotonic() - start:5.0f} s] {variant} | {method}"
                f"{'' if seed is None else f' | seed {seed}'}: clean {clean:.2f}°, "
                f"all {angle:.2f}°, RMSE {rmse:.3f} "
                f"({time.monotonic() - began:.1f} s) {note}",
                flush=True,
            )
    return results


def cell(values: Sequence[float], digits: int) -> str:
    """``mean ± sample std`` (the mean alone for one value)."""
    text = f"{statistics.fmean(values):.{digits}f}"
    return text + (f" ± {statistics.stdev(values):.{digits}f}" if len(values) > 1 else "")


def per_material(runs: Sequence[tuple[dict[str, float], str]]) -> list[list[str]]:
    """A row per material (clean-band and all-band angle), worst clean-band angle first."""
    prefix = "gt/angle_clean_deg/"
    names = [key.removeprefix(prefix) for key, _ in runs[0][0].items() if key.startswith(prefix)]
    names.sort(key=lambda n: -statistics.fmean(m[prefix + n] for m, _ in runs))
    kinds = ("gt/angle_clean_deg", "gt/angle_deg")
    return [[n, *(cell([m[f"{k}/{n}"] for m, _ in runs], 2) for k in kinds)] for n in names]


def report(results: Runs, seeds: Sequence[int], size: dict[str, object] = SIZE) -> str:
    """The markdown report: the budget table, the variants' settings, per-material angles."""
    header = ["variant", "method", *(column for column, _ in COLUMNS.values()), "runs"]
    rows = [
        [
            variant,
            method,
            *(cell([m[key] for m, _ in runs], d) for key, (_, d) in COLUMNS.items()),
            runs[0][1] or f"seeds {' '.join(map(str, seeds))}",
        ]
        for (variant, method), runs in results.items()
    ]
    settings = {v: ", ".join(f"{k}={x}" for k, x in VARIANTS[v].items()) for v, _ in results}
    lines = [
        f"Error budget: scene {size}, raw cube; blind methods K = {K} (mean ± sample std over "
        "the seeds), truth-started rows K = the true materials.",
        "",
        markdown_table(header, rows),
        "",
        *(f"- `{variant}`: {text or 'the defaults'}" for variant, text in settings.items()),
    ]
    for variant, method in PER_MATERIAL:
        if (variant, method) in results:
            table = per_material(results[variant, method])
            lines += ["", f"Per-material angles, {variant} | {method} (worst: {table[0][0]}):", ""]
            lines.append(markdown_table(["material", "clean-band (°)", "all-band (°)"], table))
    return "\n".join(lines) + "\n"


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line (``--help``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2], help="blind seeds")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), help=", ".join(VARIANTS))
    parser.add_argument("-o", "--output", type=Path, help="also write the report here")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the budget, print its report (and write it); user errors exit with status 2."""
    args = parse_args(argv)
    seeds, variants = list(dict.fromkeys(args.seeds)), list(dict.fromkeys(args.variants))
    try:
        if unknown := [v for v in variants if v not in VARIANTS]:
            raise FTIRUnmixerError(
                f"--variants {' '.join(unknown)}: unknown; choose from {', '.join(VARIANTS)}."
            )
        if min(seeds) < 0:
            raise FTIRUnmixerError(f"--seeds {min(seeds)}: seeds must be non-negative.")
    except FTIRUnmixerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    text = report(budget(variants, seeds), seeds)
    print(text)
    if args.output:
        with atomic_path(args.output) as tmp:
            tmp.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
