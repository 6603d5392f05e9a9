"""Fixtures for the telemetry client tests: a scripted collector and a client factory with
short timers, whose clients are closed (and threads joined) after each test."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from telemetry.client.client import TelemetryClient
from telemetry.client.config import TelemetryConfig

from .scripted_collector import ScriptedCollector

MakeClient = Callable[..., TelemetryClient]


@pytest.fixture
def collector() -> Iterator[ScriptedCollector]:
    server = ScriptedCollector().start()
    yield server
    server.stop()


def client_config(tmp_path: Path, endpoint: str, **overrides: object) -> TelemetryConfig:
    config = TelemetryConfig(
        consent_before_choice=True,  # a viewer who opted in
        endpoint=endpoint,
        write_key="test-key",
        outbox_path=tmp_path / "state" / "outbox.sqlite3",
        settings_path=tmp_path / "config" / "telemetry.json",
        flush_interval=0.2,
        backoff_base=0.05,
        backoff_cap=0.2,
        connect_timeout=1.0,
        read_timeout=2.0,
    )
    return replace(config, **overrides)  # type: ignore[arg-type]


@pytest.fixture
def make_client(tmp_path: Path, collector: ScriptedCollector) -> Iterator[MakeClient]:
    clients: list[TelemetryClient] = []

    def make(start: bool = True, **overrides: object) -> TelemetryClient:
        client = TelemetryClient(client_config(tmp_path, collector.url, **overrides))
        clients.append(client)
        if start:
            client.start()
        return client

    before = set(threading.enumerate())
    yield make
    for client in clients:
        client.close(timeout=1.0)
    leftover = [t for t in set(threading.enumerate()) - before if t.name.startswith("reelscope")]
    for thread in leftover:
        thread.join(3.0)
    assert not [t for t in leftover if t.is_alive()], "telemetry threads left running"
