"""What the report reads from the collector's store, and the SQL that reads it.

The SQL is dedupe-safe and order-safe by construction:
- the store keeps one row per (key, event id), but the same event can still be stored twice (sent
  under two write keys, or re-minted by a buggy client); an event's identity is its
  `(app_session_id, seq)`, so events are read ordered by that pair (the store's index, no sort)
  and a repeated pair is skipped as a duplicate, whichever copy arrived first;
- nothing is ordered by arrival (`id`, `received_at`): a launch's events are read in the order
  its client recorded them, however late or shuffled they reached the collector.

Events without `app_session_id` (Segment's dialect) are not Reelscope events and are left out.

The connection comes from `telemetry.contracts.stored.open_report_store`. One connection per
thread or process that reads.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from typing import NamedTuple

import orjson


@dataclass(frozen=True, slots=True)
class Filters:
    """Which data the figures cover. Times are ms since the epoch on the corrected clock;
    `since` is inclusive, `until` exclusive. None means no restriction."""

    since: int | None = None
    until: int | None = None
    app_version: str | None = None
    os: str | None = None
    video_id: str | None = None

    def in_time(self, corrected_time: int) -> bool:
        return (self.since is None or corrected_time >= self.since) and (
            self.until is None or corrected_time < self.until
        )


class Context(NamedTuple):
    """The parts of a batch context the filters use."""

    app_version: str | None
    os: str | None


# One Reelscope event as the report reads it: (type, app_session_id, seq, mono_ms, time,
# corrected_time, device_id, context_hash, play_session_id, raw). A plain tuple, as SQLite
# returns it: wrapping millions of rows in objects would cost more than the figures.
# SQLite's `raw` comes as bytes (the JSON parser takes them) so it is never decoded to a str
# first; other sources may give a str.
StoredEvent = tuple[str, str, int, int, int, int, str | None, bytes | None, str | None, bytes | str]


_EVENTS_SQL = (
    "SELECT type, app_session_id, seq, mono_ms, time, corrected_time, device_id, context_hash,"
    " play_session_id, CAST(raw AS BLOB) FROM events INDEXED BY events_app_session_seq"
    " WHERE app_session_id IS NOT NULL{shard} ORDER BY app_session_id, seq"
)


def contexts(connection: sqlite3.Connection) -> dict[bytes, Context]:
    """Every stored batch context by hash: app version and OS name."""
    found: dict[bytes, Context] = {}
    for digest, text in connection.execute("SELECT hash, json FROM contexts"):
        context = parse_context(text)
        if context is not None:
            found[bytes(digest)] = context
    return found


def parse_context(text: str) -> Context | None:
    """The app version and OS name of a stored context's JSON (None if it is not JSON)."""
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    app = value.get("app") if isinstance(value, dict) else None
    system = value.get("os") if isinstance(value, dict) else None
    version = app.get("version") if isinstance(app, dict) else None
    name = system.get("name") if isinstance(system, dict) else None
    return Context(
        version if isinstance(version, str) else None, name if isinstance(name, str) else None
    )


def shard_bounds(shards: int) -> list[tuple[str | None, str | None]]:
    """`shards` ranges of app session ids covering every string: ids are random UUIDs, so
    ranges split on the first hex digit get about the same number of launches."""
    digits = "0123456789abcdef"
    cuts = [digits[round(i * 16 / shards)] for i in range(1, shards)]
    lows: list[str | None] = [None, *cuts]
    highs: list[str | None] = [*cuts, None]
    return list(zip(lows, highs, strict=True))


class EventStream:
    """Every Reelscope event with `low <= app_session_id < high`, in (app_session_id, seq)
    order; a repeated (app_session_id, seq) is skipped and counted in `duplicates`."""

    def __init__(
        self, connection: sqlite3.Connection, low: str | None = None, high: str | None = None
    ) -> None:
        self._connection = connection
        self._low = low
        self._high = high
        self.duplicates = 0

    def __iter__(self) -> Iterator[StoredEvent]:
        conditions = []
        parameters: list[str] = []
        if self._low is not None:
            conditions.append(" AND app_session_id >= ?")
            parameters.append(self._low)
        if self._high is not None:
            conditions.append(" AND app_session_id < ?")
            parameters.append(self._high)
        sql = _EVENTS_SQL.format(shard="".join(conditions))
        previous_launch = ""
        previous_seq = 0
        for row in self._connection.execute(sql, parameters):
            if row[2] == previous_seq and row[1] == previous_launch:
                self.duplicates += 1
                continue
            previous_seq, previous_launch = row[2], row[1]
            yield row


class Drop(NamedTuple):
    device_id: str | None
    reason: str
    dropped: int
    received_at: int


def client_drops(connection: sqlite3.Connection) -> list[Drop]:
    """Drops clients reported, one per (device, batch, reason) whatever the key it came under."""
    rows = connection.execute(
        "SELECT device_id, reason, max(dropped), min(received_at) FROM client_drops"
        " GROUP BY device_id, coalesce(batch_digest, id), reason"
    )
    return [Drop(*row) for row in rows]


def collector_duplicates(connection: sqlite3.Connection) -> int:
    """Copies the collector absorbed (same key and event id), over the store's whole life."""
    (value,) = connection.execute(
        "SELECT coalesce(sum(value), 0) FROM counters WHERE name = 'duplicates'"
    ).fetchone()
    return int(value)


def segment_events(connection: sqlite3.Connection) -> int:
    """Stored events that are not Reelscope's (Segment dialect): outside every figure."""
    (value,) = connection.execute(
        "SELECT count(*) FROM events WHERE app_session_id IS NULL"
    ).fetchone()
    return int(value)
