"""Sweeps end to end: one W&B run per job, the report, failed jobs, resuming, exit status."""

import csv
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from conftest import TINY_RUN, TINY_SCENE
from ftir_unmixer.cli import main as cli
from ftir_unmixer.io.results_file import read_results
from ftir_unmixer.training.pipeline import run

TINY_JOB = [
    *TINY_SCENE,
    "model.hidden_channels=8",
    "data.patches_per_epoch=48",
    "data.batch_size=16",
    "threads=1",
]


def _train(*overrides: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run(
        [sys.executable, "-m", "ftir_unmixer.train", *overrides],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )


def _pb_string(text: str) -> bytes:
    """A short string as protobuf stores it (length byte, UTF-8): ``sad-…`` ≠ ``wsad-…``."""
    return bytes([len(text)]) + text.encode()


def _wandb_run(job):
    """The job's only offline W&B run directory and its transaction log's bytes."""
    runs = list((job / "wandb").glob("offline-run-*"))
    assert len(runs) == 1, runs
    (log,) = runs[0].glob("run-*.wandb")
    return runs[0], log.read_bytes()


def test_tiny_multirun_one_wandb_run_per_job_and_report(tmp_path):
    sweep = tmp_path / "sweep"
    done = _train(
        "-m",
        "loss.name=sad,wsad",
        "model.num_endmembers=3,4",
        *TINY_JOB,
        "trainer.max_epochs=2",
        "logger=wandb",
        "callbacks.figure_logger.every_n_epochs=1",
        "task_name=tinysweep",
        f"hydra.sweep.dir={sweep}",
        f"paths.data_dir={tmp_path / 'data'}",
    )
    assert done.returncode == 0, done.stderr[-3000:]
    expected = {"0": "sad-K3-s42", "1": "sad-K4-s42", "2": "wsad-K3-s42", "3": "wsad-K4-s42"}
    run_ids = set()
    for num, name in expected.items():
        job = sweep / num
        result = read_results(job / "results.h5")
        loss, k = name.split("-")[:2]
        assert (result.attrs["loss"], result.num_endmembers) == (loss, int(k[1:]))
        run_dir, log = _wandb_run(job)
        run_ids.add(run_dir.name.rsplit("-", 1)[-1])
        # The run record carries the derived name, group and tags; the summary the metrics.
        assert _pb_string(name) in log
        assert _pb_string("tinysweep") in log and _pb_string(k) in log and _pb_string(loss) in log
        assert b"gt/mean_angle_deg" in log
        for other in set(expected.values()) - {name}:
            assert _pb_string(other) not in log
        # Figures after epoch 1, epoch 2 and at the end, as PNG media.
        images = list((run_dir / "files" / "media" / "images" / "figures").glob("*.png"))
        for figure in ("abundance_maps", "endmembers", "band_weights"):
            assert len([p for p in images if p.name.startswith(figure)]) == 3, figure
        # The explorer beside results.h5, logged unchanged as the W&B HTML panel "explorer".
        (panel,) = (run_dir / "files" / "media" / "html").glob("explorer_*.html")
        assert panel.read_bytes() == (job / "explorer.html").read_bytes()
        assert b'"explorer"' in log
    assert len(run_ids) == 4

    assert cli(["report", str(sweep), "--explore"]) == 0
    report = sweep / "report"
    with open(report / "summary.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 4
    assert {(r["loss.name"], r["model.num_endmembers"], r["status"]) for r in rows} == {
        ("sad", "3", "ok"),
        ("sad", "4", "ok"),
        ("wsad", "3", "ok"),
        ("wsad", "4", "ok"),
    }
    for figure in (
        "sad_vs_wsad_K3_s42.png",
        "sad_vs_wsad_K4_s42.png",
        "k_selection_maps_loss.name_sad.png",
        "k_selection_evidence_loss.name_wsad.png",
    ):
        assert (report / figure).stat().st_size > 5000, figure
    assert "recommended K" in (report / "summary.md").read_text()
    # One explorer per SAD/WSAD pair, holding both runs.
    assert sorted(p.name for p in report.glob("explorer_*.html")) == [
        "explorer_K3_s42.html",
        "explorer_K4_s42.html",
    ]
    pair = (report / "explorer_K4_s42.html").read_text()
    assert "SAD (job 1)" in pair and "WSAD (job 3)" in pair


def _main(monkeypatch, *argv: str) -> None:
    """``python -m ftir_unmixer.train ARGV`` in this process (imports already paid for)."""
    from ftir_unmixer.train import main

    monkeypatch.setattr(sys, "argv", ["train", *argv])
    main()


def test_a_failing_job_is_recorded_and_the_sweep_goes_on(tmp_path, monkeypatch):
    sweep = tmp_path / "sweep"
    _main(
        monkeypatch,
        "-m",
        "model.num_endmembers=200,3",
        *TINY_JOB,
        "trainer.max_epochs=1",
        "logger=none",
        f"hydra.sweep.dir={sweep}",
        f"paths.data_dir={tmp_path / 'data'}",
    )
    error = (sweep / "0" / "error.txt").read_text()
    assert "model.num_endmembers=200" in error and "Traceback" not in error
    assert not (sweep / "0" / "results.h5").exists()
    assert "Job 0 (model.num_endmembers=200" in (sweep / "0" / "train.log").read_text()
    assert read_results(sweep / "1" / "results.h5").num_endmembers == 3
    assert cli(["report", str(sweep)]) == 0
    markdown = (sweep / "report" / "summary.md").read_text()
    assert "2 jobs: 1 finished, 1 failed" in markdown
    assert "- job 0 (model.num_endmembers=200" in markdown


BAD_SETTINGS = {
    # override: (the one sentence, whether the input must be read to find the problem)
    "model.num_endmembers=200": (r"model\.num_endmembers=200 is impossible for 120 bands", True),
    "data.patch_size=13": (r"data\.patch_size=13 .*choose an odd patch size of at most 9\.", True),
    "data.path=DIR": (r"data\.path=\S+: is a directory; give a file inside it\.", False),
    "model.lr=abc": (r"model\.lr='abc' must be a number \(default 0\.005\)", False),
    "model.lr=-0.01": (r"model\.lr=-0\.01 must be positive; the paper uses 0\.005\.", True),
    "trainer=gpu": (r"no GPU is available to torch on this machine; use trainer=cpu", False),
}


@pytest.mark.parametrize("override", BAD_SETTINGS)
def test_a_single_run_stops_on_a_user_error_with_one_sentence_and_status_2(
    tmp_path, monkeypatch, override
):
    import re

    from ftir_unmixer.training import checks

    monkeypatch.setattr(checks, "gpu_available", lambda: False)  # a GPU machine too
    message, reads_input = BAD_SETTINGS[override]
    (tmp_path / "folder").mkdir()
    with pytest.raises(SystemExit) as stop:
        _main(
            monkeypatch,
            *TINY_RUN,
            override.replace("DIR", str(tmp_path / "folder")),
            f"hydra.run.dir={tmp_path / 'run'}",
            f"paths.data_dir={tmp_path / 'data'}",
        )
    assert stop.value.code == 2
    log = (tmp_path / "run" / "train.log").read_text()
    errors = [line for line in log.splitlines() if "[ERROR]" in line]
    assert len(errors) == 1 and re.search(message, errors[0]), log
    assert errors[0].endswith(".") and "Traceback" not in log
    assert not (tmp_path / "run" / "error.txt").exists()
    assert not (tmp_path / "run" / "results.h5").exists()
    # Settings that are wrong whatever the data stop before the scene is even generated.
    assert (tmp_path / "data").exists() == reads_input


def test_resuming_from_the_last_checkpoint_ends_as_the_uninterrupted_run(compose_train, tmp_path):
    out = tmp_path / "run"
    run(compose_train([*TINY_RUN, "trainer.max_epochs=2"]))
    straight = read_results(out / "results.h5")
    shutil.rmtree(out)
    run(compose_train([*TINY_RUN, "trainer.max_epochs=1"]))  # "killed" after one epoch
    resumed_cfg = compose_train(
        [*TINY_RUN, "trainer.max_epochs=2", f"ckpt_path={out / 'checkpoints' / 'last.ckpt'}"]
    )
    run(resumed_cfg)
    resumed = read_results(out / "results.h5")
    assert resumed.attrs["epochs"] == straight.attrs["epochs"] == 2
    assert resumed.attrs["global_step"] == straight.attrs["global_step"]
    np.testing.assert_array_equal(resumed.endmembers, straight.endmembers)
    np.testing.assert_array_equal(resumed.abundances, straight.abundances)


def test_figures_go_to_tensorboard_every_n_epochs_and_at_the_end(compose_train, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    cfg = compose_train(
        [*TINY_RUN, "logger=tensorboard", "callbacks.figure_logger.every_n_epochs=1"]
    )
    run(cfg)
    (events,) = (tmp_path / "run" / "tensorboard").rglob("events.out.tfevents.*")
    log = EventAccumulator(str(events), size_guidance={"images": 0})
    log.Reload()
    assert set(log.Tags()["images"]) == {
        "figures/abundance_maps",
        "figures/endmembers",
        "figures/band_weights",
    }
    # After epoch 1 (step 3), epoch 2 and at the end (both step 6).
    assert [e.step for e in log.Images("figures/endmembers")] == [3, 6, 6]
    assert "gt/mean_angle_deg" in log.Tags()["scalars"]
