"""Feeds too large for one event, and `seq` kept gap-free: the largest feed the app builds
(every row full) is recorded as `feed_served` parts the real collector accepts, the report
counts it once with every row and tile; events refused before the outbox (too large,
unserialisable, queue full) take no `seq`, so the report shows no events lost."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import orjson

from player.catalog import Catalog, CatalogItem
from player.feed import FeedOptions, build_feed
from telemetry.client.client import TelemetryClient
from telemetry.collector.config import CollectorConfig
from telemetry.contracts.events import SPECS, feed_served_parts
from telemetry.contracts.stored import store_url
from telemetry.report.compute import compute_report
from telemetry.report.queries import Filters
from tests.collector.harness import KEY, thread_collector

from .conftest import client_config
from .samples import VALID

LIMIT = CollectorConfig().max_event_bytes  # the collector's per-event limit, 32 KiB


def largest_feed_catalog() -> Catalog:
    """Enough titles and genres that every row the feed can have is full."""
    options = FeedOptions()
    genres = [f"Genre number {g:02d} with a long name" for g in range(options.max_genre_rows)]
    items = tuple(
        CatalogItem(
            id=f"catalog-title-{n:05d}-with-a-long-slug",
            title=f"Title {n}",
            media=f"/media/{n}.mkv",
            genres=(genres[n % len(genres)],),
            added=dt.date(2026, 1, 1) + dt.timedelta(days=n),
        )
        for n in range(options.max_genre_rows * options.max_items_per_row)
    )
    return Catalog(items, (), "big")


def test_the_largest_feed_is_recorded_in_parts_the_report_joins(tmp_path: Path) -> None:
    feed = build_feed(largest_feed_catalog(), [], seed=1)
    served = feed.served_properties()
    assert len(orjson.dumps(served)) > LIMIT  # one event could not carry it
    tiles = sum(len(row.items) for row in feed.rows)
    with thread_collector(tmp_path / "collector") as collector:
        client = TelemetryClient(client_config(tmp_path, collector.url, write_key=KEY, strict=True))
        client.set_context(app={"name": "reelscope", "version": "parts"})
        client.start()
        try:
            first = client.track("feed_served", served)
            assert first is not None
            assert client.flush(10.0)
            stored = client.outbox.local_events(100)
        finally:
            client.close()
        report = compute_report(store_url(collector.db), Filters(app_version="parts"))
    parts = sorted((e.event for e in stored), key=lambda e: e["seq"])  # type: ignore[arg-type, return-value]
    assert len(parts) > 1
    assert parts[0]["event_id"] == first
    assert all(e.status == "sent" and e.outcome == "accepted" for e in stored)
    assert all(len(orjson.dumps(p)) <= LIMIT for p in parts)
    assert [p["seq"] for p in parts] == list(range(1, len(parts) + 1))
    assert report.browse.feeds == 1
    assert report.browse.served == tiles
    assert report.quality.lost_events == 0


def test_a_row_too_large_for_a_part_is_cut_by_items_with_its_ranks() -> None:
    row = {
        "row_id": "r",
        "row_index": 3,
        "track_id": "t",
        "title": "Long row",
        "items": [{"video_id": f"v{n:04d}" + "x" * 200, "rank": n} for n in range(400)],
    }
    served = {"request_id": "q", "location": "home", "rows": [row]}
    parts = feed_served_parts(served, 8000)
    assert len(parts) > 1
    assert [p["part"] for p in parts] == list(range(len(parts)))
    assert {p["parts"] for p in parts} == {len(parts)}
    assert all(len(orjson.dumps(p)) <= 8000 for p in parts)
    assert all(SPECS["feed_served"].problem(p) is None for p in parts)
    rows = [r for p in parts for r in p["rows"]]  # type: ignore[attr-defined]
    assert {(r["row_id"], r["row_index"], r["title"]) for r in rows} == {("r", 3, "Long row")}
    assert [i for r in rows for i in r["items"]] == row["items"]


def test_events_refused_before_the_outbox_take_no_seq(tmp_path: Path) -> None:
    with thread_collector(tmp_path / "collector") as collector:
        client = TelemetryClient(
            client_config(tmp_path, collector.url, write_key=KEY, strict=False, max_queue=3)
        )
        client.set_context(app={"name": "reelscope", "version": "gaps"})
        recorded = [client.track("pause", VALID["pause"])]
        assert client.track("error", {**VALID["error"], "message": "x" * 40_000}) is None
        assert client.track("play_request", {**VALID["play_request"], "source": {1: 2}}) is None
        recorded += [client.track("pause", VALID["pause"]) for _ in range(2)]
        assert client.track("pause", VALID["pause"]) is None  # queue full: not started yet
        client.start()
        try:
            assert client.flush(10.0)
            recorded.append(client.track("resume", VALID["resume"]))
            assert client.flush(10.0)
            seqs = {e.event_id: e.event["seq"] for e in client.outbox.local_events()}
        finally:
            client.close()
        report = compute_report(store_url(collector.db), Filters(app_version="gaps"))
    assert [seqs[event_id] for event_id in recorded] == [1, 2, 3, 4]  # type: ignore[index]
    assert report.quality.lost_events == 0
    assert report.quality.drops_reported == {"too_large": 1, "invalid": 1, "queue_full": 1}
