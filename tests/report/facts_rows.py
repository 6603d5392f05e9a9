"""Test events as rows of the report's engine tables (`facts`, `served_rows`, `contexts`),
by the parsing rules of telemetry/contracts/facts.sql, and a chdb warehouse holding them.

`Stored` is one stored copy of an event: the event as sent (`type`, `mono_ms`, `properties`,
...) and where it was stored (key, event id, arrival, corrected clock, context).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from telemetry.contracts.clickhouse import Warehouse
from telemetry.warehouse.schema import apply_schema, statements

REPO = Path(__file__).resolve().parents[2]
_ABSENT = object()


@dataclass(frozen=True)
class Stored:
    app_session_id: str
    seq: int
    type: str
    mono_ms: int
    properties: Any = _ABSENT  # _ABSENT: the event has no `properties`
    play_session_id: str | None = None
    device_id: str | None = "device-1"
    time: int = 1_700_000_000_000
    corrected_time: int | None = None  # None: the same as `time`
    context_hash: str | None = None
    key_id: str = "key-1"
    event_id: str | None = None  # None: made from the launch and seq
    received_at: int = 1_700_000_100_000

    def raw(self) -> dict[str, Any]:
        event: dict[str, Any] = {
            "type": self.type,
            "app_session_id": self.app_session_id,
            "seq": self.seq,
            "mono_ms": self.mono_ms,
            "time": self.time,
        }
        if self.play_session_id is not None:
            event["play_session_id"] = self.play_session_id
        if self.properties is not _ABSENT:
            event["properties"] = self.properties
        return event

    @property
    def corrected(self) -> int:
        return self.time if self.corrected_time is None else self.corrected_time

    @property
    def identity(self) -> str:
        return self.event_id or f"{self.app_session_id}-{self.seq}"


def _int_lit(value: Any) -> int | None:
    return value if type(value) is int else None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def props_hash(props: Any) -> int:
    digest = hashlib.blake2b(orjson.dumps(props, option=orjson.OPT_SORT_KEYS), digest_size=8)
    return int.from_bytes(digest.digest(), "big")


def facts_row(event: Stored) -> dict[str, Any]:
    """The `facts` row of one stored copy (the columns the browse figures read)."""
    props = event.properties
    ok = type(props) is dict
    p: dict[str, Any] = props if ok else {}
    kind = event.type
    row: dict[str, Any] = {
        "app_session_id": event.app_session_id,
        "seq": event.seq,
        "key_id": event.key_id,
        "event_id": event.identity,
        "received_at": event.received_at,
        "type": kind,
        "device_id": event.device_id,
        "play_session_id": event.play_session_id,
        "mono_ms": event.mono_ms,
        "time": event.time,
        "corrected_time": event.corrected,
        "context_hash": event.context_hash,
        "props_ok": int(ok),
        "props_hash": props_hash(props) if ok else 0,
        "raw": orjson.dumps(event.raw()).decode(),
    }
    if kind in ("play_request", "impression", "tile_visibility"):
        row["video_id"] = _str(p.get("video_id"))
    if kind == "play_request":
        source = p.get("source")
        row["impression_id"] = (
            _str(source.get("impression_id")) if isinstance(source, dict) else None
        )
    if kind in ("feed_served", "impression", "tile_visibility"):
        row["request_id"] = _str(p.get("request_id"))
    if kind in ("impression", "tile_visibility"):
        row["row_id"] = _str(p.get("row_id"))
    if kind == "impression":
        row["impression_id"] = _str(p.get("impression_id"))
        row["row_index"] = _int_lit(p.get("row_index"))
        row["rank"] = _int_lit(p.get("rank"))
    if kind == "tile_visibility":
        row["half_visible_ms"] = _int_lit(p.get("ms_at_least_half_visible"))
    if kind == "feed_served":
        row["first_part"] = int(p.get("part", 0) == 0) if ok else 0
    return row


def served_rows(event: Stored) -> list[dict[str, Any]]:
    """The `served_rows` of one stored `feed_served` copy: its valid rows."""
    props = event.properties
    if event.type != "feed_served" or type(props) is not dict:
        return []
    request, rows = props.get("request_id"), props.get("rows")
    if not isinstance(request, str) or not isinstance(rows, list):
        return []
    found = []
    for position, row in enumerate(rows):
        if not isinstance(row, dict):
            continue
        items = row.get("items")
        if not isinstance(items, list) or not all(
            isinstance(item, dict) and "video_id" in item for item in items
        ):
            continue
        if not isinstance(row.get("row_id"), str) or _int_lit(row.get("row_index")) is None:
            continue
        videos = list(dict.fromkeys(i["video_id"] for i in items if isinstance(i["video_id"], str)))
        found.append(
            {
                "app_session_id": event.app_session_id,
                "seq": event.seq,
                "key_id": event.key_id,
                "event_id": event.identity,
                "request_id": request,
                "position": position,
                "row_id": row["row_id"],
                "row_index": row["row_index"],
                "video_ids": videos,
            }
        )
    return found


@contextmanager
def engine_tables(path: Path) -> Iterator[Warehouse]:
    """A chdb warehouse at `path` with the report's tables (closed after)."""
    warehouse = Warehouse(f"chdb://{path}")
    try:
        apply_schema(warehouse)  # `contexts` comes from the warehouse's tables
        for statement in statements((REPO / "telemetry/contracts/facts.sql").read_text()):
            warehouse.command(statement)
        yield warehouse
    finally:
        warehouse.close()


def insert(warehouse: Warehouse, events: list[Stored], contexts: dict[str, Any]) -> None:
    """Every stored copy into `facts` and `served_rows`; `contexts` by hash (JSON values;
    a str is stored as it is)."""
    warehouse.insert("facts", [orjson.dumps(facts_row(e)) for e in events])
    warehouse.insert("served_rows", [orjson.dumps(r) for e in events for r in served_rows(e)])
    warehouse.insert(
        "contexts",
        [
            orjson.dumps({"hash": h, "json": j if isinstance(j, str) else orjson.dumps(j).decode()})
            for h, j in contexts.items()
        ],
    )
