"""Hostile clients against bounds on memory, disk and fairness: oversized heads, amplifying
contexts, bodies that parse into millions of objects, slow uploaders on one key, many gzip
members, readiness probes, replays, refusals the client must be able to read.

Memory is measured as the child collector's peak RSS (`VmHWM`), never as timings.
"""

from __future__ import annotations

import asyncio
import gzip
import os
import select
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from contextlib import closing
from pathlib import Path

import orjson
import pytest

from telemetry.collector.config import CollectorConfig
from telemetry.collector.limits import Admission, OverloadedError
from telemetry.collector.sqlite_sink import SqliteSink

from .harness import (
    KEY,
    OTHER_KEY,
    REPO,
    Running,
    auth,
    batch,
    child_collector,
    event,
    make_keys,
    open_raw,
    sqlite_connect,
    thread_collector,
    wait_until,
)

MIB = 1024 * 1024


def _peak_rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise KeyError("VmHWM")


def _head(length: int, key: str = KEY, extra: str = "") -> bytes:
    return (
        f"POST /v1/batch HTTP/1.1\r\nHost: collector\r\nContent-Type: application/json\r\n"
        f"Authorization: {auth(key)}\r\nContent-Length: {length}\r\n{extra}\r\n"
    ).encode()


def _read_all(connection: socket.socket, timeout: float = 10) -> bytes:
    connection.settimeout(timeout)
    data = b""
    try:
        while chunk := connection.recv(65536):
            data += chunk
    except ConnectionResetError:
        pass
    return data


def test_oversized_request_heads_are_431_and_memory_stays_flat(tmp_path: Path) -> None:
    with child_collector(tmp_path) as child:
        before = _peak_rss(child.process.pid)
        with closing(open_raw(child.running)) as connection:
            connection.sendall(b"POST /v1/batch HTTP/1.1\r\nHost: c\r\nX-Padding: ")
            try:
                for _ in range(512):  # 32 MiB of one header, unless the server stops reading
                    connection.sendall(b"a" * 65536)
            except OSError:
                pass  # closed by the server: what it answered is still readable
            answer = _read_all(connection)
        assert answer.startswith(b"HTTP/1.1 431")
        assert b'"code":"headers_too_large"' in answer
        with closing(open_raw(child.running)) as connection:
            fields = "".join(f"X-{n}: 1\r\n" for n in range(101))
            connection.sendall(f"GET /healthz HTTP/1.1\r\nHost: c\r\n{fields}\r\n".encode())
            assert _read_all(connection).startswith(b"HTTP/1.1 431")
        assert child.running.session.get(f"{child.running.url}/healthz", timeout=10).ok
        assert _peak_rss(child.process.pid) - before < 16 * MIB


def test_requests_that_parse_into_millions_of_objects_are_refused_before_parsing(
    tmp_path: Path,
) -> None:
    # 5 MiB of `{}` is 1.7 million dicts (~110 MB of Python objects) from a 5 KB gzip body.
    objects = b"[" + b"{}," * ((5 * MIB - 4096) // 3) + b"{}]"
    document = orjson.dumps(batch([event(), event(properties={"x": "PLACEHOLDER"})]))
    body = gzip.compress(document.replace(b'"PLACEHOLDER"', objects), compresslevel=9)
    assert len(body) < 16 * 1024
    with child_collector(tmp_path) as child:
        before = _peak_rss(child.process.pid)
        answers: list[int] = []

        def send() -> None:
            answer = child.running.post(body, headers={"Content-Encoding": "gzip"}, key=KEY)
            answers.append(answer.status_code)
            assert answer.json()["code"] == "too_many_values"

        threads = [threading.Thread(target=send) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert answers == [413] * 8
        assert _peak_rss(child.process.pid) - before < 48 * MIB
        # An ordinary large batch is far under the token cap.
        full = child.running.post(batch([event() for _ in range(1000)]), gzip=True)
        assert full.json()["accepted"] == 1000


def test_a_batch_context_is_capped_and_stored_once(collector: Running) -> None:
    device = str(uuid.uuid4())
    big = {"app": {"name": "reelscope"}, "blob": "x" * 7000}
    messages = [
        {
            "messageId": str(uuid.uuid4()),
            "type": "track",
            "event": "Played",
            "anonymousId": device,
            "context": {"n": n},  # each message's own context differs
        }
        for n in range(500)
    ]
    answer = collector.post({"batch": messages, "context": big}, gzip=True)
    assert answer.json()["accepted"] == 500
    (stored,) = collector.query(
        "SELECT sum(length(json)) FROM contexts WHERE owner_device = ?", device
    )[0]
    assert stored < 8 * 1024  # once, not 500 times 7 KB
    (raw,) = collector.query("SELECT raw FROM events WHERE device_id = ? LIMIT 1", device)[0]
    assert "blob" not in raw  # and not copied into each event either
    over = {"blob": "x" * 9000}
    for body in (batch([event()], context=over), {"batch": messages[:1], "context": over}):
        refused = collector.post(body)
        assert refused.status_code == 413
        assert refused.json()["code"] == "context_too_large"
    own = dict(messages[0], messageId=str(uuid.uuid4()), context=over)
    assert collector.post({"batch": [own]}).json()["rejected"][0]["code"] == "context_too_large"


def test_slow_uploads_on_one_key_do_not_shut_out_other_keys(tmp_path: Path) -> None:
    with thread_collector(
        tmp_path, max_in_flight=8, max_uploads_per_key=4, body_timeout_s=20
    ) as running:
        slow = [open_raw(running) for _ in range(8)]
        try:
            for connection in slow:
                connection.sendall(_head(10_000) + b'{"sent_at": 1')
            refused: set[socket.socket] = set()
            deadline = time.monotonic() + 10
            while len(refused) < 4 and time.monotonic() < deadline:
                waiting = [c for c in slow if c not in refused]
                readable, _, _ = select.select(waiting, [], [], deadline - time.monotonic())
                refused |= set(readable)
            assert len(refused) == 4  # the key's other four wait for their bodies
            for connection in refused:
                answer = connection.recv(65536)
                assert answer.startswith(b"HTTP/1.1 503")
                assert b"uploads" in answer
            other = running.post(batch([event()]), key=OTHER_KEY)
            assert other.json()["accepted"] == 1
        finally:
            for connection in slow:
                connection.close()


@pytest.mark.parametrize("members", [1, 16, 17, 51_200])
def test_gzip_members_are_capped(collector: Running, members: int) -> None:
    document = orjson.dumps(batch([event()]))
    size = -(-len(document) // members)  # at most `members` pieces
    pieces = [document[i : i + size] for i in range(0, len(document), size)]
    body = b"".join(gzip.compress(piece) for piece in pieces)
    body += gzip.compress(b"") * (members - len(pieces))
    answer = collector.post(body, headers={"Content-Encoding": "gzip"})
    if members <= 16:
        assert answer.json()["accepted"] == 1
    else:
        assert answer.status_code == 400
        assert "gzip members" in answer.json()["message"]


def test_readiness_fails_when_the_disk_is_nearly_full(tmp_path: Path) -> None:
    with thread_collector(tmp_path, min_free_disk_bytes=2**62) as running:
        answer = running.session.get(f"{running.url}/readyz", timeout=10)
        assert answer.status_code == 503
        assert "full" in answer.json()["message"]


def test_readiness_probes_share_one_check_however_many_arrive(tmp_path: Path) -> None:
    config = CollectorConfig(busy_timeout_ms=3000, store_timeout_s=10)
    sink = SqliteSink(tmp_path / "events.db", config)
    sink.start()
    try:
        with closing(sqlite_connect(tmp_path / "events.db")) as other_writer:
            other_writer.execute("BEGIN IMMEDIATE")  # the writer's check waits on this lock

            async def probe() -> int:
                probes = [asyncio.ensure_future(sink.check_ready()) for _ in range(200)]
                await asyncio.sleep(0)  # let every probe submit what it would
                queued = sink._queue.qsize()
                other_writer.execute("ROLLBACK")
                await asyncio.gather(*probes)
                return queued

            assert asyncio.run(probe()) <= 1
    finally:
        sink.close()


def test_a_full_database_is_not_ready(tmp_path: Path) -> None:
    with thread_collector(tmp_path, max_db_bytes=256 * 1024) as running:
        assert running.session.get(f"{running.url}/readyz", timeout=10).status_code == 200
        padding = {"padding": "x" * 3000}
        statuses = []
        for _ in range(100):
            statuses.append(running.post(batch([event(properties=padding)])).status_code)
            if statuses[-1] != 200:
                break
        assert statuses[-1] == 503
        answer = running.session.get(f"{running.url}/readyz", timeout=10)
        assert answer.status_code == 503
        assert "full" in answer.json()["message"]


def test_replayed_drop_only_batches_count_once(collector: Running) -> None:
    reason = f"r{uuid.uuid4().hex}"
    body = orjson.dumps(batch([], drops={reason: 7}))
    for _ in range(20):
        assert collector.post(body).status_code == 200
    assert collector.query("SELECT sum(dropped) FROM client_drops WHERE reason = ?", reason) == [
        (7,)
    ]
    # A later report (a new sent_at) is another report.
    assert collector.post(batch([], drops={reason: 1}, sent_at=1)).status_code == 200
    assert collector.query("SELECT sum(dropped) FROM client_drops WHERE reason = ?", reason) == [
        (8,)
    ]


def test_a_413_to_a_connection_close_request_is_readable(collector: Running) -> None:
    size = 4 * MIB
    with closing(open_raw(collector)) as connection:
        connection.sendall(_head(size, extra="Connection: close\r\n"))
        connection.sendall(b" " * size)  # as a client does: all of the body, then the answer
        answer = _read_all(connection)
    assert answer.startswith(b"HTTP/1.1 413")
    assert b'"code":"body_too_large"' in answer


def test_seq_past_the_launch_counter_range_is_rejected(collector: Running) -> None:
    answer = collector.post(batch([event(seq=2**31 - 1), event(seq=2**31)])).json()
    assert answer["accepted"] == 1
    assert [(r["index"], r["code"]) for r in answer["rejected"]] == [(1, "invalid_field")]


def _serve(tmp_path: Path, db: Path, keys: Path) -> subprocess.CompletedProcess[str]:
    """`reelscope-collector serve` expected to refuse to start (it would run until killed)."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "telemetry.host.cli",
            "serve",
            "--port",
            "0",
            "--db",
            f"sqlite:///{db}",
            "--keys",
            str(keys),
        ],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_a_store_of_a_newer_schema_is_refused_at_start(tmp_path: Path) -> None:
    db = tmp_path / "events.db"
    with closing(sqlite3.connect(db)) as newer:
        newer.execute("PRAGMA user_version = 99")
    refused = _serve(tmp_path, db, make_keys(tmp_path))
    assert refused.returncode == 2
    assert "schema version 99, newer than this collector" in refused.stderr


def test_a_missing_keys_file_is_refused_at_start(tmp_path: Path) -> None:
    refused = _serve(tmp_path, tmp_path / "events.db", tmp_path / "no-such-keys.json")
    assert refused.returncode == 2
    assert "no-such-keys.json not found" in refused.stderr


def test_a_keys_file_removed_while_running_keeps_its_keys(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with thread_collector(tmp_path) as running:
        running.keys.unlink()
        wait_until(
            lambda: running.post(batch([event()])).status_code == 200 and "is gone" in caplog.text,
            what="the keys file's removal to be noticed",
        )
        assert running.post(batch([event()])).json()["accepted"] == 1


def test_admission_bounds_requests_uploads_per_key_and_bytes_held() -> None:
    admission = Admission(max_in_flight=3, max_uploads_per_key=2, max_bytes=100)
    admission.enter("k_a")
    admission.enter("k_a")
    with pytest.raises(OverloadedError, match="uploads"):
        admission.enter("k_a")
    admission.enter("k_b")  # another key still gets in
    with pytest.raises(OverloadedError, match="too many requests"):
        admission.enter("k_c")
    admission.uploaded("k_a")
    admission.hold(90)  # one request alone always passes the byte budget
    admission.uploaded("k_a")
    with pytest.raises(OverloadedError, match="bodies"):
        admission.hold(20)
    admission.hold(10)
    admission.leave(90)
    admission.leave(10)
    admission.uploaded("k_b")
    admission.leave(0)
    assert (admission.in_flight, admission.held_bytes) == (0, 0)
    admission.enter("k_a")
    admission.enter("k_a")
