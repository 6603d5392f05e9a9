"""The event vocabulary: every event type Reelscope records, its properties, its eviction
priority and whether it is critical (committed and flushed at once).

This is the client's copy of the data contract in `events-and-metrics.md`. Validation is
hand-written and cheap on purpose: it runs inside `TelemetryClient.track()` on the caller's
thread (often the GUI thread), whose whole budget is ~10 µs. It checks presence, exact types
(a bool is not an int) and enumerated values of the top-level properties, and refuses property
names the spec does not know, so a typo fails in tests instead of becoming a silent column.
Nested values (`feed_served.rows`, `play_request.source`) are checked for type only.

Every playback event carries `play_session_id` so the report can join a session's events.
`first_frame` reports the resolution as `width` and `height` in pixels.

Pure data and functions; any thread.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Final

import orjson

SCHEMA: Final = 1


class Priority(IntEnum):
    """Eviction order when the outbox is full: the lowest value goes first, oldest first."""

    HEARTBEAT = 0
    VISIBILITY = 1
    BROWSE = 2
    SESSION = 3


class InvalidEventError(ValueError):
    """An event that breaks the vocabulary. Raised by `track()` only in strict mode."""

    def __init__(self, event_type: str, reason: str, detail: str) -> None:
        super().__init__(f"{event_type}: {detail}")
        self.event_type = event_type
        self.reason = reason


# Allowed runtime types per property. Exact `type(value) in ...` checks keep bool out of int.
_STR: Final[frozenset[type]] = frozenset({str})
_INT: Final[frozenset[type]] = frozenset({int})
_NUM: Final[frozenset[type]] = frozenset({int, float})
_BOOL: Final[frozenset[type]] = frozenset({bool})
_LIST: Final[frozenset[type]] = frozenset({list, tuple})
_DICT: Final[frozenset[type]] = frozenset({dict})
_OPT_STR: Final[frozenset[type]] = frozenset({str, type(None)})
_OPT_INT: Final[frozenset[type]] = frozenset({int, type(None)})
_OPT_NUM: Final[frozenset[type]] = frozenset({int, float, type(None)})
_TRACK_ID: Final[frozenset[type]] = frozenset({int, str, type(None)})


@dataclass(frozen=True, slots=True)
class EventSpec:
    """One event type: required and optional properties with their allowed types."""

    name: str
    priority: Priority
    critical: bool
    required: tuple[tuple[str, frozenset[type]], ...]
    optional: tuple[tuple[str, frozenset[type]], ...] = ()
    choices: tuple[tuple[str, frozenset[str]], ...] = ()

    def problem(self, properties: Mapping[str, object]) -> str | None:
        """Why `properties` does not fit this spec, or None when it does."""
        for name, types in self.required:
            value = properties.get(name, _MISSING)
            if value is _MISSING:
                return f"missing property {name!r}"
            if type(value) not in types:
                return f"property {name!r} has type {type(value).__name__}"
        known = len(self.required)
        for name, types in self.optional:
            value = properties.get(name, _MISSING)
            if value is not _MISSING:
                if type(value) not in types:
                    return f"property {name!r} has type {type(value).__name__}"
                known += 1
        for name, allowed in self.choices:
            value = properties.get(name)
            if value is not None and value not in allowed:
                return f"property {name!r} is {value!r}, not one of {sorted(allowed)}"
        if len(properties) != known:
            names = {n for n, _ in self.required} | {n for n, _ in self.optional}
            unknown = sorted(str(k) for k in properties if k not in names)
            return f"unknown properties {unknown}"
        return None


_MISSING: Final = object()


def _spec(
    name: str,
    priority: Priority,
    required: Mapping[str, frozenset[type]],
    optional: Mapping[str, frozenset[type]] | None = None,
    choices: Mapping[str, frozenset[str]] | None = None,
    *,
    critical: bool = False,
) -> EventSpec:
    return EventSpec(
        name=name,
        priority=priority,
        critical=critical,
        required=tuple(required.items()),
        optional=tuple((optional or {}).items()),
        choices=tuple((choices or {}).items()),
    )


def _playback(
    name: str,
    required: Mapping[str, frozenset[type]],
    optional: Mapping[str, frozenset[type]] | None = None,
    choices: Mapping[str, frozenset[str]] | None = None,
    *,
    priority: Priority = Priority.SESSION,
    critical: bool = False,
) -> EventSpec:
    return _spec(
        name,
        priority,
        {"play_session_id": _STR, **required},
        optional,
        choices,
        critical=critical,
    )


_POSITION: Final = {"position_ms": _INT}
_SEEK: Final = {"from_ms": _INT, "to_ms": _INT, "method": _STR}
_SEEK_METHODS: Final = {
    "method": frozenset({"mouse", "key", "chapter", "inferred", "loop", "remote"})
}
_REBUFFER_TRIGGERS: Final = {"trigger": frozenset({"buffering", "watchdog", "frozen_picture"})}
# What the desktop's media controls (MPRIS) may ask for.
REMOTE_COMMANDS: Final = frozenset(
    {
        "play", "pause", "play_pause", "stop", "next", "previous", "seek", "set_position",
        "open_uri", "raise", "quit",
    }
)  # fmt: skip
SESSION_END_REASONS: Final = frozenset(
    {"completed", "user_stop", "navigated", "next_item", "app_exit", "error", "crash_recovered"}
)

FEED_SERVED: Final = "feed_served"

SPECS: Final[Mapping[str, EventSpec]] = {
    spec.name: spec
    for spec in (
        # Browse
        _spec(
            FEED_SERVED,
            Priority.BROWSE,
            {"request_id": _STR, "location": _STR, "rows": _LIST},
            # Who built the feed (the app's local rules, or GET /v1/feed), the experiment
            # variant and whether it was explored; items may carry `propensity`. Optional:
            # feeds stored before the feed service existed have none of these. A feed too large
            # for one event goes as parts 0..parts-1 (`feed_served_parts`).
            optional={
                "source": _STR,
                "variant": _OPT_STR,
                "explored": _BOOL,
                "part": _INT,
                "parts": _INT,
            },
            choices={"source": frozenset({"local", "server"})},
        ),
        _spec(
            "tile_visibility",
            Priority.VISIBILITY,
            {
                "request_id": _STR,
                "row_id": _STR,
                "row_index": _INT,
                "rank": _INT,
                "video_id": _STR,
                "start_mono": _INT,
                "end_mono": _INT,
                "max_visible_fraction": _NUM,
                "ms_at_least_half_visible": _INT,
                "end_reason": _STR,
            },
        ),
        _spec(
            "impression",
            Priority.BROWSE,
            {
                "impression_id": _STR,
                "request_id": _STR,
                "row_id": _STR,
                "row_index": _INT,
                "rank": _INT,
                "video_id": _STR,
                "track_id": _STR,
                "location": _STR,
            },
        ),
        _spec(
            "tile_action",
            Priority.BROWSE,
            {"impression_id": _STR, "action": _STR, "dwell_ms": _INT},
            optional={"trigger": _STR},
            choices={
                "action": frozenset({"play", "details", "hover", "focus"}),
                "trigger": frozenset({"click", "enter"}),
            },
        ),
        # Playback
        _playback(
            "play_request",
            {"video_id": _STR, "source": _DICT, "start_position_ms": _INT},
        ),
        _playback("player_ready", {"open_ms": _INT, "duration_ms": _OPT_INT}),
        _playback(
            "first_frame",
            {
                # None when a pause or seek came first: that wait is not startup time.
                "startup_ms": _OPT_INT,
                "codec": _OPT_STR,
                "width": _OPT_INT,
                "height": _OPT_INT,
                "fps": _OPT_NUM,
            },
            # The video area the picture is scaled to, in device pixels.
            optional={"window_width": _OPT_INT, "window_height": _OPT_INT},
        ),
        _playback("pause", _POSITION),
        _playback("resume", _POSITION),
        _playback("seek_start", _SEEK, choices=_SEEK_METHODS),
        _playback("seek_end", {**_SEEK, "seek_latency_ms": _INT}, choices=_SEEK_METHODS),
        _playback(
            "rebuffer_start",
            {"trigger": _STR, **_POSITION},
            choices=_REBUFFER_TRIGGERS,
        ),
        _playback(
            "rebuffer_end",
            {"trigger": _STR, **_POSITION, "stall_ms": _INT},
            choices=_REBUFFER_TRIGGERS,
        ),
        _playback(
            "heartbeat",
            {
                **_POSITION,
                "played_ms": _INT,
                "stall_ms": _INT,
                "displayed_pictures": _INT,
                "lost_pictures": _INT,
                "lost_audio_buffers": _INT,
                "demux_bitrate": _NUM,
            },
            # The picture shown at the beat (the rendition, for adaptive streams), and the video
            # area it is scaled to, in device pixels.
            optional={
                "width": _OPT_INT,
                "height": _OPT_INT,
                "window_width": _OPT_INT,
                "window_height": _OPT_INT,
            },
            priority=Priority.HEARTBEAT,
        ),
        _playback("rate_change", {"from_rate": _NUM, "to_rate": _NUM}),
        _playback(
            "volume_change",
            {"from_volume": _INT, "to_volume": _INT},
            optional={"muted": _BOOL},
        ),
        _playback(
            "track_change",
            {"kind": _STR, "from_track": _TRACK_ID, "to_track": _TRACK_ID},
            # A video change: the picture now shown (an adaptive stream's new rendition) and
            # the bitrate libVLC measures demuxing it, in bits/s.
            optional={"width": _OPT_INT, "height": _OPT_INT, "bitrate": _OPT_NUM},
            choices={"kind": frozenset({"audio", "video", "subtitle"})},
        ),
        _playback("window_change", {"fullscreen": _BOOL, "exposed": _BOOL, "active": _BOOL}),
        _playback(
            "error",
            {"fatal": _BOOL, "phase": _STR, "category": _STR, "message": _STR},
            optional={"position_ms": _OPT_INT},
            choices={"phase": frozenset({"startup", "playback"})},
            critical=True,
        ),
        _playback("ended", _POSITION),
        _playback(
            "session_end",
            {"reason": _STR},
            optional={
                "startup_ms": _OPT_INT,
                "playing_ms": _INT,
                "rebuffer_ms": _INT,
                "rebuffer_count": _INT,
                "seek_ms": _INT,
                "watch_ms": _INT,
                "content_watched_ms": _INT,
                "position_ms": _INT,
                "duration_ms": _OPT_INT,
            },
            choices={"reason": SESSION_END_REASONS},
            critical=True,
        ),
        # Watching features: subtitles, screenshots, A-B loop
        _playback(
            "subtitle_file_added",
            {"method": _STR, "format": _STR},
            choices={"method": frozenset({"menu", "drop"})},
        ),
        _playback("subtitle_delay_change", {"from_ms": _INT, "to_ms": _INT}),
        _playback("screenshot", _POSITION),
        _playback(
            "ab_loop",
            {"action": _STR, "a_ms": _INT},
            optional={"b_ms": _OPT_INT},
            choices={"action": frozenset({"set_a", "set_b", "clear"})},
        ),
        # Up next: the post-play card is browse data, like a tile.
        _spec(
            "postplay_served",
            Priority.BROWSE,
            {
                "postplay_id": _STR,
                "video_id": _STR,
                "next_video_id": _STR,
                "origin": _STR,
                "autoplay": _BOOL,
                "countdown_ms": _INT,
            },
            choices={"origin": frozenset({"queue", "feed", "folder"})},
        ),
        _spec("postplay_seen", Priority.BROWSE, {"postplay_id": _STR}),
        _spec(
            "postplay_action",
            Priority.BROWSE,
            {"postplay_id": _STR, "action": _STR, "dwell_ms": _INT},
            choices={"action": frozenset({"play", "autoplay", "dismiss"})},
        ),
        _playback(
            "remote_control",
            {"command": _STR},
            choices={"command": REMOTE_COMMANDS},
        ),
        # App lifecycle
        _spec("app_start", Priority.SESSION, {}, optional={"startup_ms": _INT}),
        _spec(
            "app_exit",
            Priority.SESSION,
            {},
            optional={"reason": _STR, "uptime_ms": _INT},
            critical=True,
        ),
    )
}


def feed_served_parts(properties: Mapping[str, object], max_bytes: int) -> list[dict[str, object]]:
    """A `feed_served` too large for one event as consecutive parts, each with the feed's
    other properties, `part` (0-based) and `parts`, and rows whose serialised properties fit
    in `max_bytes`. Rows stay whole when they fit, else are cut into consecutive runs of
    items under the same `row_id`, `row_index`, `track_id` and `title` (ranks unchanged): the
    report joins the parts by `request_id` and `row_id`. Only an item alone over the limit
    leaves a part too large. Runs on the caller's thread, but only for such feeds."""
    head = {name: value for name, value in properties.items() if name != "rows"}
    rows = properties.get("rows")
    if not isinstance(rows, (list, tuple)):
        return [dict(properties)]
    # Room for the part numbers' digits.
    budget = max_bytes - len(orjson.dumps({**head, "rows": [], "part": 0, "parts": 0})) - 16
    parts = _pack([piece for row in rows for piece in _row_pieces(row, budget)], budget, 0)
    return [{**head, "rows": part, "part": n, "parts": len(parts)} for n, part in enumerate(parts)]


def _pack(values: Sequence[object], budget: int, fixed: int) -> list[list[object]]:
    """`values` in consecutive groups whose JSON array (plus `fixed` bytes) fits `budget`."""
    groups: list[list[object]] = []
    group: list[object] = []
    size = fixed
    for value in values:
        length = len(orjson.dumps(value)) + 1
        if group and size + length > budget:
            groups.append(group)
            group, size = [], fixed
        group.append(value)
        size += length
    if group:
        groups.append(group)
    return groups


def _row_pieces(row: object, budget: int) -> list[object]:
    items = row.get("items") if isinstance(row, dict) else None
    if not isinstance(row, dict) or not isinstance(items, (list, tuple)):
        return [row]
    if len(orjson.dumps(row)) <= budget:
        return [row]
    shell = {name: value for name, value in row.items() if name != "items"}
    fixed = len(orjson.dumps({**shell, "items": []}))
    return [{**shell, "items": run} for run in _pack(items, budget, fixed)]
