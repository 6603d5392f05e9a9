"""The outbox file's schema and its migrations, and the outcomes the history records.

Layout (schema version in `PRAGMA user_version`, upgraded by `MIGRATIONS` in order):
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

Pure data, and `migrate`, called by the thread that holds the connection.
"""

from __future__ import annotations

import sqlite3
from typing import Final

MIGRATIONS: Final[tuple[tuple[str, ...], ...]] = (
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
SCHEMA_VERSION: Final = len(MIGRATIONS)
ACCEPTED: Final = "accepted"
DUPLICATE: Final = "duplicate"
DELIVERED: Final = "delivered"
DEAD_LETTER: Final = "dead_letter"


class UnusableOutboxError(sqlite3.DatabaseError):
    """The file fails its integrity check, or a newer Reelscope wrote a schema this one
    cannot read."""


def migrate(conn: sqlite3.Connection) -> None:
    """Bring the file to `SCHEMA_VERSION` in one transaction; `UnusableOutboxError` for a
    newer schema than this Reelscope knows."""
    (version,) = conn.execute("PRAGMA user_version").fetchone()
    if version == SCHEMA_VERSION:
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        # Another instance may have migrated while this one waited for the lock.
        (version,) = conn.execute("PRAGMA user_version").fetchone()
        if version > SCHEMA_VERSION:
            raise UnusableOutboxError(f"schema version {version} > {SCHEMA_VERSION}")
        for statements in MIGRATIONS[version:]:
            for statement in statements:
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
