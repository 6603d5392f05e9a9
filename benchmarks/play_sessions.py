"""The play sessions' figures in SQL (`telemetry/report/sql/play_sessions.sql`) on synthetic
`facts` tables of 1 M and 10 M events in chdb. (The whole report beside the Python fold it
replaced, on real stores, is benchmarks/report.py.)

    .venv/bin/python benchmarks/play_sessions.py [--events 1000000 10000000] [--dir /tmp/x]

The rows come from `INSERT ... SELECT FROM numbers()`: launches of 5 play sessions of 80
events (play_request, player_ready, first_frame, ~45 % heartbeats, pauses, seeks, stalls,
track changes, errors, other events with and without a play session; ended and session_end),
1 % stored twice under another key. Times: the SQL with `FORMAT Null`, then
`session_sql.play_sessions` (rows decoded into `SessionFigures`); peak memory from
the child's VmHWM (reset before the query), CPU from getrusage. Writes JSON to benchmarks/results/.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


from benchmarks.results_file import save_results  # noqa: E402
from telemetry.contracts.clickhouse import Warehouse  # noqa: E402
from telemetry.report.queries import Filters  # noqa: E402
from telemetry.report.session_sql import play_sessions, play_sessions_sql  # noqa: E402
from telemetry.warehouse.schema import statements  # noqa: E402

FACTS_SQL = REPO / "telemetry" / "contracts" / "facts.sql"
CONTEXTS_SQL = (
    "CREATE TABLE IF NOT EXISTS contexts (hash String, json String)"
    " ENGINE = ReplacingMergeTree ORDER BY hash"
)

# One row per event `number`: launch = number / 400, session = (number % 400) / 80.
_EVENTS = """
SELECT
    lower(hex(MD5(toString(intDiv(number, 400))))) AS app_session_id,
    toInt64(number % 400 + 1) AS seq,
    'key-a' AS key_id,
    toString(number) AS event_id,
    toInt64(1700000000000 + mono + 100) AS received_at,
    multiIf(i = 0, 'play_request', i = 1, 'player_ready', i = 2, 'first_frame',
            i = 79, 'session_end', i = 78 AND h < 50, 'ended',
            h < 49, 'heartbeat', h < 55, 'pause', h < 61, 'resume', h < 66, 'seek_start',
            h < 71, 'seek_end', h < 76, 'rebuffer_start', h < 81, 'rebuffer_end',
            h < 84, 'track_change', h < 86, 'error', 'volume_change') AS type,
    concat('device-', toString(intDiv(number, 400) % 5000)) AS device_id,
    if(h >= 95 AND i > 2 AND i < 78, NULL,
       concat(app_session_id, '-', toString(intDiv(number % 400, 80)))) AS play_session_id,
    toInt64(intDiv(number, 400) * 7 + intDiv(number % 400, 80) * 200000 + i * 1000) AS mono,
    mono AS mono_ms,
    toInt64(1700000000000 + mono) AS time,
    time AS corrected_time,
    ['aa01', 'aa02', 'aa03'][intDiv(number, 400) % 3 + 1] AS context_hash,
    toUInt8(1) AS props_ok,
    cityHash64(number) AS props_hash,
    if(type = 'play_request', concat('video-', toString(h)), NULL) AS video_id,
    if(type = 'play_request', toInt64(0), NULL) AS start_position_ms,
    if(type = 'play_request', 'home', NULL) AS location,
    if(type IN ('player_ready', 'session_end'), toInt64(300000), NULL) AS duration_ms,
    if(type = 'first_frame', toInt64(400 + h * 10), NULL) AS startup_ms,
    if(type IN ('heartbeat', 'pause', 'resume', 'rebuffer_start', 'rebuffer_end', 'ended',
                'error', 'session_end'), toInt64(i * 1000), NULL) AS position_ms,
    if(type = 'seek_start', toInt64(i * 1000), NULL) AS from_ms,
    if(type IN ('seek_start', 'seek_end'), toInt64(i * 1000 + 5000), NULL) AS to_ms,
    if(type = 'seek_end' AND h % 2 = 0, toInt64(h * 10), NULL) AS seek_latency_ms,
    if(type = 'rebuffer_end' AND h % 2 = 0, toInt64(h * 20), NULL) AS stall_ms,
    toUInt8(type = 'error' AND h % 2 = 0) AS fatal,
    if(type = 'error', 'network', NULL) AS category,
    if(type = 'session_end', 'user_exit', NULL) AS reason,
    if(type = 'track_change', 'video', NULL) AS kind,
    if(type = 'track_change', toString(h % 3), '') AS from_track,
    if(type = 'track_change', toString(h % 2), '') AS to_track,
    if(type = 'heartbeat', toInt64(1280), NULL) AS width,
    if(type IN ('heartbeat', 'first_frame', 'track_change'), toInt64([480, 720, 1080][h % 3 + 1]),
       NULL) AS height,
    if(type = 'heartbeat', toInt64(1920), NULL) AS window_width,
    if(type = 'heartbeat', toInt64(1080), NULL) AS window_height,
    if(type = 'heartbeat', 1000.0, NULL) AS played_ms,
    toUInt8(0) AS first_part,
    concat('{"type":"', type, '","properties":{',
        multiIf(
            type = 'play_request', concat('"video_id":"', video_id, '","start_position_ms":0,',
                                          '"source":{"location":"home"}'),
            type = 'player_ready', '"duration_ms":300000',
            type = 'first_frame', concat('"startup_ms":', toString(startup_ms), ',"height":',
                                         toString(height)),
            type = 'seek_start', concat('"from_ms":', toString(from_ms), ',"to_ms":',
                                        toString(to_ms)),
            type = 'seek_end', concat('"to_ms":', toString(to_ms),
                                      if(seek_latency_ms IS NULL, '',
                                         concat(',"seek_latency_ms":',
                                                toString(seek_latency_ms)))),
            type = 'rebuffer_end', concat('"position_ms":', toString(position_ms),
                                          if(stall_ms IS NULL, '',
                                             concat(',"stall_ms":', toString(stall_ms)))),
            type = 'heartbeat', concat('"position_ms":', toString(position_ms),
                                       ',"width":1280,"height":', toString(height),
                                       ',"window_width":1920,"window_height":1080,',
                                       '"played_ms":1000.0'),
            type = 'track_change', concat('"kind":"video","height":', toString(height),
                                          ',"from_track":', from_track, ',"to_track":', to_track),
            type = 'error', concat('"position_ms":', toString(position_ms), ',"fatal":',
                                   if(fatal = 1, 'true', 'false'), ',"category":"network"'),
            type = 'session_end', concat('"position_ms":', toString(position_ms),
                                         ',"reason":"user_exit","duration_ms":300000'),
            type = 'volume_change', '"volume":50',
            concat('"position_ms":', toString(position_ms))),
        '}}') AS raw
FROM (SELECT number, number % 80 AS i, cityHash64(number, 1) % 100 AS h FROM numbers({events}))
"""


def build(warehouse: Warehouse, events: int) -> None:
    for statement in statements(FACTS_SQL.read_text()):
        warehouse.command(statement)
    warehouse.command(CONTEXTS_SQL)
    columns = _EVENTS.replace("{events}", str(events))
    names = [row[0] for row in warehouse.rows(f"DESCRIBE ({columns})")]
    listed = ", ".join(name for name in names if name not in {"mono", "i", "h", "number"})
    warehouse.command(f"INSERT INTO facts ({listed}) SELECT {listed} FROM ({columns})")
    warehouse.command(
        "INSERT INTO facts SELECT * REPLACE ('key-b' AS key_id, received_at + 5 AS received_at)"
        " FROM facts WHERE cityHash64(event_id) % 100 = 0"
    )
    warehouse.command("OPTIMIZE TABLE facts FINAL")
    warehouse.insert(
        "contexts",
        [
            b'{"hash":"aa01","json":"{\\"app\\":{\\"version\\":\\"1.0\\"},\\"os\\":{\\"name\\":\\"linux\\"}}"}',
            b'{"hash":"aa02","json":"{\\"app\\":{\\"version\\":\\"1.1\\"},\\"os\\":{\\"name\\":\\"windows\\"}}"}',
            b'{"hash":"aa03","json":"{}"}',
        ],
    )


def measure_sql(root: Path) -> dict[str, Any]:
    """In a fresh child process (its peak RSS is the query's plus chdb's own)."""
    child = subprocess.run(
        [sys.executable, __file__, "--measure", str(root)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    return dict(json.loads(child.stdout.strip().splitlines()[-1]))


def measure_child(root: Path) -> None:
    warehouse = Warehouse(f"chdb://{root}")
    parameters = {"since": None, "until": None, "app_version": None, "os": None, "video_id": None}
    stored = int(next(iter(warehouse.rows("SELECT count() FROM facts")))[0])
    opened_rss = _rss_mb()
    Path("/proc/self/clear_refs").write_text("5")  # the peak RSS restarts from now
    started = time.perf_counter()
    cpu = _cpu_seconds()
    warehouse.command(play_sessions_sql().rstrip() + " FORMAT Null", parameters)
    sql_seconds = time.perf_counter() - started
    sql_cpu = _cpu_seconds() - cpu
    sql_peak = _peak_mb()
    started = time.perf_counter()
    rows = play_sessions(warehouse, Filters())
    call_seconds = time.perf_counter() - started
    warehouse.close()
    print(json.dumps({
        "stored_rows": stored,
        "sql_seconds": round(sql_seconds, 2),
        "play_sessions_seconds": round(call_seconds, 2),
        "sessions": len(rows.sessions),
        "sql_cpu_seconds": round(sql_cpu, 2),
        "rss_before_mb": opened_rss,
        "sql_peak_rss_mb": sql_peak,
        "peak_rss_mb": _peak_mb(),
    }))  # fmt: skip


def _rss_mb() -> float:
    return _status_mb("VmRSS")


def _peak_mb() -> float:
    return _status_mb("VmHWM")


def _status_mb(name: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(name + ":"):
            return round(int(line.split()[1]) / 1024, 1)
    raise RuntimeError(f"no {name} in /proc/self/status")


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure is not None:
        measure_child(args.measure)
        return
    results: dict[str, Any] = {"runs": []}
    for events in args.events:
        root = Path(tempfile.mkdtemp(dir=args.dir, prefix="play-sessions-"))
        warehouse = Warehouse(f"chdb://{root}")
        try:
            started = time.perf_counter()
            build(warehouse, events)
            run: dict[str, Any] = {"events": events}
            run["build_seconds"] = round(time.perf_counter() - started, 1)
            warehouse.close()
            run.update(measure_sql(root))
            print(run, flush=True)
            results["runs"].append(run)
        finally:
            shutil.rmtree(root, ignore_errors=True)
    save_results("play_sessions", results)


if __name__ == "__main__":
    main()
