"""The durable outbox: one SQLite file (WAL) holding every recorded event until the collector
has acknowledged it, plus a bounded history of acknowledged events, the dead-letter table, the
drop counters and the batch contexts.

Layout (schema version in `PRAGMA user_version`, upgraded by `_MIGRATIONS` in order):
- `events`: the pending events: `seq` (AUTOINCREMENT, so strictly increasing and never
  reused: FIFO order, and a range of seqs read for a batch can only shrink), `event_id`
  UNIQUE, `type`, eviction `priority`, `created_ms` (for the age bound), `size` and the batch
  context `ctx_id`.
- `bodies` (schema 3): each event's serialised `body` exactly as it goes on the wire
  (serialised once, in `track()`), keyed by the event's seq and written once: an
  acknowledgement moves only the small `events` row to `history`, and the body is deleted
  when the event leaves both (evicted, expired, trimmed from the history, purged).
- `contexts`: batch contexts (app version, OS, libVLC, locale, screen) as serialised JSON, so
  events left over from an older launch are sent with the context they were recorded under.
- `history` (schema 2): the events that left `events`, moved by the transaction that deleted
  them, with the time of the collector's answer and the outcome (`accepted`, `duplicate`,
  `delivered` when the collector answered with a mix of both and did not say which, or
  `dead_letter`), so the privacy window can show what was sent, not only what waits. Bounded
  by rows (trimmed with each acknowledgement, a few statements per batch) and by age (trimmed
  by the writer's periodic expiry): it is a view for the viewer, not a delivery record.
- `dead_letter`: events the collector refused, with its status, code, message and own copy of
  the body (it outlives the history).
- `drops`: events lost on purpose, counted by reason, until a batch carrying the counts is
  acknowledged (then subtracted, so drops counted meanwhile survive).
- `stats`: row and byte totals of `events`, updated once by each transaction that adds or
  removes events (schema 3; per-row triggers before), so the bounds are checked without
  scanning, and stay right when two app instances share the file.

Corruption (`SQLITE_CORRUPT`, `SQLITE_NOTADB`) or a file from a newer schema is moved aside as
`<name>.corrupt-<time>` (with its -wal and -shm) and a fresh outbox started, with a log line:
never a crash loop. `OutboxFile` coordinates that between the threads holding connections.

Threads: an `Outbox` (read-write connection) belongs to the one thread that opened it: the
writer thread and the sender thread each hold their own. `OutboxFile` and `OutboxReader` may be
used from any thread (the reader opens a short-lived read-only connection per call).
"""

from __future__ import annotations

import functools
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Final, ParamSpec, TypeVar, cast

import orjson

from telemetry.client.wal_check import wal_check
from telemetry.contracts.events import Priority

_log = logging.getLogger("reelscope.telemetry.outbox")

# event_id, type, priority, created_ms (wall), body, context body, critical
QueuedEvent = tuple[str, str, int, int, bytes, bytes, bool]

_MIGRATIONS: Final[tuple[tuple[str, ...], ...]] = (
    (
        "CREATE TABLE contexts (id INTEGER PRIMARY KEY, body BLOB NOT NULL UNIQUE)",
        """CREATE TABLE events (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            event_id TEXT NOT NULL UNIQUE,
            type TEXT NOT NULL,
            priority INTEGER NOT NULL,
            created_ms INTEGER NOT NULL,
            size INTEGER NOT NULL,
            ctx_id INTEGER NOT NULL,
            body BLOB NOT NULL)""",
        "CREATE INDEX events_by_priority ON events (priority, seq)",
        """CREATE TABLE dead_letter (
            seq INTEGER PRIMARY KEY,
            event_id TEXT NOT NULL,
            type TEXT NOT NULL,
            created_ms INTEGER NOT NULL,
            body BLOB NOT NULL,
            status INTEGER NOT NULL,
            code TEXT NOT NULL,
            message TEXT NOT NULL,
            failed_ms INTEGER NOT NULL)""",
        "CREATE TABLE drops (reason TEXT PRIMARY KEY, count INTEGER NOT NULL) WITHOUT ROWID",
        """CREATE TABLE stats (
            id INTEGER PRIMARY KEY CHECK (id = 0),
            rows INTEGER NOT NULL,
            bytes INTEGER NOT NULL)""",
        "INSERT INTO stats VALUES (0, 0, 0)",
        """CREATE TRIGGER events_added AFTER INSERT ON events BEGIN
            UPDATE stats SET rows = rows + 1, bytes = bytes + NEW.size WHERE id = 0; END""",
        """CREATE TRIGGER events_removed AFTER DELETE ON events BEGIN
            UPDATE stats SET rows = rows - 1, bytes = bytes - OLD.size WHERE id = 0; END""",
    ),
    (
        # seq is the event's outbox seq: history and pending rows share one order.
        """CREATE TABLE history (
            seq INTEGER PRIMARY KEY,
            event_id TEXT NOT NULL,
            type TEXT NOT NULL,
            created_ms INTEGER NOT NULL,
            body BLOB NOT NULL,
            acked_ms INTEGER NOT NULL,
            outcome TEXT NOT NULL)""",
    ),
    (
        # Bodies move out of `events` and `history` into one table. Tables are rebuilt rather
        # than altered: ALTER TABLE ... DROP COLUMN needs SQLite 3.35, older than some
        # distributions' system SQLite that Python links.
        "CREATE TABLE bodies (seq INTEGER PRIMARY KEY, body BLOB NOT NULL)",
        "INSERT INTO bodies SELECT seq, body FROM events",
        "INSERT OR IGNORE INTO bodies SELECT seq, body FROM history",
        """CREATE TABLE events_v3 (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            event_id TEXT NOT NULL UNIQUE,
            type TEXT NOT NULL,
            priority INTEGER NOT NULL,
            created_ms INTEGER NOT NULL,
            size INTEGER NOT NULL,
            ctx_id INTEGER NOT NULL)""",
        """INSERT INTO events_v3
            SELECT seq, event_id, type, priority, created_ms, size, ctx_id FROM events""",
        # Seqs are never reused: carry the counter over even when `events` is empty.
        "DELETE FROM sqlite_sequence WHERE name = 'events_v3'",
        """INSERT INTO sqlite_sequence (name, seq)
            SELECT 'events_v3', seq FROM sqlite_sequence WHERE name = 'events'""",
        "DROP TABLE events",  # with its triggers and index
        "ALTER TABLE events_v3 RENAME TO events",
        "CREATE INDEX events_by_priority ON events (priority, seq)",
        """CREATE TABLE history_v3 (
            seq INTEGER PRIMARY KEY,
            event_id TEXT NOT NULL,
            type TEXT NOT NULL,
            created_ms INTEGER NOT NULL,
            acked_ms INTEGER NOT NULL,
            outcome TEXT NOT NULL)""",
        """INSERT INTO history_v3
            SELECT seq, event_id, type, created_ms, acked_ms, outcome FROM history""",
        "DROP TABLE history",
        "ALTER TABLE history_v3 RENAME TO history",
        "UPDATE stats SET rows = (SELECT COUNT(*) FROM events),"
        " bytes = (SELECT TOTAL(size) FROM events) WHERE id = 0",
    ),
)
SCHEMA_VERSION: Final = len(_MIGRATIONS)
# Rows per INSERT statement: a writer group (100) fits in one; a backlog committed after a
# disk error may be larger, and SQLite caps the variables per statement (999 before 3.32).
_ROWS_PER_INSERT: Final = 128
# Disk space kept back for the last transaction at exit when the disk is full.
_RESERVE_BYTES: Final = 256 * 1024
# The file is compacted (VACUUM) when at least this much of it, and half of it, is free pages:
# after a long offline stretch has been delivered, not after every batch.
_SHRINK_MIN_FREE: Final = 4 * 1024 * 1024


@functools.cache
def _insert_rows(count: int) -> tuple[str, str]:
    """Statements adding `count` events and their bodies, one row of values per event.

    One multi-row INSERT rather than `executemany`: the sqlite3 module releases the GIL around
    every step, once per row with `executemany`, and while the app's thread is busy each
    release costs the writer up to the interpreter's switch interval (5 ms) to get it back."""
    events = ",".join(["(?,?,?,?,?,?,?)"] * count)
    bodies = ",".join(["(?,?)"] * count)
    return (
        "INSERT OR IGNORE INTO events"  # noqa: S608 - placeholders only
        f" (seq, event_id, type, priority, created_ms, size, ctx_id) VALUES {events}",
        f"INSERT INTO bodies (seq, body) VALUES {bodies}",  # noqa: S608 - placeholders only
    )


_TO_DEAD_LETTER: Final = (
    "INSERT OR IGNORE INTO dead_letter"
    " SELECT seq, event_id, type, created_ms, body, ?, ?, ?, ? FROM events JOIN bodies USING (seq)"
)
_TO_HISTORY: Final = (
    "INSERT OR IGNORE INTO history SELECT seq, event_id, type, created_ms, ?, ?"
    " FROM events WHERE seq BETWEEN ? AND ?"
)
# The newest `max_rows` are kept: the subquery walks the primary key back `max_rows` entries
# and is NULL (nothing deleted) while the history is smaller.
_HISTORY_CUTOFF: Final = "SELECT seq FROM history ORDER BY seq DESC LIMIT 1 OFFSET ?"
ACCEPTED: Final = "accepted"
DUPLICATE: Final = "duplicate"
DELIVERED: Final = "delivered"
DEAD_LETTER: Final = "dead_letter"


class UnusableOutboxError(sqlite3.DatabaseError):
    """The file fails its integrity check, or a newer Reelscope wrote a schema this one
    cannot read."""


_CORRUPTION_CODES: Final = frozenset({sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB})
CORRUPT: Final = "corrupt"  # drop reason: pending events lost with a damaged file


def is_corruption(exc: BaseException) -> bool:
    """A damaged file, by its primary result code: the extended ones (`SQLITE_CORRUPT_INDEX`,
    `_SEQUENCE`, `_VTAB`...) mean the same."""
    if isinstance(exc, UnusableOutboxError):
        return True
    code = getattr(exc, "sqlite_errorcode", None)
    return (
        isinstance(exc, sqlite3.DatabaseError)
        and isinstance(code, int)
        and (code & 0xFF) in _CORRUPTION_CODES
    )


def is_disk_full(exc: BaseException) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    return isinstance(code, int) and code & 0xFF == sqlite3.SQLITE_FULL


def now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True, slots=True)
class Batch:
    """Consecutive outbox rows sharing one context, ready to send."""

    first_seq: int
    last_seq: int
    event_ids: tuple[str, ...]
    bodies: tuple[bytes, ...]
    context: bytes
    drops: Mapping[str, int]

    def __len__(self) -> int:
        return len(self.bodies)


class OutboxFile:
    """The outbox's path and generation. Recovery from corruption bumps the generation; every
    connection opened under an older one must reconnect (`fresh()`).

    Pending events lost with a damaged file are counted as drops (reason `corrupt`) in the
    fresh one, with the drop counts the old file still had to report: a file moved aside is
    counted from its own `stats` if that still reads, else from the pending total this
    process last read; a damaged WAL from a repaired copy of it (`wal_check`)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._generation = 0
        # Serialises this process's write transactions (writer and sender threads). SQLite's
        # own busy handler polls with sleeps of 1, 2, 5, 10... ms, so a thread finding the
        # file locked by the other one lost several ms per transaction; a lock hands over
        # at once. Another process sharing the file still waits in the busy handler.
        self._write_lock = threading.Lock()
        self._seen = PendingSeen()
        self._lost: dict[str, int] = {}  # to record in the fresh file
        self._wal_checked = False

    def connect(self) -> Outbox:
        with self._lock:
            if not self._wal_checked:
                self._wal_checked = True
                self._check_files()
            try:
                outbox = Outbox(self._open(), self._generation, self._write_lock, self._seen)
            except sqlite3.DatabaseError as exc:
                if not is_corruption(exc):
                    raise
                self._move_aside(exc)
                outbox = Outbox(self._open(), self._generation, self._write_lock, self._seen)
            if self._lost:
                try:
                    outbox.record_drops(self._lost)
                    self._lost = {}
                except sqlite3.Error as exc:  # kept for the next connection
                    _log.error("could not count the events lost with the old outbox: %s", exc)
            return outbox

    def fresh(self, outbox: Outbox) -> Outbox:
        """`outbox` itself, or a new connection if the file was replaced since it was opened."""
        if outbox.generation == self._generation:
            return outbox
        outbox.close()
        return self.connect()

    def recover(self, outbox: Outbox, exc: BaseException, *, delivered: int = 0) -> Outbox:
        """Move the corrupt file aside (once, whichever thread noticed first) and reconnect.
        `delivered`: pending rows the collector is known to have (not counted as lost)."""
        outbox.close()
        with self._lock:
            if outbox.generation == self._generation:
                self._move_aside(exc, delivered)
        return self.connect()

    def keep_reserve(self) -> None:
        """Set aside a little disk space (`<name>.reserve`, 256 KiB of zeros, written for real
        so the blocks are allocated) for `release_reserve`. Best effort."""
        reserve = self._reserve_path()
        if reserve.exists():
            return
        try:
            with open(reserve, "wb") as file:
                file.write(bytes(_RESERVE_BYTES))
        except OSError:
            reserve.unlink(missing_ok=True)

    def release_reserve(self) -> bool:
        """Free the reserved space so a last small transaction fits on a full disk (the drop
        counts of events lost at exit). True if there was a reserve to free."""
        try:
            self._reserve_path().unlink()
        except FileNotFoundError:
            return False
        return True

    def _reserve_path(self) -> Path:
        return self.path.with_name(self.path.name + ".reserve")

    def remove_moved_aside(self) -> None:
        """Delete copies moved aside after corruption: they hold the user's data too."""
        for path in self.path.parent.glob(f"{self.path.name}.corrupt-*"):
            path.unlink(missing_ok=True)

    def _check_files(self) -> None:
        """Before this process first opens the file: say so when a file that is already
        there lost data SQLite will not report (it opens both cases without an error)."""
        try:
            if self.path.exists() and self.path.stat().st_size == 0:
                # SQLite writes the header when it creates the file, so an empty one was
                # truncated (or a start-up was killed within its first milliseconds).
                _log.warning(
                    "telemetry outbox %s is empty (0 bytes): truncated? Whatever it held is "
                    "lost, and how much is not known",
                    self.path,
                )
                return
            lost = wal_check(self.path)
        except (OSError, sqlite3.Error) as exc:
            _log.error("could not check the telemetry outbox %s: %s", self.path, exc)
            return
        if lost:
            self._lost[CORRUPT] = self._lost.get(CORRUPT, 0) + lost

    def _open(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=5.0, isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            check = conn.execute("PRAGMA quick_check").fetchall()
            if check != [("ok",)]:
                raise UnusableOutboxError(f"integrity check failed: {check[:3]}")
            _migrate(conn)
        except BaseException:
            conn.close()
            raise
        return conn

    def _move_aside(self, exc: BaseException, delivered: int = 0) -> None:
        stamp = time.strftime("%Y%m%dT%H%M%S")
        target = self.path.with_name(f"{self.path.name}.corrupt-{stamp}-{os.getpid()}")
        for suffix in ("", "-wal", "-shm"):
            source = Path(f"{self.path}{suffix}")
            try:
                source.replace(Path(f"{target}{suffix}"))
            except FileNotFoundError:
                continue
        self._generation += 1
        lost = _still_pending(target)
        if lost is None:
            lost = {CORRUPT: self._seen.rows} if self._seen.rows else {}
            how = "as last seen by this process"
        else:
            how = "as read from the damaged file"
        if CORRUPT in lost:
            lost[CORRUPT] = max(0, lost[CORRUPT] - delivered)
        for reason, count in lost.items():
            self._lost[reason] = self._lost.get(reason, 0) + count
        _log.warning(
            "telemetry outbox %s unusable (%s); moved aside to %s and started a fresh one;"
            " %d pending events lost (%s), counted as dropped",
            self.path,
            exc,
            target,
            lost.get(CORRUPT, 0),
            how,
        )


class PendingSeen:
    """The pending row count this process last read from the outbox: how many events a file
    that can no longer be read held, at least roughly."""

    __slots__ = ("rows",)

    def __init__(self) -> None:
        self.rows = 0


def _still_pending(path: Path) -> dict[str, int] | None:
    """What a file moved aside held that is now lost: its pending events (reason `corrupt`)
    and its unreported drop counts; None if it cannot be read."""
    try:
        with closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as conn:
            (rows,) = conn.execute("SELECT rows FROM stats WHERE id = 0").fetchone()
            drops = dict(conn.execute("SELECT reason, count FROM drops WHERE count > 0"))
    except (sqlite3.Error, TypeError):  # TypeError: no stats row
        return None
    lost = {str(reason): int(count) for reason, count in drops.items()}
    if rows:
        lost[CORRUPT] = lost.get(CORRUPT, 0) + int(rows)
    return lost


def _migrate(conn: sqlite3.Connection) -> None:
    (version,) = conn.execute("PRAGMA user_version").fetchone()
    if version == SCHEMA_VERSION:
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        # Another instance may have migrated while this one waited for the lock.
        (version,) = conn.execute("PRAGMA user_version").fetchone()
        if version > SCHEMA_VERSION:
            raise UnusableOutboxError(f"schema version {version} > {SCHEMA_VERSION}")
        for statements in _MIGRATIONS[version:]:
            for statement in statements:
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


class Outbox:
    """A read-write connection to the outbox, for the one thread that opened it."""

    def __init__(
        self,
        conn: sqlite3.Connection,
        generation: int,
        write_lock: threading.Lock,
        seen: PendingSeen | None = None,
    ) -> None:
        self._conn = conn
        self.generation = generation
        self._write_lock = write_lock
        self._seen = seen or PendingSeen()
        self._context_ids: dict[bytes, int] = {}

    def close(self) -> None:
        self._conn.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        conn = self._conn
        with self._write_lock:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                # Context ids handed out inside the rolled-back transaction no longer exist.
                self._context_ids.clear()
                raise
            conn.execute("COMMIT")

    # Writer side

    def append(
        self,
        events: Sequence[QueuedEvent],
        drops: Mapping[str, int],
        *,
        max_rows: int,
        max_bytes: int,
    ) -> int:
        """Store `events` and `drops` in one transaction, then evict down to the bounds.
        Returns how many events the bounds evicted."""
        with self._transaction() as conn:
            # Seqs are given here (the transaction holds the write lock) so each body can be
            # stored under its event's seq; an event id already stored leaves a gap.
            base = self.last_seq()
            for start in range(0, len(events), _ROWS_PER_INSERT):
                self._insert(base + start, events[start : start + _ROWS_PER_INSERT])
            rows, size = conn.execute(
                "SELECT COUNT(*), TOTAL(size) FROM events WHERE seq > ?", (base,)
            ).fetchone()
            if rows < len(events):
                conn.execute(
                    "DELETE FROM bodies WHERE seq > ? AND seq NOT IN"
                    " (SELECT seq FROM events WHERE seq > ?)",
                    (base, base),
                )
            self._count(rows, int(size))
            evicted = self._evict(max_rows, max_bytes)
            self._add_drops({**drops, "outbox_full": drops.get("outbox_full", 0) + evicted})
        return evicted

    def record_drops(self, drops: Mapping[str, int]) -> None:
        """Count events lost outside a commit of events (a damaged file)."""
        with self._transaction():
            self._add_drops(drops)

    def _insert(self, base: int, events: Sequence[QueuedEvent]) -> None:
        """Add `events` with seqs from `base + 1` (an event id already stored is skipped)."""
        insert_events, insert_bodies = _insert_rows(len(events))
        values: list[object] = []
        bodies: list[object] = []
        for n, (event_id, type_, priority, created, body, ctx, _) in enumerate(events, base + 1):
            values += (n, event_id, type_, priority, created, len(body), self._context_id(ctx))
            bodies += (n, body)
        self._conn.execute(insert_events, values)
        self._conn.execute(insert_bodies, bodies)

    def expire(self, max_age: float, history_max_age: float) -> int:
        """Drop events older than `max_age` seconds (reason `expired`) and forget history rows
        acknowledged more than `history_max_age` seconds ago. Returns the events dropped."""
        with self._transaction() as conn:
            now = now_ms()
            cutoff = now - int(max_age * 1000)
            conn.execute(
                "DELETE FROM bodies WHERE seq IN (SELECT seq FROM events WHERE created_ms < ?)",
                (cutoff,),
            )
            expired = self._remove("created_ms < ?", (cutoff,))
            self._add_drops({"expired": expired})
            # Scans, but of a table bounded to a few thousand rows, and only at the writer's
            # expiry cadence (start-up, then hourly).
            history_cutoff = now - int(history_max_age * 1000)
            conn.execute(
                "DELETE FROM bodies WHERE seq IN (SELECT seq FROM history WHERE acked_ms < ?)",
                (history_cutoff,),
            )
            conn.execute("DELETE FROM history WHERE acked_ms < ?", (history_cutoff,))
        return expired

    def purge(self) -> None:
        """Delete every local event (pending and history), dead letter and drop count, and
        shrink the files so the deleted data does not linger in free pages or the WAL."""
        with self._transaction() as conn:
            for table in ("events", "bodies", "history", "dead_letter", "drops", "contexts"):
                conn.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed table names
            conn.execute("UPDATE stats SET rows = 0, bytes = 0 WHERE id = 0")
        self._context_ids.clear()
        with self._write_lock:
            self._conn.execute("VACUUM")
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def shrink_if_sparse(self) -> bool:
        """Compact the file (and truncate the WAL) when most of it is free pages, as after a
        long offline backlog was delivered: deleted pages are reused but never returned.
        True if it did."""
        conn = self._conn
        (page_size,) = conn.execute("PRAGMA page_size").fetchone()
        (pages,) = conn.execute("PRAGMA page_count").fetchone()
        (free,) = conn.execute("PRAGMA freelist_count").fetchone()
        if free * page_size < _SHRINK_MIN_FREE or free * 2 < pages:
            return False
        with self._write_lock:
            conn.execute("VACUUM")
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        _log.info("telemetry outbox compacted: %d of %d pages were free", free, pages)
        return True

    def _context_id(self, body: bytes) -> int:
        found = self._context_ids.get(body)
        if found is not None:
            return found
        self._conn.execute("INSERT OR IGNORE INTO contexts (body) VALUES (?)", (body,))
        (found,) = self._conn.execute("SELECT id FROM contexts WHERE body = ?", (body,)).fetchone()
        self._context_ids[body] = found
        return int(found)

    def _evict(self, max_rows: int, max_bytes: int) -> int:
        rows, size = self.totals()
        excess_rows, excess_bytes = rows - max_rows, size - max_bytes
        if excess_rows <= 0 and excess_bytes <= 0:
            return 0
        victims: list[tuple[int]] = []
        removed_bytes = 0
        for priority in Priority:
            cursor = self._conn.execute(
                "SELECT seq, size FROM events WHERE priority = ? ORDER BY seq", (int(priority),)
            )
            for seq, event_size in cursor:
                if excess_rows <= 0 and excess_bytes <= 0:
                    break
                victims.append((seq,))
                removed_bytes += event_size
                excess_rows -= 1
                excess_bytes -= event_size
            cursor.close()
            if excess_rows <= 0 and excess_bytes <= 0:
                break
        self._conn.executemany("DELETE FROM events WHERE seq = ?", victims)
        self._conn.executemany("DELETE FROM bodies WHERE seq = ?", victims)
        self._count(-len(victims), -removed_bytes)
        return len(victims)

    def _count(self, rows: int, size: int) -> None:
        """Add to the pending totals (once per transaction: per-row triggers cost ~1 µs a row)."""
        if rows:
            self._conn.execute(
                "UPDATE stats SET rows = rows + ?, bytes = bytes + ? WHERE id = 0", (rows, size)
            )

    def _remove(self, where: str, params: Sequence[object]) -> int:
        """Delete the pending rows matching `where` (not their bodies) and count them out."""
        rows, size = self._conn.execute(
            f"SELECT COUNT(*), TOTAL(size) FROM events WHERE {where}",  # noqa: S608 - callers' SQL
            params,
        ).fetchone()
        if rows:
            self._conn.execute(f"DELETE FROM events WHERE {where}", params)  # noqa: S608
            self._count(-rows, -int(size))
        return int(rows)

    def _trim_history(self, max_rows: int) -> None:
        (cutoff,) = self._conn.execute(f"SELECT ({_HISTORY_CUTOFF})", (max_rows,)).fetchone()
        if cutoff is not None:
            self._conn.execute(
                "DELETE FROM bodies WHERE seq IN (SELECT seq FROM history WHERE seq <= ?)",
                (cutoff,),
            )
            self._conn.execute("DELETE FROM history WHERE seq <= ?", (cutoff,))

    def _add_drops(self, drops: Mapping[str, int]) -> None:
        self._conn.executemany(
            "INSERT INTO drops (reason, count) VALUES (?, ?)"
            " ON CONFLICT (reason) DO UPDATE SET count = count + excluded.count",
            [(reason, count) for reason, count in drops.items() if count > 0],
        )

    # Sender side

    def totals(self) -> tuple[int, int]:
        """(rows, bytes) of events waiting to be sent."""
        rows, size = self._conn.execute("SELECT rows, bytes FROM stats WHERE id = 0").fetchone()
        self._seen.rows = int(rows)
        return int(rows), int(size)

    def last_seq(self) -> int:
        """The highest seq ever given to an event (0 for a new outbox)."""
        row = self._conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'events'").fetchone()
        return 0 if row is None else int(row[0])

    def dead_letter_count(self) -> int:
        return int(self._conn.execute("SELECT COUNT(*) FROM dead_letter").fetchone()[0])

    def read_batch(
        self,
        max_events: int,
        max_bytes: int,
        *,
        after_seq: int = 0,
        in_flight_drops: Mapping[str, int] | None = None,
    ) -> tuple[Batch | None, int]:
        """The oldest events after `after_seq`, up to the limits (checked before adding each
        event), all with the same context, and the highest seq committed; both from one
        snapshot. The batch is None when there are no such events.

        The sender reads the next batch while the previous one is in flight: `after_seq` is
        that batch's last seq, and `in_flight_drops` the drop counts it carries, which are
        still in the table until it is acknowledged and must not be reported twice."""
        conn = self._conn
        conn.execute("BEGIN")
        try:
            # CROSS JOIN keeps `events` the outer loop: walked in seq order, bodies looked up.
            rows = conn.execute(
                "SELECT seq, ctx_id, size, event_id, body FROM events CROSS JOIN bodies"
                " USING (seq) WHERE seq > ? ORDER BY seq LIMIT ?",
                (after_seq, max_events),
            ).fetchall()
            last_seq = self.last_seq()
            if not rows:
                return None, last_seq
            ctx_id = rows[0][1]
            (context,) = conn.execute(
                "SELECT body FROM contexts WHERE id = ?", (ctx_id,)
            ).fetchone()
            drops = dict(conn.execute("SELECT reason, count FROM drops WHERE count > 0"))
        finally:
            conn.execute("COMMIT")
        if in_flight_drops:
            drops = {
                reason: count - in_flight_drops.get(reason, 0)
                for reason, count in drops.items()
                if count > in_flight_drops.get(reason, 0)
            }
        # The envelope around the events: sent_at, context, drops, punctuation.
        budget = max_bytes - len(context) - len(orjson.dumps(drops)) - 64
        taken = 0
        total = 0
        for _, row_ctx, size, _, _ in rows:
            if row_ctx != ctx_id or (taken and total + size + 1 > budget):
                break
            total += size + 1
            taken += 1
        chosen = rows[:taken]
        batch = Batch(
            first_seq=chosen[0][0],
            last_seq=chosen[-1][0],
            event_ids=tuple(row[3] for row in chosen),
            bodies=tuple(row[4] for row in chosen),
            context=bytes(context),
            drops=drops,
        )
        return batch, last_seq

    def acknowledge(
        self,
        batch: Batch,
        rejected: Sequence[tuple[int, str, str]],
        duplicates: int,
        *,
        history_rows: int,
    ) -> None:
        """The collector stored `batch` except `rejected` (index, code, message), which go to
        the dead-letter table; `duplicates` of the stored ones it already had. The batch moves
        to the history (trimmed to `history_rows`). The drop counts it carried are reported."""
        with self._transaction() as conn:
            acked = now_ms()
            refused = [entry for entry in rejected if 0 <= entry[0] < len(batch)]
            stored = len(batch) - len(refused)
            # The collector answers duplicates with a count, not per event: only an all-new or
            # all-duplicate batch says which each event was.
            if duplicates <= 0:
                outcome = ACCEPTED
            elif duplicates >= stored:
                outcome = DUPLICATE
            else:
                outcome = DELIVERED
            conn.execute(_TO_HISTORY, (acked, outcome, batch.first_seq, batch.last_seq))
            for index, code, message in refused:
                event_id = batch.event_ids[index]
                conn.execute(
                    _TO_DEAD_LETTER + " WHERE event_id = ?", (200, code, message, acked, event_id)
                )
                conn.execute(
                    "UPDATE history SET outcome = ? WHERE seq BETWEEN ? AND ? AND event_id = ?",
                    (DEAD_LETTER, batch.first_seq, batch.last_seq, event_id),
                )
            self._remove("seq BETWEEN ? AND ?", (batch.first_seq, batch.last_seq))
            self._trim_history(history_rows)
            conn.executemany(
                "UPDATE drops SET count = count - ? WHERE reason = ?",
                [(count, reason) for reason, count in batch.drops.items()],
            )
            conn.execute("DELETE FROM drops WHERE count <= 0")

    def dead_letter(
        self, batch: Batch, status: int, code: str, message: str, *, history_rows: int
    ) -> None:
        """The collector refused the whole `batch` for good: keep it aside with the reason
        (and in the history, trimmed to `history_rows`)."""
        with self._transaction() as conn:
            failed = now_ms()
            conn.execute(
                _TO_DEAD_LETTER + " WHERE seq BETWEEN ? AND ?",
                (status, code, message, failed, batch.first_seq, batch.last_seq),
            )
            conn.execute(_TO_HISTORY, (failed, DEAD_LETTER, batch.first_seq, batch.last_seq))
            self._remove("seq BETWEEN ? AND ?", (batch.first_seq, batch.last_seq))
            self._trim_history(history_rows)


PENDING: Final = "pending"
SENT: Final = "sent"
REFUSED: Final = "refused"


@dataclass(frozen=True, slots=True)
class LocalEvent:
    """An event recorded on this device: `pending` (waiting to be sent), `sent` or `refused`
    (in the history, with the collector's `outcome` and the time of its answer)."""

    seq: int
    event_id: str
    event: dict[str, object]
    status: str
    outcome: str | None
    acked_ms: int | None


UNREADABLE: Final = "unreadable"  # marks an event whose stored body no longer parses


def parse_body(body: object, event_id: str, event_type: str) -> dict[str, object]:
    """The stored event as a JSON object, or a stand-in marked `unreadable` when the body was
    damaged on disk: the privacy window lists it rather than failing on the whole table."""
    try:
        event = orjson.loads(body) if isinstance(body, (bytes, str)) else None
    except orjson.JSONDecodeError:
        event = None
    if isinstance(event, dict):
        return event
    return {"event_id": event_id, "type": event_type, UNREADABLE: True}


def _local_event(row: tuple[int, str, str, bytes, str | None, int | None]) -> LocalEvent:
    """A row of (seq, event_id, type, body, outcome, acked_ms)."""
    seq, event_id, event_type, body, outcome, acked = row
    status = PENDING if outcome is None else REFUSED if outcome == DEAD_LETTER else SENT
    return LocalEvent(seq, event_id, parse_body(body, event_id, event_type), status, outcome, acked)


_T = TypeVar("_T")
_P = ParamSpec("_P")


def _empty_if_corrupt(
    empty: Callable[[], object],
) -> Callable[[Callable[_P, _T]], Callable[_P, _T]]:
    """A reader view that shows `empty()` instead of raising when the file is damaged (the
    writer moves such a file aside as soon as it trips over it)."""

    def decorate(view: Callable[_P, _T]) -> Callable[_P, _T]:
        @functools.wraps(view)
        def safe(*args: _P.args, **kwargs: _P.kwargs) -> _T:
            try:
                return view(*args, **kwargs)
            except sqlite3.DatabaseError as exc:
                if not is_corruption(exc):
                    raise
                _log.warning("telemetry outbox unreadable (%s): shown as empty", exc)
                return cast(_T, empty())

        return safe

    return decorate


class OutboxReader:
    """Read-only views for the settings/privacy window. Each call opens its own read-only
    connection, so any thread may call; an absent outbox reads as empty, a damaged one too,
    and an event whose stored body no longer parses is listed marked `unreadable`."""

    def __init__(self, path: Path) -> None:
        self._path = path

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection | None]:
        if not self._path.exists():
            yield None
            return
        uri = f"{self._path.resolve().as_uri()}?mode=ro"
        with closing(sqlite3.connect(uri, uri=True, timeout=5.0)) as conn:
            # The writer creates the tables and sets user_version in one transaction: version 0
            # is a file that exists but whose schema is not committed yet, i.e. still empty. An
            # older version is a file the writer has not upgraded yet (it does so when it opens
            # the file, before anything is sent): it reads as empty for those few moments too,
            # rather than failing on the tables it lacks.
            (version,) = conn.execute("PRAGMA user_version").fetchone()
            yield conn if version >= SCHEMA_VERSION else None

    @_empty_if_corrupt(list)
    def recent_events(self, limit: int = 100) -> list[dict[str, object]]:
        """The newest pending events, newest first, as the JSON objects that will be sent."""
        with self._connect() as conn:
            if conn is None:
                return []
            rows = conn.execute(
                "SELECT event_id, type, body FROM events CROSS JOIN bodies USING (seq)"
                " ORDER BY seq DESC LIMIT ?",
                (limit,),
            )
            return [parse_body(body, event_id, type_) for event_id, type_, body in rows]

    @_empty_if_corrupt(list)
    def local_events(self, limit: int = 100) -> list[LocalEvent]:
        """The newest events on this device, pending and in the history, newest first."""
        with self._connect() as conn:
            if conn is None:
                return []
            rows = conn.execute(
                "SELECT * FROM"
                " (SELECT seq, event_id, type, body, NULL, NULL FROM events CROSS JOIN bodies"
                " USING (seq) ORDER BY seq DESC LIMIT ?)"
                " UNION ALL SELECT * FROM (SELECT seq, event_id, type, body, outcome, acked_ms"
                " FROM history CROSS JOIN bodies USING (seq) ORDER BY seq DESC LIMIT ?)"
                " ORDER BY 1 DESC LIMIT ?",
                (limit, limit, limit),
            )
            return [_local_event(row) for row in rows]

    @_empty_if_corrupt(dict)
    def counts_by_type(self) -> dict[str, int]:
        """Events on this device by type, pending and in the history."""
        with self._connect() as conn:
            if conn is None:
                return {}
            return dict(
                conn.execute(
                    "SELECT type, COUNT(*) FROM"
                    " (SELECT type FROM events UNION ALL SELECT type FROM history) GROUP BY type"
                )
            )

    @_empty_if_corrupt(lambda: dict.fromkeys((PENDING, SENT, REFUSED), 0))
    def counts_by_status(self) -> dict[str, int]:
        """Events on this device: `pending`, `sent` and `refused` (the last two as far as the
        history reaches)."""
        counts = dict.fromkeys((PENDING, SENT, REFUSED), 0)
        with self._connect() as conn:
            if conn is None:
                return counts
            conn.execute("BEGIN")
            (counts[PENDING],) = conn.execute("SELECT rows FROM stats WHERE id = 0").fetchone()
            for refused, count in conn.execute(
                "SELECT outcome = ?, COUNT(*) FROM history GROUP BY 1", (DEAD_LETTER,)
            ):
                counts[REFUSED if refused else SENT] = count
            return counts

    @_empty_if_corrupt(list)
    def dead_letters(self, limit: int = 100) -> list[dict[str, object]]:
        """The newest refused events with the collector's status, code and message."""
        with self._connect() as conn:
            return [] if conn is None else _dead_letters(conn, limit)

    @_empty_if_corrupt(dict)
    def drops(self) -> dict[str, int]:
        """Dropped events not yet reported to the collector, by reason."""
        with self._connect() as conn:
            return {} if conn is None else dict(conn.execute("SELECT reason, count FROM drops"))

    @_empty_if_corrupt(lambda: {"events": [], "history": [], "dead_letter": [], "drops": {}})
    def export(self) -> dict[str, object]:
        """All local telemetry data as one JSON-ready document (one consistent snapshot):
        `events` (pending, oldest first), `history` (sent and refused, oldest first, each with
        its status, outcome and `acked_ms`), `dead_letter` and `drops`."""
        with self._connect() as conn:
            if conn is None:
                return {"events": [], "history": [], "dead_letter": [], "drops": {}}
            conn.execute("BEGIN")
            events = [
                parse_body(body, event_id, type_)
                for event_id, type_, body in conn.execute(
                    "SELECT event_id, type, body FROM events CROSS JOIN bodies USING (seq)"
                    " ORDER BY seq"
                )
            ]
            history = [
                {
                    "event": local.event,
                    "status": local.status,
                    "outcome": local.outcome,
                    "acked_ms": local.acked_ms,
                }
                for local in (
                    _local_event(row)
                    for row in conn.execute(
                        "SELECT seq, event_id, type, body, outcome, acked_ms FROM history"
                        " CROSS JOIN bodies USING (seq) ORDER BY seq"
                    )
                )
            ]
            return {
                "events": events,
                "history": history,
                "dead_letter": _dead_letters(conn, -1),
                "drops": dict(conn.execute("SELECT reason, count FROM drops")),
            }


def _dead_letters(conn: sqlite3.Connection, limit: int) -> list[dict[str, object]]:
    rows = conn.execute(
        "SELECT event_id, type, body, status, code, message, failed_ms FROM dead_letter"
        " ORDER BY seq DESC LIMIT ?",
        (limit,),
    )
    return [
        {
            "event": parse_body(body, event_id, type_),
            "status": status,
            "code": code,
            "message": message,
            "failed_ms": failed,
        }
        for event_id, type_, body, status, code, message, failed in rows
    ]
