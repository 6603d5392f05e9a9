"""Segment's official Python library, pointed at the collector by its host alone, and the
Segment batch dialect by hand: messageId is the event id, sentAt corrects the clock."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator

import orjson
import pytest
from segment.analytics.client import Client

from .harness import KEY, Running, now_ms


@pytest.fixture
def segment_client(collector: Running) -> Iterator[Client]:
    errors: list[Exception] = []
    client = Client(
        KEY, host=collector.url, gzip=True, upload_size=50, on_error=lambda e, _: errors.append(e)
    )
    yield client
    client.shutdown()
    assert errors == []


def test_segment_library_events_are_stored_once(collector: Running, segment_client: Client) -> None:
    user = f"user-{uuid.uuid4()}"
    sent: list[str] = []
    for index in range(120):
        ok, message = segment_client.track(
            user_id=user,
            event="Video Playback Started",
            properties={"play_session_id": f"ps-{index % 3}", "position": index},
        )
        assert ok
        sent.append(message["messageId"])
    for call in (
        lambda: segment_client.screen(user_id=user, name="Home"),
        lambda: segment_client.page(user_id=user, name="Settings"),
        lambda: segment_client.identify(user_id=user, traits={"plan": "free"}),
    ):
        ok, message = call()
        assert ok
        sent.append(message["messageId"])
    segment_client.flush()
    rows = collector.query(
        "SELECT event_id, type, source, device_id, play_session_id FROM events WHERE device_id = ?",
        user,
    )
    assert sorted(r[0] for r in rows) == sorted(sent)
    assert {r[2] for r in rows} == {"segment"}
    types = [r[1] for r in rows]
    assert types.count("Video Playback Started") == 120
    assert {"screen", "page", "identify"} <= set(types)
    assert {r[4] for r in rows if r[1] == "Video Playback Started"} == {"ps-0", "ps-1", "ps-2"}


def _iso(millis: int) -> str:
    return dt.datetime.fromtimestamp(millis / 1000, dt.UTC).isoformat(timespec="milliseconds")


def test_segment_batches_by_hand(collector: Running) -> None:
    device_clock = now_ms() - 600_000
    good = {
        "messageId": str(uuid.uuid4()),
        "type": "track",
        "event": "Tile Clicked",
        "anonymousId": "anon-1",
        "timestamp": _iso(device_clock - 2000),
        "context": {"ip": "198.51.100.23", "device": {"id": f"dev-{uuid.uuid4()}"}},
        "properties": {"request_id": "req-9"},
    }
    bad = [
        {"messageId": str(uuid.uuid4()), "type": "alias", "anonymousId": "a"},
        {"messageId": str(uuid.uuid4()), "type": "track", "event": "X"},
        {"messageId": str(uuid.uuid4()), "type": "track", "anonymousId": "a"},
        {"messageId": str(uuid.uuid4()), "type": "page", "anonymousId": "a", "timestamp": "soon"},
    ]
    body = {"batch": [good, *bad], "sentAt": _iso(device_clock), "writeKey": KEY}
    first = collector.post(body).json()
    assert first["accepted"] == 1
    assert [r["code"] for r in first["rejected"]] == [
        "unsupported_type",
        "missing_field",
        "missing_field",
        "invalid_field",
    ]
    assert collector.post(body).json()["duplicates"] == 1
    ((time, sent_at, received_at, corrected, device, request, raw, context),) = collector.query(
        "SELECT time, sent_at, received_at, corrected_time, device_id, request_id, raw, c.json"
        " FROM events JOIN contexts c ON c.hash = context_hash WHERE event_id = ?",
        good["messageId"],
    )
    assert sent_at - time == 2000
    assert corrected == received_at - 2000
    assert device == good["context"]["device"]["id"]
    assert request == "req-9"
    assert orjson.loads(raw)["context"]["ip"] == "198.51.100.0"
    assert orjson.loads(context)["ip"] == "198.51.100.0"
    assert KEY not in raw
