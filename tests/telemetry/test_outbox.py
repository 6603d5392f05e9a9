"""The SQLite outbox on real files: schema and migrations, FIFO batches within limits,
eviction order and drop counts, acknowledgement, the history of acknowledged events and its
bounds, dead letters, corruption, read helpers."""

from __future__ import annotations

import logging
import sqlite3
import time
from contextlib import closing
from pathlib import Path

import orjson
import pytest

from telemetry.client.outbox import Batch, Outbox, QueuedEvent
from telemetry.client.outbox_file import OutboxFile
from telemetry.client.outbox_reader import OutboxReader
from telemetry.client.outbox_schema import MIGRATIONS, SCHEMA_VERSION
from telemetry.contracts.events import Priority

CTX = orjson.dumps({"app": {"name": "reelscope", "version": "1"}})
HISTORY = 2000
EMPTY = {"events": [], "history": [], "dead_letter": [], "drops": {}}


def queued(
    n: int,
    *,
    type_: str = "pause",
    priority: int = Priority.SESSION,
    size: int = 0,
    ctx: bytes = CTX,
    created_ms: int | None = None,
) -> QueuedEvent:
    body = orjson.dumps({"event_id": f"e{n}", "type": type_, "seq": n, "pad": "x" * size})
    created = time.time_ns() // 1_000_000 if created_ms is None else created_ms
    return (f"e{n}", type_, priority, created, body, ctx, False)


def ids(path: Path) -> list[str]:
    with sqlite3.connect(path) as conn:
        return [row[0] for row in conn.execute("SELECT event_id FROM events ORDER BY seq")]


def test_new_outbox_has_schema_version_and_wal(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite3"
    OutboxFile(path).connect().close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 3
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    # Reopening an up-to-date file migrates nothing and keeps the data.
    outbox = OutboxFile(path).connect()
    outbox.append([queued(1)], {}, max_rows=10, max_bytes=10**6)
    outbox.close()
    OutboxFile(path).connect().close()
    assert ids(path) == ["e1"]


def test_empty_legacy_file_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite3"
    sqlite3.connect(path).close()  # a valid database at user_version 0
    OutboxFile(path).connect().close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_batches_are_fifo_and_within_limits(tmp_path: Path) -> None:
    outbox = OutboxFile(tmp_path / "o.sqlite3").connect()
    outbox.append([queued(n) for n in range(1, 1201)], {}, max_rows=10**6, max_bytes=10**9)
    batch, last_seq = outbox.read_batch(500, 512 * 1024)
    assert batch is not None
    assert len(batch) == 500
    assert batch.event_ids[:2] == ("e1", "e2")
    assert (batch.first_seq, batch.last_seq, last_seq) == (1, 500, 1200)
    outbox.acknowledge(batch, [], 0, history_rows=HISTORY)
    batch, _ = outbox.read_batch(500, 512 * 1024)
    assert batch is not None
    assert batch.event_ids[0] == "e501"
    assert outbox.totals()[0] == 700


def test_byte_limit_is_checked_before_adding(tmp_path: Path) -> None:
    outbox = OutboxFile(tmp_path / "o.sqlite3").connect()
    outbox.append(
        [queued(n, size=30_000) for n in range(1, 41)], {}, max_rows=10**6, max_bytes=10**9
    )
    batch, _ = outbox.read_batch(500, 512 * 1024)
    assert batch is not None
    body = sum(len(b) + 1 for b in batch.bodies) + len(batch.context) + 64
    assert body <= 512 * 1024
    assert len(batch) == 17  # 17 x ~30 KB fits in 512 KiB, 18 would not


def test_a_batch_never_mixes_contexts(tmp_path: Path) -> None:
    outbox = OutboxFile(tmp_path / "o.sqlite3").connect()
    other = orjson.dumps({"app": {"name": "reelscope", "version": "2"}})
    outbox.append(
        [queued(1), queued(2), queued(3, ctx=other), queued(4)], {}, max_rows=100, max_bytes=10**6
    )
    batches = []
    while (batch := outbox.read_batch(500, 512 * 1024)[0]) is not None:
        batches.append((batch.event_ids, orjson.loads(batch.context)["app"]["version"]))
        outbox.acknowledge(batch, [], 0, history_rows=HISTORY)
    assert batches == [(("e1", "e2"), "1"), (("e3",), "2"), (("e4",), "1")]


def test_eviction_drops_oldest_lowest_priority_first_and_counts(tmp_path: Path) -> None:
    outbox = OutboxFile(tmp_path / "o.sqlite3").connect()
    events = [
        queued(1, type_="session_end", priority=Priority.SESSION),
        queued(2, type_="impression", priority=Priority.BROWSE),
        queued(3, type_="heartbeat", priority=Priority.HEARTBEAT),
        queued(4, type_="tile_visibility", priority=Priority.VISIBILITY),
        queued(5, type_="heartbeat", priority=Priority.HEARTBEAT),
        queued(6, type_="impression", priority=Priority.BROWSE),
    ]
    evicted = outbox.append(events, {}, max_rows=3, max_bytes=10**6)
    assert evicted == 3
    assert ids(tmp_path / "o.sqlite3") == ["e1", "e2", "e6"]  # heartbeats, then visibility
    outbox.append([queued(7, type_="pause")], {"invalid": 2}, max_rows=3, max_bytes=10**6)
    assert ids(tmp_path / "o.sqlite3") == ["e1", "e6", "e7"]  # then the oldest impression
    assert OutboxReader(tmp_path / "o.sqlite3").drops() == {"outbox_full": 4, "invalid": 2}
    assert outbox.totals()[0] == 3


def test_byte_bound_evicts_too(tmp_path: Path) -> None:
    outbox = OutboxFile(tmp_path / "o.sqlite3").connect()
    outbox.append([queued(n, size=1000) for n in range(1, 11)], {}, max_rows=100, max_bytes=5000)
    rows, size = outbox.totals()
    assert size <= 5000
    assert rows == 4
    assert ids(tmp_path / "o.sqlite3") == ["e7", "e8", "e9", "e10"]


def test_age_bound_expires_and_counts(tmp_path: Path) -> None:
    outbox = OutboxFile(tmp_path / "o.sqlite3").connect()
    old = time.time_ns() // 1_000_000 - 40 * 86_400_000
    outbox.append([queued(1, created_ms=old), queued(2)], {}, max_rows=100, max_bytes=10**6)
    assert outbox.expire(30 * 86_400.0, 7 * 86_400.0) == 1
    assert ids(tmp_path / "o.sqlite3") == ["e2"]
    assert OutboxReader(tmp_path / "o.sqlite3").drops() == {"expired": 1}


def test_acknowledged_drops_are_subtracted_not_zeroed(tmp_path: Path) -> None:
    outbox = OutboxFile(tmp_path / "o.sqlite3").connect()
    outbox.append([queued(1)], {"invalid": 3}, max_rows=100, max_bytes=10**6)
    batch, _ = outbox.read_batch(500, 512 * 1024)
    assert batch is not None
    assert batch.drops == {"invalid": 3}
    # Two more drops are counted while the batch is in flight.
    outbox.append([queued(2)], {"invalid": 2}, max_rows=100, max_bytes=10**6)
    outbox.acknowledge(batch, [], 0, history_rows=HISTORY)
    assert OutboxReader(tmp_path / "o.sqlite3").drops() == {"invalid": 2}


def test_rejected_events_and_refused_batches_go_to_dead_letter(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite3"
    outbox = OutboxFile(path).connect()
    outbox.append([queued(n) for n in range(1, 5)], {}, max_rows=100, max_bytes=10**6)
    batch, _ = outbox.read_batch(2, 512 * 1024)
    assert batch is not None
    outbox.acknowledge(batch, [(1, "invalid_event", "rank must be >= 0")], 0, history_rows=HISTORY)
    batch, _ = outbox.read_batch(500, 512 * 1024)
    assert batch is not None
    outbox.dead_letter(batch, 422, "bad_batch", "nope", history_rows=HISTORY)
    assert outbox.totals() == (0, 0)
    letters = OutboxReader(path).dead_letters()
    assert [(d["event"]["event_id"], d["status"], d["message"]) for d in letters] == [  # type: ignore[index]
        ("e4", 422, "nope"),
        ("e3", 422, "nope"),
        ("e2", 200, "rank must be >= 0"),
    ]
    assert outbox.dead_letter_count() == 3


def test_corrupt_file_is_moved_aside_with_a_log_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "o.sqlite3"
    path.write_bytes(b"this is not a database, it is a shopping list\n" * 100)
    with caplog.at_level(logging.WARNING, logger="reelscope.telemetry.outbox"):
        outbox = OutboxFile(path).connect()
    outbox.append([queued(1)], {}, max_rows=10, max_bytes=10**6)
    assert ids(path) == ["e1"]
    aside = list(tmp_path.glob("o.sqlite3.corrupt-*"))
    assert len(aside) == 1
    assert aside[0].read_bytes().startswith(b"this is not a database")
    assert "moved aside" in caplog.text


def test_damaged_pages_are_detected_at_open(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite3"
    outbox = OutboxFile(path).connect()
    outbox.append([queued(n, size=500) for n in range(1, 200)], {}, max_rows=10**4, max_bytes=10**9)
    outbox.close()
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = bytearray(path.read_bytes())
    data[4096 * 3 : 4096 * 3 + 200] = b"\xff" * 200  # scribble over a b-tree page
    path.write_bytes(bytes(data))
    fresh = OutboxFile(path).connect()
    assert fresh.totals() == (0, 0)
    assert list(tmp_path.glob("o.sqlite3.corrupt-*"))


def test_newer_schema_is_set_aside_not_misread(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    OutboxFile(path).connect().close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert list(tmp_path.glob("o.sqlite3.corrupt-*"))


def test_reader_lists_counts_and_exports(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite3"
    reader = OutboxReader(path)
    assert reader.recent_events() == []
    assert reader.export() == EMPTY
    outbox = OutboxFile(path).connect()
    outbox.append(
        [queued(1, type_="pause"), queued(2, type_="pause"), queued(3, type_="ended")],
        {"invalid": 1},
        max_rows=10,
        max_bytes=10**6,
    )
    assert [e["event_id"] for e in reader.recent_events(2)] == ["e3", "e2"]
    assert reader.counts_by_type() == {"pause": 2, "ended": 1}
    exported = reader.export()
    assert [e["event_id"] for e in exported["events"]] == ["e1", "e2", "e3"]  # type: ignore[union-attr]
    assert exported["drops"] == {"invalid": 1}
    orjson.dumps(exported)  # JSON-ready


def test_purge_deletes_everything_and_moved_aside_copies(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite3"
    (tmp_path / "o.sqlite3.corrupt-20260101T000000-1").write_bytes(b"old")
    file = OutboxFile(path)
    outbox = file.connect()
    outbox.append([queued(1), queued(2), queued(3)], {"invalid": 1}, max_rows=10, max_bytes=10**6)
    acknowledge(outbox, 2, rejected=[(1, "invalid_event", "no")])
    assert OutboxReader(path).counts_by_status() == {"pending": 1, "sent": 1, "refused": 1}
    outbox.purge()
    file.remove_moved_aside()
    assert OutboxReader(path).export() == EMPTY
    assert outbox.totals() == (0, 0)
    assert not list(tmp_path.glob("o.sqlite3.corrupt-*"))


def test_reader_sees_a_file_without_its_schema_as_empty(tmp_path: Path) -> None:
    # The privacy window can open the outbox between the file's creation and the writer's
    # first (schema) commit: that is an empty outbox, not "no such table".
    path = tmp_path / "outbox.sqlite3"
    sqlite3.connect(path).close()
    reader = OutboxReader(path)
    assert reader.counts_by_type() == {}
    assert reader.recent_events() == []
    assert reader.export() == EMPTY


def acknowledge(
    outbox: Outbox,
    count: int,
    *,
    rejected: list[tuple[int, str, str]] | None = None,
    duplicates: int = 0,
    history_rows: int = HISTORY,
) -> Batch:
    batch, _ = outbox.read_batch(count, 512 * 1024)
    assert batch is not None
    outbox.acknowledge(batch, rejected or [], duplicates, history_rows=history_rows)
    return batch


def history(path: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(path) as conn:
        return list(conn.execute("SELECT event_id, outcome FROM history ORDER BY seq"))


def test_acknowledged_events_move_to_the_history_with_their_outcome(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite3"
    outbox = OutboxFile(path).connect()
    outbox.append([queued(n) for n in range(1, 11)], {}, max_rows=100, max_bytes=10**6)
    before = time.time_ns() // 1_000_000
    acknowledge(outbox, 3, rejected=[(1, "invalid_event", "bad rank")])
    acknowledge(outbox, 2, duplicates=2)  # a retry whose first answer was lost
    acknowledge(outbox, 2, duplicates=1)  # the collector does not say which one
    batch, _ = outbox.read_batch(1, 512 * 1024)
    assert batch is not None
    outbox.dead_letter(batch, 413, "too_large", "over the limit", history_rows=HISTORY)
    assert outbox.totals()[0] == 2
    assert history(path) == [
        ("e1", "accepted"),
        ("e2", "dead_letter"),
        ("e3", "accepted"),
        ("e4", "duplicate"),
        ("e5", "duplicate"),
        ("e6", "delivered"),
        ("e7", "delivered"),
        ("e8", "dead_letter"),
    ]
    reader = OutboxReader(path)
    local = reader.local_events(100)
    assert [(e.event_id, e.status) for e in local] == [
        ("e10", "pending"),
        ("e9", "pending"),
        ("e8", "refused"),
        ("e7", "sent"),
        ("e6", "sent"),
        ("e5", "sent"),
        ("e4", "sent"),
        ("e3", "sent"),
        ("e2", "refused"),
        ("e1", "sent"),
    ]
    assert local[0].event["event_id"] == "e10"
    assert local[0].acked_ms is None
    assert all(e.acked_ms is not None and e.acked_ms >= before for e in local[2:])
    assert [e.event_id for e in reader.local_events(3)] == ["e10", "e9", "e8"]
    assert reader.counts_by_status() == {"pending": 2, "sent": 6, "refused": 2}
    # Pending-only views keep their meaning.
    assert [e["event_id"] for e in reader.recent_events()] == ["e10", "e9"]
    assert [d["event"]["event_id"] for d in reader.dead_letters()] == ["e8", "e2"]  # type: ignore[index]


def test_counts_by_type_cover_pending_and_history(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite3"
    outbox = OutboxFile(path).connect()
    events = [queued(1, type_="pause"), queued(2, type_="pause"), queued(3, type_="ended")]
    outbox.append(events, {}, max_rows=10, max_bytes=10**6)
    acknowledge(outbox, 2)
    assert OutboxReader(path).counts_by_type() == {"pause": 2, "ended": 1}


def test_history_is_bounded_by_rows_at_each_acknowledgement(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite3"
    outbox = OutboxFile(path).connect()
    outbox.append([queued(n) for n in range(1, 31)], {}, max_rows=100, max_bytes=10**6)
    acknowledge(outbox, 8, history_rows=10)
    assert len(history(path)) == 8
    acknowledge(outbox, 8, history_rows=10)
    assert [e for e, _ in history(path)] == [f"e{n}" for n in range(7, 17)]  # the newest 10
    batch, _ = outbox.read_batch(4, 512 * 1024)
    assert batch is not None
    outbox.dead_letter(batch, 422, "bad_batch", "nope", history_rows=10)
    assert [e for e, _ in history(path)] == [f"e{n}" for n in range(11, 21)]
    assert outbox.totals()[0] == 10  # the bound never touches pending events


def test_history_is_bounded_by_age_at_expiry(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite3"
    outbox = OutboxFile(path).connect()
    outbox.append([queued(n) for n in range(1, 5)], {}, max_rows=100, max_bytes=10**6)
    acknowledge(outbox, 3)
    eight_days_ago = time.time_ns() // 1_000_000 - 8 * 86_400_000
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE history SET acked_ms = ? WHERE event_id != 'e3'", (eight_days_ago,))
    assert outbox.expire(30 * 86_400.0, 7 * 86_400.0) == 0  # expired history is not a drop
    assert history(path) == [("e3", "accepted")]
    assert OutboxReader(path).drops() == {}
    assert ids(path) == ["e4"]


def test_export_contains_every_local_event(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite3"
    outbox = OutboxFile(path).connect()
    outbox.append([queued(n) for n in range(1, 6)], {"invalid": 1}, max_rows=100, max_bytes=10**6)
    acknowledge(outbox, 3, rejected=[(2, "invalid_event", "bad")])
    exported = OutboxReader(path).export()
    assert [e["event_id"] for e in exported["events"]] == ["e4", "e5"]  # type: ignore[index, union-attr]
    assert [
        (h["event"]["event_id"], h["status"], h["outcome"])  # type: ignore[index]
        for h in exported["history"]  # type: ignore[union-attr]
    ] == [("e1", "sent", "accepted"), ("e2", "sent", "accepted"), ("e3", "refused", "dead_letter")]
    assert all(isinstance(h["acked_ms"], int) for h in exported["history"])  # type: ignore[index, union-attr]
    assert [d["event"]["event_id"] for d in exported["dead_letter"]] == ["e3"]  # type: ignore[index, union-attr]
    assert exported["drops"] == {}  # reported with the acknowledged batch
    orjson.dumps(exported)


def _schema_1_file(path: Path) -> None:
    """An outbox as the previous release left it: schema 1 with events waiting."""
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
        for statement in MIGRATIONS[0]:
            conn.execute(statement)
        conn.execute("INSERT INTO contexts (id, body) VALUES (1, ?)", (CTX,))
        for n in (1, 2, 3):
            event_id, type_, priority, created, body, _, _ = queued(n)
            conn.execute(
                "INSERT INTO events (event_id, type, priority, created_ms, size, ctx_id, body)"
                " VALUES (?, ?, ?, ?, ?, 1, ?)",
                (event_id, type_, priority, created, len(body), body),
            )
        conn.execute("INSERT INTO drops VALUES ('invalid', 4)")
        conn.execute("PRAGMA user_version = 1")


def test_a_schema_1_outbox_upgrades_in_place_keeping_pending_events(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite3"
    _schema_1_file(path)
    reader = OutboxReader(path)
    assert reader.export() == EMPTY  # not upgraded yet: read as empty, not "no such table"
    outbox = OutboxFile(path).connect()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert not list(tmp_path.glob("o.sqlite3.corrupt-*"))
    assert ids(path) == ["e1", "e2", "e3"]
    assert outbox.totals() == (3, sum(len(queued(n)[4]) for n in (1, 2, 3)))
    assert reader.drops() == {"invalid": 4}
    batch = acknowledge(outbox, 2)
    assert batch.context == CTX
    assert [(e.event_id, e.status) for e in reader.local_events()] == [
        ("e3", "pending"),
        ("e2", "sent"),
        ("e1", "sent"),
    ]
    outbox.append([queued(4)], {}, max_rows=10, max_bytes=10**6)
    assert ids(path) == ["e3", "e4"]


def _schema_2_file(path: Path) -> None:
    """An outbox as schema 2 left it: bodies inline in `events` and copied into `history`,
    the last event already acknowledged (so the highest seq is in the history only)."""
    _schema_1_file(path)
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        for statement in MIGRATIONS[1]:
            conn.execute(statement)
        conn.execute(
            "INSERT INTO history SELECT seq, event_id, type, created_ms, body, 1000, 'accepted'"
            " FROM events WHERE event_id = 'e3'"
        )
        conn.execute("DELETE FROM events WHERE event_id = 'e3'")
        conn.execute("PRAGMA user_version = 2")


def test_a_schema_2_outbox_upgrades_in_place_storing_each_body_once(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite3"
    _schema_2_file(path)
    outbox = OutboxFile(path).connect()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        columns = {
            table: [row[1] for row in conn.execute(f"PRAGMA table_info({table})")]
            for table in ("events", "history")
        }
        assert "body" not in columns["events"]
        assert "body" not in columns["history"]
        assert [row[0] for row in conn.execute("SELECT seq FROM bodies ORDER BY seq")] == [1, 2, 3]
    assert not list(tmp_path.glob("o.sqlite3.corrupt-*"))
    assert outbox.totals() == (2, sum(len(queued(n)[4]) for n in (1, 2)))
    reader = OutboxReader(path)
    assert [(e.event_id, e.status, e.event["seq"]) for e in reader.local_events()] == [
        ("e3", "sent", 3),
        ("e2", "pending", 2),
        ("e1", "pending", 1),
    ]
    # The seq counter survives the rebuild: a new event never reuses the acknowledged seq 3.
    outbox.append([queued(4)], {}, max_rows=10, max_bytes=10**6)
    assert outbox.last_seq() == 4
    acknowledge(outbox, 3, history_rows=2)
    assert ids(path) == []
    assert [(e.event_id, e.status) for e in reader.local_events()] == [
        ("e4", "sent"),
        ("e3", "sent"),
    ]
    with sqlite3.connect(path) as conn:  # bodies leave with the history rows trimmed
        assert [row[0] for row in conn.execute("SELECT seq FROM bodies ORDER BY seq")] == [3, 4]


def test_a_duplicate_event_id_stores_no_orphan_body(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite3"
    outbox = OutboxFile(path).connect()
    outbox.append([queued(1), queued(2)], {}, max_rows=10, max_bytes=10**6)
    outbox.append([queued(2), queued(3)], {}, max_rows=10, max_bytes=10**6)
    assert ids(path) == ["e1", "e2", "e3"]
    assert outbox.totals() == (3, sum(len(queued(n)[4]) for n in (1, 2, 3)))
    with sqlite3.connect(path) as conn:
        orphans = conn.execute(
            "SELECT COUNT(*) FROM bodies WHERE seq NOT IN (SELECT seq FROM events)"
        )
        assert orphans.fetchone()[0] == 0
