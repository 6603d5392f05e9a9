"""Collector throughput, latency and memory, measured against the bare SQLite insert rate.

    .venv/bin/python benchmarks/collector.py [--seconds 8]

The collector runs as `reelscope-collector serve` pinned to CPU 0 (one core); the load comes
from `collector_load.py` pinned to CPU 1, over 127.0.0.1. For 100- and 500-event gzip batches
it reports events/s and p50/p99 request latency, and in the same run the rate of inserting
the same rows (the load generator's bodies through the collector's validation) into a fresh
SQLite file with INSERT OR IGNORE, one transaction per batch, with the collector's own schema,
pragmas and insert statement (and, for comparison, with executemany). Then, each against a
fresh collector, the hostile cases of `collector_load.py` (gzip bombs, bodies of millions of
objects, huge headers, amplifying contexts) and the collector's peak RSS under each.
Prints a table and writes JSON to benchmarks/results/.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.child import wait_healthy  # noqa: E402
from benchmarks.collector_load import batch_body  # noqa: E402
from telemetry.collector.body import gunzip  # noqa: E402
from telemetry.collector.config import CollectorConfig  # noqa: E402
from telemetry.collector.keys import KeyFile  # noqa: E402
from telemetry.collector.sqlite_sink import INSERT_EVENT, insert_events  # noqa: E402
from telemetry.collector.validate import (  # noqa: E402
    batch_items,
    parse_json,
    parse_reelscope_batch,
)
from telemetry.contracts.stored import EventRow  # noqa: E402

KEY = "benchmark-key-0123456789"
SYNCHRONOUS = "FULL"
BARE_EVENTS = 30_000
HAS_TASKSET = shutil.which("taskset") is not None and (os.cpu_count() or 1) >= 2


def _pinned(cpu: int, command: list[str]) -> list[str]:
    return ["taskset", "-c", str(cpu), *command] if HAS_TASKSET else command


def _free_port() -> int:
    with closing(socket.socket()) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _status(pid: int, field: str) -> int:
    """A /proc/<pid>/status size field (VmRSS, VmHWM) in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(field)


class Collector:
    def __init__(self, directory: Path) -> None:
        self.db = directory / "events.db"
        keys = directory / "keys.json"
        KeyFile(keys).add("bench", KEY)
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        env["REELSCOPE_COLLECTOR_RATE_LIMIT_PER_S"] = "0"
        env["REELSCOPE_COLLECTOR_SQLITE_SYNCHRONOUS"] = SYNCHRONOUS
        self.log = (directory / "collector.log").open("wb")
        command = [
            sys.executable, "-m", "telemetry.host.cli", "serve", "--port", str(self.port),
            "--db", f"sqlite:///{self.db}", "--keys", str(keys),
        ]  # fmt: skip
        self.process = subprocess.Popen(
            _pinned(0, command), env=env, stdout=self.log, stderr=subprocess.STDOUT
        )
        wait_healthy(self.url, self.process, 30)

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(30)
        self.log.close()


def _load(mode: str, url: str, seconds: float, events: int = 100) -> dict[str, object]:
    command = [
        sys.executable, str(REPO / "benchmarks" / "collector_load.py"), mode, url, KEY,
        "--events", str(events), "--seconds", str(seconds), "--connections", "8",
    ]  # fmt: skip
    output = subprocess.run(_pinned(1, command), capture_output=True, text=True, check=True)
    result: dict[str, object] = json.loads(output.stdout)
    return result


def _rows(batches: int, size: int) -> list[list[EventRow]]:
    """The rows the collector stores for `batches` of the load generator's `size`-event batches:
    the same bodies, through the same validation, so the raw JSON is the same size too."""
    config = CollectorConfig()
    result = []
    for _ in range(batches):
        body = gunzip(batch_body(size, uuid.uuid4().hex), 1 << 30)
        document = parse_json(body, config.max_json_tokens)
        parsed = parse_reelscope_batch(
            document, batch_items(document, config), "k_bench", time.time_ns() // 10**6, config
        )
        result.append(parsed.write.rows)
    return result


def bare_sqlite_rate(
    directory: Path, size: int, insert: Callable[[sqlite3.Connection, list[EventRow]], object]
) -> float:
    """INSERT OR IGNORE, one transaction per batch, same schema and pragmas as the collector."""
    path = directory / f"bare-{size}-{uuid.uuid4().hex}.db"
    schema = (REPO / "telemetry" / "collector" / "schema.sql").read_text()
    batches = _rows(max(1, BARE_EVENTS // size), size)
    with closing(sqlite3.connect(path, isolation_level=None)) as connection:
        connection.execute("PRAGMA journal_mode = WAL")
        connection.execute(f"PRAGMA synchronous = {SYNCHRONOUS}")
        connection.executescript(schema)
        began = time.perf_counter()
        for rows in batches:
            connection.execute("BEGIN IMMEDIATE")
            insert(connection, rows)
            connection.execute("COMMIT")
        elapsed = time.perf_counter() - began
    return sum(len(rows) for rows in batches) / elapsed


def _executemany(connection: sqlite3.Connection, rows: list[EventRow]) -> None:
    connection.executemany(INSERT_EVENT, rows)


HOSTILE = ("bombs", "objects", "heads", "contexts")


def hostile_rss(directory: Path, mode: str, seconds: float) -> dict[str, object]:
    collector = Collector(directory)
    try:
        baseline = _status(collector.process.pid, "VmRSS")
        peak = baseline
        done = threading.Event()

        def sample() -> None:
            nonlocal peak
            while not done.is_set():
                peak = max(peak, _status(collector.process.pid, "VmRSS"))
                done.wait(0.02)

        sampler = threading.Thread(target=sample)
        sampler.start()
        result = _load(mode, collector.url, seconds)
        done.set()
        sampler.join()
        result["rss_baseline_mb"] = baseline / 2**20
        result["rss_peak_sampled_mb"] = peak / 2**20
        result["rss_hwm_mb"] = _status(collector.process.pid, "VmHWM") / 2**20
        result["db_mb"] = sum(p.stat().st_size for p in directory.glob("events.db*")) / 2**20
        return result
    finally:
        collector.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=8.0)
    arguments = parser.parse_args()
    results: dict[str, object] = {"synchronous": SYNCHRONOUS, "pinned": HAS_TASKSET}
    with tempfile.TemporaryDirectory(prefix="collector-bench-") as temporary:
        directory = Path(temporary)
        throughput = []
        for size in (100, 500):
            run = directory / f"run-{size}"
            run.mkdir()
            collector = Collector(run)
            try:
                load = _load("batches", collector.url, arguments.seconds, size)
                load["collector_rss_mb"] = _status(collector.process.pid, "VmHWM") / 2**20
            finally:
                collector.stop()
            with closing(sqlite3.connect(collector.db)) as check:
                (stored,) = check.execute("SELECT count(*) FROM events").fetchone()
            load["stored"] = stored
            # The collector's own multi-row statement; executemany (one step per row) for
            # comparison with earlier results.
            load["bare_sqlite_events_per_s"] = bare_sqlite_rate(run, size, insert_events)
            load["bare_executemany_events_per_s"] = bare_sqlite_rate(run, size, _executemany)
            load["ratio_to_bare"] = float(load["events_per_s"]) / load["bare_sqlite_events_per_s"]  # type: ignore[arg-type]
            throughput.append(load)
        results["throughput"] = throughput
        hostile: dict[str, object] = {}
        for mode in HOSTILE:
            (directory / mode).mkdir()
            hostile[mode] = hostile_rss(directory / mode, mode, min(arguments.seconds, 5.0))
        results["hostile"] = hostile

    where = "one pinned core" if HAS_TASKSET else "unpinned CPUs"
    print(
        f"\nCollector on {where}, SQLite synchronous={SYNCHRONOUS},"
        " 8 keep-alive connections from another process"
    )
    print(
        f"{'batch':>6} {'events/s':>10} {'bare SQLite/s':>14} {'ratio':>6} {'executemany/s':>14}"
        f" {'p50 ms':>8} {'p99 ms':>8} {'requests':>9} {'stored':>8} {'RSS MB':>7}"
    )
    for row in throughput:
        print(
            f"{row['events_per_batch']:>6} {row['events_per_s']:>10,.0f}"
            f" {row['bare_sqlite_events_per_s']:>14,.0f} {row['ratio_to_bare']:>6.2f}"
            f" {row['bare_executemany_events_per_s']:>14,.0f}"
            f" {row['p50_ms']:>8.2f} {row['p99_ms']:>8.2f} {row['requests']:>9}"
            f" {row['stored']:>8} {row['collector_rss_mb']:>7.1f}"
        )
    print(
        f"{'hostile case':>12} {'requests':>9} {'statuses':<24} {'RSS MB':>7} {'peak MB':>8}"
        f" {'db MB':>6}"
    )
    for mode, row in hostile.items():
        assert isinstance(row, dict)
        print(
            f"{mode:>12} {row['requests']:>9} {json.dumps(row['statuses']):<24}"
            f" {row['rss_baseline_mb']:>7.1f} {row['rss_hwm_mb']:>8.1f} {row['db_mb']:>6.1f}"
        )
    out = REPO / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    target = out / f"collector-{time.strftime('%Y%m%d-%H%M%S')}.json"
    target.write_text(json.dumps(results, indent=2) + "\n")
    print(f"saved {target.relative_to(REPO)}")


if __name__ == "__main__":
    main()
