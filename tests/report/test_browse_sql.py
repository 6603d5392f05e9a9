"""Differential test of the browse SQL (`telemetry/report/browse_sql.py`): random launches
(tests/report/browse_launches.py) stored as `facts`/`served_rows` rows in chdb, and the same
events through the Python fold (`Fold` + `metrics._browse`/`_titles`), every figure compared
under every filter. Fixed seeds; needs the Python fold, so it goes when the fold does (the
rules it checks stay in test_browse_sql_known.py)."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from telemetry.contracts.clickhouse import Warehouse
from telemetry.report import fold, metrics
from telemetry.report.browse_sql import PARSED_TYPES, BrowseRows, browse_figures
from telemetry.report.queries import Context, Filters, StoredEvent, parse_context

from .browse_launches import CONTEXTS, START, VIDEOS, launches
from .facts_rows import Stored, engine_tables, insert

SEEDS = range(4)
LAUNCHES = 10
HOUR = 3_600_000
FILTERS = [
    Filters(),
    Filters(since=START + HOUR, until=START + 3 * HOUR),
    Filters(since=START + 2 * HOUR),
    Filters(app_version="1.0"),
    Filters(os="Windows"),
    Filters(video_id=VIDEOS[3]),
    Filters(until=START + 2 * HOUR, app_version="1.1", os="Windows", video_id=VIDEOS[1]),
]


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Warehouse]:
    with engine_tables(tmp_path_factory.mktemp("browse") / "clickhouse") as opened:
        yield opened


def python_figures(
    stored: list[Stored], filters: Filters
) -> tuple[fold.Partial, metrics.Browse, list[metrics.TitleFigures]]:
    """Today's Python over the same events: each (app_session_id, seq) once (its least copy),
    in seq order, the other distinct copies counted as duplicates."""
    copies: dict[tuple[str, int], dict[tuple[str, str], Stored]] = {}
    for event in stored:
        copies.setdefault((event.app_session_id, event.seq), {})[(event.key_id, event.identity)] = (
            event
        )
    duplicates = sum(len(c) - 1 for c in copies.values())
    kept = [
        min(c.values(), key=lambda e: (e.received_at, e.key_id, e.identity))
        for _, c in sorted(copies.items())
    ]
    contexts: dict[bytes, Context] = {}
    for digest, value in CONTEXTS.items():
        context = parse_context(value if isinstance(value, str) else orjson.dumps(value).decode())
        if context is not None:
            contexts[bytes.fromhex(digest)] = context
    python = fold.Fold(filters, contexts)
    python.feed(_stored_event(e) for e in kept)
    partial = python.partial
    partial.duplicates = duplicates
    return partial, metrics._browse(partial), metrics._titles(partial, [])


def _stored_event(event: Stored) -> StoredEvent:
    digest = None if event.context_hash is None else bytes.fromhex(event.context_hash)
    return (
        event.type,
        event.app_session_id,
        event.seq,
        event.mono_ms,
        event.time,
        event.corrected,
        event.device_id,
        digest,
        event.play_session_id,
        orjson.dumps(event.raw()),
    )


def compare(got: BrowseRows, stored: list[Stored], filters: Filters) -> None:
    partial, browse, titles = python_figures(stored, filters)
    assert got.browse == dataclasses.replace(
        browse, funnel=dataclasses.replace(browse.funnel, completed=0)
    )
    assert set(got.titles) == {t.video_id for t in titles}
    for title in titles:
        mine = got.titles[title.video_id]
        assert (mine.served, mine.seen, mine.impressions, mine.attributed_plays) == (
            title.served,
            title.seen,
            title.impressions,
            title.attributed_plays,
        ), title.video_id
        assert math.isclose(mine.expected_plays, title.expected_plays, rel_tol=1e-9)
        if title.position_corrected_take_rate is None:
            assert mine.position_corrected_take_rate is None
        else:
            assert mine.position_corrected_take_rate == pytest.approx(
                title.position_corrected_take_rate, rel=1e-9
            )
    selected = {(s.app_session_id, s.play_session_id) for s in partial.sessions}
    assert got.attributed & selected == {
        (s.app_session_id, s.play_session_id) for s in partial.sessions if s.from_impression
    }
    assert len(got.attributed) == got.browse.attributed_plays
    quality = got.quality
    assert (
        quality.app_sessions,
        set(quality.devices),
        quality.events,
        quality.lost_events,
        quality.duplicates,
        quality.repeats,
        quality.skew_corrected,
    ) == (
        partial.app_sessions,
        partial.devices,
        partial.events,
        partial.lost_events,
        partial.duplicates,
        partial.repeats,
        partial.skew_corrected,
    )


def test_the_repeatable_types_are_the_folds() -> None:
    assert set(PARSED_TYPES) == fold._PARSED


@pytest.mark.parametrize("seed", SEEDS)
def test_browse_sql_equals_the_python_fold(warehouse: Warehouse, seed: int) -> None:
    for table in ("facts", "served_rows", "contexts"):
        warehouse.command(f"TRUNCATE TABLE {table}")
    stored = launches(seed, LAUNCHES)
    insert(warehouse, stored, CONTEXTS)
    for filters in FILTERS:
        compare(browse_figures(warehouse, filters), stored, filters)


def test_the_random_launches_exercise_every_rule(tmp_path: Path) -> None:
    """The generator makes what the comparison is about (not vacuous)."""
    stored = [e for seed in SEEDS for e in launches(seed, LAUNCHES)]
    partial, browse, _ = python_figures(stored, Filters())
    assert partial.duplicates > 20
    assert partial.repeats > 20
    assert partial.lost_events > 20
    assert partial.skew_corrected > 50
    assert partial.feeds > 30
    assert browse.attributed_plays > 20
    assert browse.impressions > 200
    assert browse.served > browse.reach.count > 50
    assert sum(1 for s in partial.sessions if s.from_impression) > 10
