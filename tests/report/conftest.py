"""Fixtures for the report tests: the known-answer data set stored by a real collector."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from telemetry.contracts.stored import store_url
from tests.collector.harness import OTHER_KEY, Running, batch, thread_collector

from .known_data import Launch, launch_1, launch_2, launch_3

CHUNK = 5


def post(
    collector: Running,
    launch: Launch,
    events: list[dict[str, Any]],
    *,
    key: str | None = None,
    drops: dict[str, int] | None = None,
) -> dict[str, Any]:
    """One batch as the launch's client would send it now, its clock `clock_offset` off."""
    sent_at = time.time_ns() // 1_000_000 + launch.clock_offset
    body = batch(events, sent_at=sent_at, context=launch.context)
    if drops:
        body["drops"] = drops
    response = collector.post(body, **({"key": key} if key else {}))
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    assert answer["rejected"] == []
    return answer


@pytest.fixture(scope="session")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, int]]]:
    """The data set stored, and how it was sent: the recovery first, each launch's batches in
    reverse order, one batch twice, one event again under another key."""
    one, two, three = launch_1(), launch_2(), launch_3()
    with thread_collector(tmp_path_factory.mktemp("report")) as collector:
        post(collector, three, three.events)
        chunks = [two.events[i : i + CHUNK] for i in range(0, len(two.events), CHUNK)]
        for n, chunk in enumerate(reversed(chunks)):
            post(collector, two, chunk[::-1], drops={"outbox_full": 3} if n == 0 else None)
        chunks = [one.events[i : i + CHUNK] for i in range(0, len(one.events), CHUNK)]
        for chunk in reversed(chunks):
            post(collector, one, chunk)
        again = post(collector, one, chunks[2])
        assert again["duplicates"] == CHUNK
        post(collector, one, [one.events[3]], key=OTHER_KEY)
        stored = collector.count()
        yield (
            store_url(collector.db),
            {
                "events": len(one.events) + len(two.events) + len(three.events),
                "stored": stored,
            },
        )
