"""The browse (engagement) figures, the per-title browse counts and the data-quality counts,
computed by ClickHouse (`sql/browse.sql` over the `facts`, `served_rows` and `contexts` tables
of `telemetry/contracts/facts.sql`): statements that fill temporary tables of the warehouse's
session (small keyed sets: copies, repeats, launches, impressions, feeds, plays), then one row
of arrays, turned here into the report's `Browse` and counts. The rules are docs/report.md's;
every figure is a count or an exact nearest-rank percentile computed in SQL, so this module
only reshapes. chdb keeps one session; on a server clickhouse-connect's session id (on by
default) keeps the temporary tables between the statements.

What it leaves to the caller: `funnel.completed` (0 here; it comes from the play sessions in
`attributed`), the titles' play figures, and the drops and collector counts of data quality.

Call from the one thread that owns the `Warehouse` (see telemetry/contracts/clickhouse.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from typing import Any, Final

from telemetry.contracts import event_types as ev
from telemetry.contracts.clickhouse import Warehouse
from telemetry.contracts.events import FEED_SERVED
from telemetry.report.figures import Rate, ratio
from telemetry.report.metrics import (
    Browse,
    CellFigures,
    Funnel,
    LineFigures,
    QualityCounts,
    RowReach,
    TitleBrowse,
)
from telemetry.report.queries import Filters

# The event types whose properties carry figures: the same one again in a launch (same type,
# mono_ms, play session and properties) is one event recorded twice.
PARSED_TYPES: Final = (
    ev.PLAY_REQUEST,
    ev.PLAYER_READY,
    ev.FIRST_FRAME,
    ev.PAUSE,
    ev.RESUME,
    ev.SEEK_START,
    ev.SEEK_END,
    ev.REBUFFER_START,
    ev.REBUFFER_END,
    ev.HEARTBEAT,
    ev.TRACK_CHANGE,
    ev.ENDED,
    ev.ERROR,
    ev.SESSION_END,
    ev.IMPRESSION,
    ev.TILE_VISIBILITY,
    FEED_SERVED,
)
_CELL, _ROW, _RANK, _ALL = range(4)  # `lines` kinds: grouping(row_index, rank)


@dataclass(frozen=True, slots=True)
class BrowseRows:
    browse: Browse
    titles: dict[str, TitleBrowse]
    # (app_session_id, play_session_id) of plays that took a counted impression first
    # (whether or not the play session itself is selected).
    attributed: set[tuple[str, str]]
    quality: QualityCounts


def script() -> list[str]:
    """browse.sql's statements (each ends a line with `;`), `@kept` replaced by kept.sql."""
    sql = resources.files(__package__).joinpath("sql")
    kept = _code(sql.joinpath("kept.sql").read_text())
    statements = _code(sql.joinpath("browse.sql").read_text()).split(";\n")
    return [s.strip().replace("@kept", kept) for s in statements if s.strip()]


def _code(text: str) -> str:
    """The SQL without its comment lines."""
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("--"))


def parameters(filters: Filters) -> dict[str, Any]:
    return {
        "since": filters.since,
        "until": filters.until,
        "app_version": filters.app_version,
        "os": filters.os,
        "video_id": filters.video_id,
        "parsed": list(PARSED_TYPES),
    }


def browse_figures(engine: Warehouse, filters: Filters) -> BrowseRows:
    """The figures for the events `filters` select. Raises clickhouse-connect's errors."""
    *fills, figures = script()
    tables = [re.findall(r"CREATE TEMPORARY TABLE (\w+)", s)[0] for s in fills]
    values = parameters(filters)
    _drop(engine, tables)  # left by a run that failed half-way
    try:
        for statement in fills:
            engine.command(statement, values)
        (row,) = engine.rows(figures, values)
    finally:
        _drop(engine, tables)
    quality, repeats, duplicates, feeds, lines, reach_rows, titles, attributed = row
    launches, events, lost, skewed, devices = quality
    every: list[Any] = next((x for x in lines if x[0] == _ALL), [_ALL, 0, 0, 0, 0, None])
    impressions, taken = int(every[3]), int(every[4])
    reach = [
        RowReach(int(i), int(n), int(s), ratio(int(s), int(n)), _opt(top), _opt(mid))
        for i, n, s, top, mid in sorted(reach_rows, key=lambda r: int(r[0]))
    ]
    served = sum(r.served for r in reach)
    seen = sum(r.seen for r in reach)
    return BrowseRows(
        browse=Browse(
            feeds=int(feeds),
            served=served,
            impressions=impressions,
            attributed_plays=taken,
            take_rate=ratio(taken, impressions),
            dwell_median_ms=_opt(every[5]),
            reach=Rate.of(seen, served),
            served_never_seen=served - seen,
            by_row=_lines(lines, _ROW, 1),
            by_rank=_lines(lines, _RANK, 2),
            cells=[
                CellFigures(int(r), int(k), int(n), int(p), ratio(int(p), int(n)), _opt(d))
                for _, r, k, n, p, d in sorted(
                    (line for line in lines if line[0] == _CELL),
                    key=lambda line: (int(line[1]), int(line[2])),
                )
            ],
            reach_by_row=reach,
            funnel=Funnel(served, seen, taken, 0),
        ),
        titles={
            str(v): TitleBrowse(int(n), int(s), int(i), int(p), float(e))
            for v, n, s, i, p, e in titles
        },
        attributed={(str(a), str(p)) for a, p in attributed},
        quality=QualityCounts(
            app_sessions=int(launches),
            devices=frozenset(str(d) for d in devices),
            events=int(events),
            lost_events=int(lost),
            duplicates=int(duplicates),
            repeats=int(repeats),
            skew_corrected=int(skewed),
        ),
    )


def _drop(engine: Warehouse, tables: list[str]) -> None:
    for table in tables:
        engine.command(f"DROP TEMPORARY TABLE IF EXISTS {table}")


def _lines(lines: list[list[Any]], kind: int, position: int) -> list[LineFigures]:
    """A row's (position 1) or a rank's (position 2) figures, in index order."""
    chosen = sorted((line for line in lines if line[0] == kind), key=lambda r: int(r[position]))
    return [
        LineFigures(int(x[position]), int(x[3]), int(x[4]), ratio(int(x[4]), int(x[3])), _opt(x[5]))
        for x in chosen
    ]


def _opt(value: Any) -> int | None:
    return None if value is None else int(value)
