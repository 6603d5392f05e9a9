"""What was seen on the home screen: turns a stream of visibility snapshots (each tile's visible
fraction, and whether the window is exposed and active) into raw `tile_visibility` spans and
`impression` events by the rule in `events-and-metrics.md`:

- an impression needs >= 50 % of the tile visible, the window active, for 1 continuous second;
  the timer resets when the tile drops under 50 % and pauses (keeps its count) while the window
  is inactive; at most one per (request_id, row_id, video_id);
- a span is a stretch in one visibility band (hidden, under half, at least half, full) with the
  window in one state; it ends when the band or the window state changes. `end_reason` is one of
  `hidden`, `below_half`, `at_least_half`, `below_full`, `fully_visible`, `window_inactive`,
  `window_active`, `closed`. `ms_at_least_half_visible` counts only time with the window active.

The impression id for a tile is minted the first time the tile is seen (or asked for) and the
`impression` event reuses it, so a click on a tile that has not qualified yet still carries an
id a report can join on. An impression that `track` did not record (it returns None: the viewer
has not opted in yet) may qualify again after `recording_started()`, under the same id, so the
plays of a feed shown before consent still join to their impressions.

A snapshot only says what is true *now*: between snapshots the caller must call `poll()` at
`next_deadline()` for impressions to fire on time. Evaluation is exact to the clock readings of
the snapshots.

Threads: not thread-safe; one thread (the GUI thread in the app). No Qt: the clock and the
event sink are injected.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final

Track = Callable[[str, Mapping[str, object]], "str | None"]

MIN_VISIBLE_FRACTION: Final = 0.5
MIN_DWELL_MS: Final = 1000.0

_HIDDEN, _PARTIAL, _HALF, _FULL = range(4)


@dataclass(frozen=True, slots=True)
class TileRef:
    """One tile in one served feed: everything its events need to be joined."""

    request_id: str
    location: str
    row_id: str
    row_index: int
    track_id: str
    rank: int
    video_id: str

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.request_id, self.row_id, self.video_id)


def _band(fraction: float) -> int:
    if fraction <= 0.0:
        return _HIDDEN
    if fraction < MIN_VISIBLE_FRACTION:
        return _PARTIAL
    return _FULL if fraction >= 1.0 else _HALF


def _end_reason(old: int, new: int) -> str:
    if new == _HIDDEN:
        return "hidden"
    if new == _PARTIAL:
        return "below_half"
    if new == _FULL:
        return "fully_visible"
    return "below_full" if old == _FULL else "at_least_half"


class _Tile:
    __slots__ = ("band", "max_fraction", "ref", "run_ms", "run_since", "span_active", "span_start")

    def __init__(self, ref: TileRef) -> None:
        self.ref = ref
        self.band = _HIDDEN
        self.span_start = 0.0
        self.span_active = False  # the window state for the whole span
        self.max_fraction = 0.0
        self.run_ms = 0.0  # the impression timer, banked while paused
        self.run_since: float | None = None  # when the running part of the timer started


class VisibilityTracker:
    """Dwell and impression bookkeeping for the tiles of one or more feeds."""

    def __init__(
        self,
        track: Track,
        *,
        clock: Callable[[], float],
        new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
        min_dwell_ms: float = MIN_DWELL_MS,
    ) -> None:
        self._track = track
        self._clock = clock  # monotonic milliseconds
        self._new_id = new_id
        self._min_dwell_ms = min_dwell_ms
        self._tiles: dict[tuple[str, str, str], _Tile] = {}
        self._ids: dict[tuple[str, str, str], str] = {}
        self._impressed: set[tuple[str, str, str]] = set()
        self._unrecorded: set[tuple[str, str, str]] = set()  # impressed, but track() dropped it
        self._active = False

    def update(self, fractions: Mapping[TileRef, float], *, window_active: bool) -> None:
        """A snapshot: every tile with a visible fraction > 0 (absent tiles are hidden)."""
        now = self._clock()
        self._fire_due(now)
        window_changed = window_active != self._active
        self._active = window_active
        incoming = {ref.key: (ref, fraction) for ref, fraction in fractions.items()}
        for key, tile in list(self._tiles.items()):
            if key not in incoming:
                self._apply(tile, 0.0, now, window_changed)
                del self._tiles[key]
        for key, (ref, fraction) in incoming.items():
            known = self._tiles.get(key)
            if known is None:
                if fraction <= 0.0:
                    continue
                known = self._tiles[key] = _Tile(ref)
                self._ids.setdefault(key, self._new_id())
            tile = known
            self._apply(tile, min(1.0, fraction), now, window_changed)
            if tile.band == _HIDDEN:
                del self._tiles[key]

    def poll(self) -> None:
        """Fires the impressions that have become due since the last snapshot."""
        self._fire_due(self._clock())

    def next_deadline(self) -> float | None:
        """The clock reading at which the next impression becomes due, if one is running."""
        deadlines = [
            tile.run_since + self._min_dwell_ms - tile.run_ms
            for key, tile in self._tiles.items()
            if tile.run_since is not None and key not in self._impressed
        ]
        return min(deadlines, default=None)

    def impression_id(self, ref: TileRef) -> str:
        """The tile's impression id (minted now if the tile was never seen)."""
        return self._ids.setdefault(ref.key, self._new_id())

    def has_impression(self, ref: TileRef) -> bool:
        return ref.key in self._impressed

    def recording_started(self) -> None:
        """`track` records from now on (the viewer opted in): the spans open so far and the
        impressions it dropped are forgotten, so the next snapshot starts spans and impression
        timers afresh from now. Impression ids are kept."""
        self._impressed -= self._unrecorded
        self._unrecorded.clear()
        self._tiles.clear()

    def close(self) -> None:
        """Ends every open span (the feed is being replaced, or the app is closing)."""
        now = self._clock()
        self._fire_due(now)
        for tile in self._tiles.values():
            self._end_span(tile, now, "closed")
        self._tiles.clear()

    def _apply(self, tile: _Tile, fraction: float, now: float, window_changed: bool) -> None:
        band = _band(fraction)
        if tile.band != _HIDDEN and (band != tile.band or window_changed):
            if band != tile.band:
                reason = _end_reason(tile.band, band)
            else:
                reason = "window_active" if self._active else "window_inactive"
            self._end_span(tile, now, reason)
        if band != _HIDDEN and (tile.band == _HIDDEN or band != tile.band or window_changed):
            tile.span_start = now
            tile.span_active = self._active
            tile.max_fraction = 0.0
        tile.band = band
        tile.max_fraction = max(tile.max_fraction, fraction)
        if band < _HALF:
            tile.run_ms, tile.run_since = 0.0, None
        elif not self._active:
            if tile.run_since is not None:
                tile.run_ms += now - tile.run_since
                tile.run_since = None
        elif tile.run_since is None:
            tile.run_since = now

    def _end_span(self, tile: _Tile, now: float, reason: str) -> None:
        ref = tile.ref
        half_ms = now - tile.span_start if tile.band >= _HALF and tile.span_active else 0.0
        self._track(
            "tile_visibility",
            {
                "request_id": ref.request_id,
                "row_id": ref.row_id,
                "row_index": ref.row_index,
                "rank": ref.rank,
                "video_id": ref.video_id,
                "start_mono": round(tile.span_start),
                "end_mono": round(now),
                "max_visible_fraction": round(tile.max_fraction, 3),
                "ms_at_least_half_visible": round(half_ms),
                "end_reason": reason,
            },
        )

    def _fire_due(self, now: float) -> None:
        for key, tile in self._tiles.items():
            if key in self._impressed or tile.run_since is None:
                continue
            if tile.run_ms + (now - tile.run_since) >= self._min_dwell_ms:
                self._impressed.add(key)
                ref = tile.ref
                recorded = self._track(
                    "impression",
                    {
                        "impression_id": self._ids[key],
                        "request_id": ref.request_id,
                        "row_id": ref.row_id,
                        "row_index": ref.row_index,
                        "rank": ref.rank,
                        "video_id": ref.video_id,
                        "track_id": ref.track_id,
                        "location": ref.location,
                    },
                )
                if recorded is None:
                    self._unrecorded.add(key)
