"""One play session's figures, rebuilt from its events: startup, stalls, seeks, the time spent in
each state, the content watched, completion, end reason and failure.

The events of a play session are fed in `seq` order (the order the client recorded them, never
the order they arrived). Durations come from the client's monotonic clock (`mono_ms`) and from
the exact durations some events carry (`startup_ms`, `seek_latency_ms`, `stall_ms`): the client
notices a first frame, a landed seek or the end of a stall one playhead report late and dates it
back, so those properties place the transition better than the event's own `mono_ms` does.

Time accounting follows `events-and-metrics.md`: every ms from `play_request` to the end is in
exactly one state, by priority paused > seeking > startup (before the first frame) > stalled >
playing. Stalls under 250 ms are not stalls (their time is playing). `watch_ms` is everything but
paused time. Without a `session_end` the session ends at its last event: what happened after it
is unknown.

Pure code; any thread (the report runs it on the thread that reads the store).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Any, Final

from telemetry.contracts.event_types import (
    ENDED,
    ERROR,
    FIRST_FRAME,
    HEARTBEAT,
    PAUSE,
    PLAY_REQUEST,
    PLAYER_READY,
    REBUFFER_END,
    REBUFFER_START,
    RESUME,
    SEEK_END,
    SEEK_START,
    SESSION_END,
    TRACK_CHANGE,
)
from telemetry.report.renditions import RenditionLog

MIN_STALL_MS: Final = 250
# `content_watched >= 0.9 x duration` counts as completed even without an `ended` event.
COMPLETION_SHARE: Final = 0.9

_PAUSED, _SEEKING, _STARTUP, _STALLED, _PLAYING = range(5)


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


@dataclass(slots=True)
class _Open:
    """An interval whose end event has not been seen yet."""

    since: float


@dataclass(slots=True)
class SessionBuilder:
    """Accumulates one play session's events (in seq order) and computes its figures."""

    play_session_id: str
    app_session_id: str
    device_id: str | None
    app_version: str | None = None
    os: str | None = None
    t0: float | None = None
    started_at: int = 0
    video_id: str | None = None
    location: str | None = None
    impression_id: str | None = None
    start_position: int = 0
    duration: int | None = None
    first_frame_at: float | None = None
    startup_ms: int | None = None
    spoiled: bool = False  # a pause or seek came before the first frame
    pauses: list[tuple[float, float]] = field(default_factory=list)
    seeks: list[tuple[float, float]] = field(default_factory=list)
    stalls: list[tuple[float, float]] = field(default_factory=list)
    latencies: list[int] = field(default_factory=list)
    seek_count: int = 0
    paused: _Open | None = None
    seeking: _Open | None = None
    stalled: _Open | None = None
    seek_target: int | None = None
    cursor: int | None = None  # the playhead while it plays (None: unknown, e.g. mid-seek)
    watched: list[tuple[int, int]] = field(default_factory=list)
    ended: bool = False
    end_mono: float | None = None
    last_mono: float = 0.0
    end_reason: str | None = None
    failure_category: str | None = None
    failure_phase: str | None = None
    renditions: RenditionLog = field(default_factory=RenditionLog)

    def add(self, kind: str, mono: float, corrected: int, props: dict[str, Any]) -> None:
        """One event of this session, in seq order; `props` is its `properties`."""
        self.last_mono = max(self.last_mono, mono)
        handler = _HANDLERS.get(kind)
        if handler is not None:
            handler(self, mono, corrected, props)

    def heartbeat(self, mono: float, props: dict[str, Any]) -> None:
        """The most frequent event, on a short path: its position and picture sizes."""
        self.last_mono = max(self.last_mono, mono)
        self._watch_to(_int(props.get("position_ms")))
        if self.first_frame_at is not None:
            self.renditions.heartbeat(props)

    def touch(self, mono: float) -> None:
        """An event without figures (volume, window, ...): the session was alive then."""
        self.last_mono = max(self.last_mono, mono)

    # -- event handlers --------------------------------------------------------------------

    def _play_request(self, mono: float, corrected: int, props: dict[str, Any]) -> None:
        if self.t0 is not None:
            return
        self.t0 = mono
        self.started_at = corrected
        self.video_id = _str(props.get("video_id"))
        self.start_position = _int(props.get("start_position_ms")) or 0
        source = props.get("source")
        if isinstance(source, dict):
            self.location = _str(source.get("location"))
            self.impression_id = _str(source.get("impression_id"))

    def _player_ready(self, mono: float, corrected: int, props: dict[str, Any]) -> None:
        self.duration = _int(props.get("duration_ms")) or self.duration

    def _first_frame(self, mono: float, corrected: int, props: dict[str, Any]) -> None:
        if self.first_frame_at is not None:
            return
        startup = _int(props.get("startup_ms"))
        if startup is not None and self.t0 is not None:
            self.first_frame_at = self.t0 + startup
        else:
            self.first_frame_at = mono
        self.startup_ms = None if self.spoiled else startup
        self.renditions.first_frame(self.first_frame_at, props)
        target = self.seek_target
        self.cursor = self.start_position if target is None else target

    def _pause(self, mono: float, corrected: int, props: dict[str, Any]) -> None:
        if self.first_frame_at is None:
            self.spoiled = True
        self._watch_to(_int(props.get("position_ms")))
        if self.paused is None:
            self.paused = _Open(mono)

    def _resume(self, mono: float, corrected: int, props: dict[str, Any]) -> None:
        if self.paused is not None:
            self.pauses.append((self.paused.since, mono))
            self.paused = None
        position = _int(props.get("position_ms"))
        if self.first_frame_at is not None and position is not None:
            self.cursor = position

    def _seek_start(self, mono: float, corrected: int, props: dict[str, Any]) -> None:
        if self.first_frame_at is None:
            self.spoiled = True
        self.seek_count += 1
        self._watch_to(_int(props.get("from_ms")))
        self.cursor = None
        self.seek_target = _int(props.get("to_ms"))
        if self.seeking is None:
            self.seeking = _Open(mono)

    def _seek_end(self, mono: float, corrected: int, props: dict[str, Any]) -> None:
        latency = _int(props.get("seek_latency_ms"))
        since = self.seeking.since if self.seeking is not None else None
        if latency is None:
            latency = round(mono - since) if since is not None else 0
        start = since if since is not None else mono - latency
        if since is None:
            self.seek_count += 1  # its seek_start was lost
        self.seeks.append((start, start + latency))
        self.latencies.append(latency)
        self.seeking = None
        target = _int(props.get("to_ms"))
        self.seek_target = target
        if self.first_frame_at is not None:
            self.cursor = target

    def _rebuffer_start(self, mono: float, corrected: int, props: dict[str, Any]) -> None:
        self._watch_to(_int(props.get("position_ms")))
        if self.stalled is None:
            self.stalled = _Open(mono)

    def _rebuffer_end(self, mono: float, corrected: int, props: dict[str, Any]) -> None:
        stall = _int(props.get("stall_ms"))
        if stall is None:
            stall = round(mono - self.stalled.since) if self.stalled is not None else 0
        self.stalled = None
        if stall >= MIN_STALL_MS:
            self.stalls.append((mono - stall, mono))
        self._watch_to(_int(props.get("position_ms")))

    def _heartbeat(self, mono: float, corrected: int, props: dict[str, Any]) -> None:
        self.heartbeat(mono, props)

    def _track_change(self, mono: float, corrected: int, props: dict[str, Any]) -> None:
        self.renditions.track_change(mono, props)

    def _ended(self, mono: float, corrected: int, props: dict[str, Any]) -> None:
        self._watch_to(_int(props.get("position_ms")))
        self.ended = True
        self.cursor = None

    def _error(self, mono: float, corrected: int, props: dict[str, Any]) -> None:
        self._watch_to(_int(props.get("position_ms")))
        if props.get("fatal") is True and self.failure_category is None:
            self.failure_category = _str(props.get("category")) or "unknown"
            self.failure_phase = "startup" if self.first_frame_at is None else "playback"

    def _session_end(self, mono: float, corrected: int, props: dict[str, Any]) -> None:
        if self.end_mono is not None and mono <= self.end_mono:
            return  # a copy, or an earlier end: the session went on to the latest one
        self._watch_to(_int(props.get("position_ms")))
        self.end_mono = mono
        self.end_reason = _str(props.get("reason")) or "unknown"
        self.duration = self.duration or _int(props.get("duration_ms"))

    def _watch_to(self, position: int | None) -> None:
        """The playhead was reported at `position`: what it covered since the last report played."""
        if position is None or self.first_frame_at is None or self.ended:
            return
        if self.cursor is not None and position > self.cursor and self.paused is None:
            self.watched.append((self.cursor, position))
        self.cursor = position

    # -- the figures -----------------------------------------------------------------------

    def figures(self) -> SessionFigures | None:
        """The session's figures; None when its `play_request` never arrived (no time zero)."""
        if self.t0 is None:
            return None
        t0 = self.t0
        end = max(self.end_mono if self.end_mono is not None else self.last_mono, t0)
        pauses = list(self.pauses)
        seeks = list(self.seeks)
        stalls = list(self.stalls)
        if self.paused is not None:
            pauses.append((self.paused.since, end))
        if self.seeking is not None:
            seeks.append((self.seeking.since, end))
        if self.stalled is not None and end - self.stalled.since >= MIN_STALL_MS:
            stalls.append((self.stalled.since, end))

        def classify(start: float, stop: float) -> list[float]:
            return _classify(
                start,
                end=stop,
                first_frame_at=self.first_frame_at,
                pauses=pauses,
                seeks=seeks,
                stalls=stalls,
            )

        times = classify(t0, end)
        watched = _union_length(self.watched, self.duration)
        first_frame = self.first_frame_at is not None
        completed = first_frame and (
            self.ended
            or (self.duration is not None and watched >= COMPLETION_SHARE * self.duration)
        )
        return SessionFigures(
            play_session_id=self.play_session_id,
            app_session_id=self.app_session_id,
            device_id=self.device_id,
            video_id=self.video_id,
            location=self.location,
            started_at=self.started_at,
            app_version=self.app_version,
            os=self.os,
            first_frame=first_frame,
            startup_ms=self.startup_ms,
            stall_count=len(stalls),
            rebuffer_ms=round(times[_STALLED]),
            seek_count=self.seek_count,
            seek_latencies_ms=self.latencies,
            seek_ms=round(times[_SEEKING]),
            startup_phase_ms=round(times[_STARTUP]),
            playing_ms=round(times[_PLAYING]),
            paused_ms=round(times[_PAUSED]),
            watch_ms=round(times[_STARTUP] + times[_PLAYING] + times[_STALLED] + times[_SEEKING]),
            content_watched_ms=watched,
            duration_ms=self.duration,
            ended=self.ended,
            completed=completed,
            end_reason=self.end_reason,
            failure_category=self.failure_category,
            failure_phase=self.failure_phase,
            impression_id=self.impression_id,
            rendition_ms=self.renditions.playing_by_height(
                end, lambda a, b: classify(a, b)[_PLAYING]
            ),
            rendition_switches=self.renditions.switches,
            scaling_ms=dict(self.renditions.scaling),
        )


_HANDLERS: Final[dict[str, Any]] = {
    PLAY_REQUEST: SessionBuilder._play_request,
    PLAYER_READY: SessionBuilder._player_ready,
    FIRST_FRAME: SessionBuilder._first_frame,
    PAUSE: SessionBuilder._pause,
    RESUME: SessionBuilder._resume,
    SEEK_START: SessionBuilder._seek_start,
    SEEK_END: SessionBuilder._seek_end,
    REBUFFER_START: SessionBuilder._rebuffer_start,
    REBUFFER_END: SessionBuilder._rebuffer_end,
    HEARTBEAT: SessionBuilder._heartbeat,
    TRACK_CHANGE: SessionBuilder._track_change,
    ENDED: SessionBuilder._ended,
    ERROR: SessionBuilder._error,
    SESSION_END: SessionBuilder._session_end,
}


SESSION_EVENTS: Final = frozenset(_HANDLERS)


def _classify(
    t0: float,
    *,
    end: float,
    first_frame_at: float | None,
    pauses: list[tuple[float, float]],
    seeks: list[tuple[float, float]],
    stalls: list[tuple[float, float]],
) -> list[float]:
    """ms per state over [t0, end]; each moment goes to the highest-priority state it is in."""
    points = {t0, end}
    if first_frame_at is not None and t0 < first_frame_at < end:
        points.add(first_frame_at)
    for intervals in (pauses, seeks, stalls):
        for start, stop in intervals:
            points.update(p for p in (start, stop) if t0 < p < end)
    ordered = sorted(points)
    times = [0.0] * 5
    for a, b in itertools.pairwise(ordered):
        middle = (a + b) / 2
        if _inside(middle, pauses):
            state = _PAUSED
        elif _inside(middle, seeks):
            state = _SEEKING
        elif first_frame_at is None or middle < first_frame_at:
            state = _STARTUP
        elif _inside(middle, stalls):
            state = _STALLED
        else:
            state = _PLAYING
        times[state] += b - a
    return times


def _inside(moment: float, intervals: list[tuple[float, float]]) -> bool:
    return any(start <= moment < stop for start, stop in intervals)


def _union_length(ranges: list[tuple[int, int]], duration: int | None) -> int:
    """Total length of the union of [start, stop) ranges, clipped to the media's length."""
    total = 0
    reach: int | None = None
    limit = duration if duration is not None else math.inf
    for low, high in sorted(ranges):
        start = max(0, low, reach if reach is not None else 0)
        stop = min(high, limit)
        if stop > start:
            total += int(stop - start)
        reach = high if reach is None else max(reach, high)
    return total


def _int(value: object) -> int | None:
    """An integer property; JSON cannot tell 2 from 2.0, so an integral float counts too."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None
