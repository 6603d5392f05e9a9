"""Segment-spec batches, so Segment's own libraries can send here by changing only their host.

Called by the batch handler on the event loop when `validate.is_segment_batch` says so. Supports
track, screen, page and identify; `messageId` is the event id, `timestamp` the client time, and
`sentAt` (per message, else per batch) the send time, ISO 8601 strings as the libraries write
them. A message without `timestamp` is taken to have happened when it was sent.

Contexts: Segment merges the batch-level `context` under each message's own. Storing that merge
per message would copy the batch context into every event (a 28 KB gzip body became 1 GB), so
each is stored once instead: the event's `context_hash` names the batch's context (once per
device, as for Reelscope batches), or the message's own when the batch has none, and the
message's own context stays in `raw`; the merge is `json_patch(contexts.json, raw->context)`.
The device id is looked up as in the merge: the message's `context.device.id`, else the batch's.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from telemetry.collector.config import CollectorConfig
from telemetry.collector.errors import ApiError
from telemetry.collector.privacy import truncate_ip
from telemetry.collector.store import BatchWrite
from telemetry.collector.validate import (
    MAX_TIME_MS,
    BatchContext,
    InvalidEventError,
    ParsedBatch,
    depth_within,
    encode_event,
    envelope_error,
    optional_id,
    optional_text,
    rejected,
    text,
)
from telemetry.contracts.stored import EventRow

SUPPORTED_TYPES = frozenset({"track", "screen", "page", "identify"})
# ISO 8601 reaches back to year 1; a clock that far off is still corrected, not refused.
MIN_ISO_MS = -62_135_596_800_000
# Segment allows long human-readable event names ("Video Playback Started"); ids stay short.
MAX_EVENT_NAME = 200


def iso_ms(value: str) -> int | None:
    """Milliseconds since the epoch for an ISO 8601 time (naive means UTC), or None."""
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    try:
        millis = round(moment.timestamp() * 1000)
    except (OverflowError, OSError):
        return None
    return millis if MIN_ISO_MS <= millis <= MAX_TIME_MS else None


def _or(value: int | None, default: int) -> int:
    return default if value is None else value


def _time(item: dict[str, Any], name: str) -> int | None:
    value = item.get(name)
    if value is None:
        return None
    millis = iso_ms(value) if isinstance(value, str) else None
    if millis is None:
        raise InvalidEventError("invalid_field", f"{name} must be an ISO 8601 date-time")
    return millis


def _segment_event(
    item: Any,
    *,
    key_id: str,
    batch_sent_at: int | None,
    batch_context: BatchContext | None,
    batch_device: str | None,
    received_at: int,
    write: BatchWrite,
    config: CollectorConfig,
) -> EventRow:
    if not isinstance(item, dict):
        raise InvalidEventError("invalid_event", "an event must be a JSON object")
    ids = config.max_id_chars
    message_id = text(item, "messageId", ids)
    kind = item.get("type")
    if not isinstance(kind, str) or kind not in SUPPORTED_TYPES:
        raise InvalidEventError(
            "unsupported_type", f"type must be one of {', '.join(sorted(SUPPORTED_TYPES))}"
        )
    name = text(item, "event", MAX_EVENT_NAME) if kind == "track" else str(kind)
    user_id = optional_text(item, "userId", ids)
    anonymous_id = optional_text(item, "anonymousId", ids)
    if user_id is None and anonymous_id is None:
        raise InvalidEventError("missing_field", "userId or anonymousId is required")
    sent_at = _or(_time(item, "sentAt"), _or(batch_sent_at, received_at))
    time = _or(_time(item, "timestamp"), sent_at)
    if time - sent_at > config.max_future_ms:
        raise InvalidEventError(
            "time_in_future", f"timestamp is more than {config.max_future_ms} ms after sentAt"
        )
    properties = item.get("properties") or item.get("traits") or {}
    if not isinstance(properties, dict):
        raise InvalidEventError("invalid_field", "properties must be an object")
    own_context = item.get("context", {})
    if not isinstance(own_context, dict):
        raise InvalidEventError("invalid_field", "context must be an object")
    device_id = _device_id(own_context, ids) if "device" in own_context else batch_device
    device_id = device_id or anonymous_id or user_id
    if isinstance(own_context.get("ip"), str):
        # The raw event keeps the context too, so its address is cut down there as well.
        item = {**item, "context": {**own_context, "ip": truncate_ip(own_context["ip"])}}
    raw = encode_event(item, config)
    context = batch_context
    if context is None and own_context:
        try:
            context = BatchContext(own_context, key_id, write, config)
        except ApiError as refusal:
            raise InvalidEventError(refusal.code, refusal.message) from refusal
    return EventRow(
        key_id=key_id,
        event_id=message_id,
        type=name,
        source="segment",
        schema=None,
        device_id=device_id,
        app_session_id=optional_id(properties, "app_session_id", ids),
        seq=None,
        mono_ms=None,
        play_session_id=optional_id(properties, "play_session_id", ids),
        request_id=optional_id(properties, "request_id", ids),
        time=time,
        sent_at=sent_at,
        received_at=received_at,
        corrected_time=received_at - (sent_at - time),
        context_hash=None if context is None else context.hash_for(device_id),
        raw=raw,
    )


def _device_id(context: dict[str, Any], limit: int) -> str | None:
    device = context.get("device")
    device_id = device.get("id") if isinstance(device, dict) else None
    return device_id if isinstance(device_id, str) and 0 < len(device_id) <= limit else None


def parse_segment_batch(
    document: dict[str, Any],
    batch: list[Any],
    key_id: str,
    received_at: int,
    config: CollectorConfig,
) -> ParsedBatch:
    """Rows for a Segment batch; each bad message is rejected alone, as for Reelscope events."""
    try:
        batch_sent_at = _time(document, "sentAt")
    except InvalidEventError as rejection:
        raise envelope_error(rejection.message) from rejection
    batch_context = document.get("context", {})
    if not isinstance(batch_context, dict) or not depth_within(batch_context, config.max_depth):
        raise envelope_error(f"context must be an object nested at most {config.max_depth}")
    parsed = ParsedBatch(BatchWrite(key_id))
    context = BatchContext(batch_context, key_id, parsed.write, config) if batch_context else None
    batch_device = _device_id(batch_context, config.max_id_chars)
    for index, item in enumerate(batch):
        try:
            parsed.write.rows.append(
                _segment_event(
                    item,
                    key_id=key_id,
                    batch_sent_at=batch_sent_at,
                    batch_context=context,
                    batch_device=batch_device,
                    received_at=received_at,
                    write=parsed.write,
                    config=config,
                )
            )
        except InvalidEventError as rejection:
            parsed.rejected.append(rejected(index, item, "messageId", rejection, config))
    return parsed
