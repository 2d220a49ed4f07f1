"""The explorer in headless Chromium, driven by selenium: it loads, and a click shows the pixel.

Needs Debian's ``chromium`` and ``chromium-driver`` (``.ci/run`` installs them). Without them
these tests are skipped with the reason; under CI (``CI=true``) a missing browser fails them.
"""

import os
import shutil

import numpy as np
import pytest

from explorer_runs import MASKED_PIXEL, write_run, write_scene
from ftir_unmixer.explorer.encoding import LEVELS
from ftir_unmixer.explorer.page import write_explorer
from ftir_unmixer.io.input_file import read_input
from ftir_unmixer.io.results_file import read_results

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
PIXEL = (8, 2)


def _missing_browser() -> str | None:
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[dev]')"
    if not any(shutil.which(name) for name in BROWSERS):
        return "no Chromium found (apt-get install chromium chromium-driver)"
    if not shutil.which("chromedriver"):
        return "no chromedriver found (apt-get install chromium-driver)"
    return None


@pytest.fixture(scope="module")
def driver():
    missing = _missing_browser()
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but the explorer's browser tests cannot run: {missing}.")
        pytest.skip(f"explorer browser tests skipped: {missing}")
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage"):
        options.add_argument(argument)
    options.add_argument("--window-size=1500,1300")
    options.binary_location = next(shutil.which(n) for n in BROWSERS if shutil.which(n))
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    browser = webdriver.Chrome(options=options, service=Service(shutil.which("chromedriver")))
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


def _open(driver, path):
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(path.as_uri())
    WebDriverWait(driver, 60).until(
        lambda d: (
            d.execute_script("return window.explorer && window.explorer.ready")
            or d.find_element("id", "status").text.startswith("The explorer could not start")
        )
    )
    assert driver.find_element("id", "status").text == ""


def _click_pixel(driver, row, col, run=0, panel=0):
    """A real mouse click on the centre of a map pixel (panel 0: the first abundance map)."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.support.ui import WebDriverWait

    maps = driver.find_elements("css selector", ".explorer-maps")[run]
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", maps)
    x, y, width, height = driver.execute_script(
        """
        const [gd, row, col, panel] = arguments;
        const suffix = panel === 0 ? "" : String(panel + 1);
        const xa = gd._fullLayout["xaxis" + suffix], ya = gd._fullLayout["yaxis" + suffix];
        const box = gd.getBoundingClientRect();
        return [xa._offset + xa.l2p(col), ya._offset + ya.l2p(row), box.width, box.height];
        """,
        maps,
        row,
        col,
        panel,
    )
    clicks = driver.execute_script("return window.explorer.clicks")
    ActionChains(driver).move_to_element_with_offset(
        maps, round(x - width / 2), round(y - height / 2)
    ).click().perform()
    WebDriverWait(driver, 10).until(
        lambda d: d.execute_script("return window.explorer.clicks") > clicks
    )


def _trace(driver, selector, run, trace):
    return driver.execute_script(
        "return Array.from(document.querySelectorAll(arguments[0])[arguments[1]]"
        ".data[arguments[2]].y)",
        selector,
        run,
        trace,
    )


def test_the_page_loads_without_a_javascript_error(driver, page):
    _open(driver, page[0])
    errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == []
    assert driver.execute_script("return document.querySelectorAll('.explorer-maps').length") == 2
    assert driver.find_element("id", "readout").text == "No pixel selected."


def test_a_click_shows_that_pixels_spectrum_within_the_quantisation(driver, page):
    path, scene, runs = page
    _open(driver, path)
    row, col = PIXEL
    _click_pixel(driver, row, col, run=1, panel=1)
    assert driver.execute_script("return window.explorer.pixel") == [row, col]
    assert f"row {row}, column {col}" in driver.find_element("id", "readout").text
    spectrum = read_input(scene).cube[row, col].astype(np.float64)
    tolerance = np.ptp(spectrum) / (2 * LEVELS) * (1 + 1e-6)
    for index, directory in enumerate(runs):
        shown = np.array(_trace(driver, ".explorer-spectrum", index, 0), dtype=np.float64)
        assert shown.shape == spectrum.shape
        assert np.max(np.abs(shown - spectrum)) <= tolerance
        result = read_results(directory / "results.h5")
        expected = result.endmembers.astype(np.float64) @ result.abundances[row, col]
        np.testing.assert_allclose(
            _trace(driver, ".explorer-spectrum", index, 1), expected, rtol=1e-5
        )
        residual = np.array(_trace(driver, ".explorer-spectrum", index, 2))
        np.testing.assert_allclose(
            residual, shown - np.array(_trace(driver, ".explorer-spectrum", index, 1))
        )
    assert driver.execute_script("return window.explorer.lastClickMs") < 1000


def test_the_abundance_bars_sum_to_one(driver, page):
    path, _, runs = page
    _open(driver, path)
    for row, col in [(1, 4), (11, 0)]:
        _click_pixel(driver, row, col)
        for index, directory in enumerate(runs):
            bars = np.array(_trace(driver, ".explorer-bars", index, 0))
            assert bars.sum() == pytest.approx(1.0, abs=1e-5)
            abundances = read_results(directory / "results.h5").abundances[row, col]
            np.testing.assert_allclose(bars, abundances, rtol=1e-6)


def test_a_masked_pixel_shows_no_spectrum(driver, page):
    _open(driver, page[0])
    _click_pixel(driver, *MASKED_PIXEL)
    assert _trace(driver, ".explorer-spectrum", 0, 0) == []
    title = driver.execute_script(
        "return document.querySelector('.explorer-spectrum').layout.title.text"
    )
    assert title.endswith("masked pixel")
