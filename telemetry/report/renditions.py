"""The renditions a play session showed: which picture height was on screen for how much of its
playing time, how often it switched, and whether the picture was scaled up or down to fit the
player's video area.

The rendition shown starts with `first_frame` (its `height`) and changes at each video
`track_change` that carries a new size (the client checks the picture shown about once a
second, so a switch is dated within a second). A heartbeat's played time is *upscaled* when the
picture had to grow to fit its video area (`min(window_width / width, window_height / height)`
above 1), *downscaled* when it had to shrink, *native* otherwise; heartbeats without both sizes
are not classified.

Pure code; any thread (the report's fold runs it per session).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

_SAME_SCALE: Final = 0.01  # within 1 % of the video area's size: shown at its own size
MS_PER_HOUR: Final = 3_600_000


@dataclass(slots=True)
class RenditionLog:
    """One session's rendition changes and heartbeat scaling, fed in seq order."""

    changes: list[tuple[float, int]] = field(default_factory=list)  # (mono ms, height)
    switches: int = 0
    scaling: Counter[str] = field(default_factory=Counter)  # heartbeat played ms by kind

    def first_frame(self, at: float, props: dict[str, Any]) -> None:
        height = _size(props.get("height"))
        if height is not None:
            self.changes.append((at, height))

    def track_change(self, mono: float, props: dict[str, Any]) -> None:
        height = _size(props.get("height"))
        if props.get("kind") != "video" or height is None or not self.changes:
            return  # not a picture change, or before the first frame (no rendition yet)
        if props.get("from_track") != props.get("to_track"):
            self.switches += 1
            self.changes.append((mono, height))

    def heartbeat(self, props: dict[str, Any]) -> None:
        kind = _scaling(props)
        played = props.get("played_ms")
        if kind is not None and isinstance(played, int | float) and played > 0:
            self.scaling[kind] += int(played)

    def playing_by_height(
        self, end: float, playing_in: Callable[[float, float], float]
    ) -> dict[int, int]:
        """Playing ms per height, `playing_in(a, b)` being the playing ms within [a, b)."""
        found: Counter[int] = Counter()
        bounds = [at for at, _ in self.changes[1:]] + [end]
        for (start, height), stop in zip(self.changes, bounds, strict=False):
            if stop > start:
                found[height] += round(playing_in(start, stop))
        return {height: ms for height, ms in sorted(found.items()) if ms > 0}


@dataclass(slots=True)
class RenditionFigures:
    """The renditions over many sessions."""

    playing_ms_by_height: dict[int, int]
    switches: int
    switches_per_hour: float | None  # per hour of playing time
    upscaled_share: float | None  # of the classified heartbeat playing time
    downscaled_share: float | None


def aggregate(
    by_height: list[dict[int, int]], switches: int, playing_ms: int, scaling: list[dict[str, int]]
) -> RenditionFigures:
    """Sums the sessions' figures (`by_height`, `scaling`: one dict per session)."""
    heights: Counter[int] = Counter()
    for shown in by_height:
        heights.update(shown)
    kinds: Counter[str] = Counter()
    for scaled in scaling:
        kinds.update(scaled)
    classified = sum(kinds.values())
    return RenditionFigures(
        playing_ms_by_height=dict(sorted(heights.items())),
        switches=switches,
        switches_per_hour=switches / (playing_ms / MS_PER_HOUR) if playing_ms > 0 else None,
        upscaled_share=kinds["upscaled"] / classified if classified else None,
        downscaled_share=kinds["downscaled"] / classified if classified else None,
    )


def _scaling(props: dict[str, Any]) -> str | None:
    sizes = [
        _size(props.get(name)) for name in ("width", "height", "window_width", "window_height")
    ]
    width, height, window_width, window_height = sizes
    if width is None or height is None or window_width is None or window_height is None:
        return None
    scale = min(window_width / width, window_height / height)
    if scale > 1 + _SAME_SCALE:
        return "upscaled"
    if scale < 1 - _SAME_SCALE:
        return "downscaled"
    return "native"


def _size(value: object) -> int | None:
    """A positive pixel size (JSON cannot tell 2 from 2.0, so an integral float counts too)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if value <= 0 or value != int(value):
        return None
    return int(value)
