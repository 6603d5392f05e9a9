"""Computes a `Report` from a store: one pass per shard of app session ids, in worker processes
when the store is big enough for that to pay, then the partials merged and the figures built.

A worker process is spawned (not forked: the caller may have threads, a collector in tests) and
opens its own read-only connection; in WAL mode every reader sees a consistent snapshot, so the
report can run while the collector writes.

Call from any one thread; `compute_report` blocks until the figures are ready.
"""

from __future__ import annotations

import multiprocessing
import os
import sqlite3
from concurrent.futures import ProcessPoolExecutor
from typing import Final
from urllib.parse import urlsplit

from telemetry.contracts.stored import open_report_store
from telemetry.report.experiments import build_experiments
from telemetry.report.features import read_features
from telemetry.report.fold import Fold, Partial
from telemetry.report.logged import read_logs
from telemetry.report.metrics import Report, build_report
from telemetry.report.queries import (
    EventStream,
    Filters,
    client_drops,
    collector_duplicates,
    contexts,
    segment_events,
    shard_bounds,
)

# Below this many stored rows, starting worker processes costs more than it saves.
PARALLEL_MIN_EVENTS: Final = 400_000
MAX_JOBS: Final = 8


def compute_report(url: str, filters: Filters, *, jobs: int | None = None) -> Report:
    """The figures for the store at `url` (`sqlite:///path`; `clickhouse://` or `chdb:///`
    for the scale-out store, docs/scale-out.md). Raises `StoreError`."""
    if urlsplit(url).scheme in {"clickhouse", "clickhouses", "chdb"}:
        from telemetry.report.warehouse_source import compute_warehouse_report

        return compute_warehouse_report(url, filters)
    connection = open_report_store(url)
    try:
        if jobs is None:
            (rows,) = connection.execute("SELECT coalesce(max(id), 0) FROM events").fetchone()
            jobs = min(os.cpu_count() or 1, MAX_JOBS) if rows >= PARALLEL_MIN_EVENTS else 1
        drops = client_drops(connection)
        duplicates = collector_duplicates(connection)
        foreign = segment_events(connection)
        if jobs <= 1:
            partial = fold_shard(url, filters, None, None, connection=connection)
        else:
            partial = Partial()
            context = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(jobs, mp_context=context) as pool:
                futures = [
                    pool.submit(fold_shard, url, filters, low, high)
                    for low, high in shard_bounds(jobs)
                ]
                for future in futures:
                    partial.merge(future.result())
        report = build_report(
            partial, filters, drops=drops, collector_duplicates=duplicates, foreign_events=foreign
        )
        selected = {s.play_session_id for s in report.sessions}
        report.features = read_features(connection, filters, selected)
        if filters.app_version is None and filters.os is None and filters.video_id is None:
            # A second, lighter pass (feeds, impressions, plays): variants are per feed.
            feeds = read_logs(connection).feeds.values()
            report.experiments = build_experiments(feeds, report.sessions, filters)
    finally:
        connection.close()
    return report


def fold_shard(
    url: str,
    filters: Filters,
    low: str | None,
    high: str | None,
    *,
    connection: sqlite3.Connection | None = None,
) -> Partial:
    """One pass over the launches with `low <= app_session_id < high`, on `connection` or on
    a connection of its own (in a worker process)."""
    db = connection or open_report_store(url)
    try:
        fold = Fold(filters, contexts(db))
        stream = EventStream(db, low, high)
        fold.feed(stream)
        fold.partial.duplicates = stream.duplicates
        return fold.partial
    finally:
        if connection is None:
            db.close()
