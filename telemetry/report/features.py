"""The report's "features" section: how often viewers use the watching features (track changes,
chapter seeks, subtitle files and delay, screenshots, A-B loop, speed changes) and the up-next
card (shown, chosen, dismissed, and its take rate), from the events already in the vocabulary.

A second, light pass over the store, like the experiments': one query for just these event
types. An event recorded twice (the same launch, type, monotonic time and properties, whatever
its seq) counts once. Playback events count when their play session is in the report (so every
filter applies); post-play events pass the time, app version and OS filters, and the title
filter on the title the card followed. `docs/report.md` defines each figure.

Call from any one thread, with the report's connection.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final, TypeAlias

import orjson

from telemetry.contracts import event_types
from telemetry.report.figures import ratio
from telemetry.report.queries import Context, Filters, contexts

PLAYBACK: Final = (
    event_types.TRACK_CHANGE,
    event_types.SEEK_END,
    event_types.SUBTITLE_FILE_ADDED,
    event_types.SUBTITLE_DELAY_CHANGE,
    event_types.SCREENSHOT,
    event_types.AB_LOOP,
    event_types.RATE_CHANGE,
)
POSTPLAY: Final = (
    event_types.POSTPLAY_SERVED,
    event_types.POSTPLAY_SEEN,
    event_types.POSTPLAY_ACTION,
)
FEATURE_EVENTS: Final = (*PLAYBACK, *POSTPLAY)
CHOSEN: Final = frozenset({"play", "autoplay"})
NOT_AVAILABLE: Final = "n/a"

# What the pass reads of a stored event: (app_session_id, type, mono_ms, corrected_time,
# context_hash, play_session_id, raw).
FeatureRow: TypeAlias = tuple[str, str, int, int, bytes | None, str | None, bytes | str]

# One placeholder per type of FEATURE_EVENTS.
_SQL: Final = (
    "SELECT app_session_id, type, mono_ms, corrected_time, context_hash,"
    " play_session_id, CAST(raw AS BLOB) FROM events"
    " WHERE app_session_id IS NOT NULL AND type IN (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


@dataclass(slots=True)
class UpNext:
    """Post-play cards, each counted once by `postplay_id`. `chosen` and `dismissed` are
    cards seen and then acted on; `take_rate` is chosen / shown (None when none was shown)."""

    served: int
    shown: int
    chosen: int
    chosen_by_click: int
    autoplayed: int
    dismissed: int
    take_rate: float | None


@dataclass(slots=True)
class Features:
    audio_track_changes: int
    subtitle_track_changes: int
    chapter_seeks: int
    subtitle_files_added: int
    subtitle_delay_changes: int
    screenshots: int
    ab_loops_set: int  # `ab_loop` with action set_b: a loop closed
    speed_changes: int
    up_next: UpNext


def read_features(
    connection: sqlite3.Connection, filters: Filters, play_sessions: set[str]
) -> Features:
    """The features figures of a SQLite store (see `count_features`)."""
    rows = connection.execute(_SQL, FEATURE_EVENTS)
    return count_features(rows, contexts(connection), filters, play_sessions)


def count_features(
    rows: Iterable[FeatureRow],
    known: dict[bytes, Context],
    filters: Filters,
    play_sessions: set[str],
) -> Features:
    """The features figures for the events of `play_sessions` (the report's sessions) and the
    post-play cards inside `filters`, from `rows` of the types in `FEATURE_EVENTS`."""
    playback: Counter[str] = Counter()
    served: dict[str, bool] = {}  # postplay_id -> inside the filters
    seen: set[str] = set()
    actions: dict[str, str] = {}
    recorded: set[tuple[str, str, int, bytes]] = set()
    for launch, kind, mono, corrected, digest, session, raw in rows:
        props = _properties(raw)
        if props is None:
            continue
        key = (launch, kind, mono, orjson.dumps(props, option=orjson.OPT_SORT_KEYS))
        if key in recorded:
            continue
        recorded.add(key)
        if kind in POSTPLAY:
            card = props.get("postplay_id")
            if not isinstance(card, str):
                continue
            if kind == event_types.POSTPLAY_SERVED:
                served[card] = _selected(filters, known, corrected, digest) and (
                    filters.video_id in (None, props.get("video_id"))
                )
            elif kind == event_types.POSTPLAY_SEEN:
                seen.add(card)
            else:
                actions[card] = str(props.get("action"))
        elif session in play_sessions:
            playback[_playback_key(kind, props)] += 1
    counted = {card for card, inside in served.items() if inside}
    shown = counted & seen
    by_action = Counter(action for card, action in actions.items() if card in shown)
    chosen = sum(by_action[action] for action in CHOSEN)
    return Features(
        audio_track_changes=playback["track_change:audio"],
        subtitle_track_changes=playback["track_change:subtitle"],
        chapter_seeks=playback["seek_end:chapter"],
        subtitle_files_added=playback[event_types.SUBTITLE_FILE_ADDED],
        subtitle_delay_changes=playback[event_types.SUBTITLE_DELAY_CHANGE],
        screenshots=playback[event_types.SCREENSHOT],
        ab_loops_set=playback["ab_loop:set_b"],
        speed_changes=playback[event_types.RATE_CHANGE],
        up_next=UpNext(
            served=len(counted),
            shown=len(shown),
            chosen=chosen,
            chosen_by_click=by_action["play"],
            autoplayed=by_action["autoplay"],
            dismissed=by_action["dismiss"],
            take_rate=ratio(chosen, len(shown)),
        ),
    )


def _properties(raw: bytes | str) -> dict[str, Any] | None:
    try:
        props = orjson.loads(raw)["properties"]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return None
    return props if type(props) is dict else None


def _playback_key(kind: str, props: dict[str, Any]) -> str:
    if kind == event_types.TRACK_CHANGE:
        return f"{kind}:{props.get('kind')}"
    if kind == event_types.SEEK_END:
        return f"{kind}:{props.get('method')}"
    if kind == event_types.AB_LOOP:
        return f"{kind}:{props.get('action')}"
    return kind


def _selected(
    filters: Filters, known: dict[bytes, Context], corrected: int, digest: bytes | None
) -> bool:
    if not filters.in_time(corrected):
        return False
    context = known.get(digest or b"", Context(None, None))
    return filters.app_version in (None, context.app_version) and filters.os in (None, context.os)
