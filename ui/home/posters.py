"""Poster images for the tiles: decoded (and scaled to tile size) as `QImage`s on a small
`QThreadPool`, turned into `QPixmap`s on the GUI thread (pixmaps, and `QPixmapCache`, belong to
the GUI thread), kept in a bounded LRU so a 5 000-title catalog does not hold every poster.

Remote posters (http/https) are fetched by the worker with `requests` and cached on disk in the
user cache dir. Until a poster is ready `pixmap()` returns None and the delegate paints a
placeholder; `poster_ready(path)` then tells models to repaint.

Threads: `PosterCache` is GUI-thread only; `_DecodeJob.run` runs on the pool and only touches
its own QImage and the relay's queued signal.
"""

from __future__ import annotations

import hashlib
import logging
from collections import OrderedDict
from pathlib import Path

from PySide6.QtCore import QObject, QRunnable, QSize, Qt, QThreadPool, Signal
from PySide6.QtGui import QImage, QPixmap

from player.paths import cache_dir
from player.sources import is_url

log = logging.getLogger("reelscope.ui.posters")

MAX_PIXMAPS = 600


class _Relay(QObject):
    """Lives on the GUI thread; workers emit through it, so delivery is queued there."""

    decoded = Signal(str, QImage)


class _DecodeJob(QRunnable):
    def __init__(self, path: str, size: QSize, relay: _Relay, disk_cache: Path) -> None:
        super().__init__()
        self._path = path
        self._size = size
        self._relay = relay
        self._disk_cache = disk_cache

    def run(self) -> None:
        import requests  # ~100 ms to import: kept off start-up, paid once on a pool thread

        image = QImage()
        try:
            local = self._fetch() if is_url(self._path) else self._path
            if local is not None:
                image.load(str(local))
        except (OSError, requests.RequestException) as exc:
            log.info("poster %s unavailable: %s", self._path, exc)
        if not image.isNull():
            image = image.scaled(
                self._size,
                Qt.AspectRatioMode.KeepAspectRatioByExpanding,
                Qt.TransformationMode.SmoothTransformation,
            )
        self._relay.decoded.emit(self._path, image)

    def _fetch(self) -> Path | None:
        digest = hashlib.sha1(self._path.encode(), usedforsecurity=False).hexdigest()
        target = self._disk_cache / digest
        if not target.exists():
            import requests

            response = requests.get(self._path, timeout=10)
            response.raise_for_status()
            self._disk_cache.mkdir(parents=True, exist_ok=True)
            target.write_bytes(response.content)
        return target


class PosterCache(QObject):
    """Pixmaps by poster path, decoded on demand off the GUI thread."""

    poster_ready = Signal(str)

    def __init__(self, size: QSize, parent: QObject | None = None, *, threads: int = 2) -> None:
        super().__init__(parent)
        self._size = size
        self._pixmaps: OrderedDict[str, QPixmap] = OrderedDict()
        self._failed: set[str] = set()
        self._pending: set[str] = set()
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(threads)
        self._relay = _Relay(self)
        self._relay.decoded.connect(self._on_relay_decoded)
        self._disk_cache = cache_dir() / "posters"

    def pixmap(self, path: str) -> QPixmap | None:
        """The poster if decoded; otherwise None, and a decode is queued (once)."""
        pixmap = self._pixmaps.get(path)
        if pixmap is not None:
            self._pixmaps.move_to_end(path)
            return pixmap
        if path not in self._pending and path not in self._failed:
            self._pending.add(path)
            self._pool.start(_DecodeJob(path, self._size, self._relay, self._disk_cache))
        return None

    def is_idle(self) -> bool:
        return not self._pending

    def shutdown(self, timeout_ms: int = 5000) -> None:
        """Drops queued decodes and waits for running ones (call before the app quits)."""
        self._pool.clear()
        self._pool.waitForDone(timeout_ms)

    def _on_relay_decoded(self, path: str, image: QImage) -> None:
        self._pending.discard(path)
        if image.isNull():
            self._failed.add(path)
            return
        self._pixmaps[path] = QPixmap.fromImage(image)
        while len(self._pixmaps) > MAX_PIXMAPS:
            self._pixmaps.popitem(last=False)
        self.poster_ready.emit(path)
