"""One command for a CUDA machine: throughput, the paper's runs, a sweep and DDP → docs/gpu.md.

    make gpu-check                   # a CUDA machine: about 8 minutes on one H100/H200
    make gpu-check ARGS=--dry-run    # the same steps on a tiny scene on the CPU, < 1 minute

1. **Throughput**: steps/s and patches/s of the Lightning training loop at batch 64 (the
   paper's) and at the largest batch that still helps (doubling from 64 while patches/s grow
   by ≥ 10 %), for ``trainer.precision=32-true`` and ``bf16-mixed``, eager and compiled
   (``model.compile=true model.compile_mode=reduce-overhead``: CUDA graphs), with the peak
   GPU memory of each.
2. **The make sweep** (``experiment=sweep_demo``, 6 jobs, then its report) on the GPU.
3. **DDP** over every GPU (``trainer=ddp``) when there are several.
4. **The paper's runs**: ``experiment=paper_sad`` and ``paper_wsad`` (500 epochs × 20 000
   patches), started together (on two GPUs if there are two, else both on one), in the
   fastest 32-bit setting of step 1. Wall time, peak GPU memory, the ``gt/`` metrics. If the
   measured step rate says 500 epochs do not fit the time left (``--budget``), they run as
   many epochs as fit and the 500-epoch time is extrapolated from the measured epoch times,
   and the report says so.

The dry run does the same on a 2×(12×10)-pixel, 120-band scene on the CPU, with 2 epochs
instead of 500, without compilation (a first CPU compile takes ~40 s) and with DDP on two
CPU processes (gloo). Its report says in its first line that its figures are no GPU figures.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import lightning as L
import torch
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

from ftir_unmixer.io.atomic import atomic_path
from ftir_unmixer.io.results_file import read_results
from ftir_unmixer.training.config import CONFIG_DIR
from ftir_unmixer.training.pipeline import build

SCRIPTS = Path(__file__).resolve().parent
DOCS = SCRIPTS.parent / "docs"
PAPER_EPOCHS = 500
MAX_BATCH = 2**16
"""The batch search stops here."""
METRICS = ("gt/mean_angle_deg", "gt/mean_angle_clean_deg", "gt/abundance_rmse")
"""The ``gt/`` metrics of the paper's runs in the report."""


@dataclass(frozen=True)
class Profile:
    """What a check runs: the real one on GPUs, or the dry run on the CPU."""

    name: str
    trainer: str
    scene: tuple[str, ...]
    batches: tuple[int, ...] | None
    """Fixed batch sizes, or None: search upwards from 64."""
    compile: bool
    warmup: int
    steps: int
    epochs: int
    budget_s: float
    sweep: tuple[str, ...]
    ddp: tuple[str, ...]
    concurrent: bool
    """Start the sweep, DDP and the paper's runs together (else one after the other)."""


GPU = Profile(
    name="gpu",
    trainer="gpu",
    scene=(),
    batches=None,
    compile=True,
    warmup=30,
    steps=200,
    epochs=PAPER_EPOCHS,
    budget_s=480,
    sweep=("trainer=gpu",),
    ddp=("trainer=ddp", "trainer.max_epochs=3"),
    concurrent=False,
)
DRY = Profile(
    name="dry run",
    trainer="cpu",
    scene=(
        "synthetic.num_tiles=2",
        "synthetic.tile_rows=12",
        "synthetic.tile_cols=10",
        "synthetic.num_bands=120",
        "synthetic.step=24.1",
        "model.num_endmembers=4",
        "model.hidden_channels=8",
        "data.patches_per_epoch=64",
        "threads=1",
    ),
    batches=(16, 64),
    compile=False,
    warmup=2,
    steps=5,
    epochs=2,
    budget_s=60,
    sweep=(
        "trainer.max_epochs=1",
        "data.patches_per_epoch=32",
        "model.num_endmembers=3",
    ),
    ddp=(
        "trainer=ddp",
        "trainer.accelerator=cpu",
        "trainer.devices=2",
        "trainer.max_epochs=1",
    ),
    concurrent=True,
)


class RunProbe(L.Callback):
    """Added to the paper's runs (``+callbacks.probe``): epoch times and peak memory → JSON.

    Args:
        path: the JSON file to write at the end of training.
    """

    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = Path(path)
        self.epoch_s: list[float] = []
        self.start = 0.0

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Start the epoch's clock."""
        self.start = time.perf_counter()

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Stop it (after the device's queued work)."""
        if pl_module.device.type == "cuda":
            torch.cuda.synchronize(pl_module.device)
        self.epoch_s.append(time.perf_counter() - self.start)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Write the epoch times and the peak memory."""
        cuda = pl_module.device.type == "cuda"
        peak = (
            torch.cuda.max_memory_allocated(pl_module.device)
            if cuda
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        )
        report = {"epoch_s": self.epoch_s, "peak_bytes": peak, "peak_of": "GPU" if cuda else "RSS"}
        self.path.write_text(json.dumps(report))


class StepTimer(L.Callback):
    """Times the training steps after ``warmup`` of them (device work included)."""

    def __init__(self, warmup: int) -> None:
        super().__init__()
        self.warmup = warmup
        self.start = self.warm = self.end = 0.0

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """The clock of warm-up (and compilation) starts."""
        self.start = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        """Note the end of the warm-up and of the last step."""
        if batch_idx + 1 in (self.warmup, trainer.max_steps):
            if pl_module.device.type == "cuda":
                torch.cuda.synchronize(pl_module.device)
            now = time.perf_counter()
            if batch_idx + 1 == self.warmup:
                self.warm = now
            else:
                self.end = now


@dataclass
class Row:
    """One throughput measurement."""

    precision: str
    compiled: bool
    batch: int
    step_ms: float | None = None
    warmup_s: float | None = None
    peak_bytes: int | None = None
    note: str = ""

    @property
    def patches_per_s(self) -> float:
        """Patches per second (0 when not measured)."""
        return self.batch / self.step_ms * 1e3 if self.step_ms else 0.0


@dataclass
class Report:
    """Everything the check measured, for the Markdown report."""

    profile: Profile
    machine: dict
    rows: list[Row] = field(default_factory=list)
    sweep: dict = field(default_factory=dict)
    ddp: dict = field(default_factory=dict)
    paper: dict = field(default_factory=dict)


def compose_config(overrides: list[str], output_dir: Path) -> DictConfig:
    """``conf/train.yaml`` with ``overrides``, no logger, outputs under ``output_dir``."""
    with initialize_config_dir(version_base="1.3", config_dir=str(CONFIG_DIR)):
        return compose(
            config_name="train",
            overrides=["logger=none", f"paths.output_dir={output_dir}", *overrides],
        )


def machine_info(profile: Profile) -> dict:
    """GPUs (names, memory), CPU, torch and CUDA versions."""
    gpus = [
        f"{torch.cuda.get_device_name(i)} "
        f"({torch.cuda.get_device_properties(i).total_memory / 2**30:.0f} GiB)"
        for i in range(torch.cuda.device_count())
    ]
    return {
        "gpus": gpus,
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "python": platform.python_version(),
        "profile": profile.name,
    }


def measure(
    datamodule, cfg: DictConfig, profile: Profile, precision: str, compiled: bool, batch: int
) -> Row:
    """Steps of the training loop at one setting, on the DataModule's cube."""
    row = Row(precision, compiled, batch)
    # Fewer timed steps for large batches: about as many patches as at batch 64, ≥ 20 steps.
    steps = max(20, profile.steps * 64 // batch) if batch > 64 else profile.steps
    datamodule.batch_size = batch
    datamodule.patches_per_epoch = batch * (profile.warmup + steps)
    module = build(
        cfg.model,
        num_bands=datamodule.num_bands,
        loss_name=cfg.loss.name,
        band_weights=datamodule.band_weight_estimate.weights,
        compile=compiled,
        compile_mode="reduce-overhead" if compiled else "default",
    )
    timer = StepTimer(profile.warmup)
    trainer: L.Trainer = build(
        cfg.trainer,
        precision=precision,
        callbacks=[timer],
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        max_epochs=-1,
        max_steps=profile.warmup + steps,
    )
    cuda = torch.cuda.is_available() and profile.trainer == "gpu"
    if cuda:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    try:
        trainer.fit(module, datamodule=datamodule)
    except torch.OutOfMemoryError:
        row.note = "out of memory"
        return row
    row.step_ms = (timer.end - timer.warm) / steps * 1e3
    row.warmup_s = timer.warm - timer.start
    row.peak_bytes = torch.cuda.max_memory_allocated() if cuda else None
    return row


def throughput(profile: Profile, overrides: list[str], work: Path) -> list[Row]:
    """Step 1: the settings of the module docstring, on one set-up DataModule."""
    cfg = compose_config([f"trainer={profile.trainer}", *profile.scene, *overrides], work)
    if cfg.get("threads"):
        torch.set_num_threads(int(cfg.threads))
    datamodule = build(cfg.data)
    datamodule.prepare_data()
    datamodule.setup("fit")
    rows = []
    for precision in ("32-true", "bf16-mixed"):
        say(f"throughput, {precision}")
        if profile.batches is not None:
            tried = [
                measure(datamodule, cfg, profile, precision, False, batch)
                for batch in profile.batches
            ]
            best = max(tried, key=lambda row: row.patches_per_s)
        else:
            tried = [measure(datamodule, cfg, profile, precision, False, 64)]
            best = tried[0]
            while tried[-1].step_ms and tried[-1].batch < MAX_BATCH:
                tried.append(
                    measure(datamodule, cfg, profile, precision, False, 2 * tried[-1].batch)
                )
                if tried[-1].patches_per_s < 1.1 * best.patches_per_s:
                    break
                best = tried[-1]
        rows += tried
        for batch in sorted({64, best.batch}):
            if profile.compile:
                rows.append(measure(datamodule, cfg, profile, precision, True, batch))
            else:
                rows.append(Row(precision, True, batch, note="not in the dry run"))
    return rows


def run_commands(commands: dict[str, tuple[list[str], dict]]) -> dict[str, dict]:
    """Start the commands together; wait; wall time, exit status and output tail of each."""
    running = {}
    for name, (command, env) in commands.items():
        log = tempfile.TemporaryFile(mode="w+")
        process = subprocess.Popen(
            command,
            env={**os.environ, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
        running[name] = (process, log, time.perf_counter())
    results = {}
    while running:
        for name, (process, log, start) in list(running.items()):
            if process.poll() is not None:
                log.seek(0)
                results[name] = {
                    "wall_s": time.perf_counter() - start,
                    "status": process.returncode,
                    "tail": log.read()[-3000:],
                }
                log.close()
                del running[name]
        time.sleep(0.05)
    return results


def train_command(*overrides: str) -> list[str]:
    """``python -m ftir_unmixer.train OVERRIDES``."""
    return [sys.executable, "-m", "ftir_unmixer.train", *overrides]


Commands = dict[str, tuple[list[str], dict]]
"""Named commands with their extra environment variables."""


def sweep_commands(profile: Profile, overrides: list[str], work: Path) -> Commands:
    """Step 2: what ``make sweep`` runs first, the sweep (its report follows it)."""
    command = train_command(
        "-m",
        "experiment=sweep_demo",
        f"hydra.sweep.dir={work / 'sweep'}",
        f"paths.data_dir={work / 'data'}",
        *profile.sweep,
        *overrides,
    )
    return {"sweep": (command, {})}


def sweep_result(results: dict[str, dict], work: Path) -> dict:
    """Run the sweep's report (``ftir-unmixer report``, as ``make sweep`` does); time both."""
    result = results["sweep"]
    directory = work / "sweep"
    result["jobs"] = len([job for job in directory.glob("*") if (job / "results.h5").exists()])
    if result["status"] == 0:
        report = [sys.executable, "-m", "ftir_unmixer.cli", "report", str(directory)]
        report_run = run_commands({"report": (report, {})})["report"]
        result.update(
            status=report_run["status"],
            tail=report_run["tail"],
            wall_s=result["wall_s"] + report_run["wall_s"],
        )
    return result


def ddp_commands(profile: Profile, overrides: list[str], work: Path) -> Commands:
    """Step 3: a short DDP run over every GPU (two CPU processes in the dry run)."""
    if profile.trainer == "gpu" and torch.cuda.device_count() < 2:
        return {}
    command = train_command(
        *profile.ddp,
        *profile.scene,
        "logger=none",
        f"hydra.run.dir={work / 'ddp'}",
        f"paths.data_dir={work / 'data'}",
        *overrides,
    )
    return {"ddp": (command, {})}


def ddp_result(profile: Profile, results: dict[str, dict], work: Path) -> dict:
    """The DDP run's devices, epochs and steps, or why it did not run."""
    if "ddp" not in results:
        return {"skipped": f"{torch.cuda.device_count()} GPU: DDP needs two or more"}
    result = results["ddp"]
    result["devices"] = torch.cuda.device_count() if profile.trainer == "gpu" else 2
    if result["status"] == 0:
        attrs = read_results(work / "ddp" / "results.h5").attrs
        result["epochs"], result["global_step"] = attrs["epochs"], attrs["global_step"]
    return result


@dataclass
class PaperPlan:
    """How the paper's runs are started: the setting, the epochs, the devices."""

    epochs: int
    steps_per_epoch: int
    settings: list[str]
    shared: bool


def paper_plan(profile: Profile, work: Path, rows: list[Row], left_s: float | None) -> PaperPlan:
    """Step 4's plan: the fastest 32-bit setting of step 1; as many epochs as fit ``left_s``.

    Two runs on one device are counted at half speed each; 60 s are kept for set-up and
    results. ``left_s`` None: the profile's epochs.
    """
    cfg = compose_config([f"trainer={profile.trainer}", "experiment=paper", *profile.scene], work)
    steps = math.ceil(cfg.data.patches_per_epoch / cfg.data.batch_size)
    total = profile.epochs * steps
    candidates = [r for r in rows if r.precision == "32-true" and r.batch == 64 and r.step_ms]
    best = min(candidates, key=lambda r: r.step_ms * total / 1e3 + (r.warmup_s or 0.0))
    settings = ["model.compile=true", "model.compile_mode=reduce-overhead"] if best.compiled else []
    shared = profile.trainer == "gpu" and torch.cuda.device_count() < 2
    epochs = profile.epochs
    if left_s is not None:
        epoch_s = best.step_ms / 1e3 * steps * (2 if shared else 1)
        epochs = max(1, min(profile.epochs, int((left_s - 60) / epoch_s)))
    return PaperPlan(epochs, steps, settings, shared)


def paper_commands(profile: Profile, overrides: list[str], work: Path, plan: PaperPlan) -> Commands:
    """Step 4: ``experiment=paper_sad`` and ``paper_wsad`` with a :class:`RunProbe` each."""
    commands = {}
    for index, name in enumerate(("paper_sad", "paper_wsad")):
        run_dir = work / name
        env = {"PYTHONPATH": str(SCRIPTS)}
        if profile.trainer == "gpu" and not plan.shared:
            env["CUDA_VISIBLE_DEVICES"] = str(index)
        command = train_command(
            f"experiment={name}",
            f"trainer={profile.trainer}",
            f"trainer.max_epochs={plan.epochs}",
            *plan.settings,
            *profile.scene,
            "logger=csv",
            f"hydra.run.dir={run_dir}",
            f"paths.data_dir={work / 'data'}",
            "+callbacks.probe._target_=gpu_check.RunProbe",
            f"+callbacks.probe.path={run_dir / 'probe.json'}",
            *overrides,
        )
        commands[name] = (command, env)
    return commands


def paper_result(profile: Profile, results: dict[str, dict], work: Path, plan: PaperPlan) -> dict:
    """The paper's runs: each one's :func:`run_summary`, and how they were run."""
    runs = {name: results[name] for name in ("paper_sad", "paper_wsad")}
    for name, result in runs.items():
        if result["status"] == 0:
            result.update(run_summary(work / name, result["wall_s"], profile.epochs))
    where = "on the CPU" if profile.trainer != "gpu" else "both on one GPU"
    return {
        "epochs": plan.epochs,
        "steps_per_epoch": plan.steps_per_epoch,
        "settings": " ".join(plan.settings) or "eager",
        "where": "one GPU each" if profile.trainer == "gpu" and not plan.shared else where,
        "runs": runs,
    }


def run_summary(run_dir: Path, wall_s: float, target_epochs: int) -> dict:
    """A finished paper run: metrics, peak memory, and its time for ``target_epochs``.

    Beyond the epochs run, the time is extrapolated: the run's wall time plus the median of
    its epochs after the first (which includes compilation and warm-up) per missing epoch.
    """
    attrs = read_results(run_dir / "results.h5").attrs
    probe = json.loads((run_dir / "probe.json").read_text())
    epochs = probe["epoch_s"]
    later = sorted(epochs[1:] or epochs)
    steady = later[len(later) // 2]
    return {
        "epochs_run": len(epochs),
        "epoch_s": steady,
        "target_s": wall_s + (target_epochs - len(epochs)) * steady,
        "extrapolated": len(epochs) < target_epochs,
        "peak_bytes": probe["peak_bytes"],
        "peak_of": probe["peak_of"],
        "metrics": {key: float(attrs[key]) for key in METRICS if key in attrs},
    }


def say(message: str) -> None:
    """Progress on stderr."""
    print(f"[gpu-check] {message}", file=sys.stderr, flush=True)


def gib(value: int | None) -> str:
    """Bytes as GiB, or a dash."""
    return "–" if value is None else f"{value / 2**30:.2f} GiB"


def markdown(report: Report, command: str) -> str:
    """The report as Markdown (``docs/gpu.md``)."""
    profile, machine = report.profile, report.machine
    lines = ["# GPU check", ""]
    if profile.trainer != "gpu":
        lines += [
            "> **Dry run: no GPU figures.** Every number below comes from "
            "`make gpu-check ARGS=--dry-run`: a tiny scene (2 tiles of 12×10 pixels × 120 "
            "bands, K = 4, 8 hidden channels) on the CPU, "
            f"{profile.epochs} epochs instead of "
            f"{PAPER_EPOCHS}, to test the script. Run `make gpu-check` on a CUDA machine to "
            "replace this file with measured GPU figures.",
            "",
        ]
    device = ", ".join(machine["gpus"]) or f"CPU only ({machine['cpu']}, {machine['cores']} cores)"
    lines += [
        f"Measured on {date.today().isoformat()} with `{command}`: {device}; torch "
        f"{machine['torch']}, CUDA {machine['cuda'] or '–'}, Python {machine['python']}.",
        "",
        "## Training throughput",
        "",
        "The Lightning training loop (patch gathering on the device, the loss, Adam) on the "
        f"{'bundled 320×64×1504 scene' if profile.trainer == 'gpu' else 'tiny scene'}; steps "
        "after a warm-up, device work included. Compiled: "
        "`model.compile=true model.compile_mode=reduce-overhead` (CUDA graphs); warm-up "
        "includes the compilation.",
        "",
        "| precision | compiled | batch | step (ms) | steps/s | patches/s | warm-up (s) "
        "| peak GPU memory | note |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in report.rows:
        measured = row.step_ms is not None
        lines.append(
            f"| {row.precision} | {'yes' if row.compiled else 'no'} | {row.batch} | "
            + (
                f"{row.step_ms:.2f} | {1e3 / row.step_ms:.0f} | {row.patches_per_s:,.0f} | "
                f"{row.warmup_s:.1f} | {gib(row.peak_bytes)}"
                if measured
                else "– | – | – | – | –"
            )
            + f" | {row.note} |"
        )
    lines += ["", *sweep_lines(report.sweep), "", *ddp_lines(report.ddp), ""]
    lines += paper_lines(report.paper, profile)
    return "\n".join(lines) + "\n"


def failure_lines(result: dict) -> list[str]:
    """A failed step: its exit status and the tail of its output."""
    return [f"Failed (exit {result.get('status')}):", "", "```", result.get("tail", ""), "```"]


def sweep_lines(result: dict) -> list[str]:
    """The sweep section."""
    lines = ["## make sweep", ""]
    if result.get("status") != 0:
        return [*lines, *failure_lines(result)]
    return [
        *lines,
        f"`experiment=sweep_demo` ({result['jobs']} jobs, one after the other) and its report: "
        f"{result['wall_s']:.0f} s wall time.",
    ]


def ddp_lines(result: dict) -> list[str]:
    """The DDP section."""
    lines = ["## DDP", ""]
    if "skipped" in result:
        return [*lines, f"Not run: {result['skipped']}."]
    if result.get("status") != 0:
        return [*lines, *failure_lines(result)]
    return [
        *lines,
        f"`trainer=ddp` over {result['devices']} devices: {result['epochs']} epochs, "
        f"{result['global_step']} optimiser steps per rank, {result['wall_s']:.0f} s wall time "
        "(start-up, training, results).",
    ]


def paper_lines(paper: dict, profile: Profile) -> list[str]:
    """The section on the paper's runs."""
    where = paper["where"]
    lines = [
        "## The paper's runs",
        "",
        f"`experiment=paper_sad` and `experiment=paper_wsad` started together ({where}), "
        f"{paper['epochs']} epochs of {paper['steps_per_epoch']} steps each, "
        f"{paper['settings']}.",
        "",
        f"| run | epochs run | wall time | time for {profile.epochs} epochs | peak memory "
        "| " + " | ".join(METRICS) + " |",
        "|---|---|---|---|---|" + "---|" * len(METRICS),
    ]
    extrapolated = False
    for name, run in paper["runs"].items():
        if run["status"] != 0:
            lines.append(f"| {name} | failed (exit {run['status']}) |" + " |" * (4 + len(METRICS)))
            continue
        extrapolated |= run["extrapolated"]
        mark = "*" if run["extrapolated"] else ""
        metrics = " | ".join(f"{run['metrics'].get(key, math.nan):.3f}" for key in METRICS)
        lines.append(
            f"| {name} | {run['epochs_run']} | {run['wall_s']:.0f} s | {run['target_s']:.0f} s"
            f"{mark} | {gib(run['peak_bytes'])} ({run['peak_of']}) | {metrics} |"
        )
    if extrapolated:
        lines += [
            "",
            f"\\* Extrapolated: {profile.epochs} epochs did not fit the time budget, so the "
            "runs stopped early; the time adds the median epoch (after the first) per missing "
            f"epoch. The metrics are those after {paper['epochs']} epochs, not {profile.epochs}.",
        ]
    for name, run in paper["runs"].items():
        if run["status"] != 0:
            lines += ["", f"{name} failed:", "", "```", run["tail"], "```"]
    return lines


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--dry-run", action="store_true", help="a tiny scene on the CPU (< 1 min), no GPU needed"
    )
    parser.add_argument("--out", type=Path, default=DOCS / "gpu.md", help="the report")
    parser.add_argument(
        "--work", type=Path, default=Path("outputs/gpu_check"), help="data and run folders"
    )
    parser.add_argument("--budget", type=float, help="seconds for the whole check")
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="Hydra override, all runs"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Run the four steps and write the report."""
    args = parse_args(argv)
    profile = DRY if args.dry_run else GPU
    if profile.trainer == "gpu" and not torch.cuda.is_available():
        raise SystemExit(
            "gpu-check needs a CUDA GPU and a CUDA build of torch; on a CPU use "
            "make gpu-check ARGS=--dry-run."
        )
    budget = args.budget or profile.budget_s
    start = time.perf_counter()
    args.work.mkdir(parents=True, exist_ok=True)
    report = Report(profile, machine_info(profile))
    report.rows = throughput(profile, args.set, args.work / "throughput")
    sweeps = sweep_commands(profile, args.set, args.work)
    ddps = ddp_commands(profile, args.set, args.work)
    if profile.concurrent:
        # The dry run's figures mean nothing: start steps 2-4 together to keep it short.
        plan = paper_plan(profile, args.work, report.rows, None)
        say("make sweep, DDP and the paper's runs, together")
        results = run_commands(
            {**sweeps, **ddps, **paper_commands(profile, args.set, args.work, plan)}
        )
    else:
        say("make sweep")
        results = run_commands(sweeps)
        if ddps:
            say("DDP")
        results |= run_commands(ddps)
        plan = paper_plan(profile, args.work, report.rows, budget - (time.perf_counter() - start))
        say(f"the paper's runs: {plan.epochs} epochs each")
        results |= run_commands(paper_commands(profile, args.set, args.work, plan))
    report.sweep = sweep_result(results, args.work)
    report.ddp = ddp_result(profile, results, args.work)
    report.paper = paper_result(profile, results, args.work, plan)
    command = "python scripts/gpu_check.py" + (" --dry-run" if args.dry_run else "")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(args.out) as tmp:
        tmp.write_text(markdown(report, command))
    (args.work / "gpu_check.json").write_text(json.dumps(report_dict(report), indent=2))
    say(f"{time.perf_counter() - start:.0f} s; written to {args.out}")


def report_dict(report: Report) -> dict:
    """The report as JSON-ready data."""
    return {
        "profile": report.profile.name,
        "machine": report.machine,
        "throughput": [vars(row) | {"patches_per_s": row.patches_per_s} for row in report.rows],
        "sweep": report.sweep,
        "ddp": report.ddp,
        "paper": report.paper,
    }


if __name__ == "__main__":
    main()
