"""Poster images for the tiles: decoded (and scaled to tile size) as `QImage`s on a small
`QThreadPool`, turned into `QPixmap`s on the GUI thread (pixmaps, and `QPixmapCache`, belong to
the GUI thread), kept in a bounded LRU so a 5 000-title catalog does not hold every poster.

Remote posters (http/https) are fetched by the worker with `requests` and cached on disk in the
user cache dir. Until a poster is ready `pixmap()` returns None and the delegate paints a
placeholder; `poster_ready(path)` then tells models to repaint.

Threads: `PosterCache` is GUI-thread only; `_decode` runs on its `ui.background.TaskPool` and
only touches its own QImage, which the pool hands back on the GUI thread.
"""

from __future__ import annotations

import hashlib
import logging
from collections import OrderedDict
from pathlib import Path

from PySide6.QtCore import QObject, QSize, Qt, Signal
from PySide6.QtGui import QImage, QPixmap

from player.paths import cache_dir
from player.sources import is_url
from ui.background import TaskPool

log = logging.getLogger("reelscope.ui.posters")

MAX_PIXMAPS = 600


def _decode(path: str, size: QSize, disk_cache: Path) -> QImage:
    """The poster scaled to tile size, or a null image when it cannot be had (pool thread)."""
    import requests  # ~100 ms to import: kept off start-up, paid once on a pool thread

    image = QImage()
    try:
        local = _fetch(path, disk_cache) if is_url(path) else path
        image.load(str(local))
    except (OSError, requests.RequestException) as exc:
        log.info("poster %s unavailable: %s", path, exc)
    if not image.isNull():
        image = image.scaled(
            size,
            Qt.AspectRatioMode.KeepAspectRatioByExpanding,
            Qt.TransformationMode.SmoothTransformation,
        )
    return image


def _fetch(url: str, disk_cache: Path) -> Path:
    digest = hashlib.sha1(url.encode(), usedforsecurity=False).hexdigest()
    target = disk_cache / digest
    if not target.exists():
        import requests

        response = requests.get(url, timeout=10)
        response.raise_for_status()
        disk_cache.mkdir(parents=True, exist_ok=True)
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
        self._tasks = TaskPool(self, threads=threads)
        self._disk_cache = cache_dir() / "posters"

    def pixmap(self, path: str) -> QPixmap | None:
        """The poster if decoded; otherwise None, and a decode is queued (once)."""
        pixmap = self._pixmaps.get(path)
        if pixmap is not None:
            self._pixmaps.move_to_end(path)
            return pixmap
        if path not in self._pending and path not in self._failed:
            self._pending.add(path)
            size, disk_cache = QSize(self._size), self._disk_cache
            self._tasks.run(
                lambda: _decode(path, size, disk_cache),
                lambda result: self._on_decoded(path, result),
            )
        return None

    def is_idle(self) -> bool:
        return not self._pending

    def shutdown(self, timeout_ms: int = 5000) -> None:
        """Drops queued decodes and waits for running ones (call before the app quits)."""
        self._tasks.shutdown(timeout_ms)

    def _on_decoded(self, path: str, image: object) -> None:
        self._pending.discard(path)
        if not isinstance(image, QImage) or image.isNull():
            if isinstance(image, Exception):
                log.warning("poster %s could not be decoded: %s", path, image)
            self._failed.add(path)
            return
        self._pixmaps[path] = QPixmap.fromImage(image)
        while len(self._pixmaps) > MAX_PIXMAPS:
            self._pixmaps.popitem(last=False)
        self.poster_ready.emit(path)
