"""The report engine's tables on the Kafka -> loader -> ClickHouse path: the materialised views
(telemetry/contracts/facts_views.sql) fill facts and served_rows as the loader inserts events, a
replayed topic collapses to one row per stored copy, and a device's deletion takes its facts
and served rows too. Real collector, real broker (Tansu), real ClickHouse (chdb)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from telemetry.contracts.clickhouse import Warehouse
from telemetry.contracts.device_proof import device_id_for, new_device_secret
from tests.collector.harness import batch, event, thread_collector

from .pipeline import drain, events_final, make_loader, scalar


def _launch(device: str) -> list[dict[str, Any]]:
    """A feed of two rows, a play request and two heartbeats."""
    session = str(uuid.uuid4())
    feed = {"request_id": f"r-{device}", "rows": [
        {"row_id": "cw", "row_index": 0, "items": [{"video_id": "v1"}, {"video_id": "v1"}]},
        {"row_id": "new", "row_index": 1, "items": [{"video_id": "v2"}]},
    ]}  # fmt: skip
    props: list[tuple[str, dict[str, Any]]] = [
        ("feed_served", feed),
        ("play_request", {"play_session_id": "S", "video_id": "v1", "start_position_ms": 0.0,
                          "source": {"location": "home", "impression_id": "i1"}}),
        ("heartbeat", {"play_session_id": "S", "position_ms": 10_000, "height": 720.0}),
        ("heartbeat", {"play_session_id": "S", "position_ms": 20_000.0, "height": 720}),
    ]  # fmt: skip
    return [
        event(type=kind, device_id=device, app_session_id=session, seq=seq, properties=p)
        for seq, (kind, p) in enumerate(props, start=1)
    ]


def _tables(warehouse: Warehouse) -> dict[str, Any]:
    facts = warehouse.rows(
        "SELECT device_id, count(), uniqExact(key_id, event_id) FROM facts FINAL GROUP BY device_id"
    )
    served = warehouse.rows(
        "SELECT device_id, groupArray((row_id, row_index, video_ids)) FROM"
        " (SELECT * FROM served_rows FINAL ORDER BY position) GROUP BY device_id"
    )
    return {
        "facts": {device: (rows, distinct) for device, rows, distinct in facts},
        "served": {device: sorted(map(tuple, rows)) for device, rows in served},
    }


SERVED = [("cw", 0, ["v1"]), ("new", 1, ["v2"])]


def test_replayed_records_collapse_and_a_deleted_device_leaves_the_engine_tables(
    tmp_path: Path, topic_url: str, warehouse: Warehouse
) -> None:
    secret = new_device_secret()
    gone = device_id_for(secret)
    with thread_collector(tmp_path / "collector", db=topic_url) as running:
        for device in (gone, "device-kept"):
            assert running.post(batch(_launch(device))).status_code == 200
    loader = make_loader(topic_url, warehouse)
    try:
        drain(loader, lambda: loader.loaded == 8)
    finally:
        loader.close()
    parsed = list(
        warehouse.rows(
            "SELECT type, start_position_ms, location, impression_id, position_ms, height"
            " FROM facts WHERE device_id = 'device-kept' ORDER BY seq"
        )
    )
    assert parsed == [
        ["feed_served", None, None, None, None, None],
        ["play_request", 0, "home", "i1", None, None],
        ["heartbeat", None, None, None, 10_000, 720],
        ["heartbeat", None, None, None, 20_000, 720],
    ]
    # A second group replays the whole topic: every row is inserted again and collapses.
    replay = make_loader(topic_url, warehouse, group="replay")
    try:
        drain(replay, lambda: replay.loaded == 8)
    finally:
        replay.close()
    assert int(scalar(warehouse, "SELECT count() FROM facts")) in {8, 16}  # before merges
    assert _tables(warehouse) == {
        "facts": {gone: (4, 4), "device-kept": (4, 4)},
        "served": {gone: SERVED, "device-kept": SERVED},
    }
    with thread_collector(tmp_path / "collector", db=topic_url) as running:
        assert running.delete_device(gone, secret=secret).status_code == 200
    deleting = make_loader(topic_url, warehouse, group="replay")
    try:
        drain(deleting, lambda: deleting.loaded == 1)  # the deletion record, after the replay
    finally:
        deleting.close()
    assert events_final(warehouse) == 4
    assert _tables(warehouse) == {
        "facts": {"device-kept": (4, 4)},
        "served": {"device-kept": SERVED},
    }
