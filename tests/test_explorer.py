"""The explorer without a browser: encoding, quantisation, run data, reconstruction, the page."""

import json
import re

import numpy as np
import pytest

from explorer_runs import MASKED_PIXEL, NAMES, write_run, write_scene
from fake_results import WAVENUMBERS
from ftir_unmixer.cli import main as cli
from ftir_unmixer.data.preprocessing import make_normalizer
from ftir_unmixer.errors import FTIRUnmixerError
from ftir_unmixer.explorer.encoding import (
    LEVELS,
    decode_array,
    encode_array,
    quantisation_error,
    quantise_spectra,
)
from ftir_unmixer.explorer.figures import gap_positions, ignored_trace, maps_figure
from ftir_unmixer.explorer.page import write_explorer
from ftir_unmixer.explorer.run_data import ExplorerRun, MeasuredCube, load_run
from ftir_unmixer.io.input_file import read_input


def _payload(path):
    text = path.read_text(encoding="utf-8")
    match = re.search(
        r'<script type="application/json" id="explorer-data">(.*?)</script>', text, re.S
    )
    return json.loads(match.group(1))


@pytest.mark.parametrize("dtype", ["float64", "float32", "int8", "uint8"])
def test_arrays_round_trip_through_their_blobs(dtype):
    array = (np.arange(24).reshape(2, 3, 4) - 7).astype(dtype)
    blob = encode_array(array)
    assert blob["dtype"] == dtype and blob["shape"] == [2, 3, 4]
    np.testing.assert_array_equal(decode_array(blob), array)


def test_a_spectrum_on_its_own_grid_is_stored_exactly():
    # 128 values 0.5 apart from 3.0: the grid of the quantisation itself, so no error.
    pixels = (3.0 + 0.5 * np.arange(LEVELS + 1))[None, :]
    quantised = quantise_spectra(pixels, np.array([True]))
    assert quantised.offset[0] == 3.0 and quantised.step[0] == 0.5
    np.testing.assert_array_equal(quantised.codes()[0], np.arange(LEVELS + 1))
    assert quantised.deltas.dtype == np.int8 and quantised.deltas.shape == (LEVELS + 1, 1)
    np.testing.assert_array_equal(quantised.deltas[:, 0], [0] + [1] * LEVELS)
    np.testing.assert_array_equal(quantised.decode(), pixels)


def test_quantisation_error_is_at_most_half_a_step_of_each_pixels_range():
    rng = np.random.default_rng(0)
    pixels = rng.normal(0, 1, (50, 300)) * rng.uniform(0.01, 10, (50, 1)) + rng.normal(
        0, 5, (50, 1)
    )
    valid = np.ones(50, bool)
    valid[7] = False
    pixels[7] = np.nan
    quantised = quantise_spectra(pixels, valid)
    error = np.abs(quantised.decode()[valid] - pixels[valid])
    span = np.ptp(pixels[valid], axis=1, keepdims=True)
    assert np.all(error <= span / (2 * LEVELS) * (1 + 1e-6))
    np.testing.assert_array_equal(quantised.codes()[7], 0)
    stats = quantisation_error(pixels, quantised, valid)
    assert 0.45 / LEVELS < stats.max_relative <= 0.5 / LEVELS * (1 + 1e-6)
    # Uniform rounding error: RMS of half a step over √3.
    assert stats.rms_relative == pytest.approx(0.5 / LEVELS / np.sqrt(3), rel=0.05)
    constant = quantise_spectra(np.full((1, 5), 2.5), np.array([True]))
    np.testing.assert_array_equal(constant.decode(), 2.5)


@pytest.mark.parametrize("name", ["band_minmax", "band_quantile", "band_noise", "none"])
def test_reconstruction_in_input_units_is_the_model_reconstruction_mapped_back(name):
    # x̂′ = A·E′ᵀ/s in the model's space; mapping it back through the per-band affine
    # normalisation equals A·Eᵀ with E = endmembers_to_input(E′/s), because Σₖ aₖ = 1.
    rng = np.random.default_rng(3)
    pixels = rng.uniform(0.1, 2.0, (200, 30))
    normalizer = make_normalizer(name).fit(pixels)
    model_endmembers = rng.uniform(0, 3, (30, 4))
    scale = 2.5
    abundances = rng.dirichlet(np.ones(4), size=(5, 6))
    state = normalizer.state()
    span = state.get("span", state.get("sigma", np.ones(30)))
    lo = state.get("lo", np.zeros(30))
    expected = (abundances.reshape(30, 4) @ model_endmembers.T / scale) * span + lo
    run = _explorer_run(abundances, normalizer.endmembers_to_input(model_endmembers / scale))
    shown = np.stack([run.reconstruction(p) for p in range(30)])
    np.testing.assert_allclose(shown, expected, rtol=1e-5)


def test_pixel_l2_reconstruction_carries_the_pixel_norm():
    rng = np.random.default_rng(4)
    measured = rng.uniform(0.1, 2.0, (30, 12))
    abundances = rng.dirichlet(np.ones(3), size=(5, 6))
    model_endmembers = rng.uniform(0, 1, (12, 3))
    normalizer = make_normalizer("pixel_l2")
    norms = np.linalg.norm(measured, axis=1)
    run = _explorer_run(abundances, normalizer.endmembers_to_input(model_endmembers), norms)
    for p in (0, 17):
        # pixel_l2: x′ = x/‖x‖, so the model's x̂′ = A·E′ᵀ maps back to ‖x‖·A·E′ᵀ.
        expected = norms[p] * (model_endmembers @ abundances.reshape(30, 3)[p])
        np.testing.assert_allclose(run.reconstruction(p), expected, rtol=1e-5)


def _explorer_run(abundances, endmembers, factor=None):
    from fake_results import fake_result

    height, width, _ = abundances.shape
    bands = endmembers.shape[0]
    cube = MeasuredCube(
        path=None,
        wavenumbers=np.linspace(3000, 1000, bands),
        pixels=np.zeros((height * width, bands), np.float32),
        valid=np.ones(height * width, bool),
        shape=(height, width),
        tile_rows=[height],
        units="absorbance",
        reconstruction_factor=None if factor is None else factor.astype(np.float32),
    )
    result = fake_result(endmembers, abundances, wavenumbers=cube.wavenumbers)
    return ExplorerRun(directory=None, name="run", result=result, cube=cube)


def test_a_run_is_read_with_its_measured_cube_labels_and_ignored_bands(tmp_path):
    scene = write_scene(tmp_path / "scene.h5")
    run = load_run(write_run(tmp_path / "wsad", scene))
    data = read_input(scene)
    np.testing.assert_array_equal(run.cube.pixels, data.cube.reshape(60, -1))
    assert not run.cube.valid[MASKED_PIXEL[0] * 5 + MASKED_PIXEL[1]] and run.cube.valid.sum() == 59
    assert run.cube.tile_rows == [6, 6] and run.cube.reconstruction_factor is None
    # Endmembers are the true ones in the order (2, 0, 1): named by the ground truth.
    assert run.labels == [f"{NAMES[2]}, 0.0°", f"{NAMES[0]}, 0.0°", f"{NAMES[1]}, 0.0°"]
    assert run.details[0] == [f"ground truth: {NAMES[2]}, 0.0°"]
    expected = np.zeros(WAVENUMBERS.size, bool)
    expected[[10, 11, 12, 13, 20]] = True
    np.testing.assert_array_equal(run.ignored, expected)
    sad = load_run(write_run(tmp_path / "sad", scene, loss="sad"))
    assert not sad.ignored.any()


def test_dropped_bands_and_pixel_l2_are_prepared_as_the_run_did(tmp_path):
    scene = write_scene(tmp_path / "scene.h5")
    keep = np.r_[0:15, 25:40]
    directory = write_run(tmp_path / "run", scene, bands=keep, normalization="pixel_l2")
    run = load_run(directory)
    cube = read_input(scene).cube.reshape(60, -1)[:, keep]
    np.testing.assert_array_equal(run.cube.pixels, cube)
    valid = run.cube.valid
    np.testing.assert_allclose(
        run.cube.reconstruction_factor[valid], np.linalg.norm(cube[valid], axis=1), rtol=1e-6
    )
    assert gap_positions(run.cube.wavenumbers) == [14]


def test_a_relative_input_is_found_from_the_directory_the_run_started_in(tmp_path, monkeypatch):
    scene = write_scene(tmp_path / "scene.h5")
    run = write_run(tmp_path / "outputs" / "run", "scene.h5")
    (run / ".hydra").mkdir()
    (run / ".hydra" / "hydra.yaml").write_text(f"hydra:\n  runtime:\n    cwd: {tmp_path}\n")
    monkeypatch.chdir(run)
    assert load_run(run).cube.path == scene


def test_bad_runs_stop_with_one_sentence(tmp_path):
    scene = write_scene(tmp_path / "scene.h5")
    missing = write_run(tmp_path / "gone", tmp_path / "nowhere.h5")
    with pytest.raises(FTIRUnmixerError, match=r"nowhere\.h5 does not exist; .*--input"):
        load_run(missing)
    assert load_run(missing, input_path=scene).cube.shape == (12, 5)
    with pytest.raises(FTIRUnmixerError, match="no such results file"):
        load_run(tmp_path / "empty")
    other = tmp_path / "other.h5"
    from ftir_unmixer.io.input_file import write_input

    write_input(other, {"t": np.ones((12, 5, 3), np.float32)}, np.array([3000.0, 2000.0, 1000.0]))
    with pytest.raises(FTIRUnmixerError, match="do not contain the bands of the run"):
        load_run(write_run(tmp_path / "run", scene), input_path=other)


def test_the_page_is_self_contained_and_holds_the_data(tmp_path):
    scene = write_scene(tmp_path / "scene.h5")
    sad = write_run(tmp_path / "sad", scene, loss="sad", order=(0, 1, 2))
    wsad = write_run(tmp_path / "wsad", scene)
    page = write_explorer([sad, wsad], tmp_path / "explorer.html", title="SAD vs WSAD")
    text = page.path.read_text(encoding="utf-8")
    assert page.size_bytes == page.path.stat().st_size
    assert "<script src" not in text and "<link" not in text
    assert "Plotly.newPlot" in text and "plotly.js" in text.lower()
    payload = _payload(page.path)
    # Both runs read the same input: one cube, shared.
    assert len(payload["cubes"]) == 1 and [r["cube"] for r in payload["runs"]] == [0, 0]
    cube = payload["cubes"][0]
    spectra = (
        decode_array(cube["offset"]).astype(np.float64)[:, None]
        + np.cumsum(decode_array(cube["deltas"]).T, axis=1)
        * decode_array(cube["step"]).astype(np.float64)[:, None]
    )
    measured = read_input(scene).cube.reshape(60, -1)
    valid = decode_array(cube["valid"]).astype(bool)
    span = np.ptp(measured[valid], axis=1, keepdims=True)
    assert np.all(np.abs(spectra[valid] - measured[valid]) <= span / (2 * LEVELS) * (1 + 1e-6))
    assert payload["quantisation"]["max_relative"] <= 0.5 / LEVELS * (1 + 1e-6)
    run = payload["runs"][1]
    np.testing.assert_array_equal(decode_array(run["abundances"]).shape, (60, 3))
    assert run["labels"][0].startswith("lead soap")
    # The WSAD run's endmembers (true order 2, 0, 1) are matched to the SAD run's (0, 1, 2).
    overlay = [t["name"] for t in payload["endmembers"]["data"] if t["name"].startswith("wsad")]
    assert "wsad 1: lead soap, 0.0°, 0.0° from sad 3" in overlay
    maps = payload["runs"][0]["figures"]["maps"]["layout"]
    assert maps["xaxis"]["range"] == [-0.5, 4.5] and maps["yaxis"]["range"] == [11.5, -0.5]
    assert maps["yaxis"]["scaleanchor"] == "x"
    assert payload["runs"][0]["figures"]["spectrum"]["layout"]["xaxis"]["autorange"] == "reversed"
    # A material keeps its colour across runs: WSAD endmember 1 is SAD endmember 3.
    sad_colours = payload["runs"][0]["figures"]["bars"]["data"][0]["marker"]["color"]
    wsad_colours = payload["runs"][1]["figures"]["bars"]["data"][0]["marker"]["color"]
    assert wsad_colours == [sad_colours[2], sad_colours[0], sad_colours[1]]


def test_maps_mark_tile_boundaries_and_keep_the_aspect_ratio(tmp_path):
    scene = write_scene(tmp_path / "scene.h5")
    run = load_run(write_run(tmp_path / "wsad", scene))
    fig = maps_figure(run)
    lines = [s for s in fig.layout.shapes if s.type == "line"]
    # One boundary (between the two 6-row tiles) on each of the K + 2 panels.
    assert len(lines) == 5 and {s.y0 for s in lines} == {5.5}
    width = fig.layout.xaxis.domain[1] - fig.layout.xaxis.domain[0]
    plot_width = fig.layout.width - fig.layout.margin.l - fig.layout.margin.r
    plot_height = fig.layout.height - fig.layout.margin.t - fig.layout.margin.b
    # 12 rows × 5 columns drawn at the same scale on both axes.
    assert width * plot_width / plot_height == pytest.approx(5 / 12, rel=0.05)


def test_ignored_bands_are_one_shaded_step_trace_broken_at_dropped_windows():
    wn = np.array([3000.0, 2998.0, 2996.0, 2994.0, 2960.0, 2958.0])
    trace = ignored_trace(wn, np.array([False, True, True, False, True, False]), "ignored")
    np.testing.assert_array_equal(trace.x, [3000, 2998, 2996, 2994, np.nan, 2960, 2958])
    np.testing.assert_array_equal(trace.y, [0, 1, 1, 0, np.nan, 1, 0])
    assert trace.yaxis == "y2" and trace.fill == "tozeroy" and trace.line.shape == "hvh"


def test_explore_command_writes_the_page_and_reports_errors(tmp_path, capsys):
    scene = write_scene(tmp_path / "scene.h5")
    run = write_run(tmp_path / "wsad", scene)
    out = tmp_path / "page.html"
    assert cli(["explore", str(run), "-o", str(out)]) == 0
    assert out.is_file() and "within 0.39 % of each pixel's range" in capsys.readouterr().out
    gone = write_run(tmp_path / "gone", tmp_path / "nowhere.h5")
    assert cli(["explore", str(gone), "-o", str(tmp_path / "no.html")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert not (tmp_path / "no.html").exists()
