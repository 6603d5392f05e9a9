"""The report on ClickHouse gives the SQLite report's figures: the known-answer data set of the
report tests is posted, batch by batch and in the same order, to a SQLite collector and to a
Kafka collector; the loader fills chdb (and a second group loads the whole topic again, as a
replayed partition would); every figure, under every filter, matches."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

import pytest

from telemetry.contracts.clickhouse import Warehouse
from telemetry.contracts.stored import StoreError, store_url
from telemetry.report.compute import compute_report
from telemetry.report.metrics import Report
from telemetry.report.queries import Filters
from tests.collector.harness import OTHER_KEY, Running, batch, thread_collector
from tests.report.feature_data import feature_launch
from tests.report.known_data import DAY1, HOUR, Launch, launch_1, launch_2, launch_3

from .pipeline import drain, make_loader

CHUNK = 5


def _post_both(
    collectors: list[Running], launch: Launch, events: list[dict[str, Any]], **options: Any
) -> None:
    """One batch as the launch's client sends it, to both collectors (as `tests/report`)."""
    body = batch(
        events, sent_at=time.time_ns() // 1_000_000 + launch.clock_offset, context=launch.context
    )
    if options.get("drops"):
        body["drops"] = options["drops"]
    for collector in collectors:
        answer = collector.post(body, **({"key": options["key"]} if "key" in options else {}))
        assert answer.status_code == 200, answer.text
        assert answer.json()["rejected"] == []


def _send_known_data(collectors: list[Running]) -> int:
    """The report tests' sequence: recovery first, batches reversed, one twice, one event again
    under another key. Returns the number of event records sent."""
    one, two, three = launch_1(), launch_2(), launch_3()
    _post_both(collectors, three, three.events)
    chunks = [two.events[i : i + CHUNK] for i in range(0, len(two.events), CHUNK)]
    for n, chunk in enumerate(reversed(chunks)):
        _post_both(collectors, two, chunk[::-1], drops={"outbox_full": 3} if n == 0 else None)
    chunks = [one.events[i : i + CHUNK] for i in range(0, len(one.events), CHUNK)]
    for chunk in reversed(chunks):
        _post_both(collectors, one, chunk)
    _post_both(collectors, one, chunks[2])
    _post_both(collectors, one, [one.events[3]], key=OTHER_KEY)
    features = feature_launch()  # the features section's events (tests/report/feature_data.py)
    _post_both(collectors, features, features.events)
    return len(one.events) + len(two.events) + len(three.events) + len(features.events) + CHUNK + 1


def _comparable(report: Report) -> Report:
    """The report with session start times zeroed: the two collectors received each batch a
    few ms apart, so corrected clocks differ by that much; every other figure must be equal."""
    return dataclasses.replace(
        report, sessions=[dataclasses.replace(s, started_at=0) for s in report.sessions]
    )


FILTERS = [
    Filters(),
    Filters(app_version="1.1.0"),
    Filters(os="Linux"),
    Filters(os="Windows"),
    Filters(video_id="v1"),
    Filters(since=DAY1 + 12 * HOUR),
    Filters(until=DAY1 + 12 * HOUR),
    Filters(since=DAY1 + 1800 * 1000, until=DAY1 + 1950 * 1000),
]


def test_the_clickhouse_report_gives_exactly_the_sqlite_figures(
    tmp_path: Path, topic_url: str, warehouse: Warehouse
) -> None:
    with (
        thread_collector(tmp_path / "sqlite") as sqlite_collector,
        thread_collector(tmp_path / "kafka", db=topic_url) as kafka_collector,
    ):
        records = _send_known_data([sqlite_collector, kafka_collector])
        sqlite_url = store_url(sqlite_collector.db)
    for group in ("loader", "replay"):
        loader = make_loader(topic_url, warehouse, group=group)
        try:
            drain(loader, lambda loader=loader: loader.loaded == records + 1)  # + the drop
        finally:
            loader.close()
    warehouse.close()  # the report opens the store itself (chdb: one open store per process)
    clickhouse_url = f"chdb://{tmp_path / 'clickhouse'}"
    for filters in FILTERS:
        expected = compute_report(sqlite_url, filters)
        got = compute_report(clickhouse_url, filters)
        assert _comparable(got) == _comparable(expected), filters
    everything = compute_report(clickhouse_url, Filters())
    assert sorted(s.play_session_id for s in everything.sessions) == [
        "F1", "F2", "S1", "S2", "S3", "S4", "S5", "S6", "S7",
    ]  # fmt: skip
    assert everything.features is not None
    assert (everything.features.chapter_seeks, everything.features.up_next.shown) == (2, 4)
    assert everything.quality.duplicates_absorbed_by_collector == CHUNK
    assert everything.quality.duplicates_absorbed_by_report == 1


def test_a_store_that_is_not_there_is_a_store_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="not a Reelscope ClickHouse store"):
        compute_report(f"chdb://{tmp_path / 'empty'}", Filters())
