"""The report over the ClickHouse store: the same `StoredEvent` stream and store-wide counts the
SQLite store gives, so `telemetry/report`'s fold and figures run unchanged and the numbers are
the same by construction.

Every read is dedupe-safe before merges: `FINAL` collapses the copies of (key_id, event_id)
(the first to reach a collector wins, as in SQLite), and a repeated (app_session_id, seq) is
skipped while streaming, exactly as `EventStream` does. Events are read in shards of app
session ids, so memory stays bounded (chdb returns a query's result whole). Called by
`telemetry.report.compute.compute_report` for `clickhouse://` and `chdb:///` URLs; one thread.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

from telemetry.contracts.clickhouse import Warehouse
from telemetry.contracts.stored import StoreError
from telemetry.report.features import FEATURE_EVENTS, count_features
from telemetry.report.fold import Fold, Partial
from telemetry.report.metrics import Report, build_report
from telemetry.report.queries import (
    Context,
    Drop,
    Filters,
    StoredEvent,
    parse_context,
    shard_bounds,
)

# Events per shard read at once: bounds the memory a shard's result takes.
SHARD_EVENTS: Final = 500_000

_EVENTS_SQL = (
    "SELECT type, app_session_id, seq, mono_ms, time, corrected_time, device_id, context_hash,"
    " play_session_id, raw FROM events FINAL"
    " WHERE app_session_id IS NOT NULL{shard}"
    " ORDER BY app_session_id, seq, received_at, key_id, event_id"
)


_FEATURES_SQL = (
    "SELECT app_session_id, type, mono_ms, corrected_time, context_hash, play_session_id, raw"
    " FROM events FINAL WHERE app_session_id IS NOT NULL AND type IN {types:Array(String)}"
)


def _count(warehouse: Warehouse, sql: str) -> int:
    ((value,),) = list(warehouse.rows(sql))
    return int(value)


def contexts(warehouse: Warehouse) -> dict[bytes, Context]:
    found: dict[bytes, Context] = {}
    for digest, text in warehouse.rows("SELECT hash, json FROM contexts FINAL"):
        context = parse_context(text)
        if context is not None:
            found[bytes.fromhex(digest)] = context
    return found


def client_drops(warehouse: Warehouse) -> list[Drop]:
    """One per (device, batch, reason) whatever the key, as `queries.client_drops`."""
    rows = warehouse.rows(
        "SELECT device_id, reason, max(dropped), min(received_at) FROM client_drops FINAL"
        " GROUP BY device_id, drop_id, reason"
    )
    return [Drop(*row) for row in rows]


def collector_duplicates(warehouse: Warehouse) -> int:
    """Copies that reached the log beyond the first (same key and event id)."""
    return _count(warehouse, "SELECT count() FROM receipts FINAL") - _count(
        warehouse, "SELECT count() FROM events FINAL"
    )


class WarehouseEventStream:
    """`queries.EventStream` over ClickHouse: launches with `low <= app_session_id < high`."""

    def __init__(self, warehouse: Warehouse, low: str | None, high: str | None) -> None:
        self._warehouse = warehouse
        self._low = low
        self._high = high
        self.duplicates = 0

    def __iter__(self) -> Iterator[StoredEvent]:
        conditions = []
        parameters: dict[str, Any] = {}
        if self._low is not None:
            conditions.append(" AND app_session_id >= {low:String}")
            parameters["low"] = self._low
        if self._high is not None:
            conditions.append(" AND app_session_id < {high:String}")
            parameters["high"] = self._high
        sql = _EVENTS_SQL.format(shard="".join(conditions))
        previous_launch = ""
        previous_seq = 0
        for row in self._warehouse.rows(sql, parameters):
            if row[2] == previous_seq and row[1] == previous_launch:
                self.duplicates += 1
                continue
            previous_seq, previous_launch = row[2], row[1]
            kind, launch, seq, mono, time, corrected, device, digest, session, raw = row
            context = None if digest is None else bytes.fromhex(digest)
            event: StoredEvent = (
                kind, launch, seq, mono, time, corrected, device, context, session, raw,
            )  # fmt: skip
            yield event


def compute_warehouse_report(url: str, filters: Filters) -> Report:
    try:
        warehouse = Warehouse(url)
    except Exception as exc:
        raise StoreError(f"cannot open the ClickHouse store ({exc})") from None
    try:
        try:
            events = _count(warehouse, "SELECT count() FROM events")
        except Exception as exc:
            raise StoreError(f"not a Reelscope ClickHouse store ({exc})") from None
        known = contexts(warehouse)
        partial = Partial()
        for low, high in shard_bounds(min(16, max(1, events // SHARD_EVENTS))):
            fold = Fold(filters, known)
            stream = WarehouseEventStream(warehouse, low, high)
            fold.feed(stream)
            fold.partial.duplicates = stream.duplicates
            partial.merge(fold.partial)
        report = build_report(
            partial,
            filters,
            drops=client_drops(warehouse),
            collector_duplicates=collector_duplicates(warehouse),
            foreign_events=_count(
                warehouse, "SELECT count() FROM events FINAL WHERE app_session_id IS NULL"
            ),
        )
        rows = warehouse.rows(_FEATURES_SQL, {"types": list(FEATURE_EVENTS)})
        report.features = count_features(
            (
                (launch, kind, mono, corrected, None if digest is None else bytes.fromhex(digest),
                 session, raw)
                for launch, kind, mono, corrected, digest, session, raw in rows
            ),
            known,
            filters,
            {s.play_session_id for s in report.sessions},
        )  # fmt: skip
        return report
    finally:
        warehouse.close()
