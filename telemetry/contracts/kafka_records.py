"""The Kafka record format between the collector (producer) and the loader (consumer).

Pure functions, callable from any thread. One record per stored thing, keyed by device id so a
device's events, drops and deletion requests stay in one partition, in the order they arrived.
The value is a JSON object with `"v": 1` and a `kind`:

- `event`: the collector's metadata (key id, received time, corrected time, and the columns it
  parsed out) plus the raw event as a JSON string in `raw`, as PostHog's capture wraps its
  events: the loader never re-serialises the raw event, and the record's field names are the
  ClickHouse `events` columns, so the record is the row. `context` is the batch context's JSON
  (small; carried on each event so no record depends on another);
- `drop`: events a client says it dropped, with a `drop_id` that makes a retried batch's copy
  collapse (the batch digest; a random id for a batch without events, as SQLite keeps those);
- `delete_device`: "delete this device's events"; the loader applies it in partition order,
  after every event of that device produced before it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Final

import orjson

from telemetry.contracts.stored import DropRow, EventRow

VERSION: Final = 1


@dataclass(frozen=True, slots=True)
class Record:
    """One Kafka record to produce."""

    key: bytes | None
    value: bytes


def _key(device_id: str | None) -> bytes | None:
    return device_id.encode() if device_id else None


def event_record(row: EventRow, context_json: str | None) -> Record:
    fields: dict[str, Any] = row._asdict()
    digest = row.context_hash
    fields["context_hash"] = digest.hex() if digest is not None else None
    fields["context"] = context_json
    fields["kind"] = "event"
    fields["v"] = VERSION
    return Record(_key(row.device_id), orjson.dumps(fields))


def drop_record(row: DropRow) -> Record:
    digest = row.batch_digest
    value = {
        "v": VERSION,
        "kind": "drop",
        "key_id": row.key_id,
        "device_id": row.device_id,
        "reason": row.reason,
        "dropped": row.dropped,
        "received_at": row.received_at,
        "drop_id": digest.hex() if digest is not None else uuid.uuid4().hex,
    }
    return Record(_key(row.device_id), orjson.dumps(value))


def delete_record(key_id: str, device_id: str, requested_at: int) -> Record:
    value = {
        "v": VERSION,
        "kind": "delete_device",
        "key_id": key_id,
        "device_id": device_id,
        "requested_at": requested_at,
    }
    return Record(_key(device_id), orjson.dumps(value))


class MalformedRecordError(ValueError):
    """A record this loader cannot read (not JSON, unknown version or kind)."""


def decode(value: bytes | None) -> dict[str, Any]:
    """The record's fields, checked for the version and kind this loader understands."""
    try:
        fields = orjson.loads(value or b"")
    except orjson.JSONDecodeError as exc:
        raise MalformedRecordError(f"not JSON: {exc}") from None
    if not isinstance(fields, dict) or fields.get("v") != VERSION:
        raise MalformedRecordError("not a version-1 Reelscope record")
    if fields.get("kind") not in {"event", "drop", "delete_device"}:
        raise MalformedRecordError(f"unknown kind {fields.get('kind')!r}")
    return fields
