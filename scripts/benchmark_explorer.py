"""Size, build time and click latency of a run's explorer in headless Chromium.

Writes the explorer of RUN_DIR (e.g. a run on the bundled 320×64×1504 scene), reports its
size and the quantisation error of its spectra, opens it in headless Chromium and clicks
``--clicks`` random pixels on random map panels with real mouse clicks. Two latencies per
click:

* **page**: measured by the page itself (``performance.now()``), from the mouse press on the
  map (before Plotly turns it into a click) until every figure was updated and the next
  frame began; **handler**: the same from the start of the page's click handler;
* **selenium**: from sending the click until the page reported it, as seen from Python
  (includes the WebDriver round trips).

    python scripts/benchmark_explorer.py outputs/run --clicks 30 --screenshot docs/explorer.png
"""

from __future__ import annotations

import argparse
import base64
import json
import statistics
import time
from pathlib import Path

import numpy as np
from selenium.webdriver.common.action_chains import ActionChains

from ftir_unmixer.explorer.browser import click_pixel, open_page, start_chromium
from ftir_unmixer.explorer.page import write_explorer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", help="a run directory (results.h5)")
    parser.add_argument("--output", default=None, help="the explorer (default: RUN_DIR/…)")
    parser.add_argument("--clicks", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--screenshot", default=None, help="save a PNG of the page after a click")
    parser.add_argument("--pixel", type=int, nargs=2, default=None, help="row col shown last")
    args = parser.parse_args()
    output = Path(args.output or Path(args.run_dir) / "explorer_benchmark.html")

    start = time.perf_counter()
    page = write_explorer([args.run_dir], output)
    build_s = time.perf_counter() - start
    driver = start_chromium(1600, 1900)
    try:
        load_s = open_page(driver, output)
        height, width = driver.execute_script(
            "return JSON.parse(document.getElementById('explorer-data').textContent).shape"
        )
        panels = driver.execute_script(
            "return window.explorer && document.querySelectorAll("
            "'.explorer-maps')[0]._fullLayout._subplots.cartesian"
            ".length"
        )
        rng = np.random.default_rng(args.seed)
        page_ms, handler_ms, selenium_ms = [], [], []
        for _ in range(args.clicks):
            row, col = int(rng.integers(height)), int(rng.integers(width))
            selenium_ms.append(
                1000 * click_pixel(driver, row, col, panel=int(rng.integers(panels)))
            )
            page_ms.append(driver.execute_script("return window.explorer.lastPointerMs"))
            handler_ms.append(driver.execute_script("return window.explorer.lastClickMs"))
        if args.pixel:
            click_pixel(driver, *args.pixel)
        errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        if args.screenshot:
            title = driver.find_element("css selector", "h1")
            ActionChains(driver).move_to_element(title).perform()  # no stale hover label
            driver.execute_script("window.scrollTo(0, 0)")
            shot = driver.execute_cdp_cmd(
                "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True}
            )
            Path(args.screenshot).write_bytes(base64.b64decode(shot["data"]))
    finally:
        driver.quit()
    report = {
        "explorer": str(page.path),
        "size_mb": page.size_bytes / 1e6,
        "build_s": build_s,
        "load_s": load_s,
        "clicks": args.clicks,
        "page_ms": {"median": statistics.median(page_ms), "max": max(page_ms)},
        "handler_ms": {"median": statistics.median(handler_ms), "max": max(handler_ms)},
        "selenium_ms": {"median": statistics.median(selenium_ms), "max": max(selenium_ms)},
        "quantisation": {
            "max_relative_to_pixel_range": page.error.max_relative,
            "rms_relative_to_pixel_range": page.error.rms_relative,
            "max_absolute": page.error.max_absolute,
            "rms_absolute": page.error.rms_absolute,
        },
        "console_errors": len(errors),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
