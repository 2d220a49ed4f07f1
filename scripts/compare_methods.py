"""Compare unmixing methods and configurations on synthetic scenes with ground truth.

Each (scene, method) job is one ``python -m ftir_unmixer.train`` run in its own process
(output under ``OUT/runs/<scene>/<method>``; finished jobs are reused, so an interrupted study
resumes). The table reads every job's ``results.h5``: mean matched spectral angle on all bands
and on clean bands (outside the atmospheric windows), abundance RMSE, the atmospheric
residual left in the endmembers, identification accuracy against the synthetic reference
library, and the fitting time.

A method is a list of overrides, or restarts ``{"overrides": [...], "seeds": [...],
"select": KEY}``: one job per seed (directory suffix ``_s<seed>``), reported by the seed
with the lowest ground-truth-free metric ``KEY`` (e.g. ``diag/mean_reconstruction_angle_deg``),
with the chosen seed and the range of the mean matched angle over the seeds.

    python scripts/compare_methods.py --study benchmark --epochs 10 --out docs/benchmark
    python scripts/compare_methods.py --study quality --epochs 10 --out docs/quality
    python scripts/compare_methods.py --study levers --epochs 10 --out docs/levers
    python scripts/compare_methods.py --study geometric --out outputs/geometric --threads 1 \
        --set synthetic.num_tiles=2 data.normalization=none
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from ftir_unmixer.data.synthetic import SyntheticConfig, wavenumber_axis, write_reference_library
from ftir_unmixer.io.results_file import read_results

SCENES = {
    "bundled": [],
    "strong_artefacts": ["synthetic=strong_artefacts"],
    "minor_component": ["synthetic=minor_component"],
}

BASELINES = {
    "NMF": ["model=nmf"],
    "MCR-ALS": ["model=mcr_als"],
    "VCA + FCLS": ["model=vca_fcls"],
    "archetypal": ["model=archetypal"],
    "min-vol NMF": ["model=minvol_nmf"],
}

MINVOL_1000 = ["model=minvol_nmf", "model.max_iter=1000"]
"""Min-vol NMF stopped after 1000 iterations, as in the study that chose its defaults."""

VCA_START = ["experiment=paper", "model.init_endmembers=vca"]
"""The paper's configuration with the decoder started from VCA endmembers."""

STUDIES = {
    # Issue 4: the paper's method with each loss against the classical baselines.
    "benchmark": {
        "scenes": ["bundled", "strong_artefacts"],
        "methods": {
            "CNN + SAD": ["experiment=paper", "loss.name=sad"],
            "CNN + WSAD": ["experiment=paper"],
            **BASELINES,
        },
    },
    # Issue 7: the levers beyond the paper, each against the paper's configuration.
    "quality": {
        "scenes": ["bundled", "strong_artefacts", "minor_component"],
        "methods": {
            "CNN + WSAD": ["experiment=paper"],
            "script (γ_flat=0, lr 1e-3)": ["experiment=reference_script"],
            "normalization=none": ["experiment=paper", "data.normalization=none"],
            "normalization=band_noise": ["experiment=paper", "data.normalization=band_noise"],
            "normalization=pixel_l2": ["experiment=paper", "data.normalization=pixel_l2"],
            "normalization=band_quantile": [
                "experiment=paper",
                "data.normalization=band_quantile",
            ],
            "flatness within tiles": [
                "experiment=paper",
                "loss.band_weights.flatness_scope=tile",
            ],
            "band_minmax + VCA init": VCA_START,
            "none + VCA init": [
                "experiment=paper",
                "data.normalization=none",
                "model.init_endmembers=vca",
            ],
            "VCA init, decoder lr ×0.1": [*VCA_START, "model.decoder_lr_scale=0.1"],
            "VCA init, decoder lr ×0.1, cosine lr": [
                *VCA_START,
                "model.decoder_lr_scale=0.1",
                "model.lr_schedule=cosine",
            ],
            "recommended": ["experiment=recommended"],
            **BASELINES,
            # Seed spread: VCA's pixel choice (the CNN's start too) depends on the seed.
            "recommended, best of 3 seeds": {
                "overrides": ["experiment=recommended"],
                "seeds": [0, 1, 2],
                "select": "diag/mean_reconstruction_angle_deg",
            },
            "VCA + FCLS, best of 3 seeds": {
                "overrides": BASELINES["VCA + FCLS"],
                "seeds": [0, 1, 2],
                "select": "diag/mean_reconstruction_angle_deg",
            },
        },
    },
    # Issue 11: the settings of the geometric baselines next to NMF and VCA + FCLS.
    "geometric": {
        "scenes": ["bundled"],
        "methods": {
            "NMF": BASELINES["NMF"],
            "VCA + FCLS": BASELINES["VCA + FCLS"],
            **{
                f"archetypal, δ={delta}": ["model=archetypal", f"model.relaxation={delta}"]
                for delta in (0.0, 0.2, 0.5)
            },
            **{
                f"min-vol NMF, {init} start, λ̃={weight}": [
                    *MINVOL_1000,
                    "model.sum_to_one=equal",
                    f"model.init={init}",
                    f"model.volume_weight={weight}",
                ]
                for init, weights in (("vca", (0.0, 1e-4, 1e-3, 1e-2)), ("nmf", (0.0, 1e-3)))
                for weight in weights
            },
            "min-vol NMF, Σa ≤ 1, λ̃=0.001": [*MINVOL_1000, "model.sum_to_one=at_most"],
            "min-vol NMF (defaults)": BASELINES["min-vol NMF"],
        },
    },
    # Issue 7: training schedule, restarts and single hyperparameters around the VCA start
    # (the paper's configuration with model.init_endmembers=vca).
    "levers": {
        "scenes": ["bundled"],
        "methods": {
            "band_minmax + VCA init": VCA_START,
            "VCA init + plateau lr": [*VCA_START, "model.lr_schedule=plateau"],
            "VCA init + cosine lr": [*VCA_START, "model.lr_schedule=cosine"],
            "VCA init, α=1": [*VCA_START, "model.softmax_scale=1"],
            "VCA init, α=7": [*VCA_START, "model.softmax_scale=7"],
            "VCA init, p=3": [*VCA_START, "data.patch_size=3"],
            "VCA init, p=7": [*VCA_START, "data.patch_size=7"],
            "VCA init, w_min=0.2": [*VCA_START, "loss.band_weights.w_min=0.2"],
            "VCA init, τ=2": [*VCA_START, "loss.band_weights.tau=2.0"],
            "VCA init, lr 1e-3": [*VCA_START, "model.lr=0.001"],
            # Endmembers kept near their VCA start while the encoder learns the abundances.
            "VCA init, decoder lr ×0.1": [*VCA_START, "model.decoder_lr_scale=0.1"],
            "VCA init, decoder lr ×0.01": [*VCA_START, "model.decoder_lr_scale=0.01"],
            "VCA init, decoder frozen": [*VCA_START, "model.decoder_lr_scale=0"],
            # Issue 6: the full-image estimator at the same pixel count per epoch as
            # 10 000 patches × 25 pixels on the reduced 128×64 scene (≈ 31 images).
            "paper config, full image": [
                "experiment=paper",
                "data.mode=full_image",
                "data.batch_size=1",
                "data.patches_per_epoch=31",
            ],
            "VCA init, best of 3 seeds": {
                "overrides": VCA_START,
                "seeds": [0, 1, 2],
                "select": "diag/mean_reconstruction_angle_deg",
            },
        },
    },
}

COLUMNS = {
    "gt/mean_angle_deg": "mean angle (°)",
    "gt/mean_angle_clean_deg": "clean angle (°)",
    "gt/abundance_rmse": "abundance RMSE",
    "gt/co2_residual": "CO2 residual",
    "id/accuracy": "id. accuracy",
    "runtime_s": "fit time (s)",
}
RESTART_COLUMNS = {
    "chosen_seed": "chosen seed",
    "seed_angle_range_deg": "mean angle over seeds (°)",
}
"""Extra columns of a study with a restart method (``–`` for the other methods)."""


SPELLED = {
    "α": "alpha",
    "τ": "tau",
    "×": "x",
    "γ": "gamma",
    "δ": "delta",
    "λ": "lambda",
    "Σ": "sum",
    "≤": "le",
}
"""Letters of method labels spelled out in directory names (Hydra's override grammar takes
ASCII only)."""


def slug(name: str) -> str:
    """An ASCII directory name for a method label."""
    name = "".join(SPELLED.get(c, c) for c in name)
    return "".join(c if c.isascii() and c.isalnum() else "_" for c in name).strip("_").lower()


def method_jobs(label: str, method: list[str] | dict[str, Any]) -> list[tuple[str, list[str]]]:
    """``(run directory name, overrides)`` of each job of a method: one, or one per seed."""
    if isinstance(method, list):
        return [(slug(label), method)]
    return [
        (f"{slug(label)}_s{seed}", [*method["overrides"], f"seed={seed}"])
        for seed in method["seeds"]
    ]


def select_restart(method: dict[str, Any], runs: list[dict[str, float]]) -> dict[str, Any]:
    """The metrics of the seed with the lowest ``method["select"]``, and the seed columns.

    Args:
        method: the restart method (its ``seeds`` and ``select``).
        runs: each seed's metrics, in the order of ``seeds`` (empty for a failed job).

    Returns:
        The chosen seed's metrics (empty if no seed has the criterion) with ``chosen_seed`` and
        ``seed_angle_range_deg`` (``"min–max"`` of ``gt/mean_angle_deg`` over the seeds).
    """
    key = method["select"]
    scored = [
        (metrics[key], seed, metrics)
        for seed, metrics in zip(method["seeds"], runs, strict=True)
        if metrics.get(key) is not None and metrics[key] == metrics[key]
    ]
    angles = [m["gt/mean_angle_deg"] for m in runs if m.get("gt/mean_angle_deg") is not None]
    spread = f"{min(angles):.2f}–{max(angles):.2f}" if angles else None
    if not scored:
        return {"chosen_seed": None, "seed_angle_range_deg": spread}
    _, seed, metrics = min(scored, key=lambda item: item[0])
    return metrics | {"chosen_seed": seed, "seed_angle_range_deg": spread}


def run_job(overrides: list[str], run_dir: Path, log_path: Path) -> bool:
    """Run one training job; True if it wrote ``results.h5``."""
    if (run_dir / "results.h5").is_file():
        return True
    cmd = [sys.executable, "-m", "ftir_unmixer.train", *overrides, f"hydra.run.dir={run_dir}"]
    with open(log_path, "w") as log:
        subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, check=False)
    return (run_dir / "results.h5").is_file()


def format_value(value: float | str | None, key: str) -> str:
    """Table cell: two decimals for angles and times, three for the rest; text and seeds as is."""
    if value is None or value != value:
        return "–"
    if isinstance(value, str | int):
        return str(value)
    return f"{value:.2f}" if key.endswith(("_deg", "_s")) else f"{value:.3f}"


def main() -> int:
    """Run the study and write ``table.md`` and ``table.csv`` into ``--out``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--study", choices=sorted(STUDIES), default="benchmark")
    parser.add_argument("--epochs", type=int, default=10, help="CNN epochs per run")
    parser.add_argument("--out", type=Path, default=Path("outputs/compare"))
    parser.add_argument("--scenes", nargs="*", help="subset of the study's scenes")
    parser.add_argument("--methods", nargs="*", help="subset of the study's method labels")
    parser.add_argument(
        "--set", nargs="*", default=[], help="overrides for every job (a method's own win)"
    )
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    study = STUDIES[args.study]
    scenes = args.scenes or study["scenes"]
    methods = {k: v for k, v in study["methods"].items() if not args.methods or k in args.methods}
    out = args.out.resolve()
    library = out / "library"
    write_reference_library(library, wavenumber_axis(SyntheticConfig()))
    common = [
        "logger=none",
        f"threads={args.threads}",
        f"trainer.max_epochs={args.epochs}",
        f"evaluation.library=[{library}]",
        *args.set,
    ]
    columns = dict(COLUMNS)
    if any(isinstance(method, dict) for method in methods.values()):
        columns |= RESTART_COLUMNS
    rows = []
    for scene in scenes:
        for label, method in methods.items():
            runs = []
            for name, overrides in method_jobs(label, method):
                run_dir = out / "runs" / scene / name
                run_dir.mkdir(parents=True, exist_ok=True)
                start = time.perf_counter()
                ok = run_job(
                    [*SCENES[scene], *common, *overrides], run_dir, run_dir.with_suffix(".log")
                )
                print(
                    f"{scene:18s} {name:32s} {'ok' if ok else 'FAILED'} "
                    f"({time.perf_counter() - start:.0f} s)",
                    flush=True,
                )
                runs.append(read_results(run_dir / "results.h5").metrics if ok else {})
            metrics = runs[0] if isinstance(method, list) else select_restart(method, runs)
            rows.append({"scene": scene, "method": label} | {k: metrics.get(k) for k in columns})

    with open(out / "table.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["scene", "method", *columns])
        writer.writeheader()
        writer.writerows(rows)
    lines = [
        f"Study `{args.study}`: CNN runs {args.epochs} epochs (20 000 patches each unless "
        f"overridden); extra overrides: {' '.join(args.set) or '(none)'}.",
        "",
    ]
    for scene in scenes:
        lines += [f"### Scene `{scene}`", "", "| method | " + " | ".join(columns.values()) + " |"]
        lines.append("|---|" + "---|" * len(columns))
        for row in (r for r in rows if r["scene"] == scene):
            cells = [format_value(row[k], k) for k in columns]
            lines.append(f"| {row['method']} | " + " | ".join(cells) + " |")
        lines.append("")
    (out / "table.md").write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
