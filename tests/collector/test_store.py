"""What ends up in SQLite: each event once, corrected times, contexts, drops, deletion, and a
read-only view the report can open while the collector writes."""

from __future__ import annotations

import sqlite3
import threading
import uuid
from contextlib import closing
from importlib import resources
from pathlib import Path

import orjson
import pytest

from telemetry.collector.sqlite_sink import SCHEMA_VERSION
from telemetry.contracts.device_proof import device_id_for, new_device_secret
from telemetry.contracts.stored import open_store_readonly

from .harness import ADMIN_KEY, OTHER_KEY, Running, batch, event, now_ms, thread_collector


def test_the_same_batch_twice_is_stored_once(collector: Running) -> None:
    body = orjson.dumps(batch([event() for _ in range(20)]))
    (before,) = collector.query(
        "SELECT coalesce(sum(value), 0) FROM counters WHERE name = 'duplicates'"
    )[0]
    first = collector.post(body).json()
    second = collector.post(body, gzip=True).json()
    assert first == {"accepted": 20, "duplicates": 0, "rejected": []}
    assert second == {"accepted": 0, "duplicates": 20, "rejected": []}
    ids = [e["event_id"] for e in orjson.loads(body)["batch"]]
    assert collector.count(f"event_id IN ({','.join('?' * 20)})", *ids) == 20
    (after,) = collector.query("SELECT sum(value) FROM counters WHERE name = 'duplicates'")[0]
    assert after - before == 20


def test_a_duplicate_inside_one_batch_is_counted_as_such(collector: Running) -> None:
    item = event()
    assert collector.post(batch([item, item])).json() == {
        "accepted": 1,
        "duplicates": 1,
        "rejected": [],
    }


def test_concurrent_identical_batches_are_stored_once(collector: Running) -> None:
    body = orjson.dumps(batch([event() for _ in range(50)]))
    start = threading.Barrier(8)
    answers: list[dict[str, int]] = []

    def send() -> None:
        start.wait()
        answers.append(collector.post(body).json())

    threads = [threading.Thread(target=send) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(answers) == 8
    assert sum(a["accepted"] for a in answers) == 50
    assert all(a["accepted"] + a["duplicates"] == 50 for a in answers)
    ids = [e["event_id"] for e in orjson.loads(body)["batch"]]
    assert collector.count(f"event_id IN ({','.join('?' * 50)})", *ids) == 50


def test_the_same_event_id_under_another_key_is_another_event(collector: Running) -> None:
    item = event()
    assert collector.post(batch([item])).json()["accepted"] == 1
    assert collector.post(batch([item]), key=OTHER_KEY).json()["accepted"] == 1
    assert collector.count("event_id = ?", item["event_id"]) == 2


def test_clock_skew_is_corrected_with_sent_at(collector: Running) -> None:
    device_clock = now_ms() - 3_600_000  # the device runs an hour late
    item = event(time=device_clock - 5000, properties={"play_session_id": "ps-1"})
    before = now_ms()
    assert collector.post(batch([item], sent_at=device_clock)).json()["accepted"] == 1
    after = now_ms()
    ((time, sent_at, received_at, corrected, play_session),) = collector.query(
        "SELECT time, sent_at, received_at, corrected_time, play_session_id FROM events"
        " WHERE event_id = ?",
        item["event_id"],
    )
    assert (time, sent_at) == (device_clock - 5000, device_clock)
    assert before <= received_at <= after
    assert corrected == received_at - 5000
    assert play_session == "ps-1"
    (corrections,) = collector.query("SELECT sum(events) FROM clock_skew_corrections")[0]
    assert corrections >= 1


def test_columns_and_raw_event_are_kept(collector: Running) -> None:
    item = event(
        type="play_request",
        seq=7,
        mono_ms=123,
        properties={"request_id": "req-1", "play_session_id": "ps-2", "rank": 3},
    )
    collector.post(batch([item]))
    ((row),) = collector.query(
        "SELECT type, source, schema, device_id, app_session_id, seq, mono_ms, request_id,"
        " play_session_id, raw, key_id FROM events WHERE event_id = ?",
        item["event_id"],
    )
    assert row[:9] == (
        "play_request", "reelscope", 1, "device-1", "app-session-1", 7, 123, "req-1", "ps-2",
    )  # fmt: skip
    assert orjson.loads(row[9]) == item
    assert row[10].startswith("k_")


def test_equal_contexts_are_stored_once_and_ips_cut_to_a_network(collector: Running) -> None:
    context = {"app": {"name": "reelscope", "version": str(uuid.uuid4())}, "ip": "203.0.113.77"}
    for _ in range(3):
        collector.post(batch([event()], context=context))
    rows = collector.query(
        "SELECT json FROM contexts WHERE json LIKE ?", f"%{context['app']['version']}%"
    )
    assert len(rows) == 1
    assert orjson.loads(rows[0][0])["ip"] == "203.0.113.0"


def test_client_drops_are_stored_once_per_batch(collector: Running) -> None:
    device = str(uuid.uuid4())
    body = orjson.dumps(
        batch([event(device_id=device)], drops={"outbox_full": 12, "too_old": 3, "none": 0})
    )
    collector.post(body)
    collector.post(body)
    only_drops = batch([], drops={"outbox_full": 1})
    assert collector.post(only_drops).json() == {"accepted": 0, "duplicates": 0, "rejected": []}
    rows = collector.query(
        "SELECT reason, dropped, received_at > 0 FROM client_drops WHERE device_id = ?"
        " ORDER BY reason",
        device,
    )
    assert rows == [("outbox_full", 12, 1), ("too_old", 3, 1)]


def test_deleting_a_device_removes_its_events_and_only_them(collector: Running) -> None:
    secret = new_device_secret()
    gone, kept = device_id_for(secret), str(uuid.uuid4())
    collector.post(batch([event(device_id=gone) for _ in range(5)], drops={"full": 1}))
    collector.post(batch([event(device_id=kept) for _ in range(3)]))
    collector.post(batch([event(device_id=gone)]), key=OTHER_KEY)
    assert collector.delete_device(gone, secret=secret).json() == {"deleted": 5}
    assert collector.count("device_id = ?", gone) == 1  # the other key's event stays
    assert collector.count("device_id = ?", kept) == 3
    assert collector.query("SELECT count(*) FROM client_drops WHERE device_id = ?", gone) == [(0,)]
    assert collector.delete_device(kept, key=None).status_code == 401
    assert collector.count("device_id = ?", kept) == 3


def test_deleting_needs_the_devices_secret_or_an_admin_key(collector: Running) -> None:
    secret = new_device_secret()
    device = device_id_for(secret)
    collector.post(batch([event(device_id=device) for _ in range(2)]))
    collector.post(batch([event(device_id=device)]), key=OTHER_KEY)
    for wrong in (None, "", new_device_secret(), secret + "x", "x" * 10_000):
        refused = collector.delete_device(device, secret=wrong)
        assert refused.status_code == 403
        assert refused.json()["code"] == "not_device_owner"
    assert collector.count("device_id = ?", device) == 3
    # An admin deletes the device under every key; anyone's secret is not needed.
    assert collector.delete_device(device, key=ADMIN_KEY).json() == {"deleted": 3}
    assert collector.count("device_id = ?", device) == 0


@pytest.mark.parametrize("device", ["a/b", "/", "a/b/events", "line\nbreak", "ü%2F"])
def test_any_stored_device_id_can_be_deleted(collector: Running, device: str) -> None:
    collector.post(batch([event(device_id=device)]))
    assert collector.count("device_id = ?", device) == 1
    assert collector.delete_device(device, key=ADMIN_KEY).json() == {"deleted": 1}
    assert collector.count("device_id = ?", device) == 0


def test_deleting_a_device_deletes_its_contexts_traits_and_networks(collector: Running) -> None:
    secret = new_device_secret()
    device, other = device_id_for(secret), str(uuid.uuid4())
    context = {"app": {"name": "reelscope"}, "ip": "203.0.113.9", "traits": {"email": "a@b.c"}}
    collector.post(batch([event(device_id=device)], context=context))
    collector.post(batch([event(device_id=other)], context=context))
    segment = {
        "batch": [
            {
                "messageId": str(uuid.uuid4()),
                "type": "identify",
                "anonymousId": device,
                "traits": {"plan": "gold"},
                "context": {"ip": "198.51.100.7", "traits": {"name": "Ann"}},
            }
        ],
        "context": {"library": {"name": "analytics-python"}, "device": {"id": device}},
    }
    assert collector.post(segment).json()["accepted"] == 1
    owned = "SELECT count(*) FROM contexts WHERE owner_device = ?"
    assert collector.query(owned, device) == [(2,)]
    assert collector.delete_device(device, secret=secret).json() == {"deleted": 2}
    assert collector.query(owned, device) == [(0,)]
    # The same context sent by another device is that device's, and stays.
    assert collector.query(owned, other) == [(1,)]


def test_the_report_reads_while_the_collector_writes(collector: Running) -> None:
    with closing(open_store_readonly(f"sqlite:///{collector.db}")) as reader:
        reader.execute("BEGIN")
        snapshot = reader.execute("SELECT count(*) FROM events").fetchone()[0]
        assert collector.post(batch([event() for _ in range(10)])).status_code == 200
        assert reader.execute("SELECT count(*) FROM events").fetchone()[0] == snapshot
        reader.execute("COMMIT")
        assert reader.execute("SELECT count(*) FROM events").fetchone()[0] == snapshot + 10
        with pytest.raises(sqlite3.OperationalError):
            reader.execute("DELETE FROM events")


def test_a_batch_of_any_size_is_stored_once_across_insert_chunks(collector: Running) -> None:
    # 347 = 256 + 64 + 16 + 4 + 3 * 1 rows: every statement size, with stored events among them.
    items = [event() for _ in range(347)]
    assert collector.post(batch(items[100:200])).json()["accepted"] == 100
    assert collector.post(batch(items)).json() == {
        "accepted": 247,
        "duplicates": 100,
        "rejected": [],
    }
    ids = [item["event_id"] for item in items]
    assert collector.count(f"event_id IN ({','.join('?' * len(ids))})", *ids) == 347


def _indexes(connection: sqlite3.Connection) -> set[str]:
    rows = connection.execute(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
    )
    return {name for (name,) in rows}


def test_a_version_1_store_is_upgraded_in_place(tmp_path: Path) -> None:
    db = tmp_path / "events.db"
    schema = resources.files("telemetry.collector").joinpath("schema.sql").read_text()
    kept = orjson.dumps(event()).decode()
    with closing(sqlite3.connect(db)) as old:
        old.executescript(
            f"{schema}; CREATE INDEX events_type_time ON events (type, corrected_time);"
            " CREATE INDEX events_play_session ON events (play_session_id);"
            # Versions 1 and 2 kept each context once for everyone, without an owner.
            " DROP TABLE contexts;"
            " CREATE TABLE contexts (hash BLOB PRIMARY KEY, json TEXT NOT NULL) WITHOUT ROWID;"
            " INSERT INTO contexts VALUES (x'00', '{}');"
            " PRAGMA user_version = 1;"
        )
        old.execute(
            "INSERT INTO events (key_id, event_id, type, source, time, sent_at, received_at,"
            " corrected_time, raw) VALUES ('k_old', 'old-1', 'heartbeat', 'reelscope', 1, 1, 1,"
            " 1, ?)",
            (kept,),
        )
        old.commit()
        assert {"events_type_time", "events_play_session"} <= _indexes(old)
    with thread_collector(tmp_path) as running:
        assert running.post(batch([event()])).json()["accepted"] == 1
        assert running.count() == 2
        assert running.query("SELECT count(*) FROM contexts WHERE owner_device = 'device-1'") == [
            (1,)
        ]
    with closing(sqlite3.connect(db)) as upgraded:
        assert upgraded.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
        assert _indexes(upgraded) == {
            "events_app_session_seq",
            "events_device",
            "client_drops_device",
            "contexts_owner",
        }
        assert upgraded.execute("SELECT * FROM contexts WHERE hash = x'00'").fetchall() == [
            (b"\x00", "{}", None, None)
        ]
        assert upgraded.execute("SELECT raw FROM events WHERE event_id = 'old-1'").fetchall() == [
            (kept,)
        ]
