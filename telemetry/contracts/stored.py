"""The stored form every reader shares: the rows the collector writes (in `schema.sql`'s column
order, telemetry/collector/schema.sql), where the store is by default, and how a reader (the
report, the trainer, the feed service) opens the SQLite store read-only. `open_report_store`
refuses what is not a readable collector store with `StoreError` (a message for the user, never
a traceback).

Immutable values and pure functions, callable from any thread; each connection belongs to the
thread that opened it. Imports nothing else of ours.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Final, NamedTuple
from urllib.parse import unquote, urlsplit

# The collector's `db` setting: its default and the environment variable that overrides it
# (the collector's `REELSCOPE_COLLECTOR_` prefix); the report and the trainer read the same.
DEFAULT_STORE_URL: Final = "sqlite:///reelscope-events.db"
STORE_URL_ENV: Final = "REELSCOPE_COLLECTOR_DB"
CACHE_KIB: Final = 256 * 1024


class StoreError(Exception):
    """The store cannot be read as a collector store; the message says why."""


class EventRow(NamedTuple):
    """One `events` row, in the table's column order (see schema.sql)."""

    key_id: str
    event_id: str
    type: str
    source: str
    schema: int | None
    device_id: str | None
    app_session_id: str | None
    seq: int | None
    mono_ms: int | None
    play_session_id: str | None
    request_id: str | None
    time: int
    sent_at: int
    received_at: int
    corrected_time: int
    context_hash: bytes | None
    raw: str


class ContextRow(NamedTuple):
    """One `contexts` row: a context as one device of one key sent it (see schema.sql)."""

    hash: bytes
    json: str
    key_id: str
    device_id: str | None


class DropRow(NamedTuple):
    """One `client_drops` row."""

    key_id: str
    device_id: str | None
    reason: str
    dropped: int
    received_at: int
    batch_digest: bytes | None


def sqlite_path(url: str) -> Path:
    """The file named by `sqlite:///relative/path` or `sqlite:////absolute/path`."""
    parts = urlsplit(url)
    if parts.scheme != "sqlite" or parts.netloc or not parts.path.startswith("/"):
        raise ValueError(f"not a sqlite:///path URL: {url!r}")
    return Path(unquote(parts.path[1:]))


def open_store_readonly(url: str) -> sqlite3.Connection:
    """A read-only connection to the store, safe to use while the collector writes.

    `mode=ro` means this connection can never take the write lock; in WAL mode readers and the
    writer do not block each other, and each read transaction sees a consistent snapshot.
    """
    path = sqlite_path(url).resolve()
    connection = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
    connection.execute("PRAGMA query_only = ON")
    return connection


def open_report_store(url: str) -> sqlite3.Connection:
    """A read-only connection to a collector store at `sqlite:///path`, checked to be one."""
    try:
        path = sqlite_path(url)
    except ValueError as exc:
        raise StoreError(str(exc)) from None
    if not path.is_file():
        raise StoreError(f"no store at {path}")
    try:
        connection = open_store_readonly(url)
        # The report walks the table in launch order, not rowid order: a larger page cache
        # keeps the B-tree's inner pages and a launch's neighbouring rows in memory.
        connection.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
        tables = {
            name for (name,) in connection.execute("SELECT name FROM sqlite_master").fetchall()
        }
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path} is not a readable SQLite database ({exc})") from None
    missing = {"events", "contexts", "client_drops", "counters"} - tables
    if missing:
        connection.close()
        raise StoreError(f"{path} is not a collector store (no {', '.join(sorted(missing))})")
    return connection


def store_url(path: Path) -> str:
    return f"sqlite:///{path.resolve()}"
