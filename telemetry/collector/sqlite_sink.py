"""The SQLite sink: one writer thread that commits many requests' batches in one transaction.

Request tasks (event loop) call `write`/`delete_device`/`check_ready`; each queues an operation
and awaits its future. Only the writer thread touches the connection: it takes everything
queued, applies it inside one `BEGIN IMMEDIATE ... COMMIT`, and resolves the futures after the
commit, so a 200 always means "on disk". While it commits, new requests queue up and form the
next group: the busier the collector, the larger the groups and the cheaper each event.

Events go in with multi-row `INSERT ... VALUES (...), (...)` statements rather than
`executemany`, which steps the statement (releasing and re-taking the GIL) once per row: one
step per chunk of rows cost the writer about a quarter less CPU per event (measured).

Any SQLite error (locked, read-only, full, I/O) fails the whole group with StorageUnavailableError
(a 503 the client retries), closes the connection and reopens it for the next group, so the
collector recovers by itself once the cause is gone.
"""

from __future__ import annotations

import asyncio
import logging
import os
import queue
import sqlite3
import threading
from collections.abc import Sequence
from concurrent.futures import Future
from contextlib import closing
from importlib import resources
from itertools import chain
from pathlib import Path
from typing import Any, Generic, TypeVar

from telemetry.collector.config import CollectorConfig
from telemetry.collector.errors import StorageUnavailableError
from telemetry.collector.store import BatchWrite, WriteResult
from telemetry.contracts.stored import EventRow

log = logging.getLogger("reelscope.collector.store")

SCHEMA_VERSION = 3
# What turns a store of version N into N + 1; schema.sql itself creates the latest version.
# 1 -> 2: indexes no reader used, each paid for on every insert.
# 2 -> 3: contexts belong to a key and device, so deleting a device deletes its contexts.
UPGRADES = {
    1: "DROP INDEX IF EXISTS events_type_time; DROP INDEX IF EXISTS events_play_session;",
    2: "ALTER TABLE contexts ADD COLUMN owner_key TEXT; ALTER TABLE contexts ADD COLUMN"
    " owner_device TEXT; CREATE INDEX contexts_owner ON contexts (owner_device);",
}
# Bounds one transaction: past this, committing sooner keeps request latency flat.
MAX_GROUP_EVENTS = 20_000

INSERT_EVENT = (
    "INSERT OR IGNORE INTO events (key_id, event_id, type, source, schema, device_id,"
    " app_session_id, seq, mono_ms, play_session_id, request_id, time, sent_at, received_at,"
    " corrected_time, context_hash, raw) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
)
_EVENT_VALUES = "(" + ",".join("?" * len(EventRow._fields)) + ")"
# Rows per statement, largest first: any count is a sum of these, so the sqlite3 module's
# statement cache holds every text ever used. 256 rows bind 4 352 parameters, well under
# SQLite's 32 766.
INSERT_CHUNKS = {
    rows: INSERT_EVENT.removesuffix(_EVENT_VALUES) + ",".join([_EVENT_VALUES] * rows)
    for rows in (256, 64, 16, 4, 1)
}
INSERT_CONTEXT = (
    "INSERT OR IGNORE INTO contexts (hash, json, owner_key, owner_device) VALUES (?,?,?,?)"
)
INSERT_DROP = (
    "INSERT OR IGNORE INTO client_drops (key_id, device_id, reason, dropped, received_at,"
    " batch_digest) VALUES (?,?,?,?,?,?)"
)
ADD_COUNTER = (
    "INSERT INTO counters (key_id, name, value) VALUES (?, ?, ?)"
    " ON CONFLICT (key_id, name) DO UPDATE SET value = value + excluded.value"
)

T = TypeVar("T")


def insert_events(connection: sqlite3.Connection, rows: Sequence[EventRow]) -> int:
    """INSERT OR IGNORE the rows, a chunk per statement; how many were new (not duplicates)."""
    before = connection.total_changes
    done = 0
    for size, sql in INSERT_CHUNKS.items():
        while len(rows) - done >= size:
            connection.execute(sql, list(chain.from_iterable(rows[done : done + size])))
            done += size
    return connection.total_changes - before


class _Op(Generic[T]):
    """A unit of work for the writer thread, with the future its requester awaits."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.future: Future[T] = Future()

    def apply(self, connection: sqlite3.Connection) -> T:
        raise NotImplementedError


class _WriteOp(_Op[WriteResult]):
    def __init__(self, batch: BatchWrite) -> None:
        super().__init__(len(batch.rows))
        self.batch = batch

    def apply(self, connection: sqlite3.Connection) -> WriteResult:
        batch = self.batch
        accepted = insert_events(connection, batch.rows)
        duplicates = len(batch.rows) - accepted
        if batch.contexts:
            connection.executemany(INSERT_CONTEXT, batch.contexts.values())
        if batch.drops:
            connection.executemany(INSERT_DROP, batch.drops)
        if duplicates:
            connection.execute(ADD_COUNTER, (batch.key_id, "duplicates", duplicates))
        return WriteResult(accepted, duplicates)


class _DeleteDeviceOp(_Op[int]):
    def __init__(self, key_id: str, device_id: str) -> None:
        super().__init__(1)
        self.key_id = key_id
        self.device_id = device_id

    def apply(self, connection: sqlite3.Connection) -> int:
        device = (self.key_id, self.device_id)
        deleted = connection.execute(
            "DELETE FROM events WHERE key_id = ? AND device_id = ?", device
        ).rowcount
        connection.execute("DELETE FROM client_drops WHERE key_id = ? AND device_id = ?", device)
        connection.execute(
            "DELETE FROM contexts WHERE owner_device = ? AND owner_key = ?", device[::-1]
        )
        return deleted


class _ReadyOp(_Op[str | None]):
    """A write that is rolled back (locked or read-only storage makes it fail), and the room
    left on the disk and under `max_db_bytes`: why the store is not ready, or None."""

    def __init__(self, path: Path, config: CollectorConfig) -> None:
        super().__init__(0)
        self._path = path
        self._config = config

    def apply(self, connection: sqlite3.Connection) -> str | None:
        connection.execute("SAVEPOINT ready")
        try:
            connection.execute(ADD_COUNTER, ("", "ready_check", 1))
        finally:
            connection.execute("ROLLBACK TO ready")
            connection.execute("RELEASE ready")
        config = self._config
        disk = os.statvfs(self._path.parent)
        if disk.f_bavail * disk.f_frsize < config.min_free_disk_bytes:
            return "the storage is full (disk)"
        if config.max_db_bytes:
            (page_size,) = connection.execute("PRAGMA page_size").fetchone()
            (used,) = connection.execute("PRAGMA page_count").fetchone()
            (free,) = connection.execute("PRAGMA freelist_count").fetchone()
            left = config.max_db_bytes - (used - free) * page_size
            if left < min(config.min_free_disk_bytes, config.max_db_bytes // 16):
                return "the storage is full (max_db_bytes)"
        return None


class SchemaTooNewError(Exception):
    """The store was written by a newer collector: writing it could corrupt what that one
    expects, so this one refuses to start."""

    def __init__(self, path: Path, version: int) -> None:
        super().__init__(
            f"{path} has schema version {version}, newer than this collector's"
            f" {SCHEMA_VERSION}: run a collector at least as new, or point --db elsewhere"
        )


def check_schema(path: Path) -> None:
    """Refuse (SchemaTooNewError) a store of a newer schema; any other problem is left to the
    writer, which answers 503 and retries."""
    if not path.exists():
        return
    try:
        with closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as probe:
            (version,) = probe.execute("PRAGMA user_version").fetchone()
    except sqlite3.Error:
        return
    if version > SCHEMA_VERSION:
        raise SchemaTooNewError(path, version)


def _describe(error: sqlite3.Error) -> str:
    name = getattr(error, "sqlite_errorname", "")
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        return "the database is locked"
    if name.startswith("SQLITE_FULL"):
        return "the storage is full"
    if name.startswith("SQLITE_READONLY"):
        return "the database is read-only"
    return "the database cannot be written"


class SqliteSink:
    """`sqlite:///path`: WAL journal, one writer thread, group commits across requests."""

    def __init__(self, path: Path, config: CollectorConfig) -> None:
        self._path = path
        self._config = config
        self._queue: queue.SimpleQueue[_Op[Any] | None] = queue.SimpleQueue()
        self._pending = 0
        self._pending_lock = threading.Lock()
        self._connection: sqlite3.Connection | None = None
        self._thread = threading.Thread(target=self._run, name="collector-writer", daemon=True)
        self._opened = threading.Event()
        self._fatal: SchemaTooNewError | None = None
        self._ready: asyncio.Future[str | None] | None = None
        check_schema(path)

    # Event-loop side.

    def start(self) -> None:
        """Start the writer and wait for its first attempt to open (and create) the store;
        raises SchemaTooNewError for a store this collector must not write."""
        self._thread.start()
        self._opened.wait()
        if self._fatal is not None:
            raise self._fatal

    async def _submit(self, op: _Op[T]) -> T:
        with self._pending_lock:
            if op.size and self._pending + op.size > self._config.max_pending_events:
                raise StorageUnavailableError("the collector is behind on writes")
            self._pending += op.size
        self._queue.put(op)
        try:
            return await asyncio.wait_for(
                asyncio.wrap_future(op.future), self._config.store_timeout_s
            )
        except TimeoutError as exc:
            # Cancelling a queued op means the writer skips it; one already committing
            # finishes, and the client's retry is then absorbed as a duplicate.
            raise StorageUnavailableError("the write did not commit in time") from exc

    async def write(self, batch: BatchWrite) -> WriteResult:
        return await self._submit(_WriteOp(batch))

    async def delete_device(self, key_id: str, device_id: str) -> int:
        return await self._submit(_DeleteDeviceOp(key_id, device_id))

    async def check_ready(self) -> None:
        # Unauthenticated callers share one check: however many ask, one op is queued.
        if self._ready is None or self._ready.done():
            self._ready = asyncio.ensure_future(self._submit(_ReadyOp(self._path, self._config)))
        reason = await asyncio.shield(self._ready)
        if reason is not None:
            raise StorageUnavailableError(reason)

    def close(self) -> None:
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()

    # Writer-thread side.

    def _open(self) -> sqlite3.Connection:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(self._path, isolation_level=None)
        try:
            connection.execute(f"PRAGMA busy_timeout = {int(self._config.busy_timeout_ms)}")
            (mode,) = connection.execute("PRAGMA journal_mode = WAL").fetchone()
            if mode != "wal":
                raise sqlite3.OperationalError(f"journal_mode is {mode}, not wal")
            connection.execute(f"PRAGMA synchronous = {self._config.sqlite_synchronous.upper()}")
            if self._config.max_db_bytes:
                (page_size,) = connection.execute("PRAGMA page_size").fetchone()
                pages = max(1, self._config.max_db_bytes // page_size)
                connection.execute(f"PRAGMA max_page_count = {pages}")
            (version,) = connection.execute("PRAGMA user_version").fetchone()
            if version > SCHEMA_VERSION:
                raise SchemaTooNewError(self._path, version)
            if version < SCHEMA_VERSION:
                if version == 0:
                    steps = resources.files(__package__).joinpath("schema.sql").read_text()
                else:
                    steps = "".join(UPGRADES[v] for v in range(version, SCHEMA_VERSION))
                connection.executescript(
                    f"BEGIN IMMEDIATE; {steps}; PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;"
                )
        except BaseException:
            connection.close()
            raise
        return connection

    def _run(self) -> None:
        try:
            # Create the store at start-up, so readers can open it before the first event.
            self._connection = self._open()
        except sqlite3.Error as exc:
            log.warning("store not writable at start-up (%s); will retry on each write", exc)
        except SchemaTooNewError as exc:
            self._fatal = exc
            return
        finally:
            self._opened.set()
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is None:
                break
            group: list[_Op[Any]] = [first]
            events = first.size
            while events < MAX_GROUP_EVENTS:
                try:
                    op = self._queue.get_nowait()
                except queue.Empty:
                    break
                if op is None:
                    stopping = True
                    break
                group.append(op)
                events += op.size
            with self._pending_lock:
                self._pending -= events
            self._commit([op for op in group if op.future.set_running_or_notify_cancel()])
        if self._connection is not None:
            self._connection.close()

    def _commit(self, group: list[_Op[Any]]) -> None:
        if not group:
            return
        results: list[Any] = []
        try:
            if self._connection is None:
                self._connection = self._open()
            connection = self._connection
            connection.execute("BEGIN IMMEDIATE")
            results = [op.apply(connection) for op in group]
            connection.execute("COMMIT")
        except sqlite3.Error as exc:
            reason = _describe(exc)
            log.warning("group of %d operations not committed: %s (%s)", len(group), reason, exc)
            self._reset()
            for op in group:
                op.future.set_exception(StorageUnavailableError(reason))
            return
        except Exception as exc:
            log.exception("group of %d operations failed", len(group))
            self._reset()
            for op in group:
                op.future.set_exception(exc)
            return
        for op, result in zip(group, results, strict=True):
            op.future.set_result(result)

    def _reset(self) -> None:
        """Drop the connection after a failure; the next group opens a fresh one."""
        if self._connection is None:
            return
        try:
            if self._connection.in_transaction:
                self._connection.execute("ROLLBACK")
        except sqlite3.Error:
            log.debug("rollback after a failed group also failed", exc_info=True)
        self._connection.close()
        self._connection = None
