"""Side-by-side training benchmark: our patch gathering against the authors' approach.

Measures, on the same preprocessed cube (default: the bundled 320×64×1504 synthetic scene):

* **ours**: the package's Lightning training loop as ``train`` runs it (patch centres through
  the DataLoader, patches gathered from the cube on the batch's device, the configured
  callbacks but the results writer, whose work follows the last step, and the configured
  speed switches ``model.channels_last`` / ``model.patch_kernels`` / ``model.compile`` /
  ``model.fused_adam``), without a logger;
* **authors**: a re-implementation of the authors' approach: all ``data.patches_per_epoch``
  patches extracted at random positions as scikit-learn's ``extract_patches_2d`` does, into
  an (N, p, p, B) float32 array, copied into a torch tensor, permuted to (N, B, p, p) and made
  contiguous (the three arrays coexist during the last copy, as in a notebook that keeps its
  variables), then a ``TensorDataset`` in a shuffled ``DataLoader`` (batch
  ``data.batch_size``), a plain PyTorch loop with (foreach) Adam, and the package's network
  and loss, eager, in standard layout and float32 (whatever ``trainer.precision`` says).

Each approach runs in its own subprocess, so its peak RSS (``ru_maxrss``, a high-water mark)
is its own. The approaches are set up and warmed up one after the other, then timed in
interleaved chunks of steps (one approach runs at a time), so a change in the machine's load
affects them alike. Step times are the median over the timed steps (host clock, from one
step's end to the next, so they include fetching and gathering the batch), beside the median
CPU time of the process per step; the time per epoch is extrapolated as median step × steps
per epoch. FLOPs per step are counted by ``torch.utils.flop_counter.FlopCounterMode`` on one
eager forward + backward pass of each approach's own network and loss (convolutions at their
full kernel × output size) and, separately, without the products with the zero padding; the
matrix-multiply peak is the best of a few large ``torch.mm`` calls on the same device with
the same threads, measured after the timing.

    python scripts/benchmark.py                    # bundled scene, table + outputs/benchmark.json
    python scripts/benchmark.py --ablation         # plus rows: no switch, each switch, all
    python scripts/benchmark.py --full-image       # plus a row: one whole image per step
    python scripts/benchmark.py --threads 1 --set synthetic.num_tiles=2 --set model.compile=true
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
from pathlib import Path

import lightning as L
import numpy as np
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import get_class
from omegaconf import DictConfig
from torch.utils import flop_counter
from torch.utils.data import DataLoader, TensorDataset
from torch.utils.flop_counter import FlopCounterMode

from ftir_unmixer.data.datamodule import FTIRDataModule
from ftir_unmixer.models.module import FTIRUnmixerModule
from ftir_unmixer.training.callbacks import ResultsWriter
from ftir_unmixer.training.config import CONFIG_DIR
from ftir_unmixer.training.pipeline import build

SWITCHES = ("channels_last", "compile", "fused_adam", "patch_kernels")
"""The speed switches of ``conf/model/ftir_unmixer.yaml``."""

ABLATION = {
    "plain": [f"model.{switch}=false" for switch in SWITCHES],
    **{
        f"+{on}": [f"model.{switch}={str(switch == on).lower()}" for switch in SWITCHES]
        for on in SWITCHES
    },
    "all switches": [f"model.{switch}=true" for switch in SWITCHES],
}
"""Extra rows of ``--ablation``: our loop with no switch, each switch alone, and all."""

FULL_IMAGE = ["data.mode=full_image", "data.batch_size=1", "data.patches_per_epoch=24"]
"""Overrides of the ``--full-image`` row (as ``experiment=full_image``)."""

TARGETS = {
    "rss_ratio": ("peak RSS, ours / authors", "<=", 1 / 6),
    "step_ratio": ("step time, ours / authors", "<=", 0.5),
    "peak_fraction": ("ours, share of matmul peak (all FLOPs)", ">=", 0.40),
    "peak_fraction_inside": ("ours, share of matmul peak (no padding)", ">=", 0.40),
}
"""Targets (issue 6; the step ratio of issue 14): name → (label, comparison, bound)."""


def compose_config(overrides: list[str], output_dir: str) -> DictConfig:
    """``conf/train.yaml`` with the user's overrides, no logger, outputs in ``output_dir``."""
    with initialize_config_dir(version_base="1.3", config_dir=str(CONFIG_DIR)):
        return compose(
            config_name="train",
            overrides=["logger=none", f"paths.output_dir={output_dir}", *overrides],
        )


def sync(device: torch.device) -> None:
    """Wait for the device's queued work (no-op on a CPU)."""
    if device.type != "cpu":
        torch.accelerator.synchronize(device)


MARK = "@@benchmark"
"""Prefix of the protocol lines a worker writes on stdout (other output is ignored)."""


def say(message: str) -> None:
    """Worker side: one protocol line to the parent."""
    print(f"{MARK} {message}", flush=True)


class StepClock:
    """Worker side: time training steps in the chunks the parent asks for.

    The parent sends ``run N`` lines on stdin; the worker answers ``done`` after N steps and
    waits for the next chunk, so the parent can interleave the approaches (each one's timed
    steps alternate with the others', and none runs while another is timed). A step's time
    runs from the previous step's end (or the chunk's start) to its end; the last step of a
    chunk waits for the device, so the chunks' sum is device time on a GPU too.

    Args:
        warmup: untimed first steps.
        steps: timed steps.
    """

    def __init__(self, warmup: int, steps: int) -> None:
        self.warmup = warmup
        self.total = warmup + steps
        self.durations: list[float] = []
        self.cpu_durations: list[float] = []
        self.left = 0
        self.last = 0.0
        self.last_cpu = 0.0

    def wait_for_chunk(self) -> None:
        """Block until the parent sends the next ``run N``."""
        self.left = int(sys.stdin.readline().split()[1])
        self.last, self.last_cpu = time.perf_counter(), time.process_time()

    def tick(self, device: torch.device) -> None:
        """Record the end of one step; at the end of a chunk, report and wait for the next."""
        self.left -= 1
        if self.left == 0:
            sync(device)
        now, cpu = time.perf_counter(), time.process_time()
        self.durations.append(now - self.last)
        self.cpu_durations.append(cpu - self.last_cpu)
        self.last, self.last_cpu = now, cpu
        if self.left == 0 and len(self.durations) < self.total:
            say("done")
            self.wait_for_chunk()

    def finish(self) -> None:
        """After the last step: tell the parent, then wait until it asks for the report.

        The report's own work (e.g. the matmul peak) thus never overlaps another approach's
        timed steps.
        """
        say("done")
        sys.stdin.readline()

    def summary(self, device: torch.device) -> dict[str, float]:
        """Median and quartiles of the timed steps; their mean (the figure on a GPU)."""
        timed = np.asarray(self.durations[self.warmup :]) * 1e3
        q1, median, q3 = np.percentile(timed, [25, 50, 75])
        mean = float(timed.mean())
        cpu = np.asarray(self.cpu_durations[self.warmup :]) * 1e3
        return {
            "cpu_ms_median": float(np.median(cpu)),
            "step_ms": float(median) if device.type == "cpu" else mean,
            "step_ms_median": float(median),
            "step_ms_q1": float(q1),
            "step_ms_q3": float(q3),
            "step_ms_mean": mean,
            "step_ms_all": timed.round(3).tolist(),
            "timed_steps": len(timed),
            "warmup_s": float(sum(self.durations[: self.warmup])),
        }


class StepClockCallback(L.Callback):
    """Drive a :class:`StepClock` from Lightning's training loop."""

    def __init__(self, clock: StepClock) -> None:
        super().__init__()
        self.clock = clock

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Set up: tell the parent, wait for the first chunk."""
        say("ready")
        self.clock.wait_for_chunk()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        """Record the step's end."""
        self.clock.tick(pl_module.device)


def setup_data(cfg: DictConfig) -> FTIRDataModule:
    """The DataModule of ``cfg.data``, set up (cube read, preprocessed, band weights)."""
    if cfg.get("threads"):
        torch.set_num_threads(int(cfg.threads))
    L.seed_everything(cfg.seed, verbose=False)
    datamodule = build(cfg.data)
    datamodule.prepare_data()
    datamodule.setup("fit")
    return datamodule


def build_module(
    cfg: DictConfig, datamodule: FTIRDataModule, **kwargs: object
) -> FTIRUnmixerModule:
    """The network and loss of ``cfg.model`` and ``cfg.loss`` for the DataModule's cube."""
    return build(
        cfg.model,
        num_bands=datamodule.num_bands,
        loss_name=cfg.loss.name,
        band_weights=datamodule.band_weight_estimate.weights,
        **kwargs,
    )


def matmul_peak_gflops(device: torch.device, dtype: torch.dtype, size: int, repeats: int) -> float:
    """Best-of-``repeats`` throughput of a ``size``×``size`` matrix product, in GFLOP/s."""
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    torch.mm(a, b)
    best = math.inf
    for _ in range(repeats):
        sync(device)
        start = time.perf_counter()
        torch.mm(a, b)
        sync(device)
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best / 1e9


def run_ours(cfg: DictConfig, args: argparse.Namespace) -> dict:
    """Train with the package's Lightning loop for warm-up + timed steps."""
    datamodule = setup_data(cfg)
    module = build_module(cfg, datamodule)
    clock = StepClock(args.warmup, args.steps)
    # The run as ``train`` starts it (progress bar, step seeder, checkpoints at epoch ends),
    # except the results writer, whose work comes after the last step.
    callbacks = [
        build(node)
        for node in cfg.callbacks.values()
        if node and "_target_" in node and not issubclass(get_class(node._target_), ResultsWriter)
    ]
    trainer: L.Trainer = build(
        cfg.trainer,
        callbacks=[*callbacks, StepClockCallback(clock)],
        logger=False,
        max_epochs=-1,
        max_steps=args.warmup + args.steps,
    )
    trainer.fit(module, datamodule=datamodule)
    clock.finish()
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    device = module.device
    shape = shape_info(cfg, datamodule)
    report = {
        **clock.summary(device),
        "peak_rss_bytes": peak_rss,
        "device": str(device),
        **shape,
        "flops_per_step": count_flops(module, shape["batch_size"], shape["window"]),
    }
    if args.peak:
        bf16 = str(cfg.trainer.precision).startswith("bf16")
        dtype = torch.bfloat16 if bf16 else torch.float32
        report["matmul_peak_gflops"] = matmul_peak_gflops(
            device, dtype, args.mm_size, args.mm_repeats
        )
        report["matmul_dtype"] = str(dtype)
    return report


def authors_patches(cube: np.ndarray, cfg: DictConfig) -> tuple[torch.Tensor, np.ndarray]:
    """All patches of one epoch, materialised as the authors' approach does.

    As scikit-learn's ``extract_patches_2d(cube, (p, p), max_patches=N)``: a strided view of
    every p×p window, ``N = data.patches_per_epoch`` random positions drawn with replacement,
    and one fancy-indexing copy into an (N, p, p, B) float32 array (scikit-learn itself caps
    N at the number of distinct positions, 18 960 on a 320×64 image; here all N are drawn).
    ``torch.tensor`` copies the array into a tensor, which is permuted to (N, B, p, p) and
    made contiguous: three copies of the patch array exist at the peak. The array is returned
    too, since the authors' notebook keeps it alive.
    """
    p = cfg.data.patch_size
    windows = np.lib.stride_tricks.sliding_window_view(cube, (p, p, cube.shape[2]))
    rng = np.random.RandomState(cfg.seed)
    rows = rng.randint(windows.shape[0], size=cfg.data.patches_per_epoch)
    cols = rng.randint(windows.shape[1], size=cfg.data.patches_per_epoch)
    patches = windows[rows, cols, 0]
    tensor = torch.tensor(patches).permute(0, 3, 1, 2).contiguous()
    return tensor, patches


def run_authors(cfg: DictConfig, args: argparse.Namespace) -> dict:
    """Materialise the epoch's patches, then train with a plain loop over a DataLoader."""
    datamodule = setup_data(cfg)
    device = torch.device(
        "cuda"
        if cfg.trainer.accelerator in ("gpu", "cuda") and torch.cuda.is_available()
        else "cpu"
    )
    start = time.perf_counter()
    tensor, patches = authors_patches(datamodule.cube.numpy(), cfg)
    loader = DataLoader(TensorDataset(tensor), batch_size=cfg.data.batch_size, shuffle=True)
    materialise_s = time.perf_counter() - start
    module = build_module(
        cfg,
        datamodule,
        channels_last=False,
        compile=False,
        fused_adam=False,
        patch_kernels=False,
    ).to(device)
    module.train()
    optimiser = module.configure_optimizers()
    clock = StepClock(args.warmup, args.steps)
    say("ready")
    clock.wait_for_chunk()
    while len(clock.durations) < clock.total:
        for (x,) in loader:
            x = x.to(device)
            optimiser.zero_grad()
            module.batch_loss(x).backward()
            optimiser.step()
            clock.tick(device)
            if len(clock.durations) == clock.total:
                break
    clock.finish()
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    shape = shape_info(cfg, datamodule)
    return {
        **clock.summary(device),
        "peak_rss_bytes": peak_rss,
        "device": str(device),
        "materialise_s": materialise_s,
        "patch_array_bytes": int(patches.nbytes),
        **shape,
        "flops_per_step": count_flops(module, shape["batch_size"], shape["window"]),
    }


def shape_info(cfg: DictConfig, datamodule: FTIRDataModule) -> dict:
    """The cube and batch geometry the FLOP count needs.

    ``window`` is what one batch element covers: the p×p patch, or in the full-image mode the
    whole image or the crop.
    """
    height, width, bands = datamodule.cube.shape
    if cfg.data.get("mode", "patches") == "full_image":
        window = list(cfg.data.crop_size or (height, width))
    else:
        window = [int(cfg.data.patch_size)] * 2
    return {
        "cube_shape": [int(height), int(width), int(bands)],
        "num_bands": int(bands),
        "batch_size": int(cfg.data.batch_size),
        "patch_size": int(cfg.data.patch_size),
        "window": [int(w) for w in window],
        "patches_per_epoch": int(cfg.data.patches_per_epoch),
        "steps_per_epoch": math.ceil(cfg.data.patches_per_epoch / cfg.data.batch_size),
    }


def inside_share(size: int, kernel: int) -> float:
    """Share of a zero-padded ("same") convolution's taps that land inside ``size`` inputs."""
    half = kernel // 2
    inside = sum(min(u + half, size - 1) - max(u - half, 0) + 1 for u in range(size))
    return inside / (size * kernel)


def padded_share(x_shape: list[int], w_shape: list[int], padding: list[int]) -> float:
    """Share of a convolution's products that do not multiply its zero padding."""
    if not any(padding):
        return 1.0
    return math.prod(
        inside_share(size, kernel) for size, kernel in zip(x_shape[2:], w_shape[2:], strict=True)
    )


def conv_inside(x_shape, w_shape, bias, stride, padding, *args, **kwargs) -> int:
    """``FlopCounterMode`` formula: a convolution's FLOPs without its zero-padding products.

    Wraps torch's own formula (``__wrapped__``: the one on shapes, which ``FlopCounterMode``
    wraps again for a custom mapping).
    """
    count = flop_counter.conv_flop.__wrapped__
    flops = count(x_shape, w_shape, bias, stride, padding, *args, **kwargs)
    return round(flops * padded_share(x_shape, w_shape, padding))


def conv_backward_inside(grad_shape, x_shape, w_shape, bias, stride, padding, *args, **kwargs):
    """``FlopCounterMode`` formula: the same for a convolution's backward pass."""
    count = flop_counter.conv_backward_flop.__wrapped__
    flops = count(grad_shape, x_shape, w_shape, bias, stride, padding, *args, **kwargs)
    return round(flops * padded_share(x_shape, w_shape, padding))


IN_PLACE = {torch.ops.aten.addmm_: flop_counter.addmm_flop.__wrapped__}
"""In-place matrix products (the patch kernels accumulate with them), which ``FlopCounterMode``
does not count by default."""

INSIDE_FORMULAS = {
    **IN_PLACE,
    torch.ops.aten.convolution: conv_inside,
    torch.ops.aten.convolution_backward: conv_backward_inside,
}
"""FLOP formulas that leave out the products with the zero padding (which oneDNN skips)."""


def count_flops(
    module: FTIRUnmixerModule, batch_size: int, window: tuple[int, int]
) -> dict[str, int]:
    """FLOPs of one training step (eager forward + backward) of ``module``, ``batch_size`` windows.

    Counted on what the module runs (its patch kernels, if it takes them): ``forward``,
    ``backward`` and ``total`` count every convolution at its full kernel × output size, as
    ``FlopCounterMode`` does; ``total_inside`` leaves out the products with the convolutions'
    zero padding (about a third at 5×5 patches), which oneDNN skips.
    """
    x = torch.rand(batch_size, module.hparams.num_bands, *window, device=module.device)
    with FlopCounterMode(display=False, custom_mapping=IN_PLACE) as forward:
        module.batch_loss(x)
    with FlopCounterMode(display=False, custom_mapping=IN_PLACE) as step:
        module.batch_loss(x).backward()
    with FlopCounterMode(display=False, custom_mapping=INSIDE_FORMULAS) as inside:
        module.batch_loss(x).backward()
    fwd, total = forward.get_total_flops(), step.get_total_flops()
    return {
        "forward": fwd,
        "backward": total - fwd,
        "total": total,
        "total_inside": inside.get_total_flops(),
    }


class Worker:
    """Parent side: one approach in its own interpreter, driven chunk by chunk.

    Args:
        name: the row's name.
        kind: ``ours`` or ``authors``.
        overrides: Hydra overrides for its configuration.
        args: the benchmark's options.
        peak: measure the matrix-multiply peak at the end of its run.
    """

    def __init__(
        self, name: str, kind: str, overrides: list[str], args: argparse.Namespace, peak: bool
    ) -> None:
        self.name = name
        self.stderr = tempfile.TemporaryFile(mode="w+")
        command = [
            sys.executable,
            str(Path(__file__).resolve()),
            f"--worker={kind}",
            f"--steps={args.steps}",
            f"--warmup={args.warmup}",
            f"--mm-size={args.mm_size}",
            f"--mm-repeats={args.mm_repeats}",
            *(["--peak"] if peak else []),
            *(f"--set={override}" for override in overrides),
        ]
        print(f"[benchmark] {name}: setting up", file=sys.stderr, flush=True)
        self.process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            text=True,
        )
        self.expect("ready")

    def expect(self, word: str) -> str:
        """Read the worker's stdout up to its next protocol message, which must start with ``word``.

        A message may end a line that the progress bar began (it redraws with carriage returns,
        without newlines).
        """
        for line in self.process.stdout:
            _, found, message = line.partition(MARK)
            if found and message.strip().startswith(word):
                return message.strip()[len(word) :].strip()
        self.process.wait()
        self.stderr.seek(0)
        sys.stderr.write(self.stderr.read())
        raise SystemExit(f"benchmark worker {self.name!r} failed (exit {self.process.returncode}).")

    def run(self, steps: int) -> None:
        """Let the worker run ``steps`` steps and wait until it has."""
        self.process.stdin.write(f"run {steps}\n")
        self.process.stdin.flush()
        self.expect("done")

    def report(self) -> dict:
        """Ask for the worker's final report (after its last chunk) and return it."""
        self.process.stdin.write("report\n")
        self.process.stdin.flush()
        report = json.loads(self.expect("report"))
        self.process.wait()
        self.stderr.close()
        return report


def run_workers(rows: dict[str, tuple[str, list[str]]], args: argparse.Namespace) -> dict:
    """Set up every row, warm each up, then time them in interleaved chunks.

    Each turn starts with the next row, so every row runs after every other equally often.
    """
    workers = [
        Worker(name, kind, overrides, args, peak=index == 0)
        for index, (name, (kind, overrides)) in enumerate(rows.items())
    ]
    for worker in workers:
        print(f"[benchmark] {worker.name}: warm-up", file=sys.stderr, flush=True)
        worker.run(args.warmup)
    print(f"[benchmark] timing {args.steps} steps each", file=sys.stderr, flush=True)
    for turn, start in enumerate(range(0, args.steps, args.chunk)):
        first = turn % len(workers)
        for worker in workers[first:] + workers[:first]:
            worker.run(min(args.chunk, args.steps - start))
    return {worker.name: worker.report() for worker in workers}


def add_throughput(report: dict, flops: dict[str, int], peak_gflops: float) -> None:
    """Epoch time, patches/s and achieved GFLOP/s (all FLOPs and inside ones) from the step."""
    step_s = report["step_ms"] / 1e3
    report["epoch_s_extrapolated"] = step_s * report["steps_per_epoch"]
    report["patches_per_s"] = report["batch_size"] / step_s
    report["pixels_per_s"] = report["batch_size"] * math.prod(report["window"]) / step_s
    report["gflops"] = flops["total"] / step_s / 1e9
    report["peak_fraction"] = report["gflops"] / peak_gflops
    report["peak_fraction_inside"] = flops["total_inside"] / step_s / 1e9 / peak_gflops


def machine_info(threads: int | None, load_before: float) -> dict:
    """CPU, cores, torch version and threads of this machine; its load before the run."""
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        names = [
            line.split(":", 1)[1].strip()
            for line in cpuinfo.read_text().splitlines()
            if line.startswith("model name")
        ]
        cpu = names[0] if names else cpu
    gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else None
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "gpu": gpu,
        "torch_threads": threads or torch.get_num_threads(),
        "load_average_before": load_before,
        "torch": torch.__version__,
        "python": platform.python_version(),
    }


def format_table(result: dict) -> str:
    """The side-by-side table as text."""
    rows = result["approaches"]
    any_row = next(iter(rows.values()))
    lines = [
        f"cube {'×'.join(map(str, any_row['cube_shape']))}, batch {any_row['batch_size']}, "
        f"{any_row['patches_per_epoch']} patches/epoch = {any_row['steps_per_epoch']} steps, "
        f"{result['settings']['steps']} timed steps after {result['settings']['warmup']} "
        f"warm-up; {result['machine']['cpu']}, {result['machine']['torch_threads']} threads",
        "",
        f"{'approach':<24}{'step ms':>9}{'(IQR)':>15}{'cpu ms':>8}{'epoch s*':>10}{'windows/s':>11}"
        f"{'pixels/s':>10}{'peak RSS':>11}{'GFLOP':>13}{'GFLOP/s':>9}{'% peak':>8}{'% peak†':>9}",
    ]
    for name, row in rows.items():
        iqr = f"{row['step_ms_q1']:.0f}–{row['step_ms_q3']:.0f}"
        flops = row["flops_per_step"]
        gflop = f"{flops['total'] / 1e9:.2f}/{flops['total_inside'] / 1e9:.2f}†"
        lines.append(
            f"{name:<24}{row['step_ms']:>9.1f}{iqr:>15}{row['cpu_ms_median']:>8.1f}"
            f"{row['epoch_s_extrapolated']:>10.1f}"
            f"{row['patches_per_s']:>11.4g}{row['pixels_per_s']:>10.0f}"
            f"{row['peak_rss_bytes'] / 2**30:>9.2f}GB{gflop:>13}"
            f"{row['gflops']:>9.1f}{100 * row['peak_fraction']:>7.0f}%"
            f"{100 * row['peak_fraction_inside']:>8.0f}%"
        )
    lines += [
        "* epoch time extrapolated: median step time × steps per epoch. Windows: patches, or "
        "whole images (crops) in the full-image rows. cpu ms: median CPU time of the process "
        "per step.",
        "GFLOP: per step, counted on what each row runs (forward + backward; convolutions at "
        "their full kernel × output size); † without the products with the zero padding, "
        "which oneDNN skips in its forward convolutions and the patch kernels skip throughout.",
        f"Matmul peak {result['matmul_peak_gflops']:.1f} GFLOP/s ({result['matmul_dtype']}).",
        "",
    ]
    load = result["machine"]["load_average_before"]
    if load >= 1:
        lines += [
            f"Busy machine: load average {load:.1f} before the run, on "
            f"{result['machine']['cores']} cores. The timings include other processes' work, and "
            "with several threads OpenMP waits for descheduled ones: try --threads 1.",
            "",
        ]
    for key, ratio in result["ratios"].items():
        label, comparison, bound = TARGETS[key]
        verdict = "met" if ratio["met"] else "NOT met"
        lines.append(
            f"{label:<42}{ratio['value']:>7.3f}   target {comparison} {bound:.3g}: {verdict}"
        )
    lines.append(
        f"{'CPU time per step, ours / authors':<42}{result['cpu_ratio']:>7.3f}   (steadier than "
        "the step time on a shared machine; the target is on the step time)"
    )
    return "\n".join(lines)


def summarise(
    reports: dict[str, dict], cfg: DictConfig, args: argparse.Namespace, load_before: float
) -> dict:
    """Combine the workers' reports: FLOPs, throughput, ratios and targets."""
    ours, authors = reports["ours"], reports["authors"]
    peak = ours["matmul_peak_gflops"]
    for report in reports.values():
        add_throughput(report, report["flops_per_step"], peak)
    flops = ours["flops_per_step"]
    ratios = {
        "rss_ratio": ours["peak_rss_bytes"] / authors["peak_rss_bytes"],
        "step_ratio": ours["step_ms"] / authors["step_ms"],
        "peak_fraction": ours["peak_fraction"],
        "peak_fraction_inside": ours["peak_fraction_inside"],
    }
    return {
        "machine": machine_info(cfg.get("threads"), load_before),
        "settings": {
            "overrides": args.set,
            "steps": args.steps,
            "warmup": args.warmup,
            "quick": args.quick,
        },
        "flops_per_step": flops,
        "matmul_peak_gflops": peak,
        "matmul_dtype": ours["matmul_dtype"],
        "cpu_ratio": ours["cpu_ms_median"] / authors["cpu_ms_median"],
        "approaches": reports,
        "ratios": {
            key: {"value": value, "met": meets(key, value)} for key, value in ratios.items()
        },
    }


def meets(key: str, value: float) -> bool:
    """Whether ``value`` meets the target ``key`` of :data:`TARGETS`."""
    _, comparison, bound = TARGETS[key]
    return value <= bound if comparison == "<=" else value >= bound


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a Hydra override of conf/train.yaml, e.g. --set synthetic.num_tiles=2 "
        "--set model.compile=true --set trainer=gpu (repeatable)",
    )
    parser.add_argument("--steps", type=int, default=40, help="timed steps (default 40)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed first steps (default 5)")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")
    parser.add_argument(
        "--ablation",
        action="store_true",
        help="add rows for our loop with no switch, each switch alone and all: "
        + ", ".join(ABLATION),
    )
    parser.add_argument(
        "--full-image",
        action="store_true",
        help="add a row for full-image training (data.mode=full_image, one whole image per "
        "step, 24 steps per epoch: the pixels of 20 000 patches of 5×5 on the 320×64 scene)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="10 steps after 2, small matmul (for the tests)"
    )
    parser.add_argument(
        "--json", type=Path, default=Path("outputs/benchmark.json"), help="report path"
    )
    parser.add_argument("--mm-size", type=int, default=4096, help=argparse.SUPPRESS)
    parser.add_argument("--mm-repeats", type=int, default=5, help=argparse.SUPPRESS)
    parser.add_argument(
        "--chunk", type=int, default=5, help="timed steps per turn of each approach (default 5)"
    )
    parser.add_argument("--worker", choices=["ours", "authors"], help=argparse.SUPPRESS)
    parser.add_argument("--peak", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick and not args.worker:
        args.steps, args.warmup, args.mm_size, args.mm_repeats = 10, 2, 1024, 3
    if args.threads:
        args.set.append(f"threads={args.threads}")
    if args.warmup < 1 or args.steps < 1:
        parser.error("--warmup and --steps must be at least 1.")
    return args


def main(argv: list[str] | None = None) -> None:
    """Run the workers, print the table and write the JSON report."""
    args = parse_args(argv)
    with tempfile.TemporaryDirectory() as output_dir:
        cfg = compose_config(args.set, output_dir)
        if args.worker:
            run = run_ours if args.worker == "ours" else run_authors
            say("report " + json.dumps(run(cfg, args)))
            return
    load_before = os.getloadavg()[0]
    rows = {"ours": ("ours", args.set)}
    if args.ablation:
        for name, overrides in ABLATION.items():
            rows[f"ours: {name}"] = ("ours", [*args.set, *overrides])
    if args.full_image:
        rows["ours: full image"] = ("ours", [*args.set, *FULL_IMAGE])
    rows["authors"] = ("authors", args.set)
    reports = run_workers(rows, args)
    result = summarise(reports, cfg, args, load_before)
    print(format_table(result))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2))
    print(f"\nwritten to {args.json}")


if __name__ == "__main__":
    main()
