"""Local folders of videos as a catalog: finds video files under a folder, takes each one's
duration and a poster frame from the video itself (through an injected `Probe`; the app uses
`player.vlc_engine.probe_media`), and caches both in the cache dir so a rescan only probes files
that are new or changed since the last one.

The cache index is a JSON file per folder in `cache_dir`, keyed by path with the file's size and
mtime; posters are PNGs next to it. Files that cannot be probed are reported as problems (and
remembered, so an unchanged broken file is not probed again); so are files that cannot even be
looked at (a dangling symlink, a permission error), which the next scan tries again. A cache that
cannot be saved costs only the next scan's time. What the folder as a whole cannot survive (no
libVLC to probe with, an unusable cache dir) raises, for the caller to report.

Threads: blocking file I/O and probing: call `scan()` off the GUI thread. One scanner per
folder at a time.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from player.atomic_file import replace_file
from player.catalog import Catalog, CatalogItem, CatalogProblem
from player.paths import cache_dir

_log = logging.getLogger(__name__)

VIDEO_SUFFIXES = frozenset(
    {".mp4", ".m4v", ".mkv", ".webm", ".mov", ".avi", ".ts", ".mpg", ".mpeg", ".ogv", ".wmv"}
)


class ProbeError(Exception):
    """The file could not be opened as a video."""


# (video file, where to write the poster PNG) -> (duration in ms, the poster written or None)
Probe = Callable[[Path, Path], tuple[int, Path | None]]


def default_cache_dir() -> Path:
    return cache_dir() / "library"


@dataclass(frozen=True, slots=True)
class _Probed:
    size: int
    mtime_ns: int
    duration_ms: int
    poster: str | None
    error: str | None


class FolderScanner:
    """Scans one folder (recursively) into a `Catalog`; each `scan()` is incremental."""

    def __init__(self, root: Path, *, probe: Probe, cache_dir: Path | None = None) -> None:
        self._root = root.resolve()
        self._probe = probe
        key = hashlib.sha1(str(self._root).encode(), usedforsecurity=False).hexdigest()[:16]
        self._cache_dir = (cache_dir or default_cache_dir()) / key
        self._index_path = self._cache_dir / "index.json"
        self.probe_count = 0  # how many files the last scan had to probe (the rest were cached)

    def scan(self) -> Catalog:
        """All videos under the folder, sorted by relative path."""
        index = self._load_index()
        fresh: dict[str, _Probed] = {}
        items: list[CatalogItem] = []
        problems: list[CatalogProblem] = []
        self.probe_count = 0
        for number, path in enumerate(self._videos()):
            try:
                stat = path.stat()
            except OSError as exc:
                # A dangling symlink, say: this file is skipped, not the whole folder.
                reason = exc.strerror or str(exc)
                problems.append(CatalogProblem(str(self._root), number, f"{path}: {reason}"))
                continue
            key = str(path)
            known = index.get(key)
            if known is None or (known.size, known.mtime_ns) != (stat.st_size, stat.st_mtime_ns):
                known = self._probe_one(path, stat.st_size, stat.st_mtime_ns)
            fresh[key] = known
            if known.error is not None:
                problems.append(CatalogProblem(str(self._root), number, f"{path}: {known.error}"))
                continue
            items.append(self._item(path, known, stat.st_mtime))
        self._save_index(fresh, index)
        return Catalog(tuple(items), tuple(problems), self._root.name)

    def _videos(self) -> list[Path]:
        found: list[Path] = []
        for folder, dirs, files in os.walk(self._root):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            found.extend(
                Path(folder) / name
                for name in files
                if not name.startswith(".") and Path(name).suffix.lower() in VIDEO_SUFFIXES
            )
        return sorted(found)

    def _probe_one(self, path: Path, size: int, mtime_ns: int) -> _Probed:
        self.probe_count += 1
        name = hashlib.sha1(str(path).encode(), usedforsecurity=False).hexdigest()[:20]
        self._cache_dir.mkdir(parents=True, exist_ok=True)
        try:
            duration_ms, poster = self._probe(path, self._cache_dir / f"{name}.png")
        except ProbeError as exc:
            return _Probed(size, mtime_ns, 0, None, str(exc) or "not a playable video")
        except OSError as exc:
            return _Probed(size, mtime_ns, 0, None, exc.strerror or str(exc))
        return _Probed(size, mtime_ns, duration_ms, str(poster) if poster else None, None)

    def _item(self, path: Path, probed: _Probed, mtime: float) -> CatalogItem:
        relative = path.relative_to(self._root)
        digest = hashlib.sha1(str(path).encode(), usedforsecurity=False).hexdigest()[:16]
        title = relative.stem.replace("_", " ").replace("-", " ").strip() or relative.name
        folder = relative.parent.name
        return CatalogItem(
            id=f"local:{digest}",
            title=title[:1].upper() + title[1:],
            media=str(path),
            description=str(relative),
            genres=(folder,) if folder else (),
            duration_ms=probed.duration_ms,
            poster=probed.poster,
            added=dt.datetime.fromtimestamp(mtime, tz=dt.UTC).date(),
        )

    def _load_index(self) -> dict[str, _Probed]:
        try:
            raw = json.loads(self._index_path.read_text(encoding="utf-8"))
            return {key: _Probed(**value) for key, value in raw.items()}
        except FileNotFoundError:
            return {}
        except (OSError, ValueError, TypeError) as exc:
            _log.warning("library cache %s unreadable (%s); rescanning", self._index_path, exc)
            return {}

    def _save_index(self, fresh: dict[str, _Probed], old: dict[str, _Probed]) -> None:
        for key, gone in old.items():
            if gone.poster and (key not in fresh or fresh[key].poster != gone.poster):
                Path(gone.poster).unlink(missing_ok=True)
        document = {
            key: {
                "size": p.size,
                "mtime_ns": p.mtime_ns,
                "duration_ms": p.duration_ms,
                "poster": p.poster,
                "error": p.error,
            }
            for key, p in fresh.items()
        }
        try:
            replace_file(self._index_path, json.dumps(document).encode())
        except OSError as exc:
            _log.warning("could not save the library cache %s: %s", self._index_path, exc)
