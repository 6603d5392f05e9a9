"""The one pass over the store: folds each launch's events (one app session, in seq order) into
a `Partial` of figures that can be merged with other passes' partials.

Everything the figures join lives inside one launch: a play session's events (except a
`session_end` a later launch sends after a crash), a feed and its impressions (the client makes
the `request_id`), and the take-rate attribution (same app session, within 30 minutes). So the
pass keeps one launch in memory at a time, and shards over app session ids can run in parallel.
The one cross-launch join, a crash-recovered `session_end`, is kept aside as a late end and
applied when partials are merged.

Pure code over `StoredEvent`s; one `Fold` per thread or process.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Final, TypeGuard

import orjson

from telemetry.contracts.event_types import HEARTBEAT, IMPRESSION, PLAY_REQUEST, TILE_VISIBILITY
from telemetry.contracts.events import FEED_SERVED
from telemetry.report.queries import Context, Filters, StoredEvent
from telemetry.report.sessions import SESSION_EVENTS, SessionBuilder, SessionFigures

ATTRIBUTION_MS: Final = 30 * 60 * 1000
# |corrected_time - time| at least this much is a clock-skew correction (the store's view).
SKEW_MS: Final = 1000

Cell = tuple[int, int]  # (row_index, rank)
TileKey = tuple[str, str, str]  # (request_id, row_id, video_id)
_UNKNOWN: Final = Context(None, None)
# Events whose properties carry figures; the others only extend their play session's timeline.
_PARSED: Final = frozenset({*SESSION_EVENTS, IMPRESSION, TILE_VISIBILITY, FEED_SERVED})


@dataclass
class Partial:
    """Figures from part of the store, mergeable with `merge`."""

    sessions: list[SessionFigures] = field(default_factory=list)
    late_ends: dict[str, str] = field(default_factory=dict)  # play_session_id -> reason
    unended: set[str] = field(default_factory=set)  # requested, no session_end in their launch
    ended: set[str] = field(default_factory=set)  # requested, with a session_end in their launch
    feeds: int = 0
    served: Counter[int] = field(default_factory=Counter)  # by row_index
    seen: Counter[int] = field(default_factory=Counter)  # served items with an impression
    deepest_rank: dict[int, list[int]] = field(default_factory=lambda: defaultdict(list))
    impressions: Counter[Cell] = field(default_factory=Counter)
    taken: Counter[Cell] = field(default_factory=Counter)
    dwell: dict[Cell, list[int]] = field(default_factory=lambda: defaultdict(list))
    title_impressions: dict[str, Counter[Cell]] = field(
        default_factory=lambda: defaultdict(Counter)
    )
    title_taken: Counter[str] = field(default_factory=Counter)
    title_served: Counter[str] = field(default_factory=Counter)
    title_seen: Counter[str] = field(default_factory=Counter)
    funnel_completed: int = 0
    app_sessions: int = 0
    devices: set[str] = field(default_factory=set)
    events: int = 0
    lost_events: int = 0
    duplicates: int = 0
    repeats: int = 0  # the same event recorded again under another seq (see `_Launch.add`)
    skew_corrected: int = 0

    def merge(self, other: Partial) -> None:
        self.sessions.extend(other.sessions)
        self.late_ends.update(other.late_ends)
        self.unended |= other.unended
        self.ended |= other.ended
        self.feeds += other.feeds
        self.served.update(other.served)
        self.seen.update(other.seen)
        for row, ranks in other.deepest_rank.items():
            self.deepest_rank[row].extend(ranks)
        self.impressions.update(other.impressions)
        self.taken.update(other.taken)
        for cell, values in other.dwell.items():
            self.dwell[cell].extend(values)
        for title, cells in other.title_impressions.items():
            self.title_impressions[title].update(cells)
        self.title_taken.update(other.title_taken)
        self.title_served.update(other.title_served)
        self.title_seen.update(other.title_seen)
        self.funnel_completed += other.funnel_completed
        self.app_sessions += other.app_sessions
        self.devices |= other.devices
        self.events += other.events
        self.lost_events += other.lost_events
        self.duplicates += other.duplicates
        self.repeats += other.repeats
        self.skew_corrected += other.skew_corrected


@dataclass(slots=True)
class _Impression:
    impression_id: str
    cell: Cell
    video_id: str
    mono: int
    counted: bool  # inside the filters
    taken: bool = False


class Fold:
    """Folds launches into a `Partial`. Feed it each launch's events together, in seq order
    (what `EventStream` yields)."""

    def __init__(self, filters: Filters, contexts: dict[bytes, Context]) -> None:
        self._filters = filters
        self._contexts = contexts
        self.partial = Partial()

    def feed(self, events: Iterable[StoredEvent]) -> None:
        # The hot loop of the report, once per stored event: locals only, and JSON parsed
        # only for the events whose properties carry figures.
        filters, contexts, partial = self._filters, self._contexts, self.partial
        unfiltered = filters == Filters()
        loads, parsed, skew = orjson.loads, _PARSED, SKEW_MS
        # Not a launch of the store: it only gets the first event's launch started.
        launch = _Launch("", None, filters, contexts, partial)
        current: str | None = None
        count = last_seq = skewed = 0
        any_selected = selected = False
        for event in events:
            kind, app_session, seq, mono, wall, corrected, device, digest, session, raw = event
            if app_session != current:
                if current is not None:
                    launch.finish(count, last_seq, skewed, any_selected)
                launch = _Launch(app_session, device, filters, contexts, partial)
                current = app_session
                count = skewed = 0
                any_selected = False
            count += 1
            last_seq = seq
            if not -skew < corrected - wall < skew:
                skewed += 1
            if not unfiltered:
                selected = launch.selected(corrected, digest)
            any_selected = any_selected or unfiltered or selected
            if kind not in parsed:
                if session is not None:
                    launch.touch(session, mono)
                continue
            try:
                props = loads(raw)["properties"]
            except (orjson.JSONDecodeError, KeyError, TypeError):
                continue
            if type(props) is dict:
                launch.add(event, props, unfiltered or selected)
        if current is not None:
            launch.finish(count, last_seq, skewed, any_selected)


class _Launch:
    """One app session being folded: its play sessions, feeds, impressions and plays."""

    def __init__(
        self,
        app_session_id: str,
        device_id: str | None,
        filters: Filters,
        contexts: dict[bytes, Context],
        partial: Partial,
    ) -> None:
        self.app_session_id = app_session_id
        self._device = device_id
        self._filters = filters
        self._contexts = contexts
        self._partial = partial
        self._builders: dict[str, SessionBuilder] = {}
        self._selected_sessions: set[str] = set()
        self._served: dict[tuple[str, str], tuple[int, list[str]]] = {}  # -> (row_index, videos)
        self._impressions: dict[TileKey, _Impression] = {}
        # Keyed by whatever the span says; only valid impression keys are ever looked up.
        self._visible_ms: dict[tuple[object, object, object], int] = {}
        self._plays: list[tuple[str, int, str]] = []  # (impression_id, mono, play_session_id)
        self._seen: set[tuple[str, int, str | None, bytes]] = set()

    def _context(self, context_hash: bytes | None) -> Context:
        return self._contexts.get(context_hash or b"", _UNKNOWN)

    def selected(self, corrected_time: int, context_hash: bytes | None) -> bool:
        """Whether an event passes the time, app version and OS filters."""
        filters = self._filters
        if not filters.in_time(corrected_time):
            return False
        if filters.app_version is None and filters.os is None:
            return True
        context = self._context(context_hash)
        return (filters.app_version is None or context.app_version == filters.app_version) and (
            filters.os is None or context.os == filters.os
        )

    def touch(self, session_id: str, mono: int) -> None:
        builder = self._builders.get(session_id)
        if builder is not None:
            builder.touch(mono)

    def add(self, event: StoredEvent, props: dict[str, Any], selected: bool) -> None:
        """An event whose properties carry figures (`props`)."""
        kind, mono, corrected, context_hash, session_id = (
            event[0], event[3], event[5], event[7], event[8]
        )  # fmt: skip
        # A copy under a new seq (a client or relay that re-records what it already sent) is
        # not caught by the (app_session_id, seq) identity. The same type, monotonic time and
        # properties within one launch is the same event: counted once, whatever its type.
        identity = (kind, mono, session_id, orjson.dumps(props, option=orjson.OPT_SORT_KEYS))
        if identity in self._seen:
            self._partial.repeats += 1
            return
        self._seen.add(identity)
        if session_id is not None:
            builder = self._builders.get(session_id)
            if builder is None:
                builder = SessionBuilder(session_id, self.app_session_id, self._device)
                self._builders[session_id] = builder
            if kind == HEARTBEAT:
                builder.heartbeat(mono, props)
            else:
                builder.add(kind, mono, corrected, props)
                if kind == PLAY_REQUEST:
                    self._requested(builder, mono, context_hash, selected)
        elif kind == TILE_VISIBILITY:
            half = props.get("ms_at_least_half_visible")
            if type(half) is int:
                key = (props.get("request_id"), props.get("row_id"), props.get("video_id"))
                visible = self._visible_ms
                visible[key] = visible.get(key, 0) + half
        elif kind == IMPRESSION:
            self._impression(mono, props, selected)
        elif kind == FEED_SERVED and selected:
            # A feed too large for one event comes in parts: counted once, rows joined.
            if props.get("part", 0) == 0:
                self._partial.feeds += 1
            _served_rows(props, self._served, self._filters.video_id)

    def _requested(
        self, builder: SessionBuilder, mono: int, context_hash: bytes | None, selected: bool
    ) -> None:
        builder.app_version, builder.os = self._context(context_hash)
        if selected and self._filters.video_id in (None, builder.video_id):
            self._selected_sessions.add(builder.play_session_id)
        if builder.impression_id is not None:
            self._plays.append((builder.impression_id, mono, builder.play_session_id))

    def _impression(self, mono: int, props: dict[str, Any], selected: bool) -> None:
        key = _tile_key(props)
        if key is None or key in self._impressions:
            return  # one impression per tile per feed
        impression_id, row, rank = (
            props.get("impression_id"),
            props.get("row_index"),
            props.get("rank"),
        )
        if isinstance(impression_id, str) and _is_int(row) and _is_int(rank):
            counted = selected and self._filters.video_id in (None, key[2])
            self._impressions[key] = _Impression(impression_id, (row, rank), key[2], mono, counted)

    def finish(self, events: int, last_seq: int, skewed: int, selected: bool) -> None:
        """The launch's last event was read: `events` of them, the last numbered `last_seq`,
        `skewed` of them clock-corrected, `selected` if any passed the filters."""
        partial = self._partial
        if selected:
            partial.app_sessions += 1
            if self._device is not None:
                partial.devices.add(self._device)
            partial.events += events
            # seq starts at 1 and reads in order: every missing number is a lost event.
            partial.lost_events += last_seq - events
            partial.skew_corrected += skewed
        figures: dict[str, SessionFigures] = {}
        for session_id, builder in self._builders.items():
            result = builder.figures()
            if result is None:
                # No play_request here: a crash-recovered end sent by this later launch (or a
                # session whose play_request was lost); resolved when partials are merged.
                partial.late_ends[session_id] = builder.end_reason or ""
                continue
            if result.end_reason is None:
                partial.unended.add(session_id)
            else:
                partial.ended.add(session_id)
            if session_id in self._selected_sessions:
                figures[session_id] = result
                partial.sessions.append(result)
        self._attribute(figures)
        self._count_impressions()
        self._count_served()

    def _attribute(self, figures: dict[str, SessionFigures]) -> None:
        """Each impression is taken by the first play_request that names it, in the same app
        session and within 30 minutes after it."""
        partial = self._partial
        by_id = {i.impression_id: i for i in self._impressions.values()}
        for impression_id, mono, session_id in self._plays:
            impression = by_id.get(impression_id)
            if (
                impression is None
                or impression.taken
                or not 0 <= mono - impression.mono <= ATTRIBUTION_MS
            ):
                continue
            impression.taken = True
            if not impression.counted:
                continue
            partial.taken[impression.cell] += 1
            partial.title_taken[impression.video_id] += 1
            session = figures.get(session_id)
            if session is not None:
                session.from_impression = True
                partial.funnel_completed += session.completed

    def _count_impressions(self) -> None:
        partial = self._partial
        deepest: dict[tuple[str, str], tuple[int, int]] = {}  # feed row -> (row_index, rank)
        for key, impression in self._impressions.items():
            if not impression.counted:
                continue
            cell = impression.cell
            partial.impressions[cell] += 1
            partial.title_impressions[impression.video_id][cell] += 1
            partial.dwell[cell].append(self._visible_ms.get(key, 0))
            feed_row = (key[0], key[1])
            if feed_row not in deepest or deepest[feed_row][1] < cell[1]:
                deepest[feed_row] = cell
        for row, rank in deepest.values():
            partial.deepest_rank[row].append(rank)

    def _count_served(self) -> None:
        """Served items per row and title; seen ones are those with an impression."""
        partial = self._partial
        served_at: dict[tuple[str, str], tuple[int, list[str]]] = self._served
        for row, videos in served_at.values():
            partial.served[row] += len(videos)
            partial.title_served.update(videos)
        for request, row_id, video in self._impressions:
            entry = served_at.get((request, row_id))
            if entry is not None and video in entry[1]:
                partial.seen[entry[0]] += 1
                partial.title_seen[video] += 1


def _tile_key(props: dict[str, Any]) -> TileKey | None:
    request, row, video = props.get("request_id"), props.get("row_id"), props.get("video_id")
    if isinstance(request, str) and isinstance(row, str) and isinstance(video, str):
        return (request, row, video)
    return None


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _served_rows(
    props: dict[str, Any],
    served: dict[tuple[str, str], tuple[int, list[str]]],
    video_id: str | None,
) -> None:
    """A `feed_served`'s rows: (request_id, row_id) -> (row_index, distinct video ids). A row
    cut across the parts of a large feed is joined."""
    request = props.get("request_id")
    rows = props.get("rows")
    if not isinstance(request, str) or not isinstance(rows, list):
        return
    for row in rows:
        try:
            row_id, index = row["row_id"], row["row_index"]
            videos = [item["video_id"] for item in row["items"]]
        except (KeyError, TypeError):
            continue  # a malformed row is left out, the rest of the feed counts
        if not isinstance(row_id, str) or not _is_int(index):
            continue
        distinct = [v for v in dict.fromkeys(videos) if isinstance(v, str)]
        if video_id is not None:
            distinct = [v for v in distinct if v == video_id]
        known = served.get((request, row_id))
        if known is None:
            served[(request, row_id)] = (index, distinct)
        else:  # the rest of a row cut across feed parts (or the same feed shown again)
            known[1].extend(v for v in distinct if v not in known[1])
