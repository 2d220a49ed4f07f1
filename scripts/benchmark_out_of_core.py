"""Out-of-core benchmark: train on a synthetic mosaic larger than memory, report peak RSS.

1. Writes a mosaic of at least ``--size-gb`` GB (10⁹ bytes of float32 spectra) in the input
   format: rows of 64×256-pixel tiles (``tiles/t00000`` …, chunks 16×16×B, uncompressed),
   each made of four 64×64 tiles of the bundled synthetic cross-section, drawn from
   ``--scenes`` scenes generated with different seeds (so neighbouring tiles differ), with
   their dead pixels in the mask; the whole mosaic is never in memory (one tile at a time).
2. Runs ``python -m ftir_unmixer.train data.out_of_core=true`` on it in a subprocess for
   ``--steps`` training steps, then the streamed end-of-run inference over the whole mosaic
   and the results writer (``results.h5``, figures).
3. Reports the child's peak RSS (``ru_maxrss`` of the finished child: a high-water mark
   covering the scan, training, inference and writing), its wall time, and the phases'
   times from its log; prints a table and writes it as JSON. The mosaic is removed
   afterwards unless ``--keep``.

    python scripts/benchmark_out_of_core.py                      # ≥ 30 GB, 300 steps
    python scripts/benchmark_out_of_core.py --size-gb 2 --steps 50 --dir /tmp
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import h5py
import numpy as np

from ftir_unmixer.data.synthetic import SyntheticConfig, generate_cross_section

TILE_ROWS, TILES_ACROSS = 64, 4
"""Mosaic tiles are 64 rows × (4 × 64) columns."""


def write_mosaic(path: Path, size_gb: float, num_scenes: int) -> dict[str, float]:
    """Write a mosaic of at least ``size_gb`` GB of spectra to ``path``, one tile at a time.

    Returns:
        Its geometry, size and writing time.
    """
    start = time.perf_counter()
    scenes = [generate_cross_section(SyntheticConfig(seed=seed)) for seed in range(num_scenes)]
    wavenumbers = scenes[0].wavenumbers
    pieces = [
        (tile, scene.mask[t * TILE_ROWS : (t + 1) * TILE_ROWS])
        for scene in scenes
        for t, tile in enumerate(scene.tiles.values())
    ]
    num_bands = len(wavenumbers)
    tile_bytes = TILE_ROWS * TILES_ACROSS * 64 * num_bands * 4
    num_tiles = math.ceil(size_gb * 1e9 / tile_bytes)
    mask = np.empty((num_tiles * TILE_ROWS, TILES_ACROSS * 64), dtype=bool)
    tmp = path.with_name(f".{path.name}.tmp")
    with h5py.File(tmp, "w") as f:
        f.create_dataset("wavenumbers", data=wavenumbers)
        group = f.create_group("tiles")
        names = [f"t{i:05d}" for i in range(num_tiles)]
        for i, name in enumerate(names):
            chosen = [pieces[(i * 7 + j * 3) % len(pieces)] for j in range(TILES_ACROSS)]
            tile = np.concatenate([c[0] for c in chosen], axis=1)
            mask[i * TILE_ROWS : (i + 1) * TILE_ROWS] = np.concatenate([c[1] for c in chosen], 1)
            group.create_dataset(name, data=tile, chunks=(16, 16, num_bands))
        group.attrs["order"] = names
        f.create_dataset("mask", data=mask)
        f.attrs["units"] = "absorbance"
        f.attrs["source"] = "ftir-unmixer out-of-core benchmark mosaic (synthetic)"
    os.replace(tmp, path)
    return {
        "height": float(mask.shape[0]),
        "width": float(mask.shape[1]),
        "bands": float(num_bands),
        "cube_gb": num_tiles * tile_bytes / 1e9,
        "file_gb": path.stat().st_size / 1e9,
        "write_s": time.perf_counter() - start,
    }


PHASES = {
    "scan": "Scanning",
    "setup_done": "Set up:",
    "inference": "Results use",
    "written": "Results written to",
}
"""Log lines that mark the run's phases (the data module's and the results writer's)."""


def phase_times(log: str) -> dict[str, float]:
    """Seconds of setup (scan + fits), training and inference + writing, from the log stamps.

    Hydra prints ``[YYYY-mm-dd HH:MM:SS,mmm][logger][LEVEL] - message``.
    """
    stamps: dict[str, datetime] = {}
    for line in log.splitlines():
        if not line.startswith("[") or "] - " not in line:
            continue
        stamp = datetime.strptime(line[1:24], "%Y-%m-%d %H:%M:%S,%f")
        for key, mark in PHASES.items():
            if mark in line.split("] - ", 1)[1]:
                stamps.setdefault(key, stamp)
    if len(stamps) < len(PHASES):
        return {}
    seconds = {key: (stamp - stamps["scan"]).total_seconds() for key, stamp in stamps.items()}
    return {
        "setup_s": seconds["setup_done"],
        "training_s": seconds["inference"] - seconds["setup_done"],
        "inference_and_write_s": seconds["written"] - seconds["inference"],
    }


def train(path: Path, run_dir: Path, args: argparse.Namespace) -> dict[str, float]:
    """Train on the mosaic in a subprocess; its peak RSS, wall time and log-derived times."""
    overrides = [
        f"data.path={path}",
        "data.out_of_core=true",
        f"data.sample_pixels={args.sample_pixels}",
        f"data.num_workers={args.workers}",
        f"trainer.max_steps={args.steps}",
        "logger=csv",
        "callbacks.figure_logger.every_n_epochs=0",
        f"threads={args.threads}",
        f"hydra.run.dir={run_dir}",
        *args.set,
    ]
    env = os.environ | {"PYTHONUNBUFFERED": "1"}
    start = time.perf_counter()
    with open(run_dir.with_suffix(".log"), "w") as log:
        child = subprocess.run(
            [sys.executable, "-m", "ftir_unmixer.train", *overrides],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            check=False,
        )
    wall = time.perf_counter() - start
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if child.returncode != 0:
        sys.exit(f"training failed; see {run_dir.with_suffix('.log')}")
    return {
        "peak_rss_gb": peak_kb * 1024 / 1e9,
        "train_wall_s": wall,
        "steps": args.steps,
        **phase_times(run_dir.with_suffix(".log").read_text()),
    }


def main() -> None:
    """Write the mosaic, train on it, report, clean up."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-gb", type=float, default=30.0, help="mosaic size (10⁹ bytes)")
    parser.add_argument("--steps", type=int, default=300, help="training steps")
    parser.add_argument("--scenes", type=int, default=4, help="distinct synthetic scenes")
    parser.add_argument("--sample-pixels", type=int, default=50_000)
    parser.add_argument("--workers", type=int, default=0, help="DataLoader workers")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--dir", type=Path, default=Path("outputs"), help="scratch")
    parser.add_argument("--out", type=Path, default=Path("outputs/bench_big.json"))
    parser.add_argument("--set", nargs="*", default=[], help="extra training overrides")
    parser.add_argument("--keep", action="store_true", help="keep the mosaic")
    args = parser.parse_args()

    args.dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="ooc-bench-", dir=args.dir))
    path = work / "mosaic.h5"
    try:
        print(f"writing a ≥ {args.size_gb:g} GB mosaic to {path} …", flush=True)
        report = write_mosaic(path, args.size_gb, args.scenes)
        print(f"  {report['cube_gb']:.1f} GB in {report['write_s']:.0f} s", flush=True)
        print(f"training {args.steps} steps out of core …", flush=True)
        report |= train(path, work / "run", args)
        report["machine_ram_gb"] = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e9
        report["cpu_count"] = float(os.cpu_count() or 0)
    finally:
        if not args.keep:
            path.unlink(missing_ok=True)
    rows = [
        (
            "mosaic (H × W × B)",
            f"{report['height']:.0f} × {report['width']:.0f} × {report['bands']:.0f}",
        ),
        ("cube on disk", f"{report['cube_gb']:.1f} GB (file {report['file_gb']:.1f} GB)"),
        ("machine memory", f"{report['machine_ram_gb']:.1f} GB"),
        ("training steps", f"{report['steps']}"),
        ("run wall time (scan + train + inference + write)", f"{report['train_wall_s']:.0f} s"),
        *[
            (f"  {key[:-2].replace('_', ' ')}", f"{report[key]:.0f} s")
            for key in ("setup_s", "training_s", "inference_and_write_s")
            if key in report
        ],
        ("peak RSS of the run", f"{report['peak_rss_gb']:.2f} GB (target ≤ 4 GB)"),
    ]
    width = max(len(r[0]) for r in rows)
    print("\n".join(f"{name:<{width}}  {value}" for name, value in rows))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(f"written {args.out}; run outputs in {work}")
    if not args.keep:
        shutil.rmtree(work / "run" / "checkpoints", ignore_errors=True)


if __name__ == "__main__":
    main()
