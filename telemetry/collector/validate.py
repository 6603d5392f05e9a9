"""From request bytes to rows: the envelope (all-or-nothing, 400/413) and each event (alone).

Pure functions called by the batch handler on the event loop. A bad envelope refuses the whole
request; a bad event is reported in `rejected` and the rest of the batch is stored. Reelscope
bodies carry `sent_at`; a body without it whose items carry `messageId` is a Segment batch and
goes to `segment.py`. Integers headed for SQLite columns are range-checked here, because a
64-bit overflow at insert time would fail a whole commit group.

Memory: `parse_json` counts the body's JSON tokens before parsing, which bounds the objects
one parse makes. Amplification: a batch context is capped (`max_context_bytes`) and stored once
per device of the batch (`BatchContext`), never copied into each event.
"""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

import orjson

from telemetry.collector.config import CollectorConfig
from telemetry.collector.errors import ApiError
from telemetry.collector.privacy import truncate_ip
from telemetry.collector.store import BatchWrite
from telemetry.contracts.stored import ContextRow, DropRow, EventRow

# Millisecond timestamps must fall between the epoch and the end of year 9999.
MAX_TIME_MS = 253_402_300_799_999
MAX_INT64 = 2**63 - 1
# A launch's event counter: 2^31 events is decades of heartbeats, and a larger seq would only
# read as billions of events lost in the report's gap count.
MAX_SEQ = 2**31 - 1
MAX_DROP_REASONS = 100
TYPE_PATTERN = re.compile(r"[a-z][a-z0-9_]*\Z")


class InvalidEventError(Exception):
    """One event refused, with a stable code and a message naming the field."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class ParsedBatch:
    write: BatchWrite
    rejected: list[dict[str, Any]] = field(default_factory=list)


def envelope_error(message: str) -> ApiError:
    return ApiError(400, "invalid_envelope", message)


def parse_json(body: bytes, max_tokens: int) -> Any:
    """orjson refuses NaN/Infinity, invalid UTF-8 and nesting past 1024, all as a 400.

    Every JSON value but the first follows a `,` or `:` or opens with `[` or `{`, so their count
    (counted in C, a few microseconds per 100 KB) bounds how many objects the parse makes; the
    same characters inside strings only make it count high, never low.
    """
    tokens = body.count(b",") + body.count(b":") + body.count(b"{") + body.count(b"[")
    if tokens > max_tokens:
        raise ApiError(413, "too_many_values", f"the body holds more than {max_tokens} JSON values")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, "invalid_json", f"the body is not valid JSON: {exc.msg}") from exc


def depth_within(value: Any, allowed: int) -> bool:
    """Whether `value` nests no deeper than `allowed` levels of objects and arrays.

    Recurses only into containers: most event values are scalars, and this runs per event.
    """
    if isinstance(value, dict):
        children: Any = value.values()
    elif isinstance(value, list):
        children = value
    else:
        return True
    if allowed < 1:
        return False
    return all(
        depth_within(child, allowed - 1) for child in children if isinstance(child, dict | list)
    )


@functools.lru_cache(maxsize=1024)
def is_snake_case(name: str) -> bool:
    """Cached: a collector sees a few dozen event types, and matching each event cost more than
    any other check of it."""
    return TYPE_PATTERN.match(name) is not None


def optional_text(item: dict[str, Any], name: str, limit: int) -> str | None:
    value = item.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidEventError("invalid_field", f"{name} must be a string")
    if not value or len(value) > limit:
        raise InvalidEventError("invalid_field", f"{name} must be 1 to {limit} characters")
    return value


def text(item: dict[str, Any], name: str, limit: int) -> str:
    value = optional_text(item, name, limit)
    if value is None:
        raise InvalidEventError("missing_field", f"{name} is required")
    return value


def as_int(value: Any) -> int | None:
    """An integer, also from an integral float such as 2.0 (JSON does not tell them apart)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer() and abs(value) <= 2**53:
        return int(value)
    return None


def integer(item: dict[str, Any], name: str, low: int, high: int) -> int:
    if item.get(name) is None:
        raise InvalidEventError("missing_field", f"{name} is required")
    value = as_int(item[name])
    if value is None:
        raise InvalidEventError("invalid_field", f"{name} must be an integer")
    if not low <= value <= high:
        raise InvalidEventError("invalid_field", f"{name} must be between {low} and {high}")
    return value


def optional_id(properties: dict[str, Any], name: str, limit: int) -> str | None:
    """An id pulled from properties for indexing; anything but a short string is left in raw."""
    value = properties.get(name)
    return value if isinstance(value, str) and 0 < len(value) <= limit else None


class BatchContext:
    """A context as stored: canonical JSON (sorted keys, IP cut to its network), capped in
    size, one `contexts` row per device that sent it under this key. Equal contexts of one
    device share a row; deleting a device deletes its rows, whatever they hold (traits, IPs).
    """

    def __init__(
        self, context: dict[str, Any], key_id: str, write: BatchWrite, config: CollectorConfig
    ) -> None:
        if isinstance(context.get("ip"), str):
            context = {**context, "ip": truncate_ip(context["ip"])}
        self.encoded = orjson.dumps(context, option=orjson.OPT_SORT_KEYS)
        if len(self.encoded) > config.max_context_bytes:
            raise ApiError(
                413,
                "context_too_large",
                f"a context exceeds {config.max_context_bytes} bytes",
            )
        self._key_id = key_id
        self._write = write
        self._hashes: dict[str | None, bytes] = {}

    def hash_for(self, device_id: str | None) -> bytes:
        digest = self._hashes.get(device_id)
        if digest is None:
            owner = orjson.dumps([self._key_id, device_id])
            digest = hashlib.blake2b(owner + self.encoded, digest_size=16).digest()
            self._hashes[device_id] = digest
            self._write.contexts[digest] = ContextRow(
                digest, self.encoded.decode(), self._key_id, device_id
            )
        return digest


def encode_event(item: dict[str, Any], config: CollectorConfig) -> str:
    """The event as JSON for the `raw` column, refusing over-deep or oversized events."""
    try:
        encoded: bytes | None = orjson.dumps(item)
    except orjson.JSONEncodeError:
        # Parsed JSON always encodes, unless it nests past orjson's own limit of 254 levels.
        encoded = None
    # Nesting never exceeds the number of opening brackets (those inside strings only add to
    # the count): counting them in C spares nearly every event the walk in Python.
    if encoded is None or (
        encoded.count(b"{") + encoded.count(b"[") > config.max_depth
        and not depth_within(item, config.max_depth)
    ):
        raise InvalidEventError(
            "too_deep", f"the event nests deeper than {config.max_depth} levels"
        )
    if len(encoded) > config.max_event_bytes:
        raise InvalidEventError(
            "event_too_large", f"the event exceeds {config.max_event_bytes} bytes"
        )
    return encoded.decode()


def _reelscope_event(
    item: Any,
    *,
    key_id: str,
    sent_at: int,
    received_at: int,
    context: BatchContext | None,
    config: CollectorConfig,
) -> EventRow:
    if not isinstance(item, dict):
        raise InvalidEventError("invalid_event", "an event must be a JSON object")
    ids = config.max_id_chars
    event_id = text(item, "event_id", ids)
    event_type = text(item, "type", ids)
    if not is_snake_case(event_type):
        raise InvalidEventError("invalid_field", "type must be snake_case")
    schema = integer(item, "schema", 1, MAX_INT64)
    time = integer(item, "time", 0, MAX_TIME_MS)
    mono_ms = integer(item, "mono_ms", 0, MAX_INT64)
    seq = integer(item, "seq", 1, MAX_SEQ)
    app_session_id = text(item, "app_session_id", ids)
    device_id = text(item, "device_id", ids)
    properties = item.get("properties", {})
    if not isinstance(properties, dict):
        raise InvalidEventError("invalid_field", "properties must be an object")
    if time - sent_at > config.max_future_ms:
        raise InvalidEventError(
            "time_in_future", f"time is more than {config.max_future_ms} ms after sent_at"
        )
    # Positional, in the table's column order: keyword arguments cost more than the checks.
    return EventRow(
        key_id,
        event_id,
        event_type,
        "reelscope",
        schema,
        device_id,
        app_session_id,
        seq,
        mono_ms,
        optional_id(properties, "play_session_id", ids),
        optional_id(properties, "request_id", ids),
        time,
        sent_at,
        received_at,
        received_at - (sent_at - time),
        None if context is None else context.hash_for(device_id),
        encode_event(item, config),
    )


def _drops(
    value: Any,
    key_id: str,
    batch: list[Any],
    *,
    sent_at: int,
    received_at: int,
    config: CollectorConfig,
) -> list[DropRow]:
    if value is None:
        return []
    if not isinstance(value, dict) or len(value) > MAX_DROP_REASONS:
        raise envelope_error(f"drops must be an object of at most {MAX_DROP_REASONS} reasons")
    counts: dict[str, int] = {}
    for reason, count in value.items():
        if not reason or len(reason) > config.max_id_chars:
            raise envelope_error(f"drop reasons must be 1 to {config.max_id_chars} characters")
        number = as_int(count)
        if number is None or not 0 <= number <= MAX_INT64:
            raise envelope_error("drop counts must be non-negative integers")
        counts[reason] = number
    first = batch[0] if batch and isinstance(batch[0], dict) else {}
    device = first.get("device_id")
    device_id = device if isinstance(device, str) and len(device) <= config.max_id_chars else None
    # The same batch replayed reports the same drops: this digest makes the copy a no-op. A
    # batch with events is named by its event ids; one with drops only, which has none, by its
    # counts and send time (a client's retry carries a new sent_at, a replay the same).
    if batch:
        ids = [str(e.get("event_id")) if isinstance(e, dict) else "" for e in batch]
        named = orjson.dumps([device_id, ids])
    else:
        named = orjson.dumps([sent_at, sorted(counts.items())])
    digest = hashlib.blake2b(named, digest_size=16).digest()
    return [
        DropRow(key_id, device_id, reason, count, received_at, digest)
        for reason, count in counts.items()
        if count
    ]


def batch_items(document: Any, config: CollectorConfig) -> list[Any]:
    """The envelope's `batch` array, checked for shape and count (either dialect)."""
    if not isinstance(document, dict):
        raise envelope_error("the body must be a JSON object")
    batch = document.get("batch")
    if not isinstance(batch, list):
        raise envelope_error("batch must be an array of events")
    if len(batch) > config.max_events:
        raise ApiError(413, "too_many_events", f"a batch holds at most {config.max_events} events")
    return batch


def is_segment_batch(document: dict[str, Any], batch: list[Any]) -> bool:
    """Segment's libraries send `sentAt` and items with `messageId`; Reelscope sends `sent_at`."""
    return (
        "sent_at" not in document
        and bool(batch)
        and isinstance(batch[0], dict)
        and "messageId" in batch[0]
    )


def parse_reelscope_batch(
    document: dict[str, Any],
    batch: list[Any],
    key_id: str,
    received_at: int,
    config: CollectorConfig,
) -> ParsedBatch:
    """Check the envelope and every event; raises ApiError for the envelope, never per event."""
    sent_at = as_int(document.get("sent_at"))
    if sent_at is None or not 0 <= sent_at <= MAX_TIME_MS:
        raise envelope_error("sent_at must be the send time in ms since the epoch")
    parsed = ParsedBatch(BatchWrite(key_id))
    parsed.write.drops = _drops(
        document.get("drops"),
        key_id,
        batch,
        sent_at=sent_at,
        received_at=received_at,
        config=config,
    )
    if not batch and not document.get("drops"):
        raise ApiError(400, "empty_batch", "the batch has no events and no drops")
    context = None
    sent_context = document.get("context")
    if sent_context is not None:
        if not isinstance(sent_context, dict) or not depth_within(sent_context, config.max_depth):
            raise envelope_error(f"context must be an object nested at most {config.max_depth}")
        context = BatchContext(sent_context, key_id, parsed.write, config)
    for index, item in enumerate(batch):
        try:
            parsed.write.rows.append(
                _reelscope_event(
                    item,
                    key_id=key_id,
                    sent_at=sent_at,
                    received_at=received_at,
                    context=context,
                    config=config,
                )
            )
        except InvalidEventError as rejection:
            parsed.rejected.append(rejected(index, item, "event_id", rejection, config))
    return parsed


def rejected(
    index: int, item: Any, id_field: str, rejection: InvalidEventError, config: CollectorConfig
) -> dict[str, Any]:
    """One entry of the answer's `rejected` list; the id is echoed only if it is a sane string."""
    event_id = item.get(id_field) if isinstance(item, dict) else None
    if not isinstance(event_id, str) or len(event_id) > config.max_id_chars:
        event_id = None
    return {
        "index": index,
        "event_id": event_id,
        "code": rejection.code,
        "message": rejection.message,
    }
