"""Computes a `Report` from a store: the figures are SQL run by ClickHouse over the report's
engine tables (`telemetry/contracts/facts.sql`), then put together here.

For a collector store (`sqlite:///path`) the engine is chdb over a mirror of the store, brought
up to date first (`engine.py`); for `chdb:///` and `clickhouse://` it is the warehouse itself,
whose views fill the engine tables as the loader inserts. The same SQL serves both:
`sql/play_sessions.sql` (one row per play session), `sql/browse.sql` (engagement, per-title
browse counts, data quality). The store-wide counts the events cannot give (drops the clients
reported, copies the collector absorbed, events that are not Reelscope's) come from the store.

Call from any one thread; `compute_report` blocks until the figures are ready.
"""

from __future__ import annotations

import dataclasses

from telemetry.contracts.clickhouse import Warehouse, is_warehouse_url
from telemetry.contracts.stored import StoreError, open_report_store
from telemetry.report import engine_reads, queries, warehouse_source
from telemetry.report.browse_sql import BrowseRows, browse_figures
from telemetry.report.engine import open_engine
from telemetry.report.experiments import build_experiments
from telemetry.report.features import count_features
from telemetry.report.logged import logs_from_rows
from telemetry.report.metrics import Report, qoe, quality, titles
from telemetry.report.queries import Drop, Filters
from telemetry.report.session_sql import SessionRows, play_sessions


@dataclasses.dataclass(frozen=True, slots=True)
class StoreCounts:
    """What only the store knows: drops reported by clients, copies the collector absorbed,
    events that are not Reelscope's."""

    drops: list[Drop]
    collector_duplicates: int
    foreign_events: int


def compute_report(url: str, filters: Filters) -> Report:
    """The figures for the store at `url` (`sqlite:///path`; `clickhouse://` or `chdb:///`
    for the scale-out store, docs/scale-out.md). Raises `StoreError`."""
    if is_warehouse_url(url):
        with open_engine(url) as warehouse:
            counts = _warehouse_counts(warehouse)
            return _report(warehouse, filters, counts)
    connection = open_report_store(url)
    try:
        counts = StoreCounts(
            queries.client_drops(connection),
            queries.collector_duplicates(connection),
            queries.segment_events(connection),
        )
    finally:
        connection.close()
    with open_engine(url) as engine:
        return _report(engine, filters, counts)


def _warehouse_counts(warehouse: Warehouse) -> StoreCounts:
    try:
        return StoreCounts(
            warehouse_source.client_drops(warehouse),
            warehouse_source.collector_duplicates(warehouse),
            warehouse_source.foreign_events(warehouse),
        )
    except Exception as exc:
        raise StoreError(f"not a Reelscope ClickHouse store ({exc})") from None


def _report(engine: Warehouse, filters: Filters, counts: StoreCounts) -> Report:
    sessions = play_sessions(engine, filters)
    browse = browse_figures(engine, filters)
    report = build_report(sessions, browse, filters, counts)
    selected = {s.play_session_id for s in report.sessions}
    report.features = count_features(
        engine_reads.feature_rows(engine), engine_reads.contexts(engine), filters, selected
    )
    if filters.app_version is None and filters.os is None and filters.video_id is None:
        rows = engine_reads.experiment_rows(engine)
        report.experiments = build_experiments(
            logs_from_rows(rows).feeds.values(), report.sessions, filters
        )
    return report


def build_report(
    sessions: SessionRows, browse: BrowseRows, filters: Filters, counts: StoreCounts
) -> Report:
    """The report from the SQL results: a play attributed to a counted impression marks its
    session, and completes the funnel when the session completed."""
    completed = 0
    for session in sessions.sessions:
        if (session.app_session_id, session.play_session_id) in browse.attributed:
            session.from_impression = True
            completed += session.completed
    funnel = dataclasses.replace(browse.browse.funnel, completed=completed)
    return Report(
        filters=filters,
        qoe=qoe(sessions.sessions),
        browse=dataclasses.replace(browse.browse, funnel=funnel),
        titles=titles(sessions.sessions, browse.titles),
        quality=quality(
            browse.quality,
            filters=filters,
            drops=counts.drops,
            collector_duplicates=counts.collector_duplicates,
            foreign_events=counts.foreign_events,
            orphans=sessions.orphans,
            repeated_ends=sessions.repeated_ends,
        ),
        sessions=sessions.sessions,
    )
