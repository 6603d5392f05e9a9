"""The recommender: GET /v1/feed latency at a fixed request rate, the model feed beside the
rule-based feed in the same run, and `reelscope-train`'s time and peak memory on big stores.

    .venv/bin/python benchmarks/recommend.py [--events 1000000] [--rate 200] [--seconds 15]
                                             [--dir DIR]

1. A synthetic store is written directly (the collector's schema and INSERT statement, no
   HTTP) with `--events` events: launches of devices with a favourite genre, each serving home
   feeds of 6 rows x 10 titles (`feed_served` with source server, 5 % explored with exact
   propensities), impressions biased to the top-left, plays that favour the device's genre
   and the top slots (`play_request` naming the impression, `session_end` with the watched
   share). A store is reused when it exists (delete it or pass a fresh --dir). Each size in
   `--events` gets its own store; 10 M events take minutes to write and ~6 GB of disk.
2. `reelscope-train` trains on each store as a child process; wall time and the peak resident
   memory of the process tree (sampled every 50 ms) are recorded.
3. Against the first store and its model, `reelscope-collector serve` (a child process, pinned
   to CPU 0 where taskset exists) gets GET /v1/feed at `--rate` requests/s open loop for
   `--seconds` (sender threads pinned to CPU 1): devices known to the store and new ones, half
   assigned to `control` (the rule-based feed) and half to `treatment` (the model), by the
   collector's own stable hash. Latency runs from each request's scheduled send time to its
   answer, so a server falling behind is counted (no coordinated omission); p50/p99 per
   policy.

Prints a table and writes JSON to benchmarks/results/.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import orjson
import requests

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.child import run_measured, wait_healthy  # noqa: E402
from benchmarks.collector import HAS_TASKSET, _free_port, _pinned  # noqa: E402
from benchmarks.report import canonical_context, insert_rows  # noqa: E402
from benchmarks.results_file import save_results  # noqa: E402
from telemetry.client.request_body import basic_auth  # noqa: E402
from telemetry.collector.keys import KeyFile  # noqa: E402
from telemetry.collector.sqlite_sink import SCHEMA_VERSION  # noqa: E402

KEY = "bench-recommend-key-0123456789"
GENRES = ("Drama", "Comedy", "Documentary", "Animation", "Thriller", "Science")
TITLES = [(f"title-{n:04d}", GENRES[n % len(GENRES)]) for n in range(600)]
ROWS, RANKS, DEPTH, EXPLORATION = 6, 10, 6, 0.05
START = 1_790_000_000_000
DEVICES_PER_MILLION = 8000


def write_catalog(path: Path) -> None:
    items = [
        {"id": v, "title": v.title(), "media": f"{v}.mp4", "genres": [g], "duration_ms": 1_200_000}
        for v, g in TITLES
    ]
    path.write_text(json.dumps({"schema": 1, "items": items}))


def write_experiment(path: Path, model: Path) -> None:
    path.write_text(
        f'[experiment]\nname = "bench"\nexploration = {EXPLORATION}\n'
        f'explore_depth = {DEPTH}\nmodel = "{model}"\n'
        '[[experiment.variants]]\nname = "control"\npolicy = "rules"\nweight = 1\n'
        '[[experiment.variants]]\nname = "treatment"\npolicy = "model"\nweight = 1\n'
    )


def _feed_events(
    rng: random.Random, device: str, genre: str, wall: int
) -> Iterator[dict[str, Any]]:
    """One launch: a feed, its impressions and its plays, as type, wall time and properties."""
    request_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    explored = rng.random() < EXPLORATION
    grid = [rng.sample(TITLES, RANKS) for _ in range(ROWS)]
    rows = []
    for r, titles in enumerate(grid):
        order = list(titles)
        if explored:
            head = order[:DEPTH]
            rng.shuffle(head)
            order[:DEPTH] = head
        items = []
        for k, (video, _g) in enumerate(order):
            p = (
                (1 - EXPLORATION) * (titles[k][0] == video) + EXPLORATION / DEPTH
                if k < DEPTH
                else 1.0
            )
            items.append({"video_id": video, "rank": k, "propensity": round(p, 6)})
        grid[r] = order
        rows.append({"row_id": f"row-{r}", "row_index": r, "track_id": f"rules/1/row-{r}",
                     "title": f"Row {r}", "items": items})  # fmt: skip
    yield {"type": "feed_served", "time": wall, "properties": {
        "request_id": request_id, "location": "home", "rows": rows, "source": "server",
        "variant": "control", "explored": explored}}  # fmt: skip
    for r in range(ROWS):
        for k in range(RANKS):
            # People look at the top rows and first ranks far more.
            if rng.random() > 0.85**r * 0.8**k:
                continue
            wall += rng.randrange(200, 2000)
            impression_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            video, video_genre = grid[r][k]
            tile = {"impression_id": impression_id, "request_id": request_id,
                    "row_id": f"row-{r}", "row_index": r, "rank": k, "video_id": video,
                    "track_id": f"rules/1/row-{r}", "location": "home"}  # fmt: skip
            yield {"type": "impression", "time": wall, "properties": tile}
            if rng.random() < (0.25 if video_genre == genre else 0.03):
                sid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
                source = {"request_id": request_id, "row_id": f"row-{r}", "rank": k,
                          "impression_id": impression_id, "location": "home"}  # fmt: skip
                wall += rng.randrange(500, 5000)
                yield {"type": "play_request", "time": wall, "properties": {
                    "play_session_id": sid, "video_id": video, "source": source,
                    "start_position_ms": 0}}  # fmt: skip
                watched = int(1_200_000 * rng.random())
                wall += watched
                yield {"type": "session_end", "time": wall, "properties": {
                    "play_session_id": sid, "reason": "completed" if watched > 1_100_000
                    else "user_stop", "position_ms": watched, "content_watched_ms": watched,
                    "duration_ms": 1_200_000}}  # fmt: skip


def generate(path: Path, target: int, key_id: str, seed: int = 7) -> dict[str, Any]:
    """~`target` events straight into a collector store; the devices, for the load."""
    started = time.perf_counter()
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = OFF")
    schema = (REPO / "telemetry" / "collector" / "schema.sql").read_text()
    db.executescript(f"BEGIN; {schema}; PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;")
    digest, text = canonical_context({"app": {"name": "reelscope", "version": "1.0.0"}})
    db.execute("INSERT OR IGNORE INTO contexts (hash, json) VALUES (?, ?)", (digest, text))
    rng = random.Random(seed)
    devices = max(100, target * DEVICES_PER_MILLION // 1_000_000)
    genres = {f"bench-device-{n:07d}": rng.choice(GENRES) for n in range(devices)}
    names = list(genres)
    rows: list[tuple[Any, ...]] = []
    count = 0
    wall = START
    db.execute("BEGIN")
    while count + len(rows) < target:
        device = rng.choice(names)
        launch = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        wall += rng.randrange(1, 2000)
        mono = rng.randrange(10**6, 10**9)
        for seq, e in enumerate(_feed_events(rng, device, genres[device], wall), 1):
            props = e["properties"]
            event_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            at = e["time"]
            body = {"event_id": event_id, "type": e["type"], "schema": 1, "time": at,
                    "mono_ms": mono + at - wall, "seq": seq, "app_session_id": launch,
                    "device_id": device, "properties": props}  # fmt: skip
            rows.append((
                key_id, event_id, e["type"], "reelscope", 1, device, launch, seq,
                mono + at - wall, props.get("play_session_id"), props.get("request_id"), at,
                at + 500, at + 520, at + 20, digest, orjson.dumps(body).decode(),
            ))  # fmt: skip
        if len(rows) >= 50_000:
            count += insert_rows(db, rows)
            db.execute("BEGIN")
    count += insert_rows(db, rows)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    return {
        "rows": count,
        "devices": devices,
        "seconds": round(time.perf_counter() - started, 1),
        "bytes": path.stat().st_size,
    }


def train(store: Path, model: Path) -> dict[str, Any]:
    """`reelscope-train` as a child process: wall time, peak RSS of its process tree."""
    command = [sys.executable, "-m", "telemetry.recommend.train_cli", "--db", str(store),
               "--model", str(model), "--explore-depth", str(DEPTH)]  # fmt: skip
    run = run_measured(command)
    if run.returncode != 0:
        raise SystemExit(f"training failed: {run.err.decode()}")
    return {
        "wall_s": run.wall_s,
        "peak_rss_mb": run.peak_rss_mb,
        "trainer": run.out.decode().strip(),
    }


class Collector:
    """`reelscope-collector serve` on the store, serving the experiment."""

    def __init__(self, directory: Path, store: Path, keys: Path) -> None:
        catalog, experiment = directory / "catalog.json", directory / "experiment.toml"
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        env.update({
            "REELSCOPE_COLLECTOR_RATE_LIMIT_PER_S": "0",
            "REELSCOPE_COLLECTOR_CATALOG": str(catalog),
            "REELSCOPE_COLLECTOR_EXPERIMENT": str(experiment),
            "REELSCOPE_COLLECTOR_LOG_LEVEL": "WARNING",
        })  # fmt: skip
        self.log = (directory / "collector.log").open("wb")
        command = [sys.executable, "-m", "telemetry.host.cli", "serve", "--port",
                   str(self.port), "--db", f"sqlite:///{store}", "--keys", str(keys)]  # fmt: skip
        self.process = subprocess.Popen(
            _pinned(0, command), env=env, stdout=self.log, stderr=subprocess.STDOUT
        )
        wait_healthy(self.url, self.process, 60)

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(30)
        self.log.close()


def load(url: str, devices: list[str], rate: float, seconds: float) -> dict[str, Any]:
    """Open-loop GETs at `rate`/s; latency from each request's scheduled time, by policy."""
    if HAS_TASKSET:
        os.sched_setaffinity(0, {1})
    total = int(rate * seconds)
    local = threading.local()
    headers = {"Authorization": basic_auth(KEY)}
    began = time.perf_counter() + 0.5

    def one(n: int) -> tuple[str, float]:
        session = getattr(local, "session", None)
        if session is None:
            session = local.session = requests.Session()
            session.trust_env = False
        scheduled = began + n / rate
        pause = scheduled - time.perf_counter()
        if pause > 0:
            time.sleep(pause)  # the open-loop schedule, not synchronisation
        try:
            answer = session.get(f"{url}/v1/feed", params={"device_id": devices[n % len(devices)]},
                                 headers=headers, timeout=30)  # fmt: skip
            policy = answer.json()["policy"] if answer.ok else f"status {answer.status_code}"
        except requests.RequestException as exc:
            policy = f"error {type(exc).__name__}"
        return policy, time.perf_counter() - scheduled

    with ThreadPoolExecutor(max_workers=48) as pool:
        outcomes = list(pool.map(one, range(total)))
    by_policy: dict[str, list[float]] = {}
    for policy, latency in outcomes:
        by_policy.setdefault(policy, []).append(latency * 1000)
    return {policy: _percentiles(values) for policy, values in sorted(by_policy.items())}


def _percentiles(values: list[float]) -> dict[str, float]:
    values.sort()

    def at(q: float) -> float:
        return round(values[min(len(values) - 1, int(q * len(values)))], 2)

    return {"requests": len(values), "p50_ms": at(0.50), "p99_ms": at(0.99), "max_ms": at(1.0)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/reelscope-recommend-bench"))
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    keys = args.dir / "keys.json"
    if not keys.exists():
        KeyFile(keys).add("bench", KEY)
    [record] = KeyFile(keys).load()
    write_catalog(args.dir / "catalog.json")
    results: dict[str, Any] = {"cpus": os.cpu_count(), "training": [], "feed": None}
    for target in args.events:
        store = args.dir / f"events-{target}.db"
        generation = None
        if not store.exists():
            print(f"generating ~{target:,} events into {store} ...", flush=True)
            generation = generate(store, target, record.id)
            print(f"  {generation}", flush=True)
        model = args.dir / f"model-{target}.npz"
        trained = train(store, model)
        results["training"].append({"events": target, "generation": generation, **trained})
        print(f"{target:>12,} events: training {trained['wall_s']} s, peak RSS "
              f"{trained['peak_rss_mb']} MB; {trained['trainer']}", flush=True)  # fmt: skip
    first = args.events[0]
    model = args.dir / f"model-{first}.npz"
    write_experiment(args.dir / "experiment.toml", model)
    with sqlite3.connect(args.dir / f"events-{first}.db") as db:
        known = [d for (d,) in db.execute("SELECT DISTINCT device_id FROM events LIMIT 4000")]
    devices = known + [f"new-device-{n}" for n in range(len(known) // 4)]
    random.Random(3).shuffle(devices)
    collector = Collector(args.dir, args.dir / f"events-{first}.db", keys)
    try:
        feed = load(collector.url, devices, args.rate, args.seconds)
    finally:
        collector.stop()
    results["feed"] = {"rate_per_s": args.rate, "seconds": args.seconds, "store_events": first,
                       "by_policy": feed}  # fmt: skip
    print(f"GET /v1/feed at {args.rate:g}/s for {args.seconds:g} s (store {first:,} events):")
    for policy, figures in feed.items():
        print(f"  {policy:<10} {figures}")
    save_results("recommend", results)


if __name__ == "__main__":
    main()
