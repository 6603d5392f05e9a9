"""Data sets for the report engine at scale, and what the SQLite store's mirror costs.

    .venv/bin/python benchmarks/engine_data.py store [--events 10000000]
    .venv/bin/python benchmarks/engine_data.py chdb [--events 100000000]
    .venv/bin/python benchmarks/engine_data.py measure
    .venv/bin/python benchmarks/engine_data.py incremental STORE   # +1 % rows, one sync
    .venv/bin/python benchmarks/engine_data.py sync STORE   # one mirror sync (the measured child)

`store` makes a real collector store of N events in /tmp/reelscope-engine-bench/ from
benchmarks/report.py's 1 M store (built first if missing, in /tmp/reelscope-report-bench/): the
collector's schema and pragmas, and copies of every launch with new event, device, app session
and play session ids (suffix `-k`), written by SQLite itself (indexes built after the rows).

`chdb` makes N events directly as chdb's own files (`events-N.chdb/`: facts, served_rows,
contexts; 100 GB of SQLite would not fit): the 10 M store is mirrored once (the one parse),
its facts and served rows copied inside ClickHouse under new ids (suffix `~k`), and the
mirror's data directory moved there (`Warehouse("chdb:///tmp/.../events-N.chdb")` opens it).

`measure` times, each in a child process under `/usr/bin/time -v` (wall, CPU, peak RSS): the cold
mirror build of a 1 M and the 10 M store, then an incremental sync after +1 % rows (appended to
the store as copies of its first launches); and the disk size of stores and mirrors. Writes JSON
to benchmarks/results/.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.results_file import save_results  # noqa: E402
from telemetry.contracts.clickhouse import Warehouse  # noqa: E402
from telemetry.report.engine import mirror_path, open_engine  # noqa: E402

BENCH = Path("/tmp/reelscope-engine-bench")
REPORT_BENCH = Path("/tmp/reelscope-report-bench")
BASE = 1_000_000
_COLUMNS = (
    "key_id, event_id, type, source, schema, device_id, app_session_id, seq, mono_ms,"
    " play_session_id, request_id, time, sent_at, received_at, corrected_time, context_hash, raw"
)
# The copied columns, with new identities: `{s}` is the copy's suffix.
_COPY = (
    "key_id, event_id || '{s}', type, source, schema, device_id || '{s}',"
    " app_session_id || '{s}', seq, mono_ms, play_session_id || '{s}', request_id, time,"
    " sent_at, received_at, corrected_time, context_hash, raw"
)


def base_store() -> Path:
    path = REPORT_BENCH / f"events-{BASE}.db"
    if not path.exists():
        REPORT_BENCH.mkdir(parents=True, exist_ok=True)
        from benchmarks.report import generate

        generate(path, BASE)
    return path


def build_store(events: int) -> dict[str, Any]:
    """A collector store of about `events` rows, made of copies of the 1 M store."""
    source = base_store()
    target = BENCH / f"events-{events}.db"
    BENCH.mkdir(parents=True, exist_ok=True)
    if target.exists():
        return {"store": str(target), "reused": True}
    started = time.perf_counter()
    partial = target.with_suffix(".partial")
    partial.unlink(missing_ok=True)
    db = sqlite3.connect(partial, isolation_level=None)
    db.execute("PRAGMA journal_mode = OFF")
    db.execute("PRAGMA synchronous = OFF")
    db.execute("PRAGMA cache_size = -2000000")
    schema = (REPO / "telemetry" / "collector" / "schema.sql").read_text()
    version = sqlite3.connect(source).execute("PRAGMA user_version").fetchone()[0]
    db.executescript(f"{schema}; PRAGMA user_version = {version};")
    indexes = db.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'events'"
        " AND sql IS NOT NULL"
    ).fetchall()
    for name, _ in indexes:
        db.execute(f"DROP INDEX {name}")
    db.execute("ATTACH ? AS src", (str(source),))
    (rows,) = db.execute("SELECT count(*) FROM src.events").fetchone()
    copies = max(1, round(events / rows))
    for copy in range(copies):
        columns = _COLUMNS if copy == 0 else _COPY.format(s=f"-{copy}")
        db.execute("BEGIN")
        db.execute(f"INSERT INTO events ({_COLUMNS}) SELECT {columns} FROM src.events ORDER BY id")
        db.execute("COMMIT")
        print(f"copy {copy + 1}/{copies}: {time.perf_counter() - started:.0f} s", flush=True)
    for table in ("contexts", "client_drops", "counters"):
        db.execute(f"INSERT INTO {table} SELECT * FROM src.{table}")
    for _, sql in indexes:
        db.execute(sql)
    db.execute("DETACH src")
    db.execute("PRAGMA journal_mode = WAL")
    db.close()
    partial.rename(target)
    return {
        "store": str(target),
        "rows": copies * rows,
        "seconds": round(time.perf_counter() - started, 1),
        "bytes": target.stat().st_size,
    }


def grow_store(store: Path, share: float) -> int:
    """Append `share` of the store's rows as copies of its first rows, as a collector would
    (WAL, through the indexes); the number appended."""
    db = sqlite3.connect(store, isolation_level=None)
    (rows,) = db.execute("SELECT count(*) FROM events").fetchone()
    (grown,) = db.execute("SELECT count(*) FROM events WHERE event_id LIKE '%-grow%'").fetchone()
    suffix = f"-grow{grown}"
    db.execute("BEGIN")
    db.execute(
        f"INSERT INTO events ({_COLUMNS}) SELECT {_COPY.format(s=suffix)} FROM events"
        " WHERE id <= (SELECT min(id) FROM events) + ? ORDER BY id",
        (int(rows * share),),
    )
    (added,) = db.execute("SELECT changes()").fetchone()
    db.execute("COMMIT")
    db.close()
    return int(added)


def build_chdb(events: int) -> dict[str, Any]:
    """`events` events as a chdb data directory of facts, served_rows and contexts."""
    source = BENCH / "events-10000000.db"
    if not source.exists():
        build_store(10_000_000)
    target = BENCH / f"events-{events}.chdb"
    started = time.perf_counter()
    if not target.exists():
        # The 10 M store mirrored (the one parse), its data directory moved, the mirror's own
        # tables dropped.
        with open_engine(f"sqlite:///{source}") as warehouse:
            for statement in (
                "DROP VIEW facts_from_events",
                "DROP VIEW served_rows_from_events",
                "DROP VIEW store_rows_from_events",
                "DROP TABLE store_rows",
                "DROP TABLE events",
            ):
                warehouse.command(statement)
        (mirror_path(source) / "chdb").rename(target)
        shutil.rmtree(mirror_path(source))
        print(f"mirrored: {time.perf_counter() - started:.0f} s", flush=True)
    warehouse = Warehouse(f"chdb://{target}")
    try:
        original = "SELECT * FROM {table} WHERE position(app_session_id, '~') = 0"
        (base,) = next(
            warehouse.rows("SELECT count() FROM (" + original.format(table="facts") + ")")
        )
        copies = max(1, round(events / base))
        for copy in range(1, copies):
            s = f"~{copy}"
            (done,) = next(
                warehouse.rows(f"SELECT count() FROM facts WHERE endsWith(app_session_id, '{s}')")
            )
            if done:
                continue
            ids = (
                f"app_session_id || '{s}' AS app_session_id, event_id || '{s}' AS event_id,"
                f" device_id || '{s}' AS device_id"
            )
            warehouse.command(
                f"INSERT INTO facts SELECT * REPLACE ({ids},"
                f" play_session_id || '{s}' AS play_session_id)"
                f" FROM ({original.format(table='facts')})"
            )
            warehouse.command(
                f"INSERT INTO served_rows SELECT * REPLACE ({ids})"
                f" FROM ({original.format(table='served_rows')})"
            )
            print(f"copy {copy + 1}/{copies}: {time.perf_counter() - started:.0f} s", flush=True)
        (total,) = next(warehouse.rows("SELECT count() FROM facts"))
        (served,) = next(warehouse.rows("SELECT count() FROM served_rows"))
    finally:
        warehouse.close()
    return {
        "chdb": str(target),
        "facts": total,
        "served_rows": served,
        "seconds": round(time.perf_counter() - started, 1),
        "bytes": _size(target),
    }


def measured_sync(store: Path) -> dict[str, Any]:
    """One mirror sync of `store` in a child process under /usr/bin/time -v."""
    finished = subprocess.run(
        ["/usr/bin/time", "-v", sys.executable, __file__, "sync", str(store)],
        capture_output=True,
        text=True,
        check=True,
    )
    wall = re.search(r"Elapsed \(wall clock\) time.*: (?:(\d+):)?(\d+):([\d.]+)", finished.stderr)
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", finished.stderr)
    assert wall is not None, finished.stderr
    assert rss is not None, finished.stderr
    hours, minutes, seconds = wall.groups()
    # CPU time as well: on a machine shared with other work the wall time says little.
    cpu = sum(
        float(found[1])
        for found in re.finditer(r"(?:User|System) time \(seconds\): ([\d.]+)", finished.stderr)
    )
    return {
        "wall_s": round(int(hours or 0) * 3600 + int(minutes) * 60 + float(seconds), 2),
        "cpu_s": round(cpu, 2),
        "load_average": os.getloadavg()[0],
        "peak_rss_mb": round(int(rss[1]) / 1024),
        "facts": int(finished.stdout.split()[-1]),
    }


def measure() -> dict[str, Any]:
    results: dict[str, Any] = {}
    small = BENCH / f"events-{BASE}.db"
    if not small.exists():
        shutil.copyfile(base_store(), small)
    stores = {"1M": small, "10M": BENCH / "events-10000000.db"}
    if not stores["10M"].exists():
        build_store(10_000_000)
    for name, store in stores.items():
        shutil.rmtree(mirror_path(store), ignore_errors=True)
        results[name] = {"cold_build": measured_sync(store), **incremental(store)}
        print(name, results[name], flush=True)
    return results


def incremental(store: Path) -> dict[str, Any]:
    """+1 % rows in the store, then a sync of its (up to date) mirror."""
    measured_sync(store)  # up to date first
    added = grow_store(store, 0.01)
    return {
        "incremental": {"added_rows": added, **measured_sync(store)},
        "store_bytes": store.stat().st_size,
        "mirror_bytes": _size(mirror_path(store)),
    }


def _size(directory: Path) -> int:
    return sum(path.stat().st_size for path in directory.rglob("*") if path.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["store", "chdb", "measure", "incremental", "sync"])
    parser.add_argument("store", nargs="?", type=Path)
    parser.add_argument("--events", type=int)
    arguments = parser.parse_args()
    if arguments.what == "sync":
        with open_engine(f"sqlite:///{arguments.store.resolve()}") as warehouse:
            print(next(warehouse.rows("SELECT count() FROM facts"))[0])
        return
    if arguments.what == "store":
        results = build_store(arguments.events or 10_000_000)
    elif arguments.what == "incremental":
        results = incremental(arguments.store.resolve())
    elif arguments.what == "chdb":
        results = build_chdb(arguments.events or 100_000_000)
    else:
        results = measure()
    print(results)
    save_results(f"engine-data-{arguments.what}", results)


if __name__ == "__main__":
    main()
