"""Compare unmixing methods on synthetic scenes with ground truth, over seeds.

Every (scene, method, normalisation, seed) is one ``python -m ftir_unmixer.train`` job in its
own process with one thread (output under ``OUT/runs/<scene>/<method>[/<normalisation>]/s<seed>``).
Jobs run ``--jobs`` at a time; finished jobs are reused, so an interrupted study resumes (a
finished job recorded with other overrides stops the study instead of being mixed in).

A method is a list of overrides, or ``{"overrides": [...], "normalizations": [...]}``: tuned,
it runs each candidate ``data.normalization`` on the study's selection scene
(``--select-scene``), keeps the one with the lowest mean clean-band angle over the seeds (tie:
the lowest mean abundance RMSE) for every scene, and also runs the paper's ``band_minmax`` on
every scene, reported in a table of its own.

The report (``table.md``; ``table.csv``, ``runs.csv``, ``paired.csv``, ``summary.csv``) gives,
per scene, each method's mean ± sample standard deviation over the seeds of the clean-band and
all-band matched angles, abundance RMSE, CO2 residual, identification accuracy and fitting
time; the reference method (``--reference``) against every other method seed by seed; and,
across scenes, the reference against the best classical baseline on clean angle and on RMSE.

    python scripts/compare_methods.py --study mixing --epochs 5 --jobs 2 \\
        --set synthetic.num_tiles=2 data.patches_per_epoch=5000            # make quality
    python scripts/compare_methods.py --study ablations --epochs 5 --jobs 2 \\
        --out outputs/ablations --set synthetic.num_tiles=2 data.patches_per_epoch=5000
    python scripts/compare_methods.py --study benchmark --epochs 10 --out outputs/benchmark
    python scripts/compare_methods.py --study geometric --out outputs/geometric \
        --set synthetic.num_tiles=2 data.normalization=none
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ftir_unmixer.data.synthetic import SyntheticConfig, wavenumber_axis, write_reference_library
from ftir_unmixer.errors import FTIRUnmixerError
from ftir_unmixer.io.atomic import atomic_path
from ftir_unmixer.io.results_file import read_results
from ftir_unmixer.io.run_folder import HYDRA_DIR, OVERRIDES_FILE, RESULTS_FILE
from ftir_unmixer.sweep_report.tables import markdown_table, write_csv

# ---- The registry: scenes, methods and studies (edit here) ----------------------------------

SCENES = {
    "bundled": [],
    "strong_artefacts": ["synthetic=strong_artefacts"],
    "minor_component": ["synthetic=minor_component"],
    "highly_mixed": ["synthetic=highly_mixed"],
}

NORMALIZATIONS = ["none", "band_minmax", "band_noise"]
"""The ``data.normalization`` candidates of a tuned method."""
PAPER_NORMALIZATION = "band_minmax"
"""Run on every scene for every tuned method and reported on its own."""


def tuned(overrides: list[str]) -> dict[str, Any]:
    """A method run at its best of :data:`NORMALIZATIONS`."""
    return {"overrides": overrides, "normalizations": NORMALIZATIONS}


BASELINES = {
    "NMF": ["model=nmf"],
    "MCR-ALS": ["model=mcr_als"],
    "VCA + FCLS": ["model=vca_fcls"],
    "archetypal": ["model=archetypal"],
    "min-vol NMF": ["model=minvol_nmf"],
}

MINVOL_1000 = ["model=minvol_nmf", "model.max_iter=1000"]
"""Min-vol NMF stopped after 1000 iterations, as in the study that chose its defaults."""

LEVER_BASE = ["experiment=recommended"]
"""The configuration each lever of the ``ablations`` study changes one key of."""
LEVERS = [
    "loss.name=wsad",
    "model.baseline_degree=-1",
    "model.atmosphere_components=0",
    "model.patch_size=5",
    "model.decoder_lr_scale=1.0",
    "model.init_endmembers=minvol_nmf",
    "model.init_endmembers=archetypal",
    "model.decoder=archetypal",
    "model.volume_weight=0.1",
    "model.sparsity_weight=0.1",
    "model.refit=fcls",
    "model.refit=nnls",
]
"""One row each in the ``ablations`` study, labelled by the override without ``model.``."""

VCA_START = ["experiment=paper", "model.init_endmembers=vca"]
"""The paper's configuration with the decoder started from VCA endmembers."""

STUDIES = {
    # Issue 11: every method at its best normalisation, against all classical baselines.
    "mixing": {
        "scenes": ["bundled", "strong_artefacts", "minor_component", "highly_mixed"],
        "seeds": [0, 1, 2],
        "select_scene": "highly_mixed",
        "reference": "recommended",
        "baselines": list(BASELINES),
        "methods": {
            "paper SAD": tuned(["experiment=paper", "loss.name=sad"]),
            "paper WSAD": tuned(["experiment=paper"]),
            "recommended": tuned(["experiment=recommended"]),
            **{label: tuned(o) for label, o in BASELINES.items()},
        },
    },
    # Issue 11: each lever of the recommendation taken back or changed, one at a time.
    "ablations": {
        "scenes": ["highly_mixed", "bundled"],
        "seeds": [0, 1, 2],
        "reference": "recommended",
        "baselines": ["NMF", "min-vol NMF"],
        "methods": {
            "recommended": LEVER_BASE,
            **{lever.removeprefix("model."): [*LEVER_BASE, lever] for lever in LEVERS},
            "NMF": [*BASELINES["NMF"], "data.normalization=none"],
            "min-vol NMF": [*BASELINES["min-vol NMF"], "data.normalization=none"],
        },
    },
    # Issue 4: the paper's method with each loss against the classical baselines.
    "benchmark": {
        "scenes": ["bundled", "strong_artefacts"],
        "seeds": [42],
        "baselines": list(BASELINES),
        "methods": {
            "CNN + SAD": ["experiment=paper", "loss.name=sad"],
            "CNN + WSAD": ["experiment=paper"],
            **BASELINES,
        },
    },
    # Issue 7: the levers beyond the paper, each against the paper's configuration.
    "quality": {
        "scenes": ["bundled", "strong_artefacts", "minor_component"],
        "seeds": [42],
        "reference": "recommended",
        "baselines": list(BASELINES),
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
        },
    },
    # Issue 11: the settings of the geometric baselines next to NMF and VCA + FCLS.
    "geometric": {
        "scenes": ["bundled"],
        "seeds": [42],
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
    # Issue 7: training schedule and single hyperparameters around the VCA start.
    "levers": {
        "scenes": ["bundled"],
        "seeds": [42],
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
        },
    },
}

# ---- Jobs ------------------------------------------------------------------------------------

CLEAN_ANGLE = "gt/mean_angle_clean_deg"
RMSE = "gt/abundance_rmse"
COLUMNS = {
    CLEAN_ANGLE: "clean angle (°)",
    "gt/mean_angle_deg": "mean angle (°)",
    RMSE: "abundance RMSE",
    "gt/co2_residual": "CO2 residual",
    "id/accuracy": "id. accuracy",
    "runtime_s": "fit time (s)",
}
PAIRED = {CLEAN_ANGLE: "clean angle (°)", RMSE: "RMSE"}
"""The metrics compared seed by seed (lower is better)."""

CSV_COLUMNS = {
    "table.csv": [
        "scene",
        "method",
        "normalization",
        "role",
        "seeds",
        *(f"{key} {stat}" for key in COLUMNS for stat in ("mean", "std")),
    ],
    "runs.csv": ["scene", "method", "normalization", "seed", *COLUMNS],
    "paired.csv": [
        "scene",
        "reference",
        "method",
        "metric",
        "seeds",
        "diff_mean",
        "diff_std",
        "wins",
        "gain",
    ],
    "summary.csv": [
        "scene",
        "metric",
        "reference",
        "reference_mean",
        "best_baseline",
        "baseline_mean",
        "seeds",
        "wins",
        "gain",
    ],
}
"""The columns of each CSV file of the report. ``table.csv``: one row per scene, method and
normalisation with the mean and std of each metric; its ``role`` is ``fixed`` (an untuned
method), ``chosen``, ``paper`` (band_minmax, not chosen) or ``trial`` (another candidate on the
selection scene). ``runs.csv``: one row per finished job."""

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

Metrics = Mapping[str, float]
SeedRuns = Mapping[int, Metrics]
"""Seed → the metrics of its finished job."""


def slug(name: str) -> str:
    """An ASCII directory name for a method label."""
    name = "".join(SPELLED.get(c, c) for c in name)
    return "".join(c if c.isascii() and c.isalnum() else "_" for c in name).strip("_").lower()


def method_spec(method: list[str] | Mapping[str, Any]) -> tuple[list[str], list[str] | None]:
    """A method's overrides and its candidate normalisations (None: not tuned)."""
    if isinstance(method, list):
        return method, None
    return list(method["overrides"]), list(method["normalizations"])


@dataclass(frozen=True)
class Job:
    """One training run: a method with one normalisation and one seed, on one scene."""

    scene: str
    method: str
    normalization: str | None
    seed: int
    overrides: tuple[str, ...]
    run_dir: Path

    @property
    def finished(self) -> bool:
        """Whether its run wrote ``results.h5``."""
        return (self.run_dir / RESULTS_FILE).is_file()

    @property
    def name(self) -> str:
        """``scene | method (normalisation) | seed s``."""
        normalization = f" ({self.normalization})" if self.normalization else ""
        return f"{self.scene} | {self.method}{normalization} | seed {self.seed}"


def make_job(
    out: Path,
    scene: str,
    label: str,
    method: list[str] | Mapping[str, Any],
    normalization: str | None,
    seed: int,
    common: Sequence[str],
) -> Job:
    """The job of a method on a scene: scene, common, method, normalisation and seed overrides."""
    overrides, _ = method_spec(method)
    chosen = [f"data.normalization={normalization}"] if normalization else []
    run_dir = out / "runs" / scene / slug(label) / (normalization or "") / f"s{seed}"
    return Job(
        scene,
        label,
        normalization,
        seed,
        (*SCENES[scene], *common, *overrides, *chosen, f"seed={seed}"),
        run_dir,
    )


def study_jobs(
    out: Path,
    scenes: Sequence[str],
    methods: Mapping[str, list[str] | Mapping[str, Any]],
    seeds: Sequence[int],
    common: Sequence[str],
    select_scene: str | None,
    extra: Mapping[str, Iterable[str]],
) -> list[Job]:
    """The jobs of a study, the normalisation trials first.

    Args:
        out: the study's output directory.
        scenes: the scenes reported.
        methods: label → method.
        seeds: the seeds every method runs with.
        common: overrides for every job (before the method's own).
        select_scene: the scene the tuned methods try each of their normalisations on.
        extra: tuned method → normalisations to run on every scene besides
            :data:`PAPER_NORMALIZATION` (the chosen one, once known).

    Returns:
        Every job once (a trial on the selection scene is also that scene's job).
    """
    jobs: dict[Path, Job] = {}

    def add(scene: str, label: str, normalizations: Iterable[str | None]) -> None:
        for normalization in dict.fromkeys(normalizations):
            for seed in seeds:
                job = make_job(out, scene, label, methods[label], normalization, seed, common)
                jobs.setdefault(job.run_dir, job)

    for label, method in methods.items():
        candidates = method_spec(method)[1]
        if candidates is not None and select_scene is not None:
            add(select_scene, label, candidates)
    for scene in scenes:
        for label, method in methods.items():
            if method_spec(method)[1] is None:
                add(scene, label, [None])
            else:
                add(scene, label, [PAPER_NORMALIZATION, *extra.get(label, [])])
    return list(jobs.values())


def recorded_overrides(job: Job) -> list[str] | None:
    """The overrides Hydra recorded for the job's run, None if it recorded none."""
    path = job.run_dir / HYDRA_DIR / OVERRIDES_FILE
    return [str(o) for o in yaml.safe_load(path.read_text()) or []] if path.is_file() else None


def check_reusable(jobs: Iterable[Job]) -> None:
    """Refuse finished runs that were made with other overrides (e.g. another ``--epochs``).

    Raises:
        FTIRUnmixerError: naming the first such run and the overrides that differ.
    """
    for job in jobs:
        recorded = recorded_overrides(job) if job.finished else None
        if recorded is not None and recorded != list(job.overrides):
            differing = [o for o in recorded if o not in job.overrides]
            differing += [o for o in job.overrides if o not in recorded]
            raise FTIRUnmixerError(
                f"{job.run_dir} holds a finished run made with other settings "
                f"({' '.join(differing) or 'another order of the overrides'}); give another "
                "--out or delete that folder."
            )


def check_composes(jobs: Iterable[Job]) -> None:
    """Compose the configuration of every distinct job (seeds aside) before any work.

    Raises:
        FTIRUnmixerError: naming the first method whose overrides do not compose.
    """
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from ftir_unmixer.training.config import CONFIG_DIR

    distinct = {tuple(o for o in job.overrides if not o.startswith("seed=")): job for job in jobs}
    GlobalHydra.instance().clear()
    with initialize_config_dir(version_base="1.3", config_dir=str(CONFIG_DIR)):
        for overrides, job in distinct.items():
            try:
                compose(config_name="train", overrides=list(overrides))
            except Exception as exc:
                reason = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
                raise FTIRUnmixerError(
                    f"method {job.method!r} on scene {job.scene!r} does not compose ({reason}); "
                    "fix its overrides in STUDIES of scripts/compare_methods.py or leave it out "
                    "with --methods."
                ) from None
    GlobalHydra.instance().clear()


def run_job(job: Job) -> bool:
    """Run one job in its own process with one thread; True if it wrote ``results.h5``."""
    job.run_dir.mkdir(parents=True, exist_ok=True)
    cmd = [
        sys.executable,
        "-m",
        "ftir_unmixer.train",
        *job.overrides,
        f"hydra.run.dir={job.run_dir}",
    ]
    env = os.environ | {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    with open(job.run_dir.with_suffix(".log"), "w") as log:
        subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, check=False)
    return job.finished


def duration(seconds: float) -> str:
    """``42 s``, ``12 min`` or ``3 h 05 min``."""
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    hours, minutes = divmod(round(seconds / 60), 60)
    return f"{hours} h {minutes:02d} min"


def run_jobs(jobs: Sequence[Job], parallel: int) -> None:
    """Run the unfinished jobs, ``parallel`` at a time, with a progress line per finished job.

    The ETA is the remaining jobs times the wall time per job so far.
    """
    pending = [job for job in jobs if not job.finished]
    if len(pending) < len(jobs):
        print(f"{len(jobs) - len(pending)} of {len(jobs)} jobs already finished: reused.")
    if not pending:
        return

    def timed(job: Job) -> tuple[bool, float]:
        start = time.perf_counter()
        return run_job(job), time.perf_counter() - start

    start = time.perf_counter()
    pool = ThreadPoolExecutor(max_workers=parallel)
    try:
        futures = {pool.submit(timed, job): job for job in pending}
        for done, future in enumerate(as_completed(futures), 1):
            job, (ok, seconds) = futures[future], future.result()
            left = len(pending) - done
            eta = (time.perf_counter() - start) / done * left
            status = "ok" if ok else f"FAILED (see {job.run_dir.with_suffix('.log')})"
            print(
                f"[{done}/{len(pending)}] {job.name}: {status} in {duration(seconds)}; "
                f"ETA {duration(eta) if left else 'done'}",
                flush=True,
            )
    finally:
        pool.shutdown(cancel_futures=True)  # on Ctrl-C, start no further job


def seed_runs(jobs: Iterable[Job]) -> dict[tuple[str, str, str | None], dict[int, Metrics]]:
    """(scene, method, normalisation) → seed → metrics of every finished job."""
    runs: dict[tuple[str, str, str | None], dict[int, Metrics]] = {}
    for job in jobs:
        group = runs.setdefault((job.scene, job.method, job.normalization), {})
        if job.finished:
            group[job.seed] = read_results(job.run_dir / RESULTS_FILE).metrics
    return runs


# ---- Statistics (pure) -----------------------------------------------------------------------


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def mean_std(values: Iterable[float | None]) -> tuple[float, float, int]:
    """Mean and sample standard deviation (n − 1) of the finite values, and their number.

    NaN where undefined (no value; one value for the standard deviation).
    """
    finite = [float(v) for v in values if _finite(v)]
    if not finite:
        return math.nan, math.nan, 0
    std = statistics.stdev(finite) if len(finite) > 1 else math.nan
    return statistics.fmean(finite), std, len(finite)


@dataclass(frozen=True)
class Paired:
    """A reference method against another, seed by seed, on one metric (lower is better).

    Attributes:
        seeds: the seeds both finished with a finite value.
        diff_mean: mean over those seeds of reference − other.
        diff_std: their sample standard deviation.
        wins: the seeds where the reference is lower.
        gain: 1 − mean(reference) / mean(other) over those seeds (> 0: reference better).
    """

    seeds: tuple[int, ...]
    diff_mean: float
    diff_std: float
    wins: int
    gain: float


def paired(reference: SeedRuns, other: SeedRuns, key: str) -> Paired:
    """Compare ``reference`` and ``other`` on metric ``key`` over the seeds both have."""
    seeds = tuple(
        sorted(
            s
            for s in reference.keys() & other.keys()
            if _finite(reference[s].get(key)) and _finite(other[s].get(key))
        )
    )
    ref = [reference[s][key] for s in seeds]
    oth = [other[s][key] for s in seeds]
    diff_mean, diff_std, _ = mean_std(r - o for r, o in zip(ref, oth, strict=True))
    other_mean = statistics.fmean(oth) if seeds else math.nan
    gain = 1 - statistics.fmean(ref) / other_mean if seeds and other_mean else math.nan
    wins = sum(r < o for r, o in zip(ref, oth, strict=True))
    return Paired(seeds, diff_mean, diff_std, wins, gain)


def choose_normalization(trials: Mapping[str, SeedRuns], seeds: Sequence[int]) -> str | None:
    """The normalisation with the lowest mean clean-band angle over ``seeds``.

    Ties go to the lowest mean abundance RMSE, then to the first candidate. Only candidates
    with a clean-band angle for every seed compete.

    Args:
        trials: normalisation → seed → metrics, on the selection scene.
        seeds: the seeds each candidate ran with.

    Returns:
        The chosen normalisation, None if no candidate finished every seed.
    """
    scores = {}
    for normalization, runs in trials.items():
        angles = [runs.get(seed, {}).get(CLEAN_ANGLE) for seed in seeds]
        if all(_finite(a) for a in angles):
            rmse = mean_std(runs[seed].get(RMSE) for seed in seeds)[0]
            scores[normalization] = (statistics.fmean(angles), rmse if _finite(rmse) else math.inf)
    return min(scores, key=scores.__getitem__) if scores else None


def best_method(runs: Mapping[str, SeedRuns], candidates: Iterable[str], key: str) -> str | None:
    """The candidate with the lowest mean ``key`` over its seeds (None if none has one)."""
    means = {c: mean_std(m.get(key) for m in runs[c].values())[0] for c in candidates if c in runs}
    finite = {c: v for c, v in means.items() if _finite(v)}
    return min(finite, key=finite.__getitem__) if finite else None


# ---- Report ----------------------------------------------------------------------------------


def format_value(value: float | None, key: str) -> str:
    """Two decimals for angles and times, three for the rest; ``–`` for a missing value."""
    if not _finite(value):
        return "–"
    return f"{value:.2f}" if key.endswith(("_deg", "_s")) else f"{value:.3f}"


def format_mean_std(values: Iterable[float | None], key: str) -> str:
    """``mean ± std`` (just the mean for one value)."""
    mean, std, _ = mean_std(values)
    return format_value(mean, key) + (f" ± {format_value(std, key)}" if _finite(std) else "")


def format_gain(gain: float) -> str:
    """A relative gain in percent, signed."""
    return f"{100 * gain:+.1f} %" if _finite(gain) else "–"


@dataclass
class Study:
    """A study's settings (from the registry and the command line), choices and runs."""

    name: str
    scenes: list[str]
    methods: dict[str, list[str] | dict[str, Any]]
    seeds: list[int]
    select_scene: str | None
    reference: str | None
    baselines: list[str]
    out: Path
    common: list[str]
    chosen: dict[str, str | None] = field(default_factory=dict)
    runs: dict[tuple[str, str, str | None], dict[int, Metrics]] = field(default_factory=dict)

    def jobs(self, extra: Mapping[str, Iterable[str]]) -> list[Job]:
        """:func:`study_jobs` of this study."""
        return study_jobs(
            self.out, self.scenes, self.methods, self.seeds, self.common, self.select_scene, extra
        )

    def normalization(self, label: str) -> str | None:
        """The normalisation a method is reported with (None: as its overrides set it)."""
        return self.chosen.get(label) if method_spec(self.methods[label])[1] else None

    def at_choice(self, scene: str) -> dict[str, dict[int, Metrics]]:
        """Method → seed → metrics on a scene, each method at its chosen normalisation."""
        return {
            label: self.runs.get((scene, label, self.normalization(label)), {})
            for label in self.methods
            if not method_spec(self.methods[label])[1] or self.chosen.get(label)
        }

    def seeds_cell(self, runs: SeedRuns) -> str:
        """``3`` or ``2 of 3`` (finished of asked)."""
        return (
            str(len(runs)) if len(runs) == len(self.seeds) else f"{len(runs)} of {len(self.seeds)}"
        )


def metric_rows(
    study: Study, scene: str, labels: Iterable[str], normalization: str | None
) -> list[list[object]]:
    """Rows of method, normalisation, seeds and mean ± std of each column, on a scene.

    Args:
        study: the study.
        scene: the scene.
        labels: the methods.
        normalization: the normalisation of every row; None: each method's own.
    """
    rows: list[list[object]] = []
    for label in labels:
        norm = normalization or study.normalization(label)
        runs = study.runs.get((scene, label, norm), {})
        cells = [format_mean_std((m.get(k) for m in runs.values()), k) for k in COLUMNS]
        rows.append([label, norm or "as configured", study.seeds_cell(runs), *cells])
    return rows


def normalization_section(study: Study) -> list[str]:
    """The candidates' scores on the selection scene and each tuned method's choice."""
    tuned_labels = [label for label in study.methods if method_spec(study.methods[label])[1]]
    if not tuned_labels or study.select_scene is None:
        return []
    candidates = list(
        dict.fromkeys(n for label in tuned_labels for n in method_spec(study.methods[label])[1])
    )
    rows = []
    for label in tuned_labels:
        cells = []
        for normalization in candidates:
            runs = study.runs.get((study.select_scene, label, normalization), {})
            angle = mean_std(m.get(CLEAN_ANGLE) for m in runs.values())[0]
            rmse = mean_std(m.get(RMSE) for m in runs.values())[0]
            cells.append(
                f"{format_value(angle, CLEAN_ANGLE)} / {format_value(rmse, RMSE)} "
                f"({study.seeds_cell(runs)})"
            )
        rows.append([label, *cells, study.chosen.get(label) or "none finished"])
    return [
        f"## Normalisation per method (chosen on `{study.select_scene}`)",
        "",
        "Mean clean-band angle (°) / abundance RMSE over the seeds (seeds finished). The lowest "
        "angle wins, ties go to the lowest RMSE; the choice is used on every scene.",
        "",
        markdown_table(["method", *candidates, "chosen"], rows),
        "",
    ]


def summary_section(study: Study) -> tuple[list[str], list[list[object]]]:
    """The reference against the best baseline on each scene (Markdown, CSV rows)."""
    ref = study.reference
    header = ["scene"]
    for name in PAIRED.values():
        header += [f"{ref}: {name}", f"best baseline by {name}", f"its {name}", "gain", "wins"]
    rows, csv_rows, both = [], [], 0
    for scene in study.scenes:
        runs = study.at_choice(scene)
        if ref not in runs:
            continue
        cells: list[object] = [f"`{scene}`"]
        beats = True
        for key in PAIRED:
            ref_mean = mean_std(m.get(key) for m in runs[ref].values())[0]
            best = best_method(runs, study.baselines, key)
            if best is None:
                cells += [format_value(ref_mean, key), "–", "–", "–", "–"]
                beats = False
                continue
            p = paired(runs[ref], runs[best], key)
            best_mean = mean_std(m.get(key) for m in runs[best].values())[0]
            cells += [
                format_value(ref_mean, key),
                best,
                format_value(best_mean, key),
                format_gain(p.gain),
                f"{p.wins} of {len(p.seeds)}",
            ]
            beats = beats and _finite(p.gain) and p.gain > 0
            csv_rows.append(
                [scene, key, ref, ref_mean, best, best_mean, len(p.seeds), p.wins, p.gain]
            )
        both += beats
        rows.append([*cells, "yes" if beats else "no"])
    if not rows:
        return [], []
    return [
        f"## Summary: {ref} against the best baseline",
        "",
        f"On each scene the baseline ({', '.join(study.baselines)}) with the lowest mean clean "
        "angle, and separately the one with the lowest mean RMSE, each at its chosen "
        f"normalisation. Gain = 1 − {ref} / baseline of the means over the seeds both "
        f"finished (> 0: {ref} better); wins = seeds where {ref} is lower.",
        "",
        markdown_table([*header, "both better"], rows),
        "",
        f"{ref} beats the best baseline on both metrics on {both} of {len(rows)} scenes.",
        "",
    ], csv_rows


def scene_section(study: Study, scene: str) -> tuple[list[str], list[list[object]]]:
    """A scene's tables: every method at its normalisation, the reference against each
    method seed by seed, and the tuned methods at the paper's normalisation."""
    columns = ["method", "normalisation", "seeds", *COLUMNS.values()]
    runs = study.at_choice(scene)
    lines = [
        f"## Scene `{scene}`",
        "",
        markdown_table(columns, metric_rows(study, scene, runs, None)),
        "",
    ]
    ref = study.reference
    rows, csv_rows = [], []
    for label in runs if ref in runs else []:
        if label == ref:
            continue
        cells: list[object] = [label]
        for key in PAIRED:
            p = paired(runs[ref], runs[label], key)
            diff = format_value(p.diff_mean, key)
            diff += f" ± {format_value(p.diff_std, key)}" if _finite(p.diff_std) else ""
            cells += [diff, f"{p.wins} of {len(p.seeds)}", format_gain(p.gain)]
            csv_rows.append(
                [scene, ref, label, key, len(p.seeds), p.diff_mean, p.diff_std, p.wins, p.gain]
            )
        rows.append(cells)
    if rows:
        header = ["method"]
        for name in PAIRED.values():
            header += [f"Δ {name}", "wins", "gain"]
        lines += [
            f"### `{scene}`: {ref} against each method, seed by seed",
            "",
            f"Δ = {ref} − method, mean ± std over the seeds both finished; wins = seeds where "
            f"{ref} is lower; gain = 1 − {ref} / method of the means.",
            "",
            markdown_table(header, rows),
            "",
        ]
    tuned_labels = [label for label in study.methods if method_spec(study.methods[label])[1]]
    if tuned_labels:
        lines += [
            f"### `{scene}` at the paper's normalisation ({PAPER_NORMALIZATION})",
            "",
            markdown_table(columns, metric_rows(study, scene, tuned_labels, PAPER_NORMALIZATION)),
            "",
        ]
    return lines, csv_rows


def write_report(study: Study, header: str) -> str:
    """Write ``table.md``, ``table.csv``, ``runs.csv``, ``paired.csv`` and ``summary.csv``
    into the study's output directory.

    Returns:
        The Markdown report.
    """
    summary, csv_summary = summary_section(study)
    lines = [header, "", *normalization_section(study), *summary]
    csv_paired = []
    for scene in study.scenes:
        scene_lines, rows = scene_section(study, scene)
        lines += scene_lines
        csv_paired += rows
    table_rows, run_rows = [], []
    for (scene, label, norm), runs in study.runs.items():
        if norm is None:
            role = "fixed"
        elif study.chosen.get(label) == norm:
            role = "chosen"
        else:
            role = "paper" if norm == PAPER_NORMALIZATION else "trial"
        stats = [mean_std(m.get(k) for m in runs.values())[:2] for k in COLUMNS]
        table_rows.append([scene, label, norm or "", role, len(runs), *sum(stats, ())])
        run_rows += [
            [scene, label, norm or "", seed, *(m.get(k) for k in COLUMNS)]
            for seed, m in sorted(runs.items())
        ]
    rows = {
        "table.csv": table_rows,
        "runs.csv": run_rows,
        "paired.csv": csv_paired,
        "summary.csv": csv_summary,
    }
    for name, columns in CSV_COLUMNS.items():
        with atomic_path(study.out / name) as tmp:
            write_csv(tmp, columns, rows[name])
    text = "\n".join(lines)
    with atomic_path(study.out / "table.md") as tmp:
        tmp.write_text(text)
    return text


# ---- Command line ----------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line (``--help``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--study", choices=sorted(STUDIES), default="mixing")
    parser.add_argument("--epochs", type=int, default=10, help="network epochs per run")
    parser.add_argument("--out", type=Path, help="output directory (default outputs/<study>)")
    parser.add_argument("--scenes", nargs="*", help="subset of the study's scenes")
    parser.add_argument("--methods", nargs="*", help="subset of the study's method labels")
    parser.add_argument("--seeds", nargs="*", type=int, help="seeds (default: the study's)")
    parser.add_argument("--jobs", type=int, default=1, help="jobs at once, one thread each")
    parser.add_argument("--reference", help="method compared with every other (default: study's)")
    parser.add_argument(
        "--select-scene", help="scene choosing each tuned method's normalisation (default: study's)"
    )
    parser.add_argument(
        "--set", nargs="*", default=[], help="overrides for every job (a method's own win)"
    )
    return parser.parse_args(argv)


def _pick(kind: str, asked: Sequence[str] | None, known: Iterable[str]) -> list[str]:
    """``asked`` if every item is ``known`` (all of ``known`` if nothing was asked)."""
    known = list(known)
    unknown = [a for a in asked or [] if a not in known]
    if unknown:
        raise FTIRUnmixerError(
            f"--{kind} {', '.join(map(repr, unknown))}: not in this study; choose from "
            f"{', '.join(map(repr, known))}."
        )
    return list(asked) if asked else known


def configure(args: argparse.Namespace) -> Study:
    """The study to run (nothing chosen, nothing run yet).

    Raises:
        FTIRUnmixerError: on an unknown scene, method or reference, or a setting out of range.
    """
    spec = STUDIES[args.study]
    scenes = _pick("scenes", args.scenes, spec["scenes"])
    labels = _pick("methods", args.methods, spec["methods"])
    methods = {label: spec["methods"][label] for label in labels}
    select_scene = args.select_scene or spec.get("select_scene")
    if select_scene is not None:
        _pick("select-scene", [select_scene], SCENES)
    if select_scene is None and any(method_spec(m)[1] for m in methods.values()):
        raise FTIRUnmixerError(
            f"study {args.study!r} has methods with normalisations to choose; give --select-scene."
        )
    reference = args.reference or spec.get("reference")
    if args.reference:
        _pick("reference", [args.reference], methods)
    if any(o.startswith("seed=") for o in args.set):
        raise FTIRUnmixerError("--set seed=…: every job sets its own seed; give --seeds instead.")
    if any(o.startswith("data.normalization=") for o in args.set) and any(
        method_spec(m)[1] for m in methods.values()
    ):
        raise FTIRUnmixerError(
            "--set data.normalization=…: the study's tuned methods choose their own "
            "normalisation (the paper's band_minmax is reported apart); drop it from --set."
        )
    if args.jobs < 1 or args.epochs < 1:
        raise FTIRUnmixerError("--jobs and --epochs must be at least 1.")
    seeds = list(dict.fromkeys(args.seeds if args.seeds else spec["seeds"]))
    out = (args.out or Path("outputs") / args.study).resolve()
    common = [
        "logger=none",
        "threads=1",
        f"trainer.max_epochs={args.epochs}",
        f"evaluation.library=[{out / 'library'}]",
        *args.set,
    ]
    return Study(
        name=args.study,
        scenes=scenes,
        methods=methods,
        seeds=seeds,
        select_scene=select_scene,
        reference=reference if reference in methods else None,
        baselines=[b for b in spec.get("baselines", []) if b in methods],
        out=out,
        common=common,
    )


def run_study(study: Study, parallel: int) -> list[Job]:
    """Run the trials and the paper's normalisation everywhere, choose each tuned method's
    normalisation, run the choices; the study's ``chosen`` and ``runs`` are then filled.

    Returns:
        Every job of the study.
    """
    first = study.jobs({})
    print(f"Study {study.name!r}: {len(first)} jobs, then those of each tuned method's choice.")
    run_jobs(first, parallel)
    trials = seed_runs(job for job in first if job.scene == study.select_scene)
    study.chosen = {
        label: choose_normalization(
            {n: trials.get((study.select_scene, label, n), {}) for n in candidates}, study.seeds
        )
        for label, method in study.methods.items()
        if (candidates := method_spec(method)[1])
    }
    for label, choice in study.chosen.items():
        print(f"normalisation of {label!r}: {choice or 'none finished every seed'}")
    jobs = study.jobs({label: [c] for label, c in study.chosen.items() if c})
    run_jobs([job for job in jobs if job not in first], parallel)
    study.runs = seed_runs(jobs)
    return jobs


def main(argv: Sequence[str] | None = None) -> int:
    """Run the study and write its report into ``--out``; user errors exit with status 2."""
    args = parse_args(argv)
    try:
        study = configure(args)
        everything = study.jobs({m: method_spec(study.methods[m])[1] or [] for m in study.methods})
        check_composes(everything)
        check_reusable(everything)
    except FTIRUnmixerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    write_reference_library(study.out / "library", wavenumber_axis(SyntheticConfig()))
    try:
        jobs = run_study(study, args.jobs)
    except KeyboardInterrupt:
        print("Interrupted; run the same command again to resume.", file=sys.stderr)
        return 130
    header = (
        f"Study `{study.name}`: seeds {', '.join(map(str, study.seeds))}; networks "
        f"{args.epochs} epochs; overrides for every job: {' '.join(args.set) or '(none)'}; "
        f"{len(jobs)} jobs, {args.jobs} at a time, one thread each."
    )
    print(write_report(study, header))
    print(f"Report: {study.out / 'table.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
