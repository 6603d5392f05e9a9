"""The store-wide counts of a ClickHouse store that the events cannot give: the drops clients
reported, the copies that reached the log beyond the first, and the events that are not
Reelscope's. Every read is dedupe-safe before merges (FINAL, or GROUP BY the identity).

Called by `telemetry.report.compute.compute_report` for `clickhouse://` and `chdb:///` URLs;
the one thread that owns the `Warehouse`.
"""

from __future__ import annotations

from telemetry.contracts.clickhouse import Warehouse
from telemetry.report.queries import Drop


def _count(warehouse: Warehouse, sql: str) -> int:
    ((value,),) = list(warehouse.rows(sql))
    return int(value)


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


def foreign_events(warehouse: Warehouse) -> int:
    """Stored events that are not Reelscope's (Segment dialect): outside every figure."""
    return _count(warehouse, "SELECT count() FROM events FINAL WHERE app_session_id IS NULL")
