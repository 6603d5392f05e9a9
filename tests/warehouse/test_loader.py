"""The loader against a real broker (Tansu) and real ClickHouse (chdb): killed between insert
and commit, two members of one group, a second group replaying the topic, unreadable records."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

from confluent_kafka import Producer

from telemetry.contracts.clickhouse import Warehouse
from tests.collector.harness import REPO, batch, event, thread_collector

from .broker import Broker
from .conftest import open_warehouse
from .pipeline import drain, events_final, events_stored, make_loader, scalar

EVENTS = 40


def _fill(directory: Path, url: str) -> None:
    """EVENTS events from 8 devices, through a real collector."""
    with thread_collector(directory, db=url) as running:
        for device in range(8):
            session = str(uuid.uuid4())
            events = [
                event(device_id=f"device-{device}", app_session_id=session, seq=seq)
                for seq in range(1, EVENTS // 8 + 1)
            ]
            assert running.post(batch(events)).status_code == 200


def _duplicates(warehouse: Warehouse) -> int:
    receipts = scalar(warehouse, "SELECT count() FROM receipts FINAL")
    return int(receipts) - events_final(warehouse)


def test_a_loader_killed_between_insert_and_commit_loses_nothing_and_counts_nothing_twice(
    tmp_path: Path, topic_url: str
) -> None:
    _fill(tmp_path / "collector", topic_url)
    store = tmp_path / "clickhouse"
    child = subprocess.run(
        [sys.executable, "-m", "tests.warehouse.loader_child", topic_url, f"chdb://{store}", "g"],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        timeout=60,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr.decode()[-2000:]
    warehouse = open_warehouse(store)
    try:
        inserted = events_final(warehouse)
        assert 0 < inserted <= 16
        loader = make_loader(topic_url, warehouse, group="g")
        try:
            # Nothing was committed: the next member of the group loads that batch again.
            drain(loader, lambda: loader.loaded == EVENTS)
        finally:
            loader.close()
        assert events_final(warehouse) == EVENTS
        assert events_stored(warehouse) in {EVENTS, EVENTS + inserted}
        assert _duplicates(warehouse) == 0
    finally:
        warehouse.close()


def test_two_loaders_of_one_group_and_a_second_group_replaying_collapse_to_one_row(
    tmp_path: Path, topic_url: str, warehouse: Warehouse
) -> None:
    _fill(tmp_path / "collector", topic_url)
    first = make_loader(topic_url, warehouse, group="a", max_batch=7)
    second = make_loader(topic_url, warehouse, group="a", max_batch=7)
    try:
        # Both step on this thread in turn: two members, the group splits the partitions.
        first.subscribe()
        drain(second, lambda: first.step() >= 0 and first.loaded + second.loaded >= EVENTS)
        assert first.loaded + second.loaded == EVENTS
        assert events_final(warehouse) == EVENTS
    finally:
        first.close()
        second.close()
    replay = make_loader(topic_url, warehouse, group="replay")
    try:
        drain(replay, lambda: replay.loaded == EVENTS)
    finally:
        replay.close()
    assert events_stored(warehouse) in {EVENTS, 2 * EVENTS}
    assert events_final(warehouse) == EVENTS
    per_session = warehouse.rows(
        "SELECT app_session_id, count(), uniqExact(seq) FROM events FINAL GROUP BY app_session_id"
    )
    assert all(count == seqs == EVENTS // 8 for _, count, seqs in per_session)
    # A replay is not a client's copy: the duplicates figure stays at zero.
    assert _duplicates(warehouse) == 0


def test_an_unreadable_record_is_skipped_and_committed_and_the_rest_loads(
    broker: Broker, topic_url: str, warehouse: Warehouse
) -> None:
    producer = Producer({"bootstrap.servers": broker.bootstrap})
    topic = topic_url.rsplit("/", 1)[1]
    for value in (b"not json", b'{"v": 99, "kind": "event"}', b'{"v": 1, "kind": "mystery"}'):
        producer.produce(topic, value, b"device-x")
    assert producer.flush(10) == 0
    loader = make_loader(topic_url, warehouse)
    try:
        drain(loader, lambda: loader.malformed == 3)
        assert loader.loaded == 3
    finally:
        loader.close()
    assert events_final(warehouse) == 0
