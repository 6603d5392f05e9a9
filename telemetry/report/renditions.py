"""The renditions a play session showed: which picture height was on screen for how much of its
playing time, how often it switched, and whether the picture was scaled up or down to fit the
player's video area.

The rendition shown starts with `first_frame` (its `height`) and changes at each video
`track_change` that carries a new size (the client checks the picture shown about once a
second, so a switch is dated within a second). A heartbeat's played time is *upscaled* when the
picture had to grow to fit its video area (`min(window_width / width, window_height / height)`
above 1), *downscaled* when it had to shrink, *native* otherwise; heartbeats without both sizes
are not classified.

`sql/play_sessions.sql` measures each session; this module sums the sessions' figures.
Pure code; any thread.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Final

_SAME_SCALE: Final = 0.01  # within 1 % of the video area's size: shown at its own size
MS_PER_HOUR: Final = 3_600_000


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
