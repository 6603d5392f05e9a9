"""What the store says was served, seen and done, per feed: the logged data the trainer, the
counterfactual estimators and the report's experiments section read. Also a device's watch
history rebuilt from its events, for the rule-based policy on the server.

A feed is joined to its impressions by `request_id` and each impression to the first
`play_request` that names it in the same app session within 30 minutes (the report's
attribution rule, `telemetry/report/fold.py`). Feeds logged before the feed service existed
have no `variant`, `source` or propensities: they read as source "local", variant None.

Pure code over a read-only SQLite connection; any one thread per connection.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Final, TypeAlias

import orjson

from telemetry.contracts.event_types import IMPRESSION, PLAY_REQUEST, SESSION_END
from telemetry.contracts.events import FEED_SERVED

ATTRIBUTION_MS: Final = 30 * 60 * 1000

Cell = tuple[int, int]  # (row_index, rank)


@dataclass(slots=True)
class Slot:
    video_id: str
    row_id: str
    propensity: float | None
    impressed: bool = False
    play_session_id: str | None = None

    @property
    def played(self) -> bool:
        return self.play_session_id is not None


@dataclass(slots=True)
class Play:
    """A play session's outcome, from its `session_end` (absent fields read as 0)."""

    video_id: str
    watch_ms: int = 0
    watched_fraction: float = 0.0
    completed: bool = False


@dataclass(slots=True)
class LoggedFeed:
    request_id: str
    device_id: str
    app_session_id: str
    variant: str | None
    source: str
    explored: bool
    corrected_time: int = 0
    # Every row made by the rule-based policy (track ids `rules/...`): the feeds a re-ranking
    # of the rule rows can be evaluated on.
    rules_only: bool = False
    slots: dict[Cell, Slot] = field(default_factory=dict)

    def impressed(self) -> Iterator[tuple[Cell, Slot]]:
        return ((cell, slot) for cell, slot in self.slots.items() if slot.impressed)


@dataclass(slots=True)
class Logs:
    feeds: dict[str, LoggedFeed] = field(default_factory=dict)
    plays: dict[str, Play] = field(default_factory=dict)  # by play_session_id
    events: int = 0


TYPES: Final = (FEED_SERVED, IMPRESSION, PLAY_REQUEST, SESSION_END)
LogRow: TypeAlias = tuple[str, str | None, str | None, int | None, str | None, int, bytes | str]
_SQL: Final = (
    "SELECT type, device_id, app_session_id, mono_ms, play_session_id, corrected_time, raw"
    " FROM events"
    " WHERE source = 'reelscope' AND type IN (?, ?, ?, ?) ORDER BY id"
)


def read_logs(connection: sqlite3.Connection) -> Logs:
    """Every feed in the store with its impressions and attributed plays."""
    return logs_from_rows(connection.execute(_SQL, TYPES))


def logs_from_rows(rows: Iterable[LogRow]) -> Logs:
    """The feeds, impressions and attributed plays of `rows`: events of the types in `TYPES`
    in arrival order (a feed before the impressions of it), as (type, device_id,
    app_session_id, mono_ms, play_session_id, corrected_time, raw)."""
    logs = Logs()
    impressions: dict[str, tuple[LoggedFeed, Cell, int]] = {}  # impression_id -> slot
    for kind, device, app_session, mono, play_session, corrected, raw in rows:
        logs.events += 1
        try:
            props = orjson.loads(raw)["properties"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            continue
        if not isinstance(props, dict):
            continue
        if kind == FEED_SERVED:
            feed = _feed(props, device, app_session, corrected)
            if feed is not None:
                logs.feeds.setdefault(feed.request_id, feed)
        elif kind == IMPRESSION:
            _impression(props, app_session, mono, logs, impressions)
        elif kind == PLAY_REQUEST:
            _play(props, app_session, mono, play_session, logs, impressions)
        elif play_session in logs.plays:
            _ended(props, logs.plays[play_session])
    return logs


def _feed(
    props: dict[str, Any], device: str | None, app_session: str | None, corrected: int
) -> LoggedFeed | None:
    request, rows = props.get("request_id"), props.get("rows")
    if not isinstance(request, str) or not isinstance(rows, list):
        return None
    variant = props.get("variant")
    feed = LoggedFeed(
        request,
        device or "",
        app_session or "",
        variant if isinstance(variant, str) else None,
        "server" if props.get("source") == "server" else "local",
        props.get("explored") is True,
        corrected,
    )
    tracks = []
    for row in rows:
        try:
            row_id, index, items = row["row_id"], row["row_index"], row["items"]
            tracks.append(str(row.get("track_id")))
            for item in items:
                propensity = item.get("propensity")
                feed.slots[(int(index), int(item["rank"]))] = Slot(
                    str(item["video_id"]),
                    str(row_id),
                    float(propensity) if isinstance(propensity, int | float) else None,
                )
        except (KeyError, TypeError, ValueError, AttributeError):
            continue  # a malformed row is left out, the rest of the feed counts
    feed.rules_only = bool(tracks) and all(t.startswith("rules/") for t in tracks)
    return feed


def _impression(
    props: dict[str, Any],
    app_session: str | None,
    mono: int | None,
    logs: Logs,
    impressions: dict[str, tuple[LoggedFeed, Cell, int]],
) -> None:
    feed = logs.feeds.get(props.get("request_id"))  # type: ignore[arg-type]
    impression_id, row, rank = props.get("impression_id"), props.get("row_index"), props.get("rank")
    if feed is None or not isinstance(impression_id, str) or feed.app_session_id != app_session:
        return
    if not isinstance(row, int) or not isinstance(rank, int):
        return
    slot = feed.slots.get((row, rank))
    if slot is None or slot.video_id != props.get("video_id") or slot.impressed:
        return
    slot.impressed = True
    impressions[impression_id] = (feed, (row, rank), mono or 0)


def _play(  # noqa: PLR0917 - one event's columns, as read
    props: dict[str, Any],
    app_session: str | None,
    mono: int | None,
    play_session: str | None,
    logs: Logs,
    impressions: dict[str, tuple[LoggedFeed, Cell, int]],
) -> None:
    video = props.get("video_id")
    if play_session is None or not isinstance(video, str):
        return
    logs.plays.setdefault(play_session, Play(video))
    source = props.get("source")
    impression_id = source.get("impression_id") if isinstance(source, dict) else None
    found = impressions.get(impression_id) if isinstance(impression_id, str) else None
    if found is None:
        return
    feed, cell, shown_at = found
    slot = feed.slots[cell]
    if (
        slot.played
        or feed.app_session_id != app_session
        or not 0 <= (mono or 0) - shown_at <= ATTRIBUTION_MS
    ):
        return
    slot.play_session_id = play_session


def _ended(props: dict[str, Any], play: Play) -> None:
    watch, content, duration = (
        props.get("watch_ms"),
        props.get("content_watched_ms"),
        props.get("duration_ms"),
    )
    play.watch_ms = watch if isinstance(watch, int) else 0
    play.completed = props.get("reason") == "completed"
    if isinstance(content, int) and isinstance(duration, int) and duration > 0:
        play.watched_fraction = min(1.0, max(0.0, content / duration))
    if play.completed:
        play.watched_fraction = 1.0
