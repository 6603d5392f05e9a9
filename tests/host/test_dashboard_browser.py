"""The dashboard in a real headless Chromium (Debian's `chromium` driven through
`chromium-driver` by Selenium) on the real collector: the tiles, tables and experiment rows
read from the page equal `reelscope-report` with the dashboard's arguments for the window
shown, formatted by the page's stated rules (mirrored by `Format` here); the charts are
canvases uPlot has drawn on, and the rebuffer chart's line joins its points;
no request left 127.0.0.1, and the page's policy blocks one that tries; a client that is not
local is asked for the key and shown the figures once it gives an admin key.

One browser for the module; waits are conditions with deadlines (WebDriverWait)."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterator
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.collector.harness import ADMIN_KEY, KEY, Running

from .conftest import cli_json

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
DEADLINE_S = 30

# Everything the page shows, read in one script: tiles by figure path, table bodies by id,
# verdicts, the window's start, the status line's window, and per chart its canvas's size and
# how many of its pixels are painted.
READ_PAGE = """
const tiles = {};
for (const tile of document.querySelectorAll('.tile')) {
  tiles[tile.dataset.figure] = [tile.querySelector('.value').textContent,
                                tile.querySelector('.detail').textContent];
}
const tables = {};
for (const table of document.querySelectorAll('table')) {
  tables[table.id] = [...table.tBodies[0].rows].map(r => [...r.cells].map(c => c.textContent));
}
const charts = {};
for (const figure of document.querySelectorAll('figure')) {
  const canvas = figure.querySelector('.uplot canvas');
  if (!canvas) { charts[figure.id] = null; continue; }
  const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  let painted = 0;
  for (let i = 3; i < pixels.length; i += 4) if (pixels[i] !== 0) painted++;
  charts[figure.id] = {width: canvas.width, height: canvas.height, painted};
}
return {
  tiles, tables, charts,
  verdicts: [...document.querySelectorAll('#verdicts li')].map(li => li.textContent),
  experimentsShown: !document.querySelector('#experiments-section').hidden,
  since: document.querySelector('#window-range').dataset.since,
  window: document.querySelector('#status').dataset.window || null,
  keyAsked: !document.querySelector('#key-form').hidden,
};
"""

# Whether the rebuffer chart's line joins each point with a ratio to the next one: samples every
# SAMPLE_STEP_PX along the straight segment between them (canvas pixels, from uPlot's own
# valToPos), leaving out END_PX at each end where the point markers are; a sample is a hit when
# a pixel of the line's colour (within COLOUR_TOLERANCE, the sum over r, g, b: antialiasing)
# lies within RADIUS_PX of it. The control: the middle half of the longest segment moved
# CONTROL_PX across it, off the line (the hours' layout, hence the segments, depends on the
# clock: the data set ends 10 minutes ago; the longest joins hours a day apart).
LINE_PIXELS = """
const [radius, tolerance, step, endPx, controlPx] = arguments;
const plot = charts['rebuffer-chart'].plot;
const at = (i) => [plot.valToPos(plot.data[0][i], 'x', true),
                   plot.valToPos(plot.data[1][i], 'y', true)];
const shown = plot.data[1].map((y, i) => i).filter((i) => plot.data[1][i] != null).map(at);
const {width, height} = plot.ctx.canvas;
const pixels = plot.ctx.getImageData(0, 0, width, height).data;
const blue = [0x3b, 0x6f, 0xd8];
function near(x, y) {
  for (let dy = -radius; dy <= radius; dy++) {
    for (let dx = -radius; dx <= radius; dx++) {
      const [px, py] = [Math.round(x) + dx, Math.round(y) + dy];
      if (px < 0 || py < 0 || px >= width || py >= height) continue;
      const i = (py * width + px) * 4;
      const off = blue.reduce((sum, c, k) => sum + Math.abs(pixels[i + k] - c), 0);
      if (pixels[i + 3] > 200 && off <= tolerance) return true;
    }
  }
  return false;
}
// Samples from `from` to `to` px along the segment, moved `across` px perpendicular to it.
function sample([x0, y0], [x1, y1], from, to, across) {
  const length = Math.hypot(x1 - x0, y1 - y0);
  const [ux, uy] = [(x1 - x0) / length, (y1 - y0) / length];
  let samples = 0, hits = 0;
  for (let d = from; d <= to; d += step) {
    samples++;
    if (near(x0 + ux * d - uy * across, y0 + uy * d + ux * across)) hits++;
  }
  return {length: Math.round(length), samples, hits};
}
const segments = [];
let longest = null;
for (let k = 1; k < shown.length; k++) {
  const length = Math.hypot(shown[k][0] - shown[k - 1][0], shown[k][1] - shown[k - 1][1]);
  segments.push(sample(shown[k - 1], shown[k], endPx, length - endPx, 0));
  if (longest == null || length > longest[2]) longest = [shown[k - 1], shown[k], length];
}
const control = longest && sample(longest[0], longest[1], longest[2] / 4, longest[2] * 3 / 4,
                                  controlPx);
return {values: plot.data[1].length, segments, control};
"""
RADIUS_PX = 2
COLOUR_TOLERANCE = 90
SAMPLE_STEP_PX = 4
END_PX = 8
CONTROL_PX = 25


def _rebuffer_line(driver: webdriver.Chrome) -> dict[str, Any]:
    line: dict[str, Any] = driver.execute_script(
        LINE_PIXELS, RADIUS_PX, COLOUR_TOLERANCE, SAMPLE_STEP_PX, END_PX, CONTROL_PX
    )
    return line


def _assert_line_drawn(driver: webdriver.Chrome) -> None:
    """Every sample between consecutive points with a ratio is on the line, and the longest
    segment is 100+ px (a line to sample); none of the control is (so the check sees the line,
    not the grid, the axes or the markers)."""
    line = _rebuffer_line(driver)
    segments = line["segments"]
    assert segments, f"fewer than two points with a ratio: {line}"
    assert max(s["length"] for s in segments) > 100, line
    assert all(s["hits"] == s["samples"] for s in segments), line
    assert line["control"]["samples"] > 10, line
    assert line["control"]["hits"] == 0, line


class Format:
    """The page's formatting rules (dashboard.js), in Python. JavaScript's toFixed rounds the
    exact binary value half up, as Decimal(value) with ROUND_HALF_UP does."""

    NONE = "–"

    @staticmethod
    def fixed(value: float, digits: int) -> str:
        return str(Decimal(value).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP))

    @classmethod
    def count(cls, value: int | None) -> str:
        return cls.NONE if value is None else f"{value:,}"

    @classmethod
    def number(cls, value: float | None, digits: int = 2) -> str:
        return cls.NONE if value is None else cls.fixed(value, digits)

    @classmethod
    def percent(cls, value: float | None, digits: int = 1) -> str:
        return cls.NONE if value is None else f"{cls.fixed(value * 100, digits)} %"

    @classmethod
    def ms(cls, value: float | None) -> str:
        if value is None:
            return cls.NONE
        if abs(value) < 1000:
            return f"{math.floor(value + 0.5)} ms"
        if abs(value) < 60_000:
            return f"{cls.fixed(value / 1000, 2)} s"
        if abs(value) < 3_600_000:
            return f"{cls.fixed(value / 60_000, 1)} min"
        return f"{cls.fixed(value / 3_600_000, 1)} h"

    @classmethod
    def rate(cls, value: dict[str, Any]) -> list[str]:
        return [
            cls.percent(value["rate"]),
            f"{cls.count(value['count'])} of {cls.count(value['total'])}",
        ]

    @classmethod
    def estimate(cls, value: dict[str, Any], format_: Callable[[float | None], str]) -> str:
        if value["value"] is None:
            return cls.NONE
        return f"{format_(value['value'])} [{format_(value['low'])}, {format_(value['high'])}]"


F = Format
TILE_FORMATS: dict[str, Callable[[Any], list[str]]] = {
    "qoe.attempts": lambda v: [F.count(v), ""],
    "qoe.plays": lambda v: [F.count(v), ""],
    "qoe.startup.p50": lambda v: [F.ms(v), ""],
    "qoe.startup.p95": lambda v: [F.ms(v), ""],
    "qoe.rebuffer_ratio": lambda v: [F.percent(v, 2), ""],
    "qoe.rebuffer_per_minute": lambda v: [F.number(v), ""],
    "qoe.stalls": lambda v: [F.count(v), ""],
    "qoe.seek_latency.p50": lambda v: [F.ms(v), ""],
    "qoe.seek_latency.p95": lambda v: [F.ms(v), ""],
    "qoe.video_start_failures": F.rate,
    "qoe.playback_failures": F.rate,
    "qoe.exits_before_video_start": F.rate,
    "qoe.completion": F.rate,
    "qoe.watch_ms": lambda v: [F.ms(v), ""],
    "qoe.content_watched_ms": lambda v: [F.ms(v), ""],
    "browse.feeds": lambda v: [F.count(v), ""],
    "browse.impressions": lambda v: [F.count(v), ""],
    "browse.attributed_plays": lambda v: [F.count(v), ""],
    "browse.take_rate": lambda v: [F.percent(v), ""],
    "browse.reach": F.rate,
    "browse.dwell_median_ms": lambda v: [F.ms(v), ""],
}


def _lookup(report: dict[str, Any], path: str) -> Any:
    value: Any = report
    for part in path.split("."):
        value = value[part]
    return value


def _line(line: dict[str, Any]) -> list[str]:
    return [
        str(line["index"]),
        F.count(line["impressions"]),
        F.count(line["plays"]),
        F.percent(line["take_rate"]),
        F.ms(line["dwell_median_ms"]),
    ]


def _quality(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{name}: {F.count(n)}" for name, n in value.items()) or "none"
    return F.count(value)


def expected_page(report: dict[str, Any]) -> dict[str, Any]:
    """What the page must show for `report` (the CLI's JSON)."""
    qoe, browse = report["qoe"], report["browse"]
    experiments = report["experiments"]
    variants = [
        [
            v["name"], F.count(v["devices"]), F.count(v["feeds"]), F.count(v["impressions"]),
            F.count(v["plays"]), F.estimate(v["take_rate"], F.percent),
            F.estimate(v["plays_per_feed"], F.number), F.estimate(v["watch_ms_per_feed"], F.ms),
            F.estimate(v["completion"], F.percent), F.ms(v["startup"]["p50"]),
            F.estimate(v["rebuffer_ratio"], lambda x: F.percent(x, 2)),
        ]
        for v in (experiments or {"variants": []})["variants"]
    ]  # fmt: skip
    return {
        "tiles": {path: fmt(_lookup(report, path)) for path, fmt in TILE_FORMATS.items()},
        "tables": {
            "failures": [[k, F.count(n)] for k, n in qoe["failure_categories"].items()],
            "end-reasons": [[k, F.count(n)] for k, n in qoe["end_reasons"].items()],
            "by-row": [_line(line) for line in browse["by_row"]],
            "by-rank": [_line(line) for line in browse["by_rank"]],
            "experiments": variants,
            "quality": [
                [name.replace("_", " "), _quality(value)]
                for name, value in report["quality"].items()
            ],
        },
        "verdicts": (experiments or {"verdicts": []})["verdicts"],
        "experimentsShown": experiments is not None,
    }


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[webdriver.Chrome]:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    profile: Path = tmp_path_factory.mktemp("chromium-profile")
    for argument in (
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        f"--user-data-dir={profile}", "--window-size=1280,2400", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-default-apps", "--disable-extensions", "--metrics-recording-only",
    ):  # fmt: skip
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    try:
        yield driver
    finally:
        driver.quit()


def _wait(
    driver: webdriver.Chrome, condition: Callable[[dict[str, Any]], bool], what: str
) -> dict[str, Any]:
    """The page as read, once `condition` holds; fails with the page's state and console."""
    last: dict[str, Any] = {}

    def holds(_: Any) -> dict[str, Any] | None:
        nonlocal last
        last = driver.execute_script(READ_PAGE)
        return last if condition(last) else None

    try:
        page: dict[str, Any] = WebDriverWait(driver, DEADLINE_S, poll_frequency=0.05).until(holds)
    except Exception as exc:
        console = driver.get_log("browser")
        raise AssertionError(f"timed out waiting for {what}: {last} {console}") from exc
    return page


def _requested_urls(driver: webdriver.Chrome) -> list[str]:
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def _assert_shows(page: dict[str, Any], report: dict[str, Any]) -> None:
    expected = expected_page(report)
    assert page["tiles"] == expected["tiles"]
    for table, rows in expected["tables"].items():
        assert page["tables"][table] == rows, table
    assert page["verdicts"] == expected["verdicts"]
    assert page["experimentsShown"] == expected["experimentsShown"]


def test_the_page_shows_the_reports_figures_and_charts(
    browser: webdriver.Chrome, dashboard_collector: Running
) -> None:
    _requested_urls(browser)  # drained: the browser's own start page is not the dashboard's
    browser.get(f"{dashboard_collector.url}/dashboard?window=all")
    page = _wait(browser, lambda p: p["window"] == "all", "the figures of window all")
    report = cli_json(dashboard_collector, None)
    _assert_shows(page, report)
    assert report["qoe"]["attempts"] == 7  # the data set is really there
    assert report["qoe"]["failure_categories"]
    assert len(page["tables"]["experiments"]) == 2
    for chart in ("startup-chart", "rebuffer-chart", "rank-chart"):
        drawn = page["charts"][chart]
        assert drawn is not None, chart
        assert drawn["width"] > 0
        assert drawn["height"] > 0
        assert drawn["painted"] > 100, (chart, drawn)
    # Hours a day apart (two or three, by the clock: the data set ends 10 minutes ago), one of
    # them perhaps without a ratio (its sessions never played): a line, not lone points.
    _assert_line_drawn(browser)

    for window in ("24h", "15m"):  # a day: launch 2 and part of launch 1; 15 min: S7 alone
        browser.find_element(By.CSS_SELECTOR, f'button[data-window="{window}"]').click()
        page = _wait(browser, lambda p, w=window: p["window"] == w, f"the figures of {window}")
        assert page["since"], page
        _assert_shows(page, cli_json(dashboard_collector, int(page["since"])))
    assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []

    urls = _requested_urls(browser)
    assert any(url.endswith("/dashboard/figures?window=24h") for url in urls), urls
    # chrome:// and data: URLs are the browser's own, not the network's.
    network = [url for url in urls if urlsplit(url).scheme in {"http", "https", "ws", "wss"}]
    assert [url for url in network if urlsplit(url).hostname != "127.0.0.1"] == []

    # The policy stops the page from reaching anywhere else (as a CDN link would).
    blocked = browser.execute_async_script(
        """
        const done = arguments[arguments.length - 1];
        document.addEventListener('securitypolicyviolation', e => done(e.blockedURI));
        const image = document.createElement('img');
        image.src = 'http://192.0.2.1/pixel.png';
        document.body.append(image);
        """
    )
    assert blocked.startswith("http://192.0.2.1")


def test_a_failed_refresh_keeps_the_figures_and_shows_their_age(
    browser: webdriver.Chrome, dashboard_collector: Running
) -> None:
    browser.get(f"{dashboard_collector.url}/dashboard?window=all")
    shown = _wait(browser, lambda p: p["window"] == "all", "the figures of window all")
    browser.execute_cdp_cmd("Network.enable", {})
    browser.execute_cdp_cmd("Network.setBlockedURLs", {"urls": ["*/dashboard/figures*"]})
    try:
        status = browser.find_element(By.ID, "status")
        page = _wait(
            browser, lambda p: "last refresh failed" in status.text, "a failed refresh shown"
        )
        assert page["tiles"] == shown["tiles"]
        assert page["tables"] == shown["tables"]
        # The next refresh comes one interval (5 s) after the figures arrived.
        assert int(status.get_attribute("data-age-ms")) >= 5000
        assert re.match(r"Figures \d+ s old", status.text), status.text
        # No refresh can draw now: the page's own renderCharts given the figures with an hour
        # whose sessions never played (no ratio) between the two: the line spans it.
        report = cli_json(dashboard_collector, None)
        over_time = report["qoe"]["rebuffer_over_time"]
        first, *_, last = [p for p in over_time if p["rebuffer_ratio"] is not None]
        middle = {**first, "start": (first["start"] + last["start"]) // 2, "rebuffer_ratio": None}
        report["qoe"]["rebuffer_over_time"] = [first, middle, last]
        browser.execute_script("renderCharts(arguments[0])", report)
        assert _rebuffer_line(browser)["values"] == 3
        _assert_line_drawn(browser)
    finally:
        browser.execute_cdp_cmd("Network.setBlockedURLs", {"urls": []})


def test_a_client_that_is_not_local_gives_an_admin_key(
    browser: webdriver.Chrome, dashboard_collector: Running
) -> None:
    # No key kept from an earlier test in this tab; every request now arrives as if through a
    # proxy for a remote client.
    browser.execute_script("try { sessionStorage.clear(); } catch (e) {}")
    browser.execute_cdp_cmd("Network.enable", {})
    browser.execute_cdp_cmd(
        "Network.setExtraHTTPHeaders", {"headers": {"X-Forwarded-For": "203.0.113.5"}}
    )
    try:
        browser.get(f"{dashboard_collector.url}/dashboard?window=all")
        _wait(browser, lambda p: p["keyAsked"], "the key form")
        message = browser.find_element(By.ID, "key-message").text
        assert "admin key" in message
        for key, asked in ((KEY, True), (ADMIN_KEY, False)):
            browser.find_element(By.ID, "key").send_keys(key)
            browser.find_element(By.CSS_SELECTOR, "#key-form button").click()
            if asked:
                _wait(
                    browser,
                    lambda p: (
                        p["keyAsked"]
                        and "need an admin key" in browser.find_element(By.ID, "key-message").text
                    ),
                    "the key refused",
                )
        page = _wait(browser, lambda p: p["window"] == "all" and not p["keyAsked"], "figures")
        _assert_shows(page, cli_json(dashboard_collector, None))
    finally:
        browser.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": {}})
