"""The live dashboard's cost on a synthetic store (benchmarks/report.py's generator): one
computation of `GET /dashboard/figures?window=all` in a real collector process, against its peers
on the same store (processes of their own, start-up included): `reelscope-report` with the
dashboard's arguments (`--json --sessions 0 --titles 0`), and plain `reelscope-report --json`
(every play session and title, what the dashboard asked for before), time and size; the
collector's ingestion (one client posting 50-event batches) while idle and while the dashboard
computes; what many open dashboards cost once the figures are kept (concurrent cached
requests); and the page's load in headless Chromium until its tiles show figures.

    .venv/bin/python benchmarks/dashboard.py [--events 200000] [--dir DIR]

Writes JSON to benchmarks/results/.
"""

from __future__ import annotations

import argparse
import gzip
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import requests

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.child import run_measured, wait_healthy  # noqa: E402
from benchmarks.report import generate  # noqa: E402
from benchmarks.results_file import save_results  # noqa: E402
from telemetry.collector.keys import KeyFile  # noqa: E402
from telemetry.host.figure_cache import GZIP_LEVEL  # noqa: E402
from telemetry.host.report_process import REPORT_ARGUMENTS  # noqa: E402
from tests.collector.harness import auth, batch, event, free_port  # noqa: E402

PAGES = 20
KEY = "bench-key-0123456789"


def _timed_get(url: str) -> tuple[float, requests.Response, int]:
    """Latency to the last byte as sent (gzip not decoded here), the answer, its wire size."""
    began = time.perf_counter()
    answer = requests.get(url, timeout=600, stream=True)
    answer.raise_for_status()
    wire = len(answer.raw.read(decode_content=False))
    return time.perf_counter() - began, answer, wire


def _concurrent(url: str) -> list[float]:
    """PAGES dashboards asking at once: each one's latency."""
    latencies: list[float] = []
    start = threading.Barrier(PAGES)

    def ask() -> None:
        start.wait()
        latencies.append(_timed_get(url)[0])

    threads = [threading.Thread(target=ask) for _ in range(PAGES)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies


def _ingestion(base: str, until: Callable[[], bool]) -> dict[str, float]:
    """Batches posted one after another until `until()`: p50, p99 (ms) and batches/s."""
    latencies = []
    began = time.perf_counter()
    with requests.Session() as session:
        while not until():
            body = batch([event(device_id="bench-load") for _ in range(50)])
            sent = time.perf_counter()
            answer = session.post(
                f"{base}/v1/batch",
                data=orjson.dumps(body),
                headers={"Content-Type": "application/json", "Authorization": auth(KEY)},
                timeout=60,
            )
            answer.raise_for_status()
            latencies.append(time.perf_counter() - sent)
    latencies.sort()
    return {
        "p50_ms": round(statistics.median(latencies) * 1000, 1),
        "p99_ms": round(latencies[int(len(latencies) * 0.99)] * 1000, 1),
        "batches_per_s": round(len(latencies) / (time.perf_counter() - began), 1),
    }


def _page_load_s(base: str) -> float:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.support.ui import WebDriverWait

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run"):
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=Service("/usr/bin/chromedriver"))
    try:
        began = time.perf_counter()
        driver.get(f"{base}/dashboard?window=all")
        WebDriverWait(driver, 600, poll_frequency=0.02).until(
            lambda d: d.execute_script("return document.querySelector('#status').dataset.window")
        )
        return time.perf_counter() - began
    finally:
        driver.quit()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/reelscope-dashboard-bench"))
    arguments = parser.parse_args()
    arguments.dir.mkdir(parents=True, exist_ok=True)
    store = arguments.dir / f"events-{arguments.events}.db"
    if not store.exists():
        print(f"generating ~{arguments.events:,} events into {store} ...", flush=True)
        print(f"  {generate(store, arguments.events)}", flush=True)
    # The collector writes the ingestion load into a copy: every run reads the same store.
    generated, store = store, arguments.dir / "served.db"
    for suffix in ("-wal", "-shm"):
        Path(f"{store}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(generated, store)
    keys = arguments.dir / "keys.json"
    if not keys.exists():
        KeyFile(keys).add("bench", KEY)

    report = [sys.executable, "-m", "telemetry.report.cli", "--db", str(store)]
    # Alternated, so that a burst of other work on the machine does not favour one.
    full_runs, bounded_runs = [], []
    for _ in range(2):
        full_runs.append(run_measured([*report, "--json"]))
        bounded_runs.append(run_measured([*report, *REPORT_ARGUMENTS]))
    for finished in (*full_runs, *bounded_runs):
        if finished.returncode != 0:
            raise SystemExit(f"report failed: {finished.err.decode()}")
    full, bounded = full_runs[0].out, bounded_runs[0].out

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [
        sys.executable, "-m", "telemetry.host.cli", "serve", "--port", str(port),
        "--db", f"sqlite:///{store}", "--keys", str(keys),
    ]  # fmt: skip
    process = subprocess.Popen(
        command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_healthy(base, process, 60)
        deadline = time.monotonic() + 3
        idle = _ingestion(base, lambda: time.monotonic() > deadline)
        figures = f"{base}/dashboard/figures?window=all"
        computed: list[tuple[float, requests.Response, int]] = []
        computing = threading.Thread(target=lambda: computed.append(_timed_get(figures)))
        computing.start()
        during = _ingestion(base, lambda: not computing.is_alive())
        cold_s, cold, wire = computed[0]
        plain = requests.get(figures, headers={"Accept-Encoding": "identity"}, timeout=600)
        cached = _concurrent(figures)
        health = [_timed_get(f"{base}/healthz")[0] for _ in range(PAGES)]
        page_s = _page_load_s(base)
    finally:
        process.terminate()
        process.wait(30)

    results: dict[str, Any] = {
        "events": arguments.events,
        "store_bytes": generated.stat().st_size,
        "cli_full_json_wall_s": [f.wall_s for f in full_runs],
        "cli_full_json_peak_rss_mb": max(f.peak_rss_mb for f in full_runs),
        "cli_full_json_bytes": len(full),
        "cli_full_json_gzip_bytes": len(gzip.compress(full, GZIP_LEVEL)),
        "cli_dashboard_args_wall_s": [f.wall_s for f in bounded_runs],
        "cli_dashboard_args_peak_rss_mb": max(f.peak_rss_mb for f in bounded_runs),
        "cli_dashboard_args_bytes": len(bounded),
        "dashboard_first_request_s": round(cold_s, 3),
        "dashboard_compute_ms": int(cold.headers["X-Reelscope-Compute-Ms"]),
        "figures_json_bytes": len(plain.content),
        "figures_gzip_bytes": wire,
        "ingestion_idle": idle,
        "ingestion_during_computation": during,
        "cached_concurrent_p50_ms": round(statistics.median(cached) * 1000, 1),
        "cached_concurrent_max_ms": round(max(cached) * 1000, 1),
        "healthz_p50_ms": round(statistics.median(health) * 1000, 1),
        "page_load_to_figures_s": round(page_s, 2),
    }
    for name, value in results.items():
        print(f"{name:>28}: {value}")
    save_results("dashboard", results)


if __name__ == "__main__":
    main()
