"""Play session events as the report's engine stores them: `facts` rows parsed by the rules of
`telemetry/contracts/facts.sql`, and a chdb warehouse with those tables, for the tests of
`telemetry.report.session_sql`."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from telemetry.contracts.clickhouse import Warehouse
from telemetry.warehouse.schema import statements

FACTS_SQL = Path(__file__).resolve().parents[2] / "telemetry" / "contracts" / "facts.sql"
CONTEXTS_SQL = (
    "CREATE TABLE IF NOT EXISTS contexts (hash String, json String)"
    " ENGINE = ReplacingMergeTree ORDER BY hash"
)


def open_engine(path: Path) -> Warehouse:
    """A chdb warehouse at `path` with the `facts`, `served_rows` and `contexts` tables."""
    warehouse = Warehouse(f"chdb://{path}")
    for statement in statements(FACTS_SQL.read_text()):
        warehouse.command(statement)
    warehouse.command(CONTEXTS_SQL)
    return warehouse


@dataclass(slots=True)
class Stored:
    """One stored copy of an event."""

    app_session_id: str
    seq: int
    type: str
    mono_ms: int
    properties: Any = field(default_factory=dict)
    play_session_id: str | None = None
    corrected_time: int = 0
    time: int = 0
    device_id: str | None = "device-1"
    context_hash: str | None = None
    key_id: str = "key-1"
    event_id: str = ""
    received_at: int = 0

    def raw(self) -> bytes:
        event: dict[str, Any] = {
            "type": self.type,
            "seq": self.seq,
            "mono_ms": self.mono_ms,
            "properties": self.properties,
        }
        if self.play_session_id is not None:
            event["play_session_id"] = self.play_session_id
        return orjson.dumps(event)

    def stored_event(self) -> tuple[Any, ...]:
        """As the report's Python fold reads it (`queries.StoredEvent`)."""
        digest = None if self.context_hash is None else bytes.fromhex(self.context_hash)
        return (
            self.type, self.app_session_id, self.seq, self.mono_ms, self.time,
            self.corrected_time, self.device_id, digest, self.play_session_id, self.raw(),
        )  # fmt: skip

    def facts_row(self) -> bytes:
        props = self.properties
        ok = isinstance(props, dict)
        p: dict[str, Any] = props if isinstance(props, dict) else {}
        source = p.get("source")
        source = source if isinstance(source, dict) else {}
        row = {
            "app_session_id": self.app_session_id,
            "seq": self.seq,
            "key_id": self.key_id,
            "event_id": self.event_id or f"{self.app_session_id}/{self.seq}",
            "received_at": self.received_at,
            "type": self.type,
            "device_id": self.device_id,
            "play_session_id": self.play_session_id,
            "mono_ms": self.mono_ms,
            "time": self.time,
            "corrected_time": self.corrected_time,
            "context_hash": self.context_hash,
            "props_ok": int(ok),
            "props_hash": props_hash(props) if ok else 0,
            "video_id": as_str(p.get("video_id")),
            "start_position_ms": as_int(p.get("start_position_ms")),
            "location": as_str(source.get("location")),
            # play_request: source.impression_id; impression: impression_id
            "impression_id": as_str(
                source.get("impression_id")
                if self.type == "play_request"
                else p.get("impression_id")
            ),
            "duration_ms": as_int(p.get("duration_ms")),
            "startup_ms": as_int(p.get("startup_ms")),
            "position_ms": as_int(p.get("position_ms")),
            "from_ms": as_int(p.get("from_ms")),
            "to_ms": as_int(p.get("to_ms")),
            "seek_latency_ms": as_int(p.get("seek_latency_ms")),
            "stall_ms": as_int(p.get("stall_ms")),
            "fatal": int(p.get("fatal") is True),
            "category": as_str(p.get("category")),
            "reason": as_str(p.get("reason")),
            "kind": as_str(p.get("kind")),
            "from_track": as_raw(p.get("from_track")),
            "to_track": as_raw(p.get("to_track")),
            "width": as_size(p.get("width")),
            "height": as_size(p.get("height")),
            "window_width": as_size(p.get("window_width")),
            "window_height": as_size(p.get("window_height")),
            "played_ms": as_number(p.get("played_ms")),
            "first_part": 0,
            "raw": self.raw().decode(),
        }
        return orjson.dumps(row)


def props_hash(props: object) -> int:
    digest = hashlib.blake2b(orjson.dumps(props, option=orjson.OPT_SORT_KEYS), digest_size=8)
    return int.from_bytes(digest.digest(), "little")


def as_int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def as_size(value: object) -> int | None:
    number = as_int(value)
    return number if number is not None and number > 0 else None


def as_str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def as_raw(value: object) -> str:
    return "" if value is None else orjson.dumps(value).decode()


def as_number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def context_row(digest: str, text: str) -> bytes:
    return orjson.dumps({"hash": digest, "json": text})


def insert(
    warehouse: Warehouse, events: list[Stored], contexts: dict[str, str] | None = None
) -> None:
    warehouse.insert("facts", [event.facts_row() for event in events])
    if contexts:
        warehouse.insert("contexts", [context_row(h, t) for h, t in contexts.items()])
