"""The report's engine: a ClickHouse `Warehouse` holding the engine tables (`facts`,
`served_rows`, `contexts`; telemetry/contracts/facts.sql) for any store URL.

`open_engine(url)` gives the warehouse itself for `chdb:///` and `clickhouse://` URLs (the
loader's materialised views fill the tables there). For a collector store `sqlite:///path` it
keeps a chdb mirror in the directory `<path>.engine/` beside the store and brings it up to date
first, then yields a warehouse on it:

- new rows by the store's `id`: ClickHouse reads them with its `sqlite()` table function
  (`id` above the mirror's high-water mark and at most the store's largest id, read first in
  one read transaction) and inserts them into the mirror's Null `events` table, whose
  materialised views are the one parse (facts_views.sql);
- deletions (the collector deletes a device's rows, `DELETE FROM events WHERE key_id AND
  device_id`): the store's count of ids up to the high-water mark is compared with the mirror's
  (an index-only count); when it fell, the devices whose counts differ are deleted from the
  mirror and whatever the store still holds of them is read again;
- contexts, client_drops and counters: reloaded whole (small; a device's deletion deletes its
  contexts and drop reports), so a report reads nothing from the store itself. (It should not
  keep a sqlite3 connection of its own to the store open meanwhile: chdb's own copy of SQLite
  closing the file would drop that connection's POSIX locks.)
- `sync.json` records what a finished sync left; a mirror that does not match it (a sync that
  was cut short), or made by another version of the tables or the parse, is rebuilt.

The store is read in WAL mode as the report always reads it: never taking a write lock, so a
live collector is never blocked. The mirror directory is locked (`flock` on `<dir>/lock`) for as
long as the warehouse is open: chdb allows one process per data directory, so a second report
(the dashboard runs reports in child processes) waits for the first. When the store's directory
has no room for the mirror (read-only), a temporary directory is used for this report alone and
a warning says so.

One thread; the warehouse is the caller's until the context ends.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from typing import Final

import orjson

from telemetry.contracts import facts
from telemetry.contracts.clickhouse import Warehouse, is_warehouse_url
from telemetry.contracts.stored import StoreError, open_store_readonly, sqlite_path

log = logging.getLogger("reelscope.report.engine")

MIRROR_SUFFIX: Final = ".engine"
_COUNT_SQL: Final = "SELECT count(*) FROM events INDEXED BY events_device WHERE id <= ?"
_DEVICES_SQL: Final = (
    "SELECT device_id, count(*) FROM events INDEXED BY events_device WHERE id <= ?"
    " GROUP BY device_id"
)
# The store's rows as the warehouse's `events` columns: the context hash becomes hex.
_IMPORT_SQL: Final = (
    "INSERT INTO events SELECT id, key_id, event_id, type, source, schema, device_id,"
    " app_session_id, seq, mono_ms, play_session_id, request_id, time, sent_at, received_at,"
    " corrected_time, if(context_hash IS NULL, NULL, lower(hex(context_hash))), raw"
    " FROM sqlite({store}, 'events') WHERE {where}"
    " SETTINGS max_insert_threads = {threads}, parallel_view_processing = 1"
)
# One SQLite reader feeds the parse and the writes on every core, both views at once.
_THREADS: Final = min(os.cpu_count() or 1, 8)
# The small tables, reloaded whole at every sync.
_RELOADS: Final = {
    "contexts": "SELECT lower(hex(hash)), json FROM sqlite({store}, 'contexts')",
    "client_drops": "SELECT key_id, device_id, reason, dropped, received_at,"
    " if(batch_digest IS NULL, NULL, lower(hex(batch_digest)))"
    " FROM sqlite({store}, 'client_drops')",
    "counters": "SELECT key_id, name, value FROM sqlite({store}, 'counters')",
}
_MIRROR_TABLES: Final = ("facts", "served_rows", "store_rows", *_RELOADS)
_MIRROR_VIEWS: Final = ("facts_from_events", "served_rows_from_events", "store_rows_from_events")


def mirror_path(store: Path) -> Path:
    """Where the mirror of the store at `store` lives."""
    return store.with_name(store.name + MIRROR_SUFFIX)


@contextmanager
def open_engine(url: str) -> Iterator[Warehouse]:
    """A warehouse with the engine tables for the store at `url`, up to date with it."""
    if is_warehouse_url(url):
        warehouse = Warehouse(url)
        try:
            yield warehouse
        finally:
            warehouse.close()
        return
    try:
        store = sqlite_path(url).resolve()
    except ValueError as exc:
        raise StoreError(str(exc)) from None
    if not store.is_file():
        raise StoreError(f"no store at {store}")
    with _locked_mirror(store) as directory:
        warehouse = Warehouse(f"chdb://{directory / 'chdb'}")
        try:
            sync(warehouse, store, directory / "sync.json")
            yield warehouse
        finally:
            warehouse.close()


@contextmanager
def _locked_mirror(store: Path) -> Iterator[Path]:
    directory = mirror_path(store)
    temporary = False
    try:
        directory.mkdir(exist_ok=True)
        lock = os.open(directory / "lock", os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        directory = Path(tempfile.mkdtemp(prefix="reelscope-engine-"))
        temporary = True
        log.warning(
            "no room for the report's mirror beside %s (%s): using %s for this report only",
            store, exc, directory,
        )  # fmt: skip
        lock = os.open(directory / "lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)  # waits for another report on the same mirror
        yield directory
    finally:
        os.close(lock)  # releases the lock
        if temporary:
            shutil.rmtree(directory, ignore_errors=True)


@dataclass(frozen=True)
class SyncState:
    """What a finished sync left: store ids up to `high_water`, `rows` of them."""

    high_water: int = 0
    rows: int = 0
    definition: str = ""  # a digest of the mirror's DDL and parse: a new one rebuilds


def sync(warehouse: Warehouse, store: Path, state_file: Path) -> SyncState:
    """Bring the mirror in `warehouse` up to date with the store at `store`."""
    schema = mirror_schema()
    definition = hashlib.blake2b("\n".join(schema).encode(), digest_size=8).hexdigest()
    state = _read_state(state_file)
    if state.definition != definition:
        for name in _MIRROR_VIEWS + _MIRROR_TABLES + ("events",):
            warehouse.command(f"DROP TABLE IF EXISTS {name}")
        state = SyncState(definition=definition)
    for statement in schema:
        warehouse.command(statement)
    if _count(warehouse, "SELECT count() FROM store_rows") != state.rows:
        log.info("rebuilding the report's mirror of %s", store)
        _clear(warehouse)
        state = SyncState(definition=definition)
    source = _quote(str(store))
    connection = open_store_readonly(f"sqlite:///{store}")
    try:
        with connection:  # one read transaction: the counts and the largest id agree
            connection.execute("BEGIN")
            (high,) = connection.execute("SELECT coalesce(max(id), 0) FROM events").fetchone()
            (kept,) = connection.execute(_COUNT_SQL, (state.high_water,)).fetchone()
            if kept != state.rows:
                devices = dict(connection.execute(_DEVICES_SQL, (state.high_water,)).fetchall())
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{store} is not a readable collector store ({exc})") from None
    finally:
        connection.close()
    if high < state.high_water:  # not the store the mirror was made from
        log.info("rebuilding the report's mirror of %s (a new store)", store)
        _clear(warehouse)
        state = SyncState(definition=definition)
    elif kept != state.rows:
        _reconcile(warehouse, source, state.high_water, devices)
    if high > state.high_water:
        where = f"id > {state.high_water} AND id <= {high}"
        warehouse.command(_IMPORT_SQL.format(store=source, where=where, threads=_THREADS))
    for table, select in _RELOADS.items():
        warehouse.command(f"TRUNCATE TABLE {table}")
        warehouse.command(f"INSERT INTO {table} {select.format(store=source)}")
    done = SyncState(high, _count(warehouse, "SELECT count() FROM store_rows"), definition)
    _write_state(state_file, done)
    return done


def _reconcile(
    warehouse: Warehouse, source: str, high_water: int, store_counts: dict[str | None, int]
) -> None:
    """Rows were deleted from the store: drop from the mirror the devices whose counts differ,
    then read again whatever the store still has of them."""
    changed = [
        device
        for device, rows in warehouse.rows(
            "SELECT device_id, count() FROM store_rows GROUP BY device_id"
        )
        if store_counts.get(device, 0) != rows
    ]
    if None in changed:  # rows without a device are never deleted: not a deletion
        raise StoreError("the store lost rows without a device id: delete the mirror")
    log.info("%d devices deleted from the store: removing them from the mirror", len(changed))
    if not changed:
        return
    parameters = {"devices": changed}
    for table in ("facts", "served_rows", "store_rows"):
        warehouse.command(
            f"DELETE FROM {table} WHERE device_id IN {{devices:Array(String)}}",  # noqa: S608
            parameters,
        )
    listed = ", ".join(_quote(str(device)) for device in changed)
    where = f"id <= {high_water} AND device_id IN ({listed})"
    warehouse.command(_IMPORT_SQL.format(store=source, where=where, threads=_THREADS))


def mirror_schema() -> list[str]:
    """The mirror's tables and views (every statement is IF NOT EXISTS)."""
    script = resources.files(__package__).joinpath("mirror.sql").read_text()
    return [*facts.statements(script), *facts.table_statements(), *facts.view_statements()]


def _clear(warehouse: Warehouse) -> None:
    for table in _MIRROR_TABLES:
        warehouse.command(f"TRUNCATE TABLE {table}")


def _read_state(path: Path) -> SyncState:
    try:
        return SyncState(**orjson.loads(path.read_bytes()))
    except (OSError, orjson.JSONDecodeError, TypeError):
        return SyncState()


def _write_state(path: Path, state: SyncState) -> Path:
    partial = path.with_suffix(".partial")
    partial.write_bytes(orjson.dumps(asdict(state)))
    partial.replace(path)
    return path


def _count(warehouse: Warehouse, sql: str) -> int:
    return int(next(warehouse.rows(sql))[0])


def _quote(text: str) -> str:
    """A ClickHouse string literal."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"
