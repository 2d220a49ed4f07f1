"""``ftir-unmixer report`` on hand-made sweep directories (no training)."""

import csv

import numpy as np
import pytest
import yaml

from fake_results import WAVENUMBERS, fake_result, layers, peak
from ftir_unmixer.cli import main as cli
from ftir_unmixer.errors import FTIRUnmixerError
from ftir_unmixer.evaluation.spectral_angles import spectral_angle_deg
from ftir_unmixer.io.input_file import read_input
from ftir_unmixer.io.results_file import write_results
from ftir_unmixer.sweep_report.jobs import collect_jobs, swept_keys
from ftir_unmixer.sweep_report.writer import write_report


def _spectra(k: int) -> np.ndarray:
    return np.stack([peak(c, width=80.0) for c in np.linspace(3500, 1100, k)], 1)


def _result(e, a, *, loss="wsad", seed=42, wavenumbers=WAVENUMBERS, input_path="", metrics=None):
    attrs = {
        "config": {},
        "method": "ftir_unmixer",
        "loss": loss,
        "num_endmembers": e.shape[1],
        "seed": seed,
        "version": "test",
        "input": input_path,
        "gt/mean_angle_deg": 5.0,
        "gt/angle_deg/chalk": 3.0,
        "diag/num_near_duplicates": 0.0,
        **(metrics or {}),
    }
    return fake_result(e, a, wavenumbers=wavenumbers, error_deg=20.0 / e.shape[1], attrs=attrs)


def _job(root, name, overrides, *, k=3, order=None, result=None, **kwargs):
    """A finished job: .hydra/overrides.yaml and a results.h5 (``k`` layered components)."""
    job = root / name
    (job / ".hydra").mkdir(parents=True)
    (job / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
    order = list(range(k)) if order is None else order
    if result is None:
        kwargs.setdefault("input_path", str(root / "missing.h5"))
        result = _result(_spectra(k)[:, order], layers(k, rows=4, cols=3)[:, :, order], **kwargs)
    write_results(job / "results.h5", result)
    return job


def _failed_job(root, name, overrides, error):
    job = root / name
    (job / ".hydra").mkdir(parents=True)
    (job / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
    (job / "error.txt").write_text(error)


def _read_csv(path):
    with open(path) as fh:
        return list(csv.DictReader(fh))


@pytest.fixture
def loss_by_k_sweep(tmp_path):
    """loss.name=sad,wsad × model.num_endmembers=3,4, one failed job, one killed job."""
    root = tmp_path / "sweep"
    num = 0
    for loss in ("sad", "wsad"):
        for k in (3, 4):
            order = list(reversed(range(k))) if loss == "wsad" else None
            _job(
                root,
                str(num),
                [f"loss.name={loss}", f"model.num_endmembers={k}", "threads=1"],
                loss=loss,
                k=k,
                order=order,
            )
            num += 1
    _failed_job(
        root,
        "4",
        ["loss.name=wsad", "model.num_endmembers=200", "threads=1"],
        "model.num_endmembers=200 is impossible for 30 bands; choose K with 2 ≤ K < 30.\n",
    )
    killed = root / "5" / ".hydra"
    killed.mkdir(parents=True)
    (killed / "overrides.yaml").write_text(
        yaml.safe_dump(["loss.name=sad", "model.num_endmembers=5", "threads=1"])
    )
    return root


def test_jobs_statuses_and_swept_keys(loss_by_k_sweep):
    jobs = collect_jobs(loss_by_k_sweep)
    assert [j.name for j in jobs] == ["0", "1", "2", "3", "4", "5"]
    assert [j.status for j in jobs] == ["ok"] * 4 + ["failed", "incomplete"]
    assert swept_keys(jobs) == ["loss.name", "model.num_endmembers"]


def test_report_table_failed_jobs_and_figures(loss_by_k_sweep, capsys):
    assert cli(["report", str(loss_by_k_sweep)]) == 0
    out = loss_by_k_sweep / "report"
    rows = _read_csv(out / "summary.csv")
    assert len(rows) == 6
    assert [r["model.num_endmembers"] for r in rows] == ["3", "4", "3", "4", "200", "5"]
    assert rows[0]["loss"] == "sad" and rows[0]["K"] == "3" and rows[0]["seed"] == "42"
    assert float(rows[0]["gt/mean_angle_deg"]) == 5.0
    assert float(rows[0]["gt/angle_deg/chalk"]) == 3.0  # per-material metrics in the CSV
    assert rows[4]["status"] == "failed" and "model.num_endmembers=200" in rows[4]["error"]
    assert rows[5]["status"] == "incomplete"
    markdown = (out / "summary.md").read_text()
    assert "6 jobs: 4 finished, 1 failed, 1 incomplete" in markdown
    assert "gt/angle_deg/chalk" not in markdown  # the Markdown table keeps scalar metrics
    assert "- job 4 (loss.name=wsad model.num_endmembers=200 threads=1): model.num" in markdown
    # Fig. 6 per K; K selection per loss (the synthetic runs have no over-modelling evidence).
    for name in (
        "sad_vs_wsad_K3_s42.png",
        "sad_vs_wsad_K4_s42.png",
        "k_selection_maps_loss.name_sad.png",
        "k_selection_evidence_loss.name_wsad.png",
    ):
        assert (out / name).stat().st_size > 5000, name
    assert "### loss.name=sad: recommended K = 4" in markdown
    assert "split test skipped (input cube not readable) for jobs 0, 1" in markdown
    printed = capsys.readouterr().out
    assert "6 jobs (4 finished, 1 failed, 1 incomplete)" in printed
    assert "recommended K (loss.name=wsad): 4" in printed


def test_seed_spread_and_replicate_stability(tmp_path):
    root = tmp_path / "seeds"
    values = [4.0, 5.0, 9.0]
    for i, v in enumerate(values):
        # Same endmembers in another order for every seed: replicate stability is 0°.
        order = list(np.roll(range(3), i))
        _job(root, str(i), [f"seed={i}"], seed=i, order=order, metrics={"gt/mean_angle_deg": v})
    report = write_report(root, tmp_path / "out")
    spread = {r["metric"]: r for r in _read_csv(tmp_path / "out" / "seed_spread.csv")}
    assert float(spread["gt/mean_angle_deg"]["mean"]) == pytest.approx(np.mean(values))
    assert float(spread["gt/mean_angle_deg"]["std"]) == pytest.approx(np.std(values, ddof=1))
    assert float(spread["replicate_stability_deg"]["mean"]) == pytest.approx(0.0, abs=1e-3)
    markdown = (tmp_path / "out" / "summary.md").read_text()
    assert "## Seed-to-seed spread" in markdown and "(3 seeds)" in markdown
    assert "SAD vs WSAD" not in markdown and "K selection" not in markdown
    assert report.recommendations == {}


def test_fig6_pairs_wsad_components_with_sad_ones(tmp_path):
    from ftir_unmixer.sweep_report.figures import plot_loss_comparison

    root = tmp_path / "paper"
    _job(root, "0", ["experiment=paper_sad"], loss="sad", k=3)
    _job(root, "1", ["experiment=paper_wsad"], loss="wsad", k=3, order=[2, 0, 1])
    jobs = collect_jobs(root)
    fig = plot_loss_comparison(jobs[0].result, jobs[1].result, "t")
    titles = [ax.get_title() for ax in fig.axes if ax.get_title().startswith("Map")]
    # Row (a) SAD maps 1–3; row (b) the WSAD maps that match them: SAD map i is WSAD's map
    # holding the same spectrum, at 0°.
    assert titles == ["Map 1", "Map 2", "Map 3", "Map 2, 0.0°", "Map 3, 0.0°", "Map 1, 0.0°"]
    write_report(root)
    assert (root / "report" / "sad_vs_wsad_K3_s42.png").is_file()


def test_report_split_test_reads_the_input_cube(tmp_path):
    from ftir_unmixer.data.synthetic import SyntheticConfig, write_synthetic

    scene = write_synthetic(
        tmp_path / "scene.h5",
        SyntheticConfig(num_tiles=1, tile_rows=12, tile_cols=8, num_bands=60, step=48.0),
    )
    data = read_input(scene)
    root = tmp_path / "ksweep"
    for k in (2, 3):
        # A K-map model of the 12×8 scene whose first map holds every pixel.
        a = np.zeros((12, 8, k))
        a[..., 0] = 1.0
        result = _result(np.ones((60, k)), a, wavenumbers=data.wavenumbers, input_path=str(scene))
        _job(root, str(k - 2), [f"model.num_endmembers={k}"], result=result)
    markdown = write_report(root).output_dir.joinpath("summary.md").read_text()
    assert "split test skipped" not in markdown
    # Map 1 holds the whole stratigraphy: resin, crust, paint and ground: it splits.
    assert "map 1 splits into two spectral clusters" in markdown
    assert spectral_angle_deg(data.cube[0, 0], data.cube[-1, -1]) > 10.0


def test_report_on_a_directory_without_jobs(tmp_path):
    with pytest.raises(FTIRUnmixerError, match="no Hydra job found"):
        write_report(tmp_path)
    assert cli(["report", str(tmp_path / "nowhere")]) == 2


def test_report_chooses_the_weight_at_the_knee(tmp_path, capsys):
    # model.volume_weight = 0 … 10 × two seeds, and a straight-line sparsity sweep. Means per
    # weight, in increasing volume: (−8, 9.0), (−4, 2.5), (−2, 2.1), (−1.5, 2.05), (−1, 2.0):
    # the knee is λ = 1 (tests/test_weight_choice.py works it out).
    root = tmp_path / "lambda"
    volumes = {0: -1.0, 0.01: -1.5, 0.1: -2.0, 1: -4.0, 10: -8.0}
    angles = {0: 2.0, 0.01: 2.05, 0.1: 2.1, 1: 2.5, 10: 9.0}
    num = 0
    for weight in volumes:
        for seed, shift in ((0, 0.1), (1, -0.1)):
            metrics = {
                "diag/mean_reconstruction_angle_deg": angles[weight] + shift,
                "diag/endmember_log_volume": volumes[weight] - shift,
                "gt/mean_angle_clean_deg": 10.0 + weight + seed,
            }
            _job(
                root,
                str(num),
                [f"model.volume_weight={weight}", f"seed={seed}"],
                seed=seed,
                metrics=metrics,
            )
            num += 1
    for weight, line in ((0.0, 1.0), (0.5, 2.0), (1.0, 3.0)):
        metrics = {"diag/mean_reconstruction_angle_deg": line, "diag/endmember_log_volume": -line}
        _job(root, str(num), [f"model.sparsity_weight={weight}"], metrics=metrics)
        num += 1
    report = write_report(root)
    assert report.weight_choices["model.volume_weight (model.sparsity_weight=)"].weight == 1.0
    assert report.weight_choices["model.sparsity_weight (model.volume_weight=)"].weight is None
    markdown = (report.output_dir / "summary.md").read_text()
    assert "## Regularisation weight (knee of the L-curve)" in markdown
    assert (
        "### model.volume_weight (model.sparsity_weight=): chosen model.volume_weight = 1"
        in markdown
    )
    assert "no knee, no model.sparsity_weight chosen" in markdown
    # The section's table: each weight, its runs, both metrics (means over the seeds), the
    # ground-truth column for checking, and the knee marked.
    assert "| 1 | 2 | 2.5 | -4 | 11.5 | knee |" in markdown
    assert "| 10 | 2 | 9 | -8 | 20.5 |  |" in markdown
    # The run table has both metrics as columns too.
    header = _read_csv(report.output_dir / "summary.csv")[0]
    assert {"model.volume_weight", "diag/endmember_log_volume"} <= header.keys()
    assert (
        report.output_dir / "weight_choice_model.volume_weight_model.sparsity_weight.png"
    ).stat().st_size > 5000
    assert cli(["report", str(root)]) == 0
    printed = capsys.readouterr().out
    assert "chosen model.volume_weight (model.sparsity_weight=): 1" in printed
    assert "chosen model.sparsity_weight (model.volume_weight=): none (no knee)" in printed
