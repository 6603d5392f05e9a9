"""When things go wrong around the collector: a busy, full or read-only database, a SIGKILL
right after a 200, a SIGTERM mid-request, and clients that are slow or stall."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import uuid
from contextlib import closing
from pathlib import Path

import orjson
import pytest

from .harness import (
    ADMIN_KEY,
    KEY,
    Running,
    auth,
    batch,
    child_collector,
    event,
    open_raw,
    sqlite_connect,
    thread_collector,
    wait_until,
)


def _retry_after(answer_headers: object) -> int:
    return int(answer_headers["Retry-After"])  # type: ignore[index]


def test_a_locked_database_answers_503_and_the_retry_succeeds(tmp_path: Path) -> None:
    with thread_collector(tmp_path, busy_timeout_ms=50) as running:
        body = orjson.dumps(batch([event() for _ in range(5)]))
        with closing(sqlite_connect(running.db)) as other_writer:
            other_writer.execute("BEGIN IMMEDIATE")
            refused = running.post(body)
            assert refused.status_code == 503
            assert refused.json()["code"] == "storage_unavailable"
            assert "locked" in refused.json()["message"]
            assert _retry_after(refused.headers) >= 1
            assert running.session.get(f"{running.url}/readyz", timeout=10).status_code == 503
            other_writer.execute("ROLLBACK")
        assert running.post(body).json() == {"accepted": 5, "duplicates": 0, "rejected": []}
        assert running.session.get(f"{running.url}/readyz", timeout=10).status_code == 200


def test_a_full_database_answers_503_and_the_retry_succeeds_once_space_is_freed(
    tmp_path: Path,
) -> None:
    with thread_collector(tmp_path, max_db_bytes=256 * 1024) as running:
        filler = str(uuid.uuid4())
        padding = {"padding": "x" * 3000}
        answer = None
        for _ in range(100):
            answer = running.post(batch([event(device_id=filler, properties=padding)] * 1))
            if answer.status_code != 200:
                break
        assert answer is not None
        assert answer.status_code == 503
        assert "full" in answer.json()["message"]
        later = orjson.dumps(batch([event(properties=padding) for _ in range(3)]))
        assert running.post(later).status_code == 503
        deleted = running.delete_device(filler, key=ADMIN_KEY)
        assert deleted.json()["deleted"] > 10
        assert running.post(later).json()["accepted"] == 3


def test_a_read_only_database_answers_503_and_the_retry_succeeds(tmp_path: Path) -> None:
    prefix: list[str] = []
    if os.geteuid() == 0:
        # Root ignores file modes; without these capabilities it must honour them like anyone.
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without setpriv to drop CAP_DAC_OVERRIDE")
        prefix = [setpriv, "--bounding-set=-dac_override,-dac_read_search"]
    with thread_collector(tmp_path) as created:
        db = created.db
    db.chmod(0o444)
    with child_collector(tmp_path, prefix=prefix, db_path=db) as child:
        running = child.running
        body = orjson.dumps(batch([event() for _ in range(4)]))
        refused = running.post(body)
        assert refused.status_code == 503
        assert "read-only" in refused.json()["message"]
        assert running.session.get(f"{running.url}/readyz", timeout=10).status_code == 503
        for path in db.parent.glob(f"{db.name}*"):  # as an operator would: the db, -wal, -shm
            path.chmod(0o644)
        assert running.post(body).json()["accepted"] == 4
        assert running.session.get(f"{running.url}/readyz", timeout=10).status_code == 200


def test_sigkill_after_a_200_loses_nothing(tmp_path: Path) -> None:
    with child_collector(tmp_path) as child:
        ids: list[str] = []
        for _ in range(20):
            events = [event() for _ in range(50)]
            answer = child.running.post(batch(events), gzip=True)
            assert answer.json()["accepted"] == 50
            ids += [e["event_id"] for e in events]
        child.signal(signal.SIGKILL)
        assert child.process.wait(10) == -signal.SIGKILL
        stored = {row[0] for row in child.running.query("SELECT event_id FROM events")}
    assert stored == set(ids)


def _server_has_read(server_port: int, client_port: int) -> bool:
    """True once the server side of this TCP connection has nothing left unread."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as lines:
            for line in list(lines)[1:]:
                fields = line.split()
                local, remote, queues = fields[1], fields[2], fields[4]
                if (
                    int(local.rsplit(":", 1)[1], 16) == server_port
                    and int(remote.rsplit(":", 1)[1], 16) == client_port
                ):
                    return int(queues.split(":")[1], 16) == 0
    return False


def _request_head(length: int, key: str = KEY) -> bytes:
    return (
        f"POST /v1/batch HTTP/1.1\r\nHost: collector\r\nContent-Type: application/json\r\n"
        f"Authorization: {auth(key)}\r\nContent-Length: {length}\r\n\r\n"
    ).encode()


def _read_all(connection: socket.socket) -> bytes:
    data = b""
    while chunk := connection.recv(65536):
        data += chunk
    return data


def test_sigterm_finishes_the_request_in_flight_and_commits_it(tmp_path: Path) -> None:
    with child_collector(tmp_path) as child:
        events = [event() for _ in range(30)]
        body = orjson.dumps(batch(events))
        server_port = int(child.running.url.rsplit(":", 1)[1])
        with closing(open_raw(child.running)) as connection:
            connection.sendall(_request_head(len(body)) + body[:100])
            client_port = connection.getsockname()[1]
            wait_until(lambda: _server_has_read(server_port, client_port), what="server read")
            child.signal(signal.SIGTERM)
            connection.sendall(body[100:])
            answer = _read_all(connection)
        assert answer.startswith(b"HTTP/1.1 200")
        assert b'"accepted":30' in answer
        # uvicorn re-raises the signal once it has shut down cleanly, as a service manager expects.
        assert child.process.wait(20) in {0, -signal.SIGTERM}
        assert "Application shutdown complete" in child.log.read_text()
        assert child.running.count() == 30


@pytest.fixture(scope="module")
def impatient(tmp_path_factory: pytest.TempPathFactory) -> Running:
    with thread_collector(
        tmp_path_factory.mktemp("impatient"), header_timeout_s=0.3, body_timeout_s=0.3
    ) as running:
        yield running  # type: ignore[misc]


def _closed_by_server(connection: socket.socket) -> bytes:
    connection.settimeout(5)
    return _read_all(connection)


def test_an_idle_connection_is_closed(impatient: Running) -> None:
    with closing(open_raw(impatient)) as connection:
        assert _closed_by_server(connection) == b""


def test_a_client_stalling_in_its_headers_is_cut_off(impatient: Running) -> None:
    with closing(open_raw(impatient)) as connection:
        connection.sendall(b"POST /v1/batch HTTP/1.1\r\nHost: collector\r\n")
        assert _closed_by_server(connection) == b""


def test_a_client_stalling_in_its_body_gets_408_and_is_cut_off(impatient: Running) -> None:
    with closing(open_raw(impatient)) as connection:
        connection.sendall(_request_head(1000) + b'{"sent_at": 1')
        answer = _closed_by_server(connection)
    assert answer.startswith(b"HTTP/1.1 408")
    assert b'"code":"request_timeout"' in answer


def test_a_client_trickling_after_its_refusal_is_cut_off(impatient: Running) -> None:
    with closing(open_raw(impatient)) as connection:
        connection.sendall(_request_head(10_000, key="unknown") + b"{")
        assert _closed_by_server(connection).startswith(b"HTTP/1.1 401")
