"""`telemetry.client.server_data` against the real collector: "Test connection" tells a working key
from a refused one and an unreachable or foreign server, and changes nothing; deleting this
device's data removes its events and only them."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from telemetry.client.config import ALLOW_INSECURE_ENV
from telemetry.client.server_data import ServerDataError, check_connection, delete_device_data
from telemetry.contracts.device_proof import device_id_for, new_device_secret
from tests.collector.harness import KEY, OTHER_KEY, REVOKED_KEY, Running, batch, event
from tests.collector.harness import thread_collector as start_collector

from .samples import VALID
from .scripted_collector import ScriptedCollector


@pytest.fixture(scope="module")
def collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    with start_collector(tmp_path_factory.mktemp("collector")) as running:
        yield running


def test_a_working_key_connects_and_stores_nothing(collector: Running) -> None:
    before = collector.count()
    result = check_connection(collector.url + "/", KEY)
    assert result.ok, result.message
    assert "accepts the key" in result.message
    assert collector.count() == before


@pytest.mark.parametrize("key", ["not-a-key", REVOKED_KEY])
def test_a_refused_key_is_reported(collector: Running, key: str) -> None:
    result = check_connection(collector.url, key)
    assert not result.ok
    assert "refused the write key" in result.message


def test_an_unreachable_or_foreign_server_is_reported(tmp_path: Path) -> None:
    with start_collector(tmp_path / "gone") as gone:
        url = gone.url
    result = check_connection(url, KEY)
    assert not result.ok
    assert result.message.startswith(f"Could not reach {url}")
    foreign = ScriptedCollector().start()
    try:
        result = check_connection(foreign.url, KEY)
    finally:
        foreign.stop()
    assert not result.ok


def test_deleting_this_devices_data_removes_its_events_and_only_them(collector: Running) -> None:
    secret = new_device_secret()
    mine, theirs = device_id_for(secret), str(uuid.uuid4())
    collector.post(batch([event(device_id=mine) for _ in range(4)]))
    collector.post(batch([event(device_id=theirs) for _ in range(2)]))
    collector.post(batch([event(device_id=mine)]), key=OTHER_KEY)
    assert delete_device_data(collector.url, KEY, mine, secret) == 4
    assert collector.count("device_id = ?", mine) == 1  # stored under another key: not ours
    assert collector.count("device_id = ?", theirs) == 2
    assert delete_device_data(collector.url, KEY, mine, secret) == 0


def test_deleting_with_a_refused_key_or_another_devices_secret_deletes_nothing(
    collector: Running,
) -> None:
    secret = new_device_secret()
    mine = device_id_for(secret)
    collector.post(batch([event(device_id=mine)]))
    with pytest.raises(ServerDataError, match="refused the write key"):
        delete_device_data(collector.url, "wrong-key", mine, secret)
    with pytest.raises(ServerDataError, match="secret"):
        delete_device_data(collector.url, KEY, mine, new_device_secret())
    assert collector.count("device_id = ?", mine) == 1


def test_plain_http_off_this_machine_is_refused_unless_allowed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(ALLOW_INSECURE_ENV, raising=False)
    result = check_connection("http://collector.example:8765", KEY)
    assert not result.ok
    assert "https://" in result.message
    with pytest.raises(ServerDataError, match="https://"):
        delete_device_data("http://192.0.2.1:8765", KEY, "d", "s")
    monkeypatch.setenv(ALLOW_INSECURE_ENV, "1")
    # Allowed: it is then tried, and this address does not answer.
    assert check_connection("http://127.0.0.2:9", KEY).message.startswith("Could not reach")


def test_the_sender_refuses_plain_http_off_this_machine(tmp_path: Path) -> None:
    from telemetry.client.client import TelemetryClient
    from telemetry.client.status import SyncState

    from .conftest import client_config

    config = client_config(tmp_path, "http://192.0.2.1:9", allow_insecure_http=False)
    client = TelemetryClient(config)
    client.start()
    try:
        client.track("app_start", VALID["app_start"])
        assert not client.flush(5.0)
        status = client.status()
        assert status.state == SyncState.AUTH_FAILED
        assert status.last_error is not None
        assert "https://" in status.last_error
        assert status.pending == 1  # kept for when a proper URL is set
    finally:
        client.close()
