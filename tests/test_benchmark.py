"""scripts/benchmark.py --quick on a tiny scene: the report has its fields and sane values.

No timing is asserted (the machine may be shared); the FLOP counts are checked against the
shapes of the convolutions (the authors' approach) and of the patch kernels' matrix products
(ours).
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import TINY_SCENE

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "benchmark.py"
BANDS, HIDDEN, K, P, BATCH = 120, 8, 4, 5, 16


def conv_flops(batch: int, window: tuple[int, int] = (P, P)) -> tuple[int, int, int]:
    """Forward, backward and inside-the-image FLOPs of the network at the test's shapes.

    Encoder 3×3 conv B→hidden, 1×1 conv hidden→K, decoder p×p conv K→B, every output pixel
    of every patch. Backward: the first conv needs only its weight gradient (the input needs
    none), the others both input and weight gradients. Inside the 5×5 image, a row of output
    pixels meets 2+3+3+3+2 = 13 of the 15 taps of a 3-tap kernel, 3+4+5+4+3 = 19 of 25 of a
    5-tap one.
    """
    pixels = batch * window[0] * window[1]
    conv1 = 2 * pixels * HIDDEN * BANDS * 9
    conv2 = 2 * pixels * K * HIDDEN
    decoder = 2 * pixels * BANDS * K * P * P
    inside = 2 * conv1 * (13 / 15) ** 2 + 3 * conv2 + 3 * decoder * (19 / 25) ** 2
    return conv1 + conv2 + decoder, conv1 + 2 * (conv2 + decoder), round(inside)


def patch_kernel_flops(batch: int) -> tuple[int, int, int]:
    """The same for the patch kernels (ours on a CPU).

    Forward: the 3×3 convolution (counted at full size, as oneDNN's), the 1×1 one, and the
    fused decoder and loss: the Gram matrix of the (p²K + 1)-row split kernel, its products
    with every pixel's tap columns, and each pixel's products with the data for its taps
    inside the patch (19² = 361 of 625 (pixel, tap) pairs). Backward: the 3×3 convolution's
    weight gradient over its 13² = 169 inside pairs, the 1×1 convolution's two gradients,
    the outer products of the tap columns, their product with the kernel, and the per-pixel
    data products again. Inside: all but the 3×3 forward's padding.
    """
    pixels, taps = batch * P * P, P * P * K
    conv1 = 2 * pixels * HIDDEN * BANDS * 9
    conv2 = 2 * pixels * K * HIDDEN
    data = 2 * batch * BANDS * K * 361
    forward = conv1 + conv2 + 2 * (taps + 1) ** 2 * BANDS + 2 * pixels * (taps + 1) ** 2 + data
    backward = (
        2 * batch * BANDS * HIDDEN * 169
        + 2 * conv2
        + 2 * pixels * taps**2
        + 2 * taps**2 * BANDS
        + data
    )
    inside = forward + backward - conv1 * (1 - (13 / 15) ** 2)
    return forward, backward, round(inside)


def test_quick_benchmark_writes_a_sane_report(tmp_path):
    report_path = tmp_path / "bench.json"
    overrides = [
        *TINY_SCENE,
        f"model.num_endmembers={K}",
        f"model.hidden_channels={HIDDEN}",
        f"data.batch_size={BATCH}",
        "data.patches_per_epoch=480",
        f"paths.data_dir={tmp_path / 'data'}",
    ]
    command = [
        sys.executable,
        str(SCRIPT),
        "--quick",
        "--full-image",
        "--threads=1",
        f"--json={report_path}",
        *(f"--set={override}" for override in overrides),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ours / authors" in done.stdout

    report = json.loads(report_path.read_text())
    assert set(report["approaches"]) == {"ours", "ours: full image", "authors"}
    full = report["approaches"].pop("ours: full image")
    assert full["window"] == [24, 10] and full["steps_per_epoch"] == 24
    full_forward, full_backward, _ = conv_flops(1, (24, 10))
    assert (full["flops_per_step"]["forward"], full["flops_per_step"]["backward"]) == (
        full_forward,
        full_backward,
    )
    assert full["pixels_per_s"] == pytest.approx(240 * full["patches_per_s"])
    for row in report["approaches"].values():
        assert row["cube_shape"] == [24, 10, BANDS]
        assert row["window"] == [P, P]
        assert row["steps_per_epoch"] == 30
        assert row["timed_steps"] == 10
        assert 0 < row["step_ms_q1"] <= row["step_ms_median"] <= row["step_ms_q3"]
        for key in ("step_ms", "epoch_s_extrapolated", "patches_per_s", "gflops", "peak_fraction"):
            assert row[key] > 0, key
        assert row["epoch_s_extrapolated"] == row["step_ms"] / 1e3 * 30
        assert 100e6 < row["peak_rss_bytes"] < 20e9
    # The authors' approach materialises all 480 patches of the epoch as float32.
    assert report["approaches"]["authors"]["patch_array_bytes"] == 480 * P * P * BANDS * 4

    expected = {"authors": conv_flops(BATCH), "ours": patch_kernel_flops(BATCH)}
    for name, (forward, backward, inside) in expected.items():
        flops = report["approaches"][name]["flops_per_step"]
        assert (flops["forward"], flops["backward"]) == (forward, backward), name
        assert flops["total"] == forward + backward
        assert flops["total_inside"] == pytest.approx(inside, abs=2)
    assert report["flops_per_step"] == report["approaches"]["ours"]["flops_per_step"]
    assert report["matmul_peak_gflops"] > 0
    assert set(report["ratios"]) == {
        "rss_ratio",
        "step_ratio",
        "peak_fraction",
        "peak_fraction_inside",
    }
    assert report["cpu_ratio"] > 0
    for ratio in report["ratios"].values():
        assert ratio["value"] > 0 and isinstance(ratio["met"], bool)
    assert report["machine"]["torch_threads"] == 1
