"""The picture side of a play session: when libVLC last showed a new picture, from its
displayed-pictures counter, read at each watchdog poll.

What the counter is, as seen on libVLC 3.0.24: the video output
counts every picture it shows, and also every redisplay of a still picture (every 80 ms), but the
count reaches the media's statistics only when the decoder hands over a new picture, and those
statistics are refreshed every 250-350 ms with the time reports. So the counter moves while the
decoder produces pictures and stands still while it produces none: a video track that has
stopped (its data late, a hole in it, a rendition switch still waiting for a keyframe) freezes
it even when the audio, and with it libVLC's playhead, goes on. The decoder runs up to ~1 s
ahead of the screen, so the counter stops up to that much before the picture does, and moves
again as much before the picture moves again: a freeze's length is right, its moment early.

Threads: the play session's owning thread only. No libVLC, no Qt.
"""

from __future__ import annotations

import math
from typing import Final

# A counter that stood still this many frame intervals (or the playhead watchdog's threshold,
# whichever is longer) is a frozen picture: low frame rates are not a freeze.
FROZEN_FRAMES: Final = 2.5
# How long one statistics refresh may lag: a reading taken at a seek may still lack the
# pictures shown in the last 350 ms before it.
STATS_LAG_MS: Final = 350.0
_DEFAULT_FPS: Final = 25.0


class PictureWatch:
    """Follows the displayed-pictures counter: its value and when it last moved."""

    def __init__(self) -> None:
        self._count: int | None = None
        self._changed_at = 0.0
        self._advances = 0
        self._fps = _DEFAULT_FPS

    @property
    def count(self) -> int:
        """The counter's last reading (0 before any)."""
        return self._count or 0

    @property
    def changed_at(self) -> float:
        """When the counter was last seen to move (session clock, ms)."""
        return self._changed_at

    @property
    def moving(self) -> bool:
        """The video is moving pictures: the counter has moved since the first reading and
        counted more than two (an audio-only file never moves it, a cover picture counts one or
        two, and neither ever freezes)."""
        return self._advances >= 1 and self.count > 2

    def set_fps(self, fps: float) -> None:
        """The video track's frame rate (0 when unknown)."""
        self._fps = fps if fps > 0 else _DEFAULT_FPS

    def read(self, at: float, count: int) -> bool:
        """A reading at `at`; True when the counter moved since the last one."""
        previous, self._count = self._count, count
        if previous is None:
            self._changed_at = at
            return False
        if count <= previous:
            return False
        self._changed_at = at
        self._advances += 1
        return True

    def frozen_ms(self, watchdog_ms: float) -> float:
        """How long the counter may stand still before the picture counts as frozen."""
        return max(watchdog_ms, FROZEN_FRAMES * 1000.0 / self._fps)

    def pictures_in(self, ms: float) -> int:
        """How many pictures the video shows in `ms` at its frame rate (rounded up)."""
        return math.ceil(ms * self._fps / 1000.0)
