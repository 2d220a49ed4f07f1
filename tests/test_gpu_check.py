"""scripts/gpu_check.py --dry-run: the GPU check's four steps on a tiny scene on the CPU.

No timing is asserted (the machine may be shared); the report must say that its figures are
no GPU figures, and every step must have run and reported what it measured.
"""

import json
import re
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "gpu_check.py"


def test_dry_run_runs_every_step_and_says_it_is_no_gpu_figure(tmp_path):
    out, work = tmp_path / "gpu.md", tmp_path / "work"
    command = [sys.executable, str(SCRIPT), "--dry-run", f"--out={out}", f"--work={work}"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    markdown = out.read_text()
    report = json.loads((work / "gpu_check.json").read_text())

    assert markdown.startswith("# GPU check\n\n> **Dry run: no GPU figures.**")
    assert "CPU only" in markdown and "GiB (GPU)" not in markdown
    assert report["profile"] == "dry run" and report["machine"]["gpus"] == []
    # 1. Throughput: both precisions at both batches, measured; compilation left out.
    rows = {(r["precision"], r["compiled"], r["batch"]): r for r in report["throughput"]}
    for precision in ("32-true", "bf16-mixed"):
        for batch in (16, 64):
            row = rows[precision, False, batch]
            assert row["step_ms"] > 0
            assert row["patches_per_s"] == batch / row["step_ms"] * 1e3
        assert rows[precision, True, 64]["note"] == "not in the dry run"
        assert f"| {precision} | yes | 64 | – |" in markdown
    # 2. The sweep: two jobs and its report.
    assert report["sweep"]["status"] == 0 and report["sweep"]["jobs"] == 2
    assert (work / "sweep" / "report" / "summary.md").exists()
    # 3. DDP on two CPU processes: one epoch of one step per rank.
    assert report["ddp"]["status"] == 0 and report["ddp"]["devices"] == 2
    assert report["ddp"]["epochs"] == 1 and report["ddp"]["global_step"] == 1
    # 4. The paper's runs: both epochs, memory, and ground-truth angles between 0 and 90°.
    paper = report["paper"]
    assert paper["epochs"] == 2 and paper["where"] == "on the CPU"
    for name in ("paper_sad", "paper_wsad"):
        run = paper["runs"][name]
        assert run["status"] == 0 and run["epochs_run"] == 2 and not run["extrapolated"]
        assert run["peak_of"] == "RSS" and run["peak_bytes"] > 100e6
        angle = run["metrics"]["gt/mean_angle_deg"]
        assert 0 < angle < 90
        assert re.search(rf"\| {name} \| 2 \| \d+ s \| \d+ s \| .* \| {angle:.3f} \|", markdown)
