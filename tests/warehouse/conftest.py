"""Fixtures for the scale-out tests: one broker per module, a fresh topic and warehouse per test."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from telemetry.contracts.clickhouse import Warehouse
from telemetry.warehouse.schema import apply_schema

from .broker import Broker, running_broker


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    with running_broker(tmp_path_factory.mktemp("broker")) as running:
        yield running


@pytest.fixture
def topic_url(broker: Broker) -> str:
    topic = f"events-{uuid.uuid4().hex[:8]}"
    broker.create_topic(topic)
    return broker.url(topic)


def open_warehouse(path: Path) -> Warehouse:
    warehouse = Warehouse(f"chdb://{path}")
    apply_schema(warehouse)
    return warehouse


@pytest.fixture
def warehouse(tmp_path: Path) -> Iterator[Warehouse]:
    """chdb in this process (one open data directory per process: closed after each test)."""
    opened = open_warehouse(tmp_path / "clickhouse")
    try:
        yield opened
    finally:
        opened.close()
