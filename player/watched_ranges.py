"""The parts of a title that were actually played, as a union of media-time ranges.

`content_watched_ms` must not count a re-watched minute twice nor a skipped one at all, so the
play session adds each stretch the playhead moved through and this module keeps them merged.
Pure; one thread (the play session's).
"""

from __future__ import annotations

import bisect


class WatchedRanges:
    """A set of disjoint, sorted half-open ranges [start, end) in ms of media time."""

    def __init__(self) -> None:
        self._starts: list[int] = []
        self._ends: list[int] = []

    def add(self, start: int, end: int) -> None:
        """Adds [start, end); empty or reversed ranges are ignored."""
        if end <= start:
            return
        # Every range that overlaps or touches [start, end) is merged into it.
        first = bisect.bisect_left(self._ends, start)
        last = bisect.bisect_right(self._starts, end)
        if first < last:
            start = min(start, self._starts[first])
            end = max(end, self._ends[last - 1])
        self._starts[first:last] = [start]
        self._ends[first:last] = [end]

    @property
    def total_ms(self) -> int:
        return sum(end - start for start, end in zip(self._starts, self._ends, strict=True))

    def ranges(self) -> list[tuple[int, int]]:
        return list(zip(self._starts, self._ends, strict=True))
