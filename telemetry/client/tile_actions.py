"""What was done with home-screen tiles: hover and focus dwell, and activation (click, Enter),
as `tile_action` events keyed by the tile's impression id.

A hover or focus is reported when it ends, with its dwell; a pointer merely passing over a tile
(under `min_dwell_ms`) is not reported, or a sweep across a row would log every tile on the way.
An activation is reported at once as `play`, with the longest running hover or focus dwell on
that tile (0 when it had neither) and its trigger (`click` or `enter`).

Threads: not thread-safe; one thread (the GUI thread in the app). No Qt: the clock and the
event sink are injected.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final, Literal

from telemetry.client.visibility import TileRef, Track

MIN_DWELL_MS: Final = 100.0

Trigger = Literal["click", "enter"]


class TileActionTracker:
    """Hover, focus and activation of tiles; at most one hovered and one focused at a time."""

    def __init__(
        self,
        track: Track,
        *,
        clock: Callable[[], float],
        impression_id: Callable[[TileRef], str],
        min_dwell_ms: float = MIN_DWELL_MS,
    ) -> None:
        self._track = track
        self._clock = clock  # monotonic milliseconds
        self._impression_id = impression_id
        self._min_dwell_ms = min_dwell_ms
        self._hover: tuple[TileRef, float] | None = None
        self._focus: tuple[TileRef, float] | None = None

    def hover_changed(self, ref: TileRef | None) -> None:
        """The pointer is now over `ref` (None: over no tile)."""
        self._hover = self._switch(self._hover, ref, "hover")

    def focus_changed(self, ref: TileRef | None) -> None:
        """Keyboard focus is now on `ref` (None: on no tile)."""
        self._focus = self._switch(self._focus, ref, "focus")

    def activated(self, ref: TileRef, trigger: Trigger) -> str:
        """`ref` was clicked or Enter was pressed on it; returns its impression id."""
        now = self._clock()
        held = [h for h in (self._hover, self._focus) if h is not None and h[0].key == ref.key]
        dwell = max((now - since for _, since in held), default=0.0)
        impression_id = self._impression_id(ref)
        self._track(
            "tile_action",
            {
                "impression_id": impression_id,
                "action": "play",
                "dwell_ms": round(dwell),
                "trigger": trigger,
            },
        )
        return impression_id

    def _switch(
        self, held: tuple[TileRef, float] | None, ref: TileRef | None, action: str
    ) -> tuple[TileRef, float] | None:
        if held is not None and ref is not None and held[0].key == ref.key:
            return held
        now = self._clock()
        if held is not None:
            dwell = now - held[1]
            if dwell >= self._min_dwell_ms:
                self._track(
                    "tile_action",
                    {
                        "impression_id": self._impression_id(held[0]),
                        "action": action,
                        "dwell_ms": round(dwell),
                    },
                )
        return None if ref is None else (ref, now)
