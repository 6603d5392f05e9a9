"""`reelscope-report` over big synthetic stores: wall time and peak memory at 1 M and 10 M events.

    .venv/bin/python benchmarks/report.py [--events 1000000 10000000] [--dir DIR] [--keep]

The generator writes a collector store directly (the collector's own schema.sql, pragmas and
INSERT statement, no HTTP) with a realistic mix per launch: app_start, home feeds of 10 rows x
15 titles, visibility spans and impressions biased to the top-left, hovers, one to four play
sessions (most from an impression) with heartbeats every 10 s of an exponential watch time,
stalls, seeks, pauses, startup failures, exits and playback errors, and app_exit. Launches run
concurrently and their batches are interleaved in arrival order, a few arrive late (out of
order) and 0.1 % of batches are stored a second time under another key, so the report's reads
jump around the table as they do on a real store. A store is reused if it already exists
(delete it or pass a fresh --dir to regenerate).

Then it runs `reelscope-report` (default text output) as a child process, sampling the resident
memory of its process tree every 50 ms: twice, first with no mirror (the chdb mirror is built,
then the SQL runs) and then with the mirror up to date; and, beside it, the report as of
`--baseline` (the Python fold the SQL replaced, read from git). Writes JSON to
benchmarks/results/.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.child import run_measured  # noqa: E402
from benchmarks.results_file import save_results  # noqa: E402
from telemetry.client.client import new_event_id  # noqa: E402
from telemetry.collector.sqlite_sink import INSERT_EVENT, SCHEMA_VERSION  # noqa: E402

START = 1_790_000_000_000  # 2026-09-21
SPAN_MS = 30 * 24 * 3600 * 1000
TITLES = [f"title-{n:04d}" for n in range(2000)]
ROWS, RANKS = 10, 15
CONCURRENT = 300  # launches in flight: their batches interleave in the table
BATCH = 25
# The last commit whose report folded every event in Python (issue 19's baseline).
BASELINE = "8631ed1"


class Launch:
    """One app session of one device: builds its events in recording order."""

    def __init__(self, rng: random.Random, device: str, start: int, context: bytes) -> None:
        self.rng = rng
        self.device = device
        self.app_session_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        self.wall = start
        self.mono = rng.randrange(10**6, 10**9)
        self.seq = 0
        self.context = context
        self.skew = rng.choice([0] * 18 + [-3_600_000, 120_000])
        self.events: list[dict[str, Any]] = []

    def emit(self, kind: str, advance: int = 0, **props: Any) -> None:
        self.wall += advance
        self.mono += advance
        self.seq += 1
        if self.rng.random() < 0.0005:
            return  # lost before reaching the outbox: a gap in seq
        self.events.append(
            {
                "event_id": new_event_id(self.wall),
                "type": kind,
                "schema": 1,
                "time": self.wall + self.skew,
                "mono_ms": self.mono,
                "seq": self.seq,
                "app_session_id": self.app_session_id,
                "device_id": self.device,
                "properties": props,
            }
        )


def _pick_tile(rng: random.Random) -> tuple[int, int]:
    """People look at the top rows and the first ranks far more: geometric in both."""
    return min(int(rng.expovariate(0.45)), ROWS - 1), min(int(rng.expovariate(0.35)), RANKS - 1)


def build_launch(rng: random.Random, device: str, start: int, context: bytes) -> Launch:
    launch = Launch(rng, device, start, context)
    launch.emit("app_start", startup_ms=rng.randrange(300, 1500))
    for _feed in range(rng.choice([1, 1, 2])):
        request_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        grid = [[rng.choice(TITLES) for _ in range(RANKS)] for _ in range(ROWS)]
        launch.emit("feed_served", 200, request_id=request_id, location="home", rows=[
            {"row_id": f"row-{r}", "row_index": r, "track_id": f"track-{r}", "title": f"Row {r}",
             "items": [{"video_id": v, "rank": k} for k, v in enumerate(grid[r])]}
            for r in range(ROWS)
        ])  # fmt: skip
        seen: dict[tuple[int, int], str] = {}
        for _ in range(rng.randrange(15, 45)):
            row, rank = _pick_tile(rng)
            tile = {"request_id": request_id, "row_id": f"row-{row}", "row_index": row,
                    "rank": rank, "video_id": grid[row][rank]}  # fmt: skip
            half = int(rng.expovariate(1 / 2500))
            launch.emit("tile_visibility", rng.randrange(100, 3000), **tile,
                        start_mono=launch.mono - half, end_mono=launch.mono,
                        max_visible_fraction=1.0,
                        ms_at_least_half_visible=half, end_reason="hidden")  # fmt: skip
            if half >= 1000 and (row, rank) not in seen:
                seen[(row, rank)] = impression_id = str(uuid.uuid4())
                launch.emit("impression", 0, impression_id=impression_id, **tile,
                            track_id=f"track-{row}", location="home")  # fmt: skip
                if rng.random() < 0.2:
                    launch.emit("tile_action", 500, impression_id=impression_id, action="hover",
                                dwell_ms=rng.randrange(200, 3000))  # fmt: skip
        for _play in range(rng.choice([0, 1, 1, 2, 3])):
            if seen and rng.random() < 0.75:
                (row, rank), impression_id = rng.choice(list(seen.items()))
                source = {"request_id": request_id, "row_id": f"row-{row}", "rank": rank,
                          "impression_id": impression_id, "location": "home"}  # fmt: skip
                video = grid[row][rank]
            else:
                source = {"request_id": None, "row_id": None, "rank": None,
                          "impression_id": None, "location": "recent"}  # fmt: skip
                video = rng.choice(TITLES)
            play_session(launch, rng, video, source)
    launch.emit("app_exit", 1000, reason="user", uptime_ms=launch.mono % 10**7)
    return launch


def play_session(launch: Launch, rng: random.Random, video: str, source: dict[str, Any]) -> None:
    sid = str(uuid.uuid4())
    duration = rng.randrange(60_000, 3_600_000)
    launch.emit("play_request", rng.randrange(500, 20_000), play_session_id=sid,
                video_id=video, source=source, start_position_ms=0)  # fmt: skip
    outcome = rng.random()
    if outcome < 0.02:
        category = rng.choice(["not_found", "network", "unsupported"])
        launch.emit("error", 400, play_session_id=sid, fatal=True, phase="startup",
                    category=category, message="x")  # fmt: skip
        launch.emit("session_end", 0, play_session_id=sid, reason="error")
        return
    launch.emit("player_ready", rng.randrange(50, 400), play_session_id=sid, open_ms=100,
                duration_ms=duration)  # fmt: skip
    if outcome < 0.05:
        launch.emit(
            "session_end", rng.randrange(500, 5000), play_session_id=sid, reason="user_stop"
        )
        return
    startup = int(rng.lognormvariate(6.6, 0.5))
    launch.emit("first_frame", startup, play_session_id=sid, startup_ms=startup, codec="h264",
                width=1920, height=1080, fps=25.0)  # fmt: skip
    watch = min(int(rng.expovariate(1 / 600_000)), duration)
    position = 0
    while position + 10_000 < watch:
        step = 10_000
        if rng.random() < 0.03:
            stall = int(rng.expovariate(1 / 1500))
            launch.emit("rebuffer_start", 4000, play_session_id=sid, trigger="buffering",
                        position_ms=position + 4000)  # fmt: skip
            launch.emit("rebuffer_end", stall, play_session_id=sid, trigger="buffering",
                        position_ms=position + 4000, stall_ms=stall)  # fmt: skip
            step -= 4000
        if rng.random() < 0.02:
            target = rng.randrange(0, duration)
            latency = int(rng.expovariate(1 / 400))
            launch.emit("seek_start", step, play_session_id=sid, from_ms=position + step,
                        to_ms=target, method="mouse")  # fmt: skip
            launch.emit("seek_end", latency, play_session_id=sid, from_ms=position + step,
                        to_ms=target, method="mouse", seek_latency_ms=latency)  # fmt: skip
            position = target
            continue
        position += 10_000
        launch.emit("heartbeat", step, play_session_id=sid, position_ms=position,
                    played_ms=10_000, stall_ms=0, displayed_pictures=250, lost_pictures=0,
                    lost_audio_buffers=0, demux_bitrate=4_500_000.0)  # fmt: skip
        if rng.random() < 0.01:
            launch.emit("pause", 0, play_session_id=sid, position_ms=position)
            launch.emit("resume", rng.randrange(2000, 120_000), play_session_id=sid,
                        position_ms=position)  # fmt: skip
    if rng.random() < 0.005:
        launch.emit("error", 2000, play_session_id=sid, fatal=True, phase="playback",
                    category="decode", message="x", position_ms=position)  # fmt: skip
        launch.emit("session_end", 0, play_session_id=sid, reason="error")
    elif watch >= duration:
        launch.emit("ended", duration - position, play_session_id=sid, position_ms=duration)
        launch.emit("session_end", 0, play_session_id=sid, reason="completed")
    elif rng.random() < 0.01:
        return  # crashed: no session_end
    else:
        launch.emit("session_end", rng.randrange(0, 10_000), play_session_id=sid,
                    reason="user_stop", position_ms=position + 5000)  # fmt: skip


def canonical_context(context: dict[str, Any]) -> tuple[bytes, str]:
    """(hash, JSON) of a context shared by all devices (the store's unowned rows)."""
    encoded = orjson.dumps(context, option=orjson.OPT_SORT_KEYS)
    return hashlib.blake2b(encoded, digest_size=16).digest(), encoded.decode()


def batches(target: int, seed: int) -> Iterator[tuple[list[dict[str, Any]], bytes, int]]:
    """(events, context hash, clock skew) batches in arrival order until `target` events."""
    rng = random.Random(seed)
    contexts = []
    for version in ("1.0.0", "1.1.0", "1.2.0"):
        for system in ("Linux", "Windows", "Darwin"):
            contexts.append(
                canonical_context(
                    {"app": {"name": "reelscope", "version": version}, "os": {"name": system}}
                )
            )
    devices = [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(20_000)]
    produced = 0
    active: list[tuple[Launch, int]] = []  # (launch, events already sent)
    late: list[tuple[list[dict[str, Any]], bytes, int]] = []
    clock = START
    while produced < target or active:
        while produced < target and len(active) < CONCURRENT:
            clock += rng.randrange(0, 2 * SPAN_MS // max(1, target // 200))
            digest, _ = rng.choice(contexts)
            launch = build_launch(rng, rng.choice(devices), clock, digest)
            produced += len(launch.events)
            active.append((launch, 0))
        index = rng.randrange(len(active))
        launch, sent = active[index]
        chunk = launch.events[sent : sent + BATCH]
        if sent + BATCH >= len(launch.events):
            active[index] = active[-1]
            active.pop()
        else:
            active[index] = (launch, sent + BATCH)
        if rng.random() < 0.01:
            late.append((chunk, launch.context, launch.skew))  # sent after an outage
        else:
            yield chunk, launch.context, launch.skew
        if len(late) > 50:
            yield from late
            late.clear()
    yield from late


def generate(path: Path, target: int, seed: int = 7) -> dict[str, Any]:
    started = time.perf_counter()
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = OFF")
    schema = (REPO / "telemetry" / "collector" / "schema.sql").read_text()
    db.executescript(f"BEGIN; {schema}; PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;")
    context_rows = set()
    rows: list[tuple[Any, ...]] = []
    count = duplicates = 0
    rng = random.Random(seed + 1)
    db.execute("BEGIN")
    for events, context, skew in batches(target, seed):
        sent_at = events[-1]["time"] + rng.randrange(0, 2000)
        received = sent_at - skew + rng.randrange(1, 50)
        copies = ["bench", "bench-2"] if rng.random() < 0.001 else ["bench"]
        duplicates += len(events) * (len(copies) - 1)
        for key in copies:
            for e in events:
                props = e["properties"]
                rows.append((
                    key, e["event_id"], e["type"], "reelscope", 1, e["device_id"],
                    e["app_session_id"], e["seq"], e["mono_ms"], props.get("play_session_id"),
                    props.get("request_id"), e["time"], sent_at, received,
                    received - (sent_at - e["time"]), context, orjson.dumps(e).decode(),
                ))  # fmt: skip
        context_rows.add(context)
        if len(rows) >= 50_000:
            count += insert_rows(db, rows)
            db.execute("BEGIN")
    count += insert_rows(db, rows)
    for version in ("1.0.0", "1.1.0", "1.2.0"):
        for system in ("Linux", "Windows", "Darwin"):
            digest, text = canonical_context(
                {"app": {"name": "reelscope", "version": version}, "os": {"name": system}}
            )
            db.execute("INSERT OR IGNORE INTO contexts (hash, json) VALUES (?, ?)", (digest, text))
    db.execute("INSERT INTO client_drops (key_id, device_id, reason, dropped, received_at)"
               " VALUES ('bench', NULL, 'outbox_full', 42, ?)", (START,))  # fmt: skip
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    return {
        "rows": count,
        "duplicate_rows": duplicates,
        "seconds": round(time.perf_counter() - started, 1),
        "bytes": path.stat().st_size,
    }


def insert_rows(db: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> int:
    """Insert `rows` into the events table, commit, empty the list; the number inserted."""
    db.executemany(INSERT_EVENT, rows)
    inserted = len(rows)
    rows.clear()
    db.execute("COMMIT")
    return inserted


def baseline_tree(commit: str, into: Path) -> Path:
    """The `telemetry` package as of `commit` (the Python fold the SQL replaced), from git."""
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", commit, "telemetry"], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def run_report(path: Path, extra: list[str], cwd: Path = REPO) -> dict[str, Any]:
    command = [sys.executable, "-m", "telemetry.report.cli", "--db", str(path), *extra]
    run = run_measured(command, cwd=cwd)
    if run.returncode != 0:
        raise SystemExit(f"report failed: {run.err.decode()}")
    return {
        "wall_s": run.wall_s,
        "peak_rss_mb": run.peak_rss_mb,
        "output_lines": run.out.count(b"\n"),
        "head": run.out.decode()[:1500],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--dir", type=Path, default=Path("/tmp/reelscope-report-bench"))
    parser.add_argument(
        "--baseline", default=BASELINE, help="commit whose Python fold runs beside (or 'none')"
    )
    arguments = parser.parse_args()
    arguments.dir.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {"cpus": __import__("os").cpu_count(), "runs": []}
    for target in arguments.events:
        path = arguments.dir / f"events-{target}.db"
        generation = None
        if not path.exists():
            print(f"generating ~{target:,} events into {path} ...", flush=True)
            generation = generate(path, target)
            print(f"  {generation}", flush=True)
        shutil.rmtree(path.with_name(path.name + ".engine"), ignore_errors=True)
        cold = run_report(path, [])  # the mirror built first
        report = run_report(path, [])  # the mirror up to date
        run = {"events": target, "store_bytes": path.stat().st_size, "generation": generation,
               "cold_wall_s": cold["wall_s"], "cold_peak_rss_mb": cold["peak_rss_mb"],
               **{k: v for k, v in report.items() if k != "head"}}  # fmt: skip
        if arguments.baseline != "none":
            with tempfile.TemporaryDirectory() as old:
                fold = run_report(path, [], cwd=baseline_tree(arguments.baseline, Path(old)))
            run["python_fold"] = {"commit": arguments.baseline, "wall_s": fold["wall_s"],
                                  "peak_rss_mb": fold["peak_rss_mb"]}  # fmt: skip
            print(f"  Python fold ({arguments.baseline}): {fold['wall_s']} s", flush=True)
        results["runs"].append(run)
        print(report["head"])
        print(f"{target:>12,} events: report {report['wall_s']} s, peak RSS "
              f"{report['peak_rss_mb']} MB (process and workers)", flush=True)  # fmt: skip
    save_results("report", results)


if __name__ == "__main__":
    main()
