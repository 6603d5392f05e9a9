"""The browse and data-quality SQL (telemetry/report/browse_sql.py) on a synthetic `facts` table
made by ClickHouse itself (INSERT ... SELECT FROM numbers()), beside its peer in the same run:
the least any figure over the events costs, one GROUP BY (app_session_id, seq) over them.

    .venv/bin/python -m benchmarks.browse_sql [--events 1000000 10000000]

Launches of 200 events: 13 % impressions, 27 % tile_visibility spans of the same tiles,
0.3 % feeds of 8 rows x 20 titles, 1.7 % play_requests naming an impression shortly before,
heartbeats for the rest; 1 % of events stored twice under another key (whole batches of 40,
as a retried send), 0.5 % recorded again under a new seq. Each measurement is a child
process (wall time, peak RSS of its tree). The data is made in a temporary directory and
deleted. Writes JSON to benchmarks/results/.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.child import run_measured  # noqa: E402
from benchmarks.results_file import save_results  # noqa: E402

EVENTS_SQL = """
INSERT INTO facts (app_session_id, seq, key_id, event_id, received_at, type, device_id,
    play_session_id, mono_ms, time, corrected_time, context_hash, props_ok, props_hash,
    video_id, impression_id, request_id, row_id, row_index, rank, half_visible_ms, first_part,
    from_track, to_track, raw)
SELECT
    concat(hex(cityHash64(launch)), '-launch') AS app_session_id,
    number % 200 + 1 AS seq,
    'key-1', toString(generateUUIDv4(number)), 1700000000000 + number * 10 + 50,
    multiIf(r < 130, 'impression', r < 400, 'tile_visibility', r < 403, 'feed_served',
            r < 420, 'play_request', 'heartbeat') AS kind,
    concat('device-', toString(intDiv(launch, 10))),
    if(kind IN ('heartbeat', 'play_request'), concat('ps-', toString(intDiv(number, 50))), NULL),
    seq * 3000, 1700000000000 + number * 10,
    1700000000000 + number * 10 + if(number % 97 = 0, 5000, 0),
    if(launch % 3 = 0, 'aa01', 'aa02'), 1, cityHash64(number),
    if(kind IN ('impression', 'tile_visibility', 'play_request'),
       concat('v', toString((launch * 31 + tile % 23) % 500)), NULL),
    multiIf(kind = 'impression', concat('imp-', toString(launch), '-', toString(tile)),
            kind = 'play_request', concat('imp-', toString(launch), '-', toString(tile)), NULL),
    if(kind IN ('impression', 'tile_visibility', 'feed_served'),
       concat('req-', toString(launch)), NULL),
    if(kind IN ('impression', 'tile_visibility'), concat('row-', toString(tile % 8)), NULL),
    if(kind = 'impression', tile % 8, NULL),
    if(kind = 'impression', tile % 20, NULL),
    if(kind = 'tile_visibility', (number * 37) % 5000, NULL),
    1, '', '', ''
FROM (
    SELECT number, intDiv(number, 200) AS launch, (number * 2654435761) % 1000 AS r,
           (number * 40503) % 184 AS tile
    FROM numbers({events:UInt64})
)
"""
COPIES_SQL = """
INSERT INTO facts SELECT * REPLACE ('key-2' AS key_id, received_at + 5 AS received_at)
FROM facts WHERE cityHash64(app_session_id, intDiv(seq, 40)) % 100 = 0
"""
REPEATS_SQL = """
INSERT INTO facts SELECT * REPLACE (seq + 1000 AS seq, concat(event_id, '-again') AS event_id)
FROM facts WHERE key_id = 'key-1' AND cityHash64(event_id) % 200 = 1
"""
SERVED_SQL = """
INSERT INTO served_rows SELECT app_session_id, seq, key_id, event_id, assumeNotNull(request_id),
    p, concat('row-', toString(p)), p,
    arrayMap(i -> concat('v', toString((i * 7 + p + seq) % 500)), range(20))
FROM facts ARRAY JOIN range(8) AS p WHERE type = 'feed_served'
"""
CONTEXTS_SQL = """
INSERT INTO contexts VALUES ('aa01', '{"app":{"version":"1.0"},"os":{"name":"Linux"}}'),
    ('aa02', '{"app":{"version":"1.1"},"os":{"name":"Windows"}}')
"""
PEER_SQL = (
    "SELECT count(), sum(copies)"
    " FROM (SELECT count() AS copies FROM facts GROUP BY app_session_id, seq)"
)


def _open(path: str) -> Any:
    from telemetry.contracts.clickhouse import Warehouse

    return Warehouse(f"chdb://{path}")


def child_generate(path: str, events: int) -> None:
    from telemetry.warehouse.schema import apply_schema, statements

    warehouse = _open(path)
    apply_schema(warehouse)
    for statement in statements((REPO / "telemetry/contracts/facts.sql").read_text()):
        warehouse.command(statement)
    warehouse.command(EVENTS_SQL, {"events": events})
    for sql in (COPIES_SQL, REPEATS_SQL, SERVED_SQL, CONTEXTS_SQL):
        warehouse.command(sql)
    warehouse.command("OPTIMIZE TABLE facts")  # one part, as a settled table would be
    (rows,) = warehouse.rows("SELECT count() FROM facts")
    print(rows[0])
    warehouse.close()


def child_browse(path: str, app_version: str) -> None:
    from telemetry.report.browse_sql import browse_figures
    from telemetry.report.queries import Filters

    warehouse = _open(path)
    started = time.perf_counter()
    rows = browse_figures(warehouse, Filters(app_version=app_version or None))
    print(round(time.perf_counter() - started, 2), rows.quality.events, rows.browse.impressions)
    warehouse.close()


def child_peer(path: str) -> None:
    warehouse = _open(path)
    started = time.perf_counter()
    list(warehouse.rows(PEER_SQL))
    print(round(time.perf_counter() - started, 2))
    warehouse.close()


def measure(*args: str) -> tuple[list[str], float, float]:
    finished = run_measured([sys.executable, "-m", "benchmarks.browse_sql", "--child", *args])
    if finished.returncode != 0:
        raise SystemExit(finished.err.decode()[-2000:])
    return finished.out.decode().split(), finished.wall_s, finished.peak_rss_mb


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--child", nargs="+")
    args = parser.parse_args()
    if args.child:
        kind, *rest = args.child
        {"generate": lambda: child_generate(rest[0], int(rest[1])),
         "browse": lambda: child_browse(rest[0], rest[1] if len(rest) > 1 else ""),
         "peer": lambda: child_peer(rest[0])}[kind]()  # fmt: skip
        return
    results: dict[str, Any] = {"cpus": os.cpu_count(), "load": os.getloadavg(), "runs": []}
    for events in args.events:
        with tempfile.TemporaryDirectory() as tmp:
            path = str(Path(tmp) / "clickhouse")
            (stored,), generate_s, _ = measure("generate", path, str(events))
            run: dict[str, Any] = {
                "events": events,
                "stored_rows": int(stored),
                "generate_s": generate_s,
            }
            for name, extra in (("browse", []), ("browse_app_version", ["1.1"])):
                (query_s, *_), wall, peak = measure("browse", path, *extra)
                run[name] = {"query_s": float(query_s), "process_s": wall, "peak_rss_mb": peak}
            (peer_s,), wall, peak = measure("peer", path)
            run["peer_group_by_event"] = {
                "query_s": float(peer_s),
                "process_s": wall,
                "peak_rss_mb": peak,
            }
            run["browse_over_peer"] = round(run["browse"]["query_s"] / max(float(peer_s), 1e-3), 1)
            results["runs"].append(run)
            print(run, flush=True)
    save_results("browse_sql", results)


if __name__ == "__main__":
    main()
