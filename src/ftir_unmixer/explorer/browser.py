"""Drive an explorer page in headless Chromium with selenium (browser tests, latency benchmark).

Needs the ``selenium`` package (the ``dev`` extra) and Debian's ``chromium`` and
``chromium-driver`` (or any Chromium with a matching ``chromedriver`` on the PATH). Clicks are
real mouse clicks at the centre of a map pixel, placed with the panel's own axes.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from ftir_unmixer.errors import FTIRUnmixerError

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
"""Executable names tried for the browser, in order."""


def missing_browser() -> str | None:
    """Why the explorer cannot be driven here (no selenium, Chromium or driver), or None."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[dev]')"
    if not any(shutil.which(name) for name in BROWSERS):
        return "no Chromium found (apt-get install chromium chromium-driver)"
    if not shutil.which("chromedriver"):
        return "no chromedriver found (apt-get install chromium-driver)"
    return None


def start_chromium(width: int = 1500, height: int = 1300) -> object:
    """A headless Chromium driven by selenium, its console log kept.

    Raises:
        FTIRUnmixerError: if selenium, Chromium or chromedriver is missing.
    """
    missing = missing_browser()
    if missing:
        raise FTIRUnmixerError(f"cannot start a browser: {missing}.")
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage"):
        options.add_argument(argument)
    options.add_argument(f"--window-size={width},{height}")
    options.binary_location = next(shutil.which(n) for n in BROWSERS if shutil.which(n))
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(options=options, service=Service(shutil.which("chromedriver")))


def open_page(driver: object, path: str | os.PathLike[str], timeout_s: float = 120.0) -> float:
    """Open an explorer file and wait until its data are decoded and its figures drawn.

    Returns:
        Seconds from the request to a ready page.

    Raises:
        FTIRUnmixerError: if the page reports that it could not start.
    """
    from selenium.webdriver.support.ui import WebDriverWait

    start = time.perf_counter()
    driver.get(Path(path).resolve().as_uri())
    WebDriverWait(driver, timeout_s).until(
        lambda d: (
            d.execute_script("return window.explorer && window.explorer.ready")
            or d.find_element("id", "status").text.startswith("The explorer could not start")
        )
    )
    status = driver.find_element("id", "status").text
    if status:
        raise FTIRUnmixerError(f"{path}: {status}")
    return time.perf_counter() - start


def click_pixel(driver: object, row: int, col: int, *, run: int = 0, panel: int = 0) -> float:
    """Click the centre of a map pixel and wait until the page has shown it.

    Args:
        driver: the selenium driver with an explorer open.
        row: the pixel's row.
        col: its column.
        run: which run's maps (0: the first).
        panel: which panel (0: the first abundance map; K: RGB; K + 1: error).

    Returns:
        Seconds from the click until the page had updated every figure (seen from selenium).
    """
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
    action = ActionChains(driver).move_to_element_with_offset(
        maps, round(x - width / 2), round(y - height / 2)
    )
    start = time.perf_counter()
    action.click().perform()
    WebDriverWait(driver, 30, poll_frequency=0.005).until(
        lambda d: d.execute_script("return window.explorer.clicks") > clicks
    )
    return time.perf_counter() - start


def trace_values(driver: object, figure: str, run: int, trace: int) -> list:
    """The ``y`` values a figure shows: ``figure`` is ``spectrum`` or ``bars``."""
    return driver.execute_script(
        "return Array.from(document.querySelectorAll(arguments[0])[arguments[1]]"
        ".data[arguments[2]].y)",
        f".explorer-{figure}",
        run,
        trace,
    )
