"""The collector on `kafka://`: a real collector over HTTP producing to a real broker (Tansu),
loaded by the loader into real ClickHouse (chdb). What a 200 means, what copies become, what a
broker outage answers, and what a deletion does."""

from __future__ import annotations

import uuid
from pathlib import Path

import orjson
import pytest

from telemetry.collector.config import load_config
from telemetry.collector.kafka_sink import KafkaSink
from telemetry.collector.sinks import open_sink
from telemetry.contracts.clickhouse import Warehouse
from telemetry.contracts.device_proof import device_id_for, new_device_secret
from telemetry.contracts.kafka_url import parse_kafka_url
from tests.collector.harness import (
    batch,
    event,
    free_port,
    thread_collector,
    wait_until,
)

from .broker import Broker
from .pipeline import drain, events_final, events_stored, make_loader, scalar


def _device_events(device: str, count: int, session: str | None = None) -> list[dict[str, object]]:
    app_session = session or str(uuid.uuid4())
    return [
        event(device_id=device, app_session_id=app_session, seq=seq) for seq in range(1, count + 1)
    ]


def test_a_kafka_url_picks_the_kafka_sink_and_keeps_the_delivery_guarantees() -> None:
    config = load_config(environ={}, overrides={"db": "kafka://b1:9092,b2:9092/ev?linger.ms=20"})
    assert isinstance(open_sink(config), KafkaSink)
    target = parse_kafka_url(config.db)
    assert (target.bootstrap, target.topic, target.settings) == (
        "b1:9092,b2:9092",
        "ev",
        {"linger.ms": "20"},
    )
    with pytest.raises(ValueError, match="acks"):
        parse_kafka_url("kafka://b:9092/ev?acks=1")
    with pytest.raises(ValueError, match=r"enable\.idempotence"):
        parse_kafka_url("kafka://b:9092/ev?enable.idempotence=false")
    with pytest.raises(ValueError, match="topic"):
        parse_kafka_url("kafka://b:9092/")


def test_a_200_means_every_event_is_in_the_log_and_loads_as_the_sqlite_row_would(
    tmp_path: Path, topic_url: str, warehouse: Warehouse
) -> None:
    devices = [f"device-{uuid.uuid4()}" for _ in range(3)]
    events = [item for device in devices for item in _device_events(device, 4)]
    body = batch(events, drops={"outbox_full": 2})
    with thread_collector(tmp_path / "collector", db=topic_url) as running:
        assert running.session.get(f"{running.url}/readyz", timeout=10).status_code == 200
        answer = running.post(body, gzip=True)
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"accepted": 12, "duplicates": 0, "rejected": []}
    loader = make_loader(topic_url, warehouse)
    try:
        drain(loader, lambda: events_final(warehouse) == 12)
    finally:
        loader.close()
    first = events[0]
    row = next(
        warehouse.rows(
            "SELECT key_id, type, source, device_id, app_session_id, seq, time, sent_at,"
            " received_at, corrected_time, context_hash, raw FROM events FINAL"
            " WHERE event_id = {id:String}",
            {"id": first["event_id"]},
        )
    )
    key_id, kind, source, device, app_session, seq, time, sent_at, received, corrected = row[:10]
    assert key_id.startswith("k_")
    assert (kind, source, device, app_session, seq, time, sent_at) == (
        "heartbeat", "reelscope", first["device_id"], first["app_session_id"], 1,
        first["time"], body["sent_at"],
    )  # fmt: skip
    assert corrected == received - (sent_at - time)
    assert orjson.loads(row[11]) == first
    context = scalar(
        warehouse, "SELECT json FROM contexts FINAL WHERE hash = {h:String}", h=row[10]
    )
    assert orjson.loads(context) == body["context"]
    drops = list(warehouse.rows("SELECT device_id, reason, dropped FROM client_drops FINAL"))
    assert drops == [[devices[0], "outbox_full", 2]]
    # Keyed by device id: each device's events share one partition, so they stay in order.
    per_device = warehouse.rows(
        "SELECT device_id, uniqExact(kafka_partition) FROM receipts GROUP BY device_id"
    )
    assert dict(map(tuple, per_device)) == dict.fromkeys(devices, 1)


def test_retried_batches_are_answered_accepted_and_collapse_to_one_row(
    tmp_path: Path, topic_url: str, warehouse: Warehouse
) -> None:
    body = orjson.dumps(batch(_device_events("device-retry", 5)))
    with thread_collector(tmp_path / "collector", db=topic_url) as running:
        answers = [running.post(body).json() for _ in range(3)]
    # No local state on this path: a copy cannot be recognised at ingest.
    assert answers == [{"accepted": 5, "duplicates": 0, "rejected": []}] * 3
    loader = make_loader(topic_url, warehouse)
    try:
        drain(loader, lambda: loader.loaded == 15)
    finally:
        loader.close()
    assert events_final(warehouse) == 5
    receipts = scalar(warehouse, "SELECT count() FROM receipts FINAL")
    assert receipts - events_final(warehouse) == 10
    assert events_stored(warehouse) in {5, 15}  # 15 until a background merge collapses them


def test_a_broker_outage_answers_503_with_retry_after_and_the_retry_then_succeeds(
    tmp_path: Path, broker: Broker, topic_url: str, warehouse: Warehouse
) -> None:
    before = orjson.dumps(batch(_device_events("device-before", 3)))
    during = orjson.dumps(batch(_device_events("device-during", 3)))
    with thread_collector(tmp_path / "collector", db=topic_url, store_timeout_s=2) as running:
        assert running.post(before).status_code == 200
        broker.pause()
        try:
            refused = running.post(during)
            assert refused.status_code == 503
            assert refused.json()["code"] == "storage_unavailable"
            assert int(refused.headers["Retry-After"]) >= 1
            assert running.session.get(f"{running.url}/readyz", timeout=10).status_code == 503
        finally:
            broker.resume()
        wait_until(
            lambda: running.post(during).status_code == 200, timeout=20, what="a retry to land"
        )
        assert running.session.get(f"{running.url}/readyz", timeout=10).status_code == 200
    loader = make_loader(topic_url, warehouse)
    try:
        drain(loader, lambda: events_final(warehouse) == 6)
    finally:
        loader.close()
    counts = warehouse.rows("SELECT device_id, count() FROM events FINAL GROUP BY device_id")
    assert dict(map(tuple, counts)) == {"device-before": 3, "device-during": 3}


def test_no_broker_at_all_answers_503_and_not_ready(tmp_path: Path) -> None:
    nowhere = f"kafka://127.0.0.1:{free_port()}/events"
    with thread_collector(tmp_path / "collector", db=nowhere, store_timeout_s=1) as running:
        refused = running.post(batch(_device_events("device-nowhere", 2)))
        assert refused.status_code == 503
        assert int(refused.headers["Retry-After"]) >= 1
        assert running.session.get(f"{running.url}/readyz", timeout=10).status_code == 503


def test_deleting_a_device_removes_its_rows_after_the_events_before_it(
    tmp_path: Path, topic_url: str, warehouse: Warehouse
) -> None:
    secret = new_device_secret()
    gone = device_id_for(secret)
    with thread_collector(tmp_path / "collector", db=topic_url) as running:
        for device in (gone, "device-kept"):
            assert running.post(batch(_device_events(device, 3))).status_code == 200
        deleted = running.delete_device(gone, secret=secret)
        # Applied by the loader, in partition order; the count is not known at the collector.
        assert deleted.json() == {"deleted": 0}
        assert running.post(batch(_device_events(gone, 2))).status_code == 200
    loader = make_loader(topic_url, warehouse)
    try:
        drain(loader, lambda: loader.loaded == 9)
    finally:
        loader.close()
    counts = warehouse.rows("SELECT device_id, count() FROM events FINAL GROUP BY device_id")
    assert dict(map(tuple, counts)) == {"device-kept": 3, gone: 2}
