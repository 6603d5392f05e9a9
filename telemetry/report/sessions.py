"""One play session's figures, as `sql/play_sessions.sql` computes them from its events:
startup, stalls, seeks, the time spent in each state, the content watched, completion, end
reason, failure and renditions. The rules are docs/report.md's ("Per play session").

Pure data; any thread.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class SessionFigures:
    """What the report says about one play session. Times in ms; `started_at` ms since epoch."""

    play_session_id: str
    app_session_id: str
    device_id: str | None
    video_id: str | None
    location: str | None
    started_at: int
    app_version: str | None
    os: str | None
    first_frame: bool
    startup_ms: int | None
    stall_count: int
    rebuffer_ms: int
    seek_count: int
    seek_latencies_ms: list[int]
    seek_ms: int
    startup_phase_ms: int
    playing_ms: int
    paused_ms: int
    watch_ms: int
    content_watched_ms: int
    duration_ms: int | None
    ended: bool
    completed: bool
    end_reason: str | None
    failure_category: str | None
    failure_phase: str | None
    impression_id: str | None = None
    # Set by the browse fold: this play was the first one attributed to an impression.
    from_impression: bool = False
    # Playing ms by the picture height shown, video switches, heartbeat ms by scaling kind.
    rendition_ms: dict[int, int] = field(default_factory=dict)
    rendition_switches: int = 0
    scaling_ms: dict[str, int] = field(default_factory=dict)
