"""The play sessions' figures computed by ClickHouse: one row per selected play session from the
`facts` and `contexts` tables (`telemetry/contracts/facts.sql`), by `sql/play_sessions.sql`.

It owns one play session's figures (startup, stalls, seeks, time per state, content watched,
completion, end reason, failure, renditions), which events make a session (copies, repeats,
its own launch's events), which sessions the filters select, and the crash-recovered ends sent
by later launches (applied to unended sessions, else counted as orphans or repeated ends).
Attribution to impressions (`from_impression`) is the browse figures' and stays False here.

Call from the one thread that owns the `Warehouse`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any, Final

from telemetry.contracts.clickhouse import Warehouse
from telemetry.report.queries import Filters
from telemetry.report.sessions import SessionFigures

_SESSION, _ORPHAN, _REPEATED_END = 0, 1, 2
_COLUMNS: Final = 31


@dataclass(slots=True)
class SessionRows:
    """The selected sessions sorted by (started_at, play_session_id), late ends applied; and
    the crash-recovered ends that ended no session: of sessions never requested (`orphans`) and
    of sessions their own launch had ended (`repeated_ends`)."""

    sessions: list[SessionFigures] = field(default_factory=list)
    orphans: int = 0
    repeated_ends: int = 0


@cache
def play_sessions_sql() -> str:
    return resources.files(__package__).joinpath("sql/play_sessions.sql").read_text()


def play_sessions(engine: Warehouse, filters: Filters) -> SessionRows:
    """Every selected play session's figures, and the late ends' counts, over `engine`."""
    parameters = {
        "since": filters.since,
        "until": filters.until,
        "app_version": filters.app_version,
        "os": filters.os,
        "video_id": filters.video_id,
    }
    found = SessionRows()
    for row in engine.rows(play_sessions_sql(), parameters):
        kind = row[0]
        if kind == _ORPHAN:
            found.orphans += 1
        elif kind == _REPEATED_END:
            found.repeated_ends += 1
        else:
            found.sessions.append(_figures(row))
    return found


def _figures(row: list[Any]) -> SessionFigures:
    if len(row) != _COLUMNS:
        raise ValueError(f"play_sessions.sql gave {len(row)} columns, not {_COLUMNS}")
    (
        _kind, play_session_id, app_session_id, device_id, video_id, location, started_at,
        app_version, os, first_frame, startup_ms, stall_count, rebuffer_ms, seek_count,
        seek_latencies_ms, seek_ms, startup_phase_ms, playing_ms, paused_ms, watch_ms,
        content_watched_ms, duration_ms, ended, completed, end_reason, failure_category,
        failure_phase, impression_id, rendition_ms, rendition_switches, scaling_ms,
    ) = row  # fmt: skip
    return SessionFigures(
        play_session_id=play_session_id,
        app_session_id=app_session_id,
        device_id=device_id,
        video_id=video_id,
        location=location,
        started_at=int(started_at),
        app_version=app_version,
        os=os,
        first_frame=bool(first_frame),
        startup_ms=_int_or_none(startup_ms),
        stall_count=int(stall_count),
        rebuffer_ms=int(rebuffer_ms),
        seek_count=int(seek_count),
        seek_latencies_ms=[int(value) for value in seek_latencies_ms],
        seek_ms=int(seek_ms),
        startup_phase_ms=int(startup_phase_ms),
        playing_ms=int(playing_ms),
        paused_ms=int(paused_ms),
        watch_ms=int(watch_ms),
        content_watched_ms=int(content_watched_ms),
        duration_ms=_int_or_none(duration_ms),
        ended=bool(ended),
        completed=bool(completed),
        end_reason=end_reason,
        failure_category=failure_category,
        failure_phase=failure_phase,
        impression_id=impression_id,
        rendition_ms={int(height): int(ms) for height, ms in rendition_ms},
        rendition_switches=int(rendition_switches),
        scaling_ms={str(kind): int(ms) for kind, ms in scaling_ms},
    )


def _int_or_none(value: object) -> int | None:
    return None if value is None else int(str(value))
