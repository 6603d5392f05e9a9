"""The storage interface: what a sink accepts, what it answers, and how a URL picks one.

Request handlers (event loop) build `BatchWrite`s and await `Sink.write`; a sink may do its work
on its own thread but must resolve the await only after the data is durable. The report opens
the SQLite store read-only with `open_store_readonly(url)`; the schema is `schema.sql`.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple, Protocol
from urllib.parse import unquote, urlsplit

from telemetry.collector.config import CollectorConfig


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


@dataclass
class BatchWrite:
    """Everything one accepted request stores, committed together."""

    key_id: str
    rows: list[EventRow] = field(default_factory=list)
    contexts: dict[bytes, ContextRow] = field(default_factory=dict)
    drops: list[DropRow] = field(default_factory=list)

    def empty(self) -> bool:
        return not self.rows and not self.drops


class WriteResult(NamedTuple):
    accepted: int
    duplicates: int


class Sink(Protocol):
    """A durable destination for batches. Methods are awaited from the event loop."""

    def start(self) -> None: ...

    async def write(self, batch: BatchWrite) -> WriteResult:
        """Store the batch; resolves after commit. Raises StorageUnavailableError when it cannot."""
        ...

    async def delete_device(self, key_id: str, device_id: str) -> int:
        """Delete every event, context and drop report of one device stored under one key;
        the number of events deleted."""
        ...

    async def check_ready(self) -> None:
        """Return if a write could be committed now; raise StorageUnavailableError otherwise."""
        ...

    def close(self) -> None:
        """Commit everything already accepted, then release the storage."""
        ...


def sqlite_path(url: str) -> Path:
    """The file named by `sqlite:///relative/path` or `sqlite:////absolute/path`."""
    parts = urlsplit(url)
    if parts.scheme != "sqlite" or parts.netloc or not parts.path.startswith("/"):
        raise ValueError(f"not a sqlite:///path URL: {url!r}")
    return Path(unquote(parts.path[1:]))


def open_sink(config: CollectorConfig) -> Sink:
    """The sink the configured URL names: `sqlite:///path`, or `kafka://brokers/topic` (the
    scale-out path, docs/scale-out.md; needs the `scale` extra)."""
    scheme = urlsplit(config.db).scheme
    if scheme == "sqlite":
        from telemetry.collector.sqlite_sink import SqliteSink

        return SqliteSink(sqlite_path(config.db), config)
    if scheme == "kafka":
        from telemetry.collector.kafka_sink import KafkaSink
        from telemetry.warehouse.kafka_url import parse_kafka_url

        return KafkaSink(parse_kafka_url(config.db), config)
    raise ValueError(f"unsupported storage URL scheme {scheme!r} (supported: sqlite, kafka)")


def open_store_readonly(url: str) -> sqlite3.Connection:
    """A read-only connection to the store, safe to use while the collector writes.

    `mode=ro` means this connection can never take the write lock; in WAL mode readers and the
    writer do not block each other, and each read transaction sees a consistent snapshot.
    """
    path = sqlite_path(url).resolve()
    connection = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
    connection.execute("PRAGMA query_only = ON")
    return connection
