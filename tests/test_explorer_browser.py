"""The explorer in headless Chromium, driven by selenium: it loads, and a click shows the pixel.

Needs Debian's ``chromium`` and ``chromium-driver`` (``.ci/run`` installs them). Without them
these tests are skipped with the reason; under CI (``CI=true``) a missing browser fails them.
"""

import os

import numpy as np
import pytest

from explorer_runs import MASKED_PIXEL, write_run, write_scene
from ftir_unmixer.explorer.browser import (
    click_pixel,
    missing_browser,
    open_page,
    start_chromium,
    trace_values,
)
from ftir_unmixer.explorer.encoding import LEVELS
from ftir_unmixer.explorer.page import write_explorer
from ftir_unmixer.io.input_file import read_input
from ftir_unmixer.io.results_file import read_results

PIXEL = (8, 2)


@pytest.fixture(scope="module")
def driver():
    missing = missing_browser()
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but the explorer's browser tests cannot run: {missing}.")
        pytest.skip(f"explorer browser tests skipped: {missing}")
    browser = start_chromium()
    yield browser
    browser.quit()


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    root = tmp_path_factory.mktemp("explorer")
    scene = write_scene(root / "scene.h5")
    runs = [
        write_run(root / "sad", scene, loss="sad", order=(0, 1, 2)),
        write_run(root / "wsad", scene),
    ]
    return write_explorer(runs, root / "explorer.html").path, scene, runs


def test_the_page_loads_without_a_javascript_error(driver, page):
    open_page(driver, page[0])
    errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == []
    assert driver.execute_script("return document.querySelectorAll('.explorer-maps').length") == 2
    assert driver.find_element("id", "readout").text == "No pixel selected."


def test_a_click_shows_that_pixels_spectrum_within_the_quantisation(driver, page):
    path, scene, runs = page
    open_page(driver, path)
    row, col = PIXEL
    click_pixel(driver, row, col, run=1, panel=1)
    assert driver.execute_script("return window.explorer.pixel") == [row, col]
    assert f"row {row}, column {col}" in driver.find_element("id", "readout").text
    spectrum = read_input(scene).cube[row, col].astype(np.float64)
    tolerance = np.ptp(spectrum) / (2 * LEVELS) * (1 + 1e-6)
    for index, directory in enumerate(runs):
        shown = np.array(trace_values(driver, "spectrum", index, 0), dtype=np.float64)
        assert shown.shape == spectrum.shape
        assert np.max(np.abs(shown - spectrum)) <= tolerance
        result = read_results(directory / "results.h5")
        expected = result.endmembers.astype(np.float64) @ result.abundances[row, col]
        np.testing.assert_allclose(trace_values(driver, "spectrum", index, 1), expected, rtol=1e-5)
        residual = np.array(trace_values(driver, "spectrum", index, 2))
        np.testing.assert_allclose(
            residual, shown - np.array(trace_values(driver, "spectrum", index, 1))
        )
    assert driver.execute_script("return window.explorer.lastClickMs") < 1000


def test_the_abundance_bars_sum_to_one(driver, page):
    path, _, runs = page
    open_page(driver, path)
    for row, col in [(1, 4), (11, 0)]:
        click_pixel(driver, row, col)
        for index, directory in enumerate(runs):
            bars = np.array(trace_values(driver, "bars", index, 0))
            assert bars.sum() == pytest.approx(1.0, abs=1e-5)
            abundances = read_results(directory / "results.h5").abundances[row, col]
            np.testing.assert_allclose(bars, abundances, rtol=1e-6)


def test_a_masked_pixel_shows_no_spectrum(driver, page):
    open_page(driver, page[0])
    click_pixel(driver, *MASKED_PIXEL)
    assert trace_values(driver, "spectrum", 0, 0) == []
    caption = driver.find_element("css selector", ".caption").text
    assert caption == f"sad: pixel ({MASKED_PIXEL[0]}, {MASKED_PIXEL[1]}) is masked"
