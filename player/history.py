"""Watch history: where each video was left, how long it is, when it was last watched, and how
often it was played. Feeds resume positions to the player and the Continue Watching and Most
Watched rows to the home screen.

Stored as one small JSON document in the user *state* dir (`default_history_path()`), rewritten
atomically on every change (`player.atomic_file`: a uniquely named temp file, so a second
Reelscope saving at the same moment cannot tear it), so a crash leaves either the old or the
new history, never a torn file. A save that fails (a full disk, a read-only folder) is logged and
the history carries on in memory. An unreadable file is set aside as `<name>.corrupt` and history
starts empty: losing resume points is better than refusing to start.

Threads: any thread; one lock serialises reads and writes within a process.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from player.atomic_file import replace_file
from player.paths import state_dir

_log = logging.getLogger(__name__)

SCHEMA = 1
# Positions this close to either end are not worth offering as a resume point: the first few
# seconds are the title card, the last few percent the credits.
MIN_RESUME_MS = 5_000
COMPLETED_FRACTION = 0.95


def default_history_path() -> Path:
    """`history.json` in Reelscope's user state dir (it cannot be recreated, so not the cache)."""
    return state_dir() / "history.json"


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """What is known about one video's viewing. Times are wall-clock seconds since the epoch."""

    video_id: str
    position_ms: int = 0
    duration_ms: int = 0
    last_watched: float = 0.0
    play_count: int = 0
    completed_count: int = 0

    @property
    def progress(self) -> float:
        """Fraction of the video watched at the last position, 0.0 when unknown."""
        if self.duration_ms <= 0:
            return 0.0
        return min(1.0, max(0.0, self.position_ms / self.duration_ms))

    @property
    def resumable(self) -> bool:
        """True when the last position is a useful place to pick up from."""
        return self.position_ms >= MIN_RESUME_MS and (
            self.duration_ms <= 0 or self.progress < COMPLETED_FRACTION
        )


class WatchHistory:
    """The watch history of one user, persisted at `path`."""

    def __init__(self, path: Path, *, clock: Callable[[], float] = time.time) -> None:
        self._path = path
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: dict[str, HistoryEntry] = self._load()

    @property
    def path(self) -> Path:
        return self._path

    def record_play(self, video_id: str) -> None:
        """A play of `video_id` started: counts it and makes it the most recently watched."""
        with self._lock:
            entry = self._entries.get(video_id, HistoryEntry(video_id))
            self._put(replace(entry, play_count=entry.play_count + 1, last_watched=self._clock()))

    def record_progress(self, video_id: str, position_ms: int, duration_ms: int) -> None:
        """The playhead of `video_id` is at `position_ms` of `duration_ms` (0 when unknown)."""
        with self._lock:
            entry = self._entries.get(video_id, HistoryEntry(video_id))
            self._put(
                replace(
                    entry,
                    position_ms=max(0, int(position_ms)),
                    duration_ms=max(0, int(duration_ms)) or entry.duration_ms,
                    last_watched=self._clock(),
                )
            )

    def mark_completed(self, video_id: str) -> None:
        """`video_id` was watched to the end: no resume point, one more completion."""
        with self._lock:
            entry = self._entries.get(video_id, HistoryEntry(video_id))
            self._put(
                replace(
                    entry,
                    position_ms=0,
                    completed_count=entry.completed_count + 1,
                    last_watched=self._clock(),
                )
            )

    def forget(self, video_id: str) -> None:
        """Removes `video_id` from the history (and so from Continue Watching)."""
        with self._lock:
            if self._entries.pop(video_id, None) is not None:
                self._save()

    def resume_position(self, video_id: str) -> int | None:
        """Where to resume `video_id`, or None to start from the beginning."""
        with self._lock:
            entry = self._entries.get(video_id)
        return entry.position_ms if entry is not None and entry.resumable else None

    def entry(self, video_id: str) -> HistoryEntry | None:
        with self._lock:
            return self._entries.get(video_id)

    def entries(self) -> list[HistoryEntry]:
        """Every entry, most recently watched first (ties broken by id, for determinism)."""
        with self._lock:
            items = list(self._entries.values())
        return sorted(items, key=lambda e: (-e.last_watched, e.video_id))

    def _put(self, entry: HistoryEntry) -> None:
        self._entries[entry.video_id] = entry
        self._save()

    def _load(self) -> dict[str, HistoryEntry]:
        try:
            raw = json.loads(self._path.read_text(encoding="utf-8"))
            return {
                str(item["video_id"]): HistoryEntry(
                    video_id=str(item["video_id"]),
                    position_ms=int(item.get("position_ms", 0)),
                    duration_ms=int(item.get("duration_ms", 0)),
                    last_watched=float(item.get("last_watched", 0.0)),
                    play_count=int(item.get("play_count", 0)),
                    completed_count=int(item.get("completed_count", 0)),
                )
                for item in raw["entries"]
            }
        except FileNotFoundError:
            return {}
        except (OSError, ValueError, KeyError, TypeError) as exc:
            aside = self._path.with_name(self._path.name + ".corrupt")
            _log.warning("watch history %s unreadable (%s); moved to %s", self._path, exc, aside)
            try:
                os.replace(self._path, aside)
            except OSError:
                _log.warning("could not move %s aside", self._path)
            return {}

    def _save(self) -> None:
        document = {"schema": SCHEMA, "entries": [asdict(e) for e in self._entries.values()]}
        try:
            replace_file(self._path, json.dumps(document, indent=1).encode())
        except OSError as exc:
            _log.warning("could not save the watch history to %s: %s", self._path, exc)
