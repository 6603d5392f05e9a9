"""Helpers for the scale-out tests: a loader driven step by step, and reads from the warehouse.

Loaders here run on the test's thread (`drain`), or on threads of their own where the test needs
several group members at once. Nothing sleeps to synchronise: `drain` steps until a condition
holds or a deadline passes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from telemetry.contracts.clickhouse import Warehouse
from telemetry.contracts.kafka_url import parse_kafka_url
from telemetry.warehouse.loader import Loader, LoaderSettings

# Tansu completes a group join in a few seconds with this, ~23 s with librdkafka's default.
SESSION_TIMEOUT_MS = 3000


def make_loader(url: str, warehouse: Warehouse, group: str = "loader", **settings: Any) -> Loader:
    options: dict[str, Any] = {
        "group": group,
        "session_timeout_ms": SESSION_TIMEOUT_MS,
        "poll_timeout_s": 0.2,
        "consumer": {"heartbeat.interval.ms": 500},
        **settings,
    }
    return Loader(LoaderSettings(kafka=parse_kafka_url(url), **options), warehouse)


def drain(loader: Loader, done: Callable[[], bool], timeout: float = 30.0) -> None:
    """Step the loader until `done()`; the loader stays in its group (call `close`)."""
    deadline = time.monotonic() + timeout
    loader.subscribe()
    while not done():
        if time.monotonic() > deadline:
            pytest.fail("timed out waiting for the loader")
        loader.step()


def scalar(warehouse: Warehouse, sql: str, **parameters: Any) -> Any:
    ((value,),) = list(warehouse.rows(sql, parameters))
    return value


def events_final(warehouse: Warehouse) -> int:
    return int(scalar(warehouse, "SELECT count() FROM events FINAL"))


def events_stored(warehouse: Warehouse) -> int:
    """Rows before collapsing: copies count here until a merge runs."""
    return int(scalar(warehouse, "SELECT count() FROM events"))
