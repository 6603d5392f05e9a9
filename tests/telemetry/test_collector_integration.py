"""The client against the real collector (`telemetry.collector`, uvicorn on a thread):
events stored once with their context, drop counts recorded, and a revoked or unknown write
key stopping the sender without losing data."""

from __future__ import annotations

import socket
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest

from telemetry.client.client import TelemetryClient
from telemetry.client.outbox_reader import OutboxReader
from telemetry.client.status import SyncState
from telemetry.collector.config import load_config
from telemetry.collector.keys import KeyFile
from telemetry.collector.server import build_server

from ..player.refused_port import refused_port
from .conftest import client_config
from .samples import VALID, heartbeat
from .waiting import wait_until

KEY = "client-integration-key-0123456789"
REVOKED = "client-revoked-key-0123456789"


@dataclass(frozen=True)
class Collector:
    url: str
    db: Path

    def rows(self, sql: str) -> list[tuple[object, ...]]:
        with closing(sqlite3.connect(f"{self.db.resolve().as_uri()}?mode=ro", uri=True)) as db:
            return db.execute(sql).fetchall()


@pytest.fixture(scope="module")
def real_collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Collector]:
    directory = tmp_path_factory.mktemp("collector")
    keys = KeyFile(directory / "keys.json")
    keys.add("client", KEY)
    keys.add("revoked", REVOKED)
    keys.revoke("revoked")
    with closing(socket.socket()) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    db = directory / "events.db"
    config = load_config(
        environ={},
        overrides={"port": port, "db": f"sqlite:///{db}", "keys": str(keys.path)},
    )
    server = build_server(config)
    thread = threading.Thread(target=server.run, name="collector-under-test", daemon=True)
    thread.start()
    wait_until(lambda: server.started or not thread.is_alive(), what="collector start")
    assert server.started
    yield Collector(f"http://127.0.0.1:{port}", db)
    server.should_exit = True
    thread.join(30)


def test_events_and_drops_are_stored_once(tmp_path: Path, real_collector: Collector) -> None:
    # The collector is out of reach until every event is in the outbox, so none is sent
    # before the outbox overflows, however slowly this machine records them.
    unreachable = f"http://127.0.0.1:{refused_port()}"
    client = TelemetryClient(
        client_config(tmp_path, unreachable, write_key=KEY, strict=False, max_rows=200)
    )
    client.set_context(libvlc_version="3.0.21", screen={"width": 1280, "height": 800})
    client.start()
    try:
        assert client.track("pause", {"play_session_id": "p"}) is None  # invalid: dropped
        sent = [client.track("heartbeat", heartbeat(n)) for n in range(300)]
        sent.append(client.track("session_end", VALID["session_end"]))
        reader = OutboxReader(client.outbox_path)
        wait_until(lambda: "session_end" in reader.counts_by_type(), what="all events stored")
        client.set_endpoint(real_collector.url, KEY)
        assert client.flush(10.0)
    finally:
        client.close()
    rows = real_collector.rows(
        "SELECT event_id, seq, c.json FROM events JOIN contexts c ON c.hash = context_hash"
        f" WHERE app_session_id = '{client.app_session_id}' ORDER BY seq"
    )
    assert [r[0] for r in rows] == sent[101:]  # 301 events, 200 rows: 101 heartbeats evicted
    assert orjson.loads(rows[0][2])["libvlc_version"] == "3.0.21"  # type: ignore[arg-type]
    drops = dict(
        real_collector.rows(
            "SELECT reason, SUM(dropped) FROM client_drops"
            f" WHERE device_id = '{client.device_id}' GROUP BY reason"
        )
    )
    assert drops == {"invalid": 1, "outbox_full": 101}
    assert OutboxReader(client.outbox_path).drops() == {}


@pytest.mark.parametrize(("key", "status"), [(REVOKED, "403"), ("never-issued-key-0123", "401")])
def test_refused_key_stops_sending_until_a_good_one(
    tmp_path: Path, real_collector: Collector, key: str, status: str
) -> None:
    client = TelemetryClient(client_config(tmp_path, real_collector.url, write_key=key))
    client.start()
    try:
        sent = [client.track("heartbeat", heartbeat(n)) for n in range(10)]
        client.sync_now()
        wait_until(lambda: client.status().state == SyncState.AUTH_FAILED, what="auth failure")
        assert (client.status().last_error or "").startswith(status)
        assert OutboxReader(client.outbox_path).counts_by_type() == {"heartbeat": 10}
        client.set_endpoint(real_collector.url, KEY)
        assert client.flush(10.0)
        stored = real_collector.rows(
            f"SELECT event_id FROM events WHERE app_session_id = '{client.app_session_id}'"
        )
        assert sorted(r[0] for r in stored) == sorted(sent)  # type: ignore[type-var]
    finally:
        client.close()
