"""The seek-bar preview pictures of local titles: which picture a hovered position shows, and
where made pictures are kept so that hovering the same stretch again costs nothing.

A title's positions are cut into buckets (`preview_bucket_ms`): every position in a bucket
shows the picture of the bucket's start, so moving the pointer a little shows the same picture.
Pictures are small PNGs, keyed by the file's identity (path, size and modification time, hashed:
an edited or replaced file gets new pictures, and no path is stored in a name) and the bucket.
`ThumbnailCache` keeps the latest few in memory (a bounded LRU) and all of them on disk in the
cache dir, bounded in total bytes, the least recently used going first.

Threads: any. `remembered` only looks in memory (no I/O), for the GUI thread; `load` and `store`
touch the disk and belong on a worker thread. One lock guards the memory LRU and the counters.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import math
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Protocol

from player.atomic_file import replace_file

log = logging.getLogger("reelscope.player.thumbnails")

MAX_STEP_MS: Final = 10_000  # a long film: a picture every 10 s, as Jellyfin's trickplay does
MIN_STEP_MS: Final = 1_000
PICTURES_PER_TITLE: Final = 100  # titles under ~17 min get finer steps, down to MIN_STEP_MS
END_MARGIN_MS: Final = 1_000  # the thumbnailer plays on from its target: not past the end
MEMORY_ITEMS: Final = 128  # ~10 KB each at 160 px
DISK_BYTES: Final = 32 * 1024 * 1024


class Thumbnailer(Protocol):
    """Makes pictures of one title (`player.vlc_engine.VlcThumbnailer`). It blocks: call it,
    and release it, on one worker thread at a time."""

    def thumbnail(self, position_ms: int, path: Path, width: int) -> bool: ...

    def release(self) -> None: ...


@dataclass(frozen=True, slots=True)
class ThumbnailKey:
    identity: str  # `file_identity` of the title
    bucket_ms: int

    @property
    def file_name(self) -> str:
        return f"{self.identity}-{self.bucket_ms}.png"


def file_identity(path: Path) -> str:
    """A hash of the resolved path, size and modification time; raises OSError if it is gone."""
    resolved = path.expanduser().resolve()
    stat = resolved.stat()
    text = f"{resolved}\0{stat.st_size}\0{stat.st_mtime_ns}"
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def preview_step_ms(duration_ms: int) -> int:
    """The bucket width for a title this long: at most PICTURES_PER_TITLE pictures, in whole
    seconds from MIN_STEP_MS to MAX_STEP_MS."""
    step = math.ceil(max(0, duration_ms) / PICTURES_PER_TITLE / 1000) * 1000
    return min(MAX_STEP_MS, max(MIN_STEP_MS, step))


def preview_bucket_ms(position_ms: int, duration_ms: int) -> int:
    """The start of the bucket holding `position_ms`, whose picture previews it (never within
    END_MARGIN_MS of the end, where no picture can be played to)."""
    step = preview_step_ms(duration_ms)
    last = max(0, duration_ms - END_MARGIN_MS) // step * step
    return min(max(0, position_ms) // step * step, last)


class ThumbnailCache:
    """PNG bytes by `ThumbnailKey`: a memory LRU in front of a size-bounded folder."""

    def __init__(
        self,
        directory: Path,
        *,
        memory_items: int = MEMORY_ITEMS,
        disk_bytes: int = DISK_BYTES,
    ) -> None:
        self.directory = directory
        self._memory_items = memory_items
        self._disk_bytes = disk_bytes
        self._memory: OrderedDict[ThumbnailKey, bytes] = OrderedDict()
        self._lock = threading.Lock()
        self.memory_hits = 0
        self.disk_hits = 0
        self.misses = 0

    def remembered(self, key: ThumbnailKey) -> bytes | None:
        """The picture if it is in memory (no I/O; counts a memory hit)."""
        with self._lock:
            data = self._memory.get(key)
            if data is not None:
                self._memory.move_to_end(key)
                self.memory_hits += 1
            return data

    def load(self, key: ThumbnailKey) -> bytes | None:
        """From memory, else from disk (then kept in memory too); None counts a miss."""
        data = self.remembered(key)
        if data is not None:
            return data
        path = self.directory / key.file_name
        try:
            data = path.read_bytes()
            os.utime(path)  # eviction goes by modification time: a read keeps it
        except OSError:
            data = None
        with self._lock:
            if data:
                self.disk_hits += 1
                self._remember(key, data)
                return data
            self.misses += 1
            return None

    def scratch_path(self, key: ThumbnailKey) -> Path:
        """Where a thumbnailer may write the picture for `store_file` to take in."""
        self.directory.mkdir(parents=True, exist_ok=True)
        return self.directory / f".{key.file_name}.{threading.get_ident()}.part"

    def store_file(self, key: ThumbnailKey, made: Path) -> bytes:
        """Take in the picture a thumbnailer wrote to `made`, and return its bytes."""
        try:
            data = made.read_bytes()
        finally:
            made.unlink(missing_ok=True)
        self.store(key, data)
        return data

    def store(self, key: ThumbnailKey, data: bytes) -> None:
        with self._lock:
            self._remember(key, data)
        try:
            replace_file(self.directory / key.file_name, data)
        except OSError as exc:  # a full or read-only disk: previews still work from memory
            log.warning("cannot keep a preview picture in %s: %s", self.directory, exc)
            return
        self.trim(keep=key)

    def forget(self, key: ThumbnailKey) -> None:
        """Drop a picture found damaged, from memory and disk."""
        with self._lock:
            self._memory.pop(key, None)
        with contextlib.suppress(OSError):
            (self.directory / key.file_name).unlink()

    def disk_usage(self) -> int:
        return sum(size for _path, size, _mtime in self._pictures())

    def trim(self, *, keep: ThumbnailKey | None = None) -> None:
        """Remove the least recently used pictures (never `keep`, the one just stored, even if
        the clock ties) until the folder is within its bound."""
        pictures = sorted(self._pictures(), key=lambda picture: picture[2])
        total = sum(size for _path, size, _mtime in pictures)
        for path, size, _mtime in pictures:
            if total <= self._disk_bytes:
                break
            if keep is not None and path.name == keep.file_name:
                continue
            with contextlib.suppress(OSError):  # another Reelscope removed it first
                path.unlink()
            total -= size

    def _pictures(self) -> list[tuple[Path, int, int]]:
        found: list[tuple[Path, int, int]] = []
        try:
            entries = list(os.scandir(self.directory))
        except OSError:
            return found
        for entry in entries:
            if not entry.name.endswith(".png"):
                continue
            with contextlib.suppress(OSError):
                stat = entry.stat()
                found.append((Path(entry.path), stat.st_size, stat.st_mtime_ns))
        return found

    def _remember(self, key: ThumbnailKey, data: bytes) -> None:
        self._memory[key] = data
        self._memory.move_to_end(key)
        while len(self._memory) > self._memory_items:
            self._memory.popitem(last=False)
