"""Compare unmixing methods and configurations on synthetic scenes with ground truth.

Each (scene, method) job is one ``python -m ftir_unmixer.train`` run in its own process
(output under ``OUT/runs/<scene>/<method>``; finished jobs are reused, so an interrupted study
resumes). The table reads every job's ``results.h5``: mean matched spectral angle on all bands
and on clean bands (outside the atmospheric windows), abundance RMSE, the atmospheric
residual left in the endmembers, identification accuracy against the synthetic reference
library, and the fitting time.

    python scripts/compare_methods.py --study benchmark --epochs 10 --out docs/benchmark
    python scripts/compare_methods.py --study quality --epochs 10 --out docs/quality
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
import time
from pathlib import Path

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
}

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
            "band_minmax + VCA init": ["experiment=paper", "model.init_endmembers=vca"],
            "none + VCA init": [
                "experiment=paper",
                "data.normalization=none",
                "model.init_endmembers=vca",
            ],
            "recommended": ["experiment=recommended"],
            **BASELINES,
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


def slug(name: str) -> str:
    """A directory name for a method label."""
    return "".join(c if c.isalnum() else "_" for c in name).strip("_").lower()


def run_job(overrides: list[str], run_dir: Path, log_path: Path) -> bool:
    """Run one training job; True if it wrote ``results.h5``."""
    if (run_dir / "results.h5").is_file():
        return True
    cmd = [sys.executable, "-m", "ftir_unmixer.train", *overrides, f"hydra.run.dir={run_dir}"]
    with open(log_path, "w") as log:
        subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, check=False)
    return (run_dir / "results.h5").is_file()


def format_value(value: float | None, key: str) -> str:
    """Table cell: two decimals for angles and times, three for the rest."""
    if value is None or value != value:
        return "–"
    return f"{value:.2f}" if key.endswith(("_deg", "_s")) else f"{value:.3f}"


def main() -> int:
    """Run the study and write ``table.md`` and ``table.csv`` into ``--out``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--study", choices=sorted(STUDIES), default="benchmark")
    parser.add_argument("--epochs", type=int, default=10, help="CNN epochs per run")
    parser.add_argument("--out", type=Path, default=Path("outputs/compare"))
    parser.add_argument("--scenes", nargs="*", help="subset of the study's scenes")
    parser.add_argument("--methods", nargs="*", help="subset of the study's method labels")
    parser.add_argument("--set", nargs="*", default=[], help="extra overrides for every job")
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
    rows = []
    for scene in scenes:
        for label, overrides in methods.items():
            run_dir = out / "runs" / scene / slug(label)
            run_dir.mkdir(parents=True, exist_ok=True)
            start = time.perf_counter()
            ok = run_job(
                [*overrides, *SCENES[scene], *common], run_dir, run_dir.with_suffix(".log")
            )
            print(
                f"{scene:18s} {label:28s} {'ok' if ok else 'FAILED'} "
                f"({time.perf_counter() - start:.0f} s)",
                flush=True,
            )
            metrics = read_results(run_dir / "results.h5").metrics if ok else {}
            rows.append({"scene": scene, "method": label} | {k: metrics.get(k) for k in COLUMNS})

    with open(out / "table.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["scene", "method", *COLUMNS])
        writer.writeheader()
        writer.writerows(rows)
    lines = [
        f"Study `{args.study}`: CNN runs {args.epochs} epochs (20 000 patches each unless "
        f"overridden); extra overrides: {' '.join(args.set) or '(none)'}.",
        "",
    ]
    for scene in scenes:
        lines += [f"### Scene `{scene}`", "", "| method | " + " | ".join(COLUMNS.values()) + " |"]
        lines.append("|---|" + "---|" * len(COLUMNS))
        for row in (r for r in rows if r["scene"] == scene):
            cells = [format_value(row[k], k) for k in COLUMNS]
            lines.append(f"| {row['method']} | " + " | ".join(cells) + " |")
        lines.append("")
    (out / "table.md").write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
