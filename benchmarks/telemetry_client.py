"""Telemetry client benchmark: Reelscope's client beside segment-analytics-python, posthog and
snowplow-tracker, in one run, against the same loopback receiver (its own process).

Scenarios, each client in a fresh child process:
- throughput: 20 000 events of 10 properties recorded in a tight loop while the client's sender
  is busy; per-call cost of `track()` on the caller's thread (p50, p99) and end-to-end events/s
  (first record to the receiver storing the last event; monotonic clock shared by processes).
- exit: 1 000 events recorded just before the process ends on its own (each library's exit
  hook does what it does); delivered counted at once and, for Reelscope, after a relaunch
  that finds the rest in its outbox.
- outage: the receiver answers 503 (no Retry-After) for 5 s while the client has 100 events
  to send; requests received in those 5 s, then whether everything arrives afterwards.
  The four clients run their outage side by side (the receiver tells them apart).

Peers use their defaults except: Segment and PostHog get their `host`; Snowplow gets an
AsyncEmitter with batches of 100 (its fastest configuration per the design notes).

Usage: python -m benchmarks.telemetry_client [--events 20000] [--throughput-only]
Prints a table and writes benchmarks/results/telemetry_client-<time>.json. With
`--throughput-only` only the throughput scenario runs (still every client, same receiver):
quicker for comparing changes, with runs alternated by hand.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import orjson

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "results"
CLIENTS = ("reelscope", "segment", "posthog", "snowplow")
OUTAGE_S = 5.0
PROPERTIES = {
    "request_id": "req-0001",
    "row_id": "row-continue",
    "row_index": 2,
    "rank": 7,
    "video_id": "video-123456",
    "start_mono": 1_000,
    "end_mono": 2_900,
    "max_visible_fraction": 0.83,
    "ms_at_least_half_visible": 1_650,
    "end_reason": "scrolled_out",
}


# The receiver (its own process)


class Receiver:
    """Counts unique events and requests per client; answers 200 or 503 per client."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.ids: dict[str, set[str]] = defaultdict(set)
        self.last_new: dict[str, float] = {}
        self.requests: dict[str, list[tuple[float, int]]] = defaultdict(list)
        self.failing: set[str] = set()

    def handle(self, path: str, headers: Any, raw: bytes) -> tuple[int, bytes]:
        if headers.get("Content-Encoding") == "gzip":
            raw = gzip.decompress(raw)
        document = orjson.loads(raw)
        if path.startswith("/v1/batch"):
            segment = any("messageId" in item for item in document["batch"][:1])
            tag, field, items = (
                ("segment", "messageId", document["batch"])
                if segment
                else ("reelscope", "event_id", document["batch"])
            )
        elif path.startswith("/batch"):
            tag, field, items = "posthog", "uuid", document["batch"]
        else:
            tag, field, items = "snowplow", "eid", document["data"]
        now = time.monotonic()
        with self.lock:
            status = 503 if tag in self.failing else 200
            self.requests[tag].append((now, status))
            if status == 200:
                seen = self.ids[tag]
                before = len(seen)
                seen.update(str(item[field]) for item in items)
                if len(seen) > before:
                    self.last_new[tag] = now
        if status == 503:
            return 503, b'{"code":"unavailable","message":"benchmark outage"}'
        return 200, orjson.dumps({"accepted": len(items), "duplicates": 0, "rejected": []})

    def control(self, command: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            if command["op"] == "reset":
                self.ids.clear()
                self.last_new.clear()
                self.requests.clear()
                self.failing.clear()
            elif command["op"] == "fail":
                self.failing.update(command["tags"])
            elif command["op"] == "heal":
                self.failing.difference_update(command["tags"])
            return {
                tag: {
                    "unique": len(self.ids.get(tag, ())),
                    "last_new": self.last_new.get(tag),
                    "requests": self.requests.get(tag, []),
                }
                for tag in CLIENTS
            }


def serve_receiver(port_file: Path) -> None:
    receiver = Receiver()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in two writes: without this, Nagle's algorithm holds the
        # body until the client's delayed ACK (40 ms per request on Linux loopback).
        disable_nagle_algorithm = True

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if self.path == "/control":
                status, body = 200, orjson.dumps(receiver.control(orjson.loads(raw)))
            else:
                status, body = receiver.handle(self.path, self.headers, raw)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:  # Snowplow's emitter may probe with GET; count nothing
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    port_file.write_text(str(server.server_address[1]))
    server.serve_forever(0.05)


def control(url: str, **command: Any) -> dict[str, Any]:
    request = urllib.request.Request(f"{url}/control", data=orjson.dumps(command), method="POST")
    with urllib.request.urlopen(request, timeout=10) as answer:
        result: dict[str, Any] = orjson.loads(answer.read())
        return result


# The clients (each in a child process)


class Adapter:
    """One library behind the same three calls."""

    def __init__(self, kind: str, url: str, directory: Path) -> None:
        self.kind = kind
        port = int(url.rsplit(":", 1)[1])
        if kind == "reelscope":
            from telemetry.client.client import TelemetryClient
            from telemetry.client.config import TelemetryConfig

            self.client: Any = TelemetryClient(
                TelemetryConfig(
                    consent_before_choice=True,  # a viewer who opted in
                    endpoint=url,
                    write_key="reelscope-bench",
                    outbox_path=directory / "outbox.sqlite3",
                    settings_path=directory / "telemetry.json",
                    strict=False,
                )
            )
            self.client.start()
        elif kind == "segment":
            from segment.analytics import Client

            self.client = Client("segment-bench", host=url)
        elif kind == "posthog":
            from posthog import Posthog

            self.client = Posthog("posthog-bench", host=url)
        else:
            from snowplow_tracker import AsyncEmitter, Tracker

            emitter = AsyncEmitter("127.0.0.1", protocol="http", port=port, batch_size=100)
            self.client = Tracker("bench", emitters=emitter, app_id="reelscope")

    def track(self, properties: dict[str, Any]) -> None:
        kind, client = self.kind, self.client
        if kind == "reelscope":
            client.track("tile_visibility", properties)
        elif kind == "segment":
            client.track(user_id="user-1", event="tile_visibility", properties=properties)
        elif kind == "posthog":
            client.capture("tile_visibility", distinct_id="user-1", properties=properties)
        else:
            from snowplow_tracker import SelfDescribingJson
            from snowplow_tracker.events import SelfDescribing

            schema = "iglu:io.reelscope/tile_visibility/jsonschema/1-0-0"
            client.track(SelfDescribing(SelfDescribingJson(schema, properties)))

    def kick(self) -> None:
        """Ask the client to send soon without blocking (for the outage scenario)."""
        if self.kind == "reelscope":
            self.client.sync_now()
        elif self.kind == "snowplow":
            self.client.flush(is_async=True)
        else:
            threading.Thread(target=self.client.flush, daemon=True).start()

    def flush(self) -> None:
        if self.kind == "reelscope":
            self.client.flush(60.0)
        elif self.kind == "snowplow":
            self.client.flush(is_async=False)
        else:
            self.client.flush()


def worker(kind: str, scenario: str, url: str, directory: Path, events: int) -> None:
    adapter = Adapter(kind, url, directory)
    if scenario == "relaunch":  # Reelscope only: send what the last process left
        adapter.flush()
        adapter.client.close()
        return
    if scenario == "throughput":
        for _ in range(100):  # warm-up: imports, connections, first batch
            adapter.track(PROPERTIES)
        adapter.flush()
        print(json.dumps({"ready": True}), flush=True)
        sys.stdin.readline()  # the parent has reset the receiver
        clock = time.perf_counter_ns
        durations = []
        first = time.monotonic()
        for _ in range(events):
            start = clock()
            adapter.track(PROPERTIES)
            durations.append(clock() - start)
        adapter.flush()
        durations.sort()
        print(json.dumps({
            "first": first,
            "p50_us": durations[len(durations) // 2] / 1000,
            "p99_us": durations[int(len(durations) * 0.99)] / 1000,
        }), flush=True)  # fmt: skip
        if kind == "reelscope":
            adapter.client.close()
        return
    if scenario == "exit":
        for _ in range(events):
            adapter.track(PROPERTIES)
        return  # the process ends here: whatever each library does at exit happens now
    # outage
    for _ in range(events):
        adapter.track(PROPERTIES)
    adapter.kick()
    sys.stdin.readline()  # the parent says the outage is over and results are in
    if kind == "reelscope":
        adapter.client.close(0.5)
    os._exit(0)  # peers may still be retrying: leave without waiting for them


# The parent


def spawn(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "benchmarks.telemetry_client", *args],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def wait_for_count(url: str, tag: str, count: int, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        stats: dict[str, Any] = control(url, op="stats")[tag]
        if stats["unique"] >= count or time.monotonic() > deadline:
            return stats
        time.sleep(0.02)


def run_throughput(url: str, kind: str, events: int, directory: Path) -> dict[str, Any]:
    child = spawn("worker", kind, "throughput", url, str(directory), str(events))
    assert child.stdin is not None
    assert child.stdout is not None
    json.loads(child.stdout.readline())
    wait_for_count(url, kind, 100, 30)
    control(url, op="reset")
    child.stdin.write("go\n")
    child.stdin.flush()
    result = json.loads(child.stdout.readline())
    stats = wait_for_count(url, kind, events, 60)
    child.wait(30)
    elapsed = (stats["last_new"] or result["first"]) - result["first"]
    return {
        "p50_us": result["p50_us"],
        "p99_us": result["p99_us"],
        "delivered": stats["unique"],
        "events_per_s": stats["unique"] / elapsed if elapsed > 0 else 0.0,
        "requests": len(stats["requests"]),
    }


def run_exit(url: str, kind: str, events: int, directory: Path) -> dict[str, Any]:
    control(url, op="reset")
    started = time.monotonic()
    child = spawn("worker", kind, "exit", url, str(directory), str(events))
    child.wait(60)
    exit_s = time.monotonic() - started
    now = wait_for_count(url, kind, events, 1.0)["unique"]
    later = now
    if kind == "reelscope":
        spawn("worker", kind, "relaunch", url, str(directory), "0").wait(60)
        later = wait_for_count(url, kind, events, 5.0)["unique"]
    return {"delivered_at_exit": now, "delivered_after_relaunch": later, "exit_s": exit_s}


def run_outages(url: str, directories: dict[str, Path]) -> dict[str, Any]:
    control(url, op="reset")
    control(url, op="fail", tags=list(CLIENTS))
    children = {
        kind: spawn("worker", kind, "outage", url, str(directories[kind]), "100")
        for kind in CLIENTS
    }
    start = time.monotonic()
    time.sleep(OUTAGE_S)
    stats = control(url, op="heal", tags=list(CLIENTS))
    end = time.monotonic()
    outage = {kind: sum(1 for at, _ in stats[kind]["requests"] if at <= end) for kind in CLIENTS}
    first = {kind: min((at for at, _ in stats[kind]["requests"]), default=None) for kind in CLIENTS}
    recovered = {kind: wait_for_count(url, kind, 100, 20.0) for kind in CLIENTS}
    for child in children.values():
        assert child.stdin is not None
        child.stdin.write("done\n")
        child.stdin.flush()
        child.wait(30)
    return {
        kind: {
            "outage_requests": outage[kind],
            "first_request_after_s": None if first[kind] is None else first[kind] - start,
            "delivered_after_outage": recovered[kind]["unique"],
            "recovered_after_s": None
            if recovered[kind]["last_new"] is None
            else recovered[kind]["last_new"] - end,
        }
        for kind in CLIENTS
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--throughput-only", action="store_true")
    arguments = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="reelscope-telemetry-bench-"))
    port_file = work / "port"
    receiver = spawn("receiver", str(port_file))
    try:
        while not port_file.exists() or not port_file.read_text():
            time.sleep(0.02)
        url = f"http://127.0.0.1:{port_file.read_text()}"
        results: dict[str, dict[str, Any]] = {kind: {} for kind in CLIENTS}
        for kind in CLIENTS:
            results[kind].update(run_throughput(url, kind, arguments.events, work / f"tp-{kind}"))
        if arguments.throughput_only:
            report(results, arguments.events)
            return
        for kind in CLIENTS:
            results[kind].update(run_exit(url, kind, 1_000, work / f"exit-{kind}"))
        outages = run_outages(url, {kind: work / f"outage-{kind}" for kind in CLIENTS})
        for kind in CLIENTS:
            results[kind].update(outages[kind])
        report(results, arguments.events)
    finally:
        receiver.terminate()
        receiver.wait(10)


def report(results: dict[str, dict[str, Any]], events: int) -> None:
    rows = [
        ("track() p50 (us)", "p50_us", "{:.1f}"),
        ("track() p99 (us)", "p99_us", "{:.1f}"),
        (f"end-to-end events/s ({events})", "events_per_s", "{:.0f}"),
        ("throughput requests", "requests", "{}"),
        ("exit: delivered at exit /1000", "delivered_at_exit", "{}"),
        ("exit: delivered incl. relaunch", "delivered_after_relaunch", "{}"),
        ("exit: process exit time (s)", "exit_s", "{:.2f}"),
        (f"outage: requests in {OUTAGE_S:.0f} s of 503", "outage_requests", "{}"),
        ("outage: delivered after /100", "delivered_after_outage", "{}"),
        ("outage: last event after heal (s)", "recovered_after_s", "{:.1f}"),
    ]
    width = max(len(label) for label, _, _ in rows)
    print(f"{'':{width}}  " + "  ".join(f"{kind:>10}" for kind in CLIENTS))
    for label, key, fmt in rows:
        cells = []
        for kind in CLIENTS:
            value = results[kind].get(key)
            cells.append(f"{'-' if value is None else fmt.format(value):>10}")
        print(f"{label:{width}}  " + "  ".join(cells))
    reelscope, segment = results["reelscope"], results["segment"]
    goals: dict[str, bool] = {
        "p50 <= 10 us": reelscope["p50_us"] <= 10,
        "p99 below every peer": all(
            reelscope["p99_us"] < results[k]["p99_us"] for k in CLIENTS[1:]
        ),
        ">= 3x Segment events/s": reelscope["events_per_s"] >= 3 * segment["events_per_s"],
    }
    if "outage_requests" in reelscope:
        goals["1000 of 1000 delivered"] = reelscope["delivered_after_relaunch"] == 1000
        goals["outage requests <= Segment"] = (
            reelscope["outage_requests"] <= segment["outage_requests"]
        )
    for goal, met in goals.items():
        print(f"goal {goal}: {'met' if met else 'NOT met'}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"telemetry_client-{time.strftime('%Y%m%dT%H%M%S')}.json"
    path.write_text(json.dumps({"results": results, "goals": goals}, indent=2))
    print(f"saved {path}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "receiver":
        serve_receiver(Path(sys.argv[2]))
    elif len(sys.argv) > 1 and sys.argv[1] == "worker":
        worker(sys.argv[2], sys.argv[3], sys.argv[4], Path(sys.argv[5]), int(sys.argv[6]))
    else:
        main()
