"""Damaged outbox files, for real: an index that no longer matches its table (reported as the
extended code SQLITE_CORRUPT_INDEX), a file truncated to 0 bytes, a write-ahead log damaged
after a crash, a stored body scribbled over. Each is recognised, said in the log, and the
pending events lost with it are counted as drops (reason `corrupt`)."""

from __future__ import annotations

import logging
import sqlite3
import struct
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import orjson
import pytest

from telemetry.client.outbox_file import CORRUPT, OutboxFile, is_corruption
from telemetry.client.outbox_reader import UNREADABLE, OutboxReader

from .conftest import MakeClient
from .samples import VALID, heartbeat
from .scripted_collector import ScriptedCollector
from .test_outbox import CTX, queued
from .waiting import wait_until


def _pending_file(path: Path, count: int) -> list[str]:
    """An outbox left by an earlier launch with `count` heartbeats waiting, as the client
    stores them (so the real collector-facing code can send them)."""
    outbox = OutboxFile(path).connect()
    events = []
    for n in range(count):
        body = orjson.dumps({"event_id": f"e{n}", "type": "heartbeat", "seq": n + 1,
                             "properties": heartbeat(n)})  # fmt: skip
        events.append((f"e{n}", "heartbeat", 0, queued(n)[3], body, CTX, False))
    outbox.append(events, {}, max_rows=10**6, max_bytes=10**9)
    outbox.close()
    return [e[0] for e in events]


def _corrupt_the_priority_index(path: Path) -> None:
    """Make `events_by_priority` disagree with `events`: quick_check does not compare index
    and table contents, so the file opens, and deleting rows then fails with
    SQLITE_CORRUPT_INDEX."""
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        conn.execute("PRAGMA writable_schema=ON")
        conn.execute(
            "UPDATE sqlite_schema SET sql = 'CREATE INDEX events_by_priority ON events"
            " (size, seq)' WHERE name = 'events_by_priority'"
        )


def test_extended_corruption_codes_are_recognised(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite3"
    _pending_file(path, 10)
    _corrupt_the_priority_index(path)
    outbox = OutboxFile(path).connect()
    batch, _ = outbox.read_batch(5, 10**6)
    assert batch is not None
    with pytest.raises(sqlite3.DatabaseError) as raised:
        outbox.acknowledge(batch, [], 0, history_rows=100)
    assert raised.value.sqlite_errorname == "SQLITE_CORRUPT_INDEX"
    assert is_corruption(raised.value)


def test_a_corrupt_index_moves_the_file_aside_instead_of_resending_forever(
    tmp_path: Path,
    make_client: MakeClient,
    collector: ScriptedCollector,
    caplog: pytest.LogCaptureFixture,
) -> None:
    path = tmp_path / "state" / "outbox.sqlite3"
    path.parent.mkdir()
    ids = _pending_file(path, 300)
    _corrupt_the_priority_index(path)
    with caplog.at_level(logging.WARNING, logger="reelscope.telemetry"):
        client = make_client(batch_max_events=100)
        # The first batch reaches the collector, its acknowledgement trips over the index
        # while the second is in flight: the file goes aside, and the 100 events still
        # pending in it, not sent, are counted as lost.
        wait_until(
            lambda: list(path.parent.glob("outbox.sqlite3.corrupt-*")), what="the move aside"
        )
    later = client.track("pause", VALID["pause"])
    assert client.flush(5.0)
    assert collector.drops == {CORRUPT: 100}  # travelling with the next batch
    sent = [e["event_id"] for r in collector.requests for e in r.events]
    assert sent == [*ids[:200], later]  # each batch once, not again and again
    assert "moved aside" in caplog.text
    assert len(list(path.parent.glob("outbox.sqlite3.corrupt-*[0-9]"))) == 1


def test_a_file_truncated_to_zero_bytes_is_reported(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "o.sqlite3"
    _pending_file(path, 20)
    path.write_bytes(b"")
    with caplog.at_level(logging.WARNING, logger="reelscope.telemetry.outbox"):
        OutboxFile(path).connect().close()
    assert "0 bytes" in caplog.text


_CRASH_WITH_A_LOG = """
import os, sys
from pathlib import Path
from telemetry.client.outbox_file import OutboxFile
from tests.telemetry.test_outbox import queued
outbox = OutboxFile(Path(sys.argv[1])).connect()
for group in range(3):  # three transactions of 50 events, left in the log by the "crash"
    events = [queued(group * 50 + n, size=600) for n in range(50)]
    outbox.append(events, {}, max_rows=10**6, max_bytes=10**9)
os._exit(0)  # no close, no checkpoint: like a SIGKILL
"""


def _frames(wal: bytes) -> list[tuple[int, int]]:
    """(offset, commit size) of every frame of a WAL."""
    page_size = struct.unpack_from(">I", wal, 8)[0]
    size = 24 + page_size
    return [(o, struct.unpack_from(">I", wal, o + 4)[0]) for o in range(32, len(wal), size)]


@pytest.mark.parametrize("where", ["page", "checksum"])
def test_a_damaged_write_ahead_log_counts_the_events_it_loses(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, where: str
) -> None:
    path = tmp_path / "o.sqlite3"
    child = subprocess.run(
        [sys.executable, "-c", _CRASH_WITH_A_LOG, str(path)],
        capture_output=True,
        timeout=60,
        cwd=Path(__file__).parents[2],
    )
    assert child.returncode == 0, child.stderr
    wal_path = Path(f"{path}-wal")
    wal = bytearray(wal_path.read_bytes())
    frames = _frames(bytes(wal))
    commits = [n for n, (_, commit) in enumerate(frames) if commit]
    assert len(commits) == 4  # the schema, then the three groups
    # Damage the first frame of the second group: SQLite keeps the first group only.
    offset = frames[commits[1] + 1][0]
    if where == "page":
        wal[offset + 24 + 2000 : offset + 24 + 2008] = b"\xde\xad\xbe\xef" * 2
    else:
        wal[offset + 16] ^= 0xFF
    wal_path.write_bytes(bytes(wal))
    with caplog.at_level(logging.WARNING, logger="reelscope.telemetry.outbox"):
        outbox = OutboxFile(path).connect()
    assert outbox.totals()[0] == 50  # what SQLite kept
    assert "write-ahead log is damaged" in caplog.text
    assert OutboxReader(path).drops() == {CORRUPT: 100}


def test_the_privacy_reader_marks_a_damaged_body_instead_of_raising(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite3"
    ids = _pending_file(path, 3)
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("UPDATE bodies SET body = X'7B22BAADF00D' WHERE seq = 2")
    reader = OutboxReader(path)
    local = reader.local_events()
    assert [e.event_id for e in local] == ids[::-1]
    damaged = local[1].event
    assert damaged == {"event_id": "e1", "type": "heartbeat", UNREADABLE: True}
    assert [e.get(UNREADABLE, False) for e in reader.recent_events()] == [False, True, False]
    exported = reader.export()
    assert len(exported["events"]) == 3  # type: ignore[arg-type]
    orjson.dumps(exported)
