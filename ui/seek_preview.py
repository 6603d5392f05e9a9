"""Seek-bar previews: a small popup above the seek bar with the picture and the time at the
position under the pointer, while hovering or dragging, as Plex and Jellyfin show.

Pictures come from a `player.thumbnail_cache.Thumbnailer` (libVLC's own, on its own instance)
made for each opened local title on first hover and released when the title closes; a network
stream shows the time only (a second connection to seek around would cost bandwidth and, for a
live stream, has nothing to seek to). Positions are bucketed by `preview_bucket_ms`, so hovering
nearby shows the same picture from the cache's memory at once.

Threads: every method runs on the GUI thread. Making a picture (seek, decode, write the PNG, the
disk cache) runs on a `TaskPool` of one thread, which is also where each title's thumbnailer is
made, used and released, so they never overlap. Requests coalesce: while one picture is being
made, only the latest position wanted waits, and the pictures of positions passed over on the
way are never made. The made PNG is decoded to a `QImage` on the pool thread and becomes a
`QPixmap` here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from PySide6.QtCore import QObject, QPoint, Qt
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import QFrame, QLabel, QVBoxLayout, QWidget

from player.sources import is_url
from player.thumbnail_cache import (
    ThumbnailCache,
    Thumbnailer,
    ThumbnailKey,
    file_identity,
    preview_bucket_ms,
)
from ui.background import TaskPool
from ui.controls import SeekSlider, format_ms

log = logging.getLogger("reelscope.ui.seek_preview")

PICTURE_WIDTH: Final = 160
MAX_FAILURES: Final = 2  # then the title shows times only (no video track, a broken file)
GAP_PX: Final = 6  # between the popup and the seek bar

ThumbnailerFactory = Callable[[str], Thumbnailer]


def vlc_thumbnailer(source: str) -> Thumbnailer:
    from player.vlc_engine import VlcThumbnailer  # libVLC loads on the pool thread, on demand

    return VlcThumbnailer(source)


@dataclass(eq=False)
class PreviewTitle:
    """One opened title's previews. `identity` and `failures` belong to the GUI thread; the
    thumbnailer is made, used and released on the pool thread only."""

    source: str
    identity: str
    failures: int = 0
    released: bool = False
    thumbnailers_made: int = 0  # one per title, reused for all its pictures
    _thumbnailer: Thumbnailer | None = field(default=None, repr=False)

    def picture(
        self, key: ThumbnailKey, cache: ThumbnailCache, factory: ThumbnailerFactory
    ) -> QImage:
        """On the pool thread: the picture from the cache, else made (and cached)."""
        data = cache.load(key)
        image = QImage() if data is None else QImage.fromData(data)
        if image.isNull():
            if data is not None:
                cache.forget(key)  # damaged in the cache: made anew
            image = QImage.fromData(self._make(key, cache, factory))
            if image.isNull():
                raise RuntimeError(f"an unreadable picture at {key.bucket_ms} ms")
        return image

    def _make(self, key: ThumbnailKey, cache: ThumbnailCache, factory: ThumbnailerFactory) -> bytes:
        if self.released:
            raise RuntimeError("the title was closed before its picture was made")
        if self._thumbnailer is None:
            self._thumbnailer = factory(self.source)
            self.thumbnailers_made += 1
        made = cache.scratch_path(key)
        if not self._thumbnailer.thumbnail(key.bucket_ms, made, PICTURE_WIDTH):
            made.unlink(missing_ok=True)
            raise RuntimeError(f"no picture at {key.bucket_ms} ms")
        return cache.store_file(key, made)

    def release(self) -> None:
        """On the pool thread, after every picture asked for before it."""
        self.released = True
        if self._thumbnailer is not None:
            thumbnailer, self._thumbnailer = self._thumbnailer, None
            thumbnailer.release()


class SeekPreviewPopup(QFrame):
    """The picture (when there is one) over the time; a tooltip-like window, so that it shows
    above the native video surface and never takes focus or clicks."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__(
            parent,
            Qt.WindowType.ToolTip
            | Qt.WindowType.FramelessWindowHint
            | Qt.WindowType.WindowTransparentForInput,
        )
        self.setObjectName("SeekPreview")
        self.setAttribute(Qt.WidgetAttribute.WA_ShowWithoutActivating)
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.picture = QLabel()
        self.picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.time_label = QLabel()
        self.time_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.setSpacing(2)
        layout.addWidget(self.picture)
        layout.addWidget(self.time_label)

    def show_preview(self, anchor: QPoint, time_text: str, pixmap: QPixmap | None) -> None:
        """Centred above `anchor` (global: the seek bar's top at the position shown)."""
        self.time_label.setText(time_text)
        if pixmap is None:
            self.picture.clear()
            self.picture.hide()
        else:
            self.picture.setPixmap(pixmap)
            self.picture.show()
        self.adjustSize()
        self.move(anchor.x() - self.width() // 2, anchor.y() - self.height() - GAP_PX)
        self.show()  # a tooltip window: above the others without raise_()


class SeekPreview(QObject):
    """Drives the popup from the seek bar's hover and drag positions."""

    def __init__(
        self,
        slider: SeekSlider,
        cache: ThumbnailCache,
        *,
        thumbnailer_factory: ThumbnailerFactory = vlc_thumbnailer,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._slider = slider
        self.cache = cache
        self._factory = thumbnailer_factory
        self._pool = TaskPool(self)
        self.popup = SeekPreviewPopup(slider)
        self._source: str | None = None
        self._title: PreviewTitle | None = None
        self._busy = False
        self._wanted: ThumbnailKey | None = None  # the latest asked for while one was made
        self._hovered: ThumbnailKey | None = None  # the picture the popup should show
        self._position_ms = 0  # the position it shows
        self.shown: ThumbnailKey | None = None  # the picture the popup shows
        self.jobs_started = 0  # pictures asked of the pool (made, or read from disk)
        slider.hovered.connect(self._on_slider_position)
        slider.preview_changed.connect(self._on_slider_position)
        slider.hover_ended.connect(self._on_slider_hover_ended)

    @property
    def title(self) -> PreviewTitle | None:
        """The open title's previews (made on first hover), None without pictures."""
        return self._title

    def open_title(self, source: str) -> None:
        self.close_title()
        self._source = source

    def close_title(self) -> None:
        """Let the title's thumbnailer go (on the pool, after the picture being made); a later
        hover of the same source makes a new one."""
        self.popup.hide()
        self._wanted = self._hovered = self.shown = None
        title, self._title = self._title, None
        if title is not None:
            self._pool.run(title.release, self._on_title_released)

    def shutdown(self, timeout_ms: int = 5000) -> bool:
        """Close the title and wait for its thumbnailer to be released (at quit)."""
        self.close_title()
        self._source = None
        return self._pool.wait(timeout_ms)

    # -- hover and drag ----------------------------------------------------------------------

    def _on_slider_position(self, position_ms: int) -> None:
        duration_ms = self._slider.maximum()
        if duration_ms <= 0 or self._source is None:
            return
        self._position_ms = position_ms
        title = self._current_title()
        if title is None:
            self._hovered = None
            self._show(None)
            return
        key = ThumbnailKey(title.identity, preview_bucket_ms(position_ms, duration_ms))
        self._hovered = key
        data = self.cache.remembered(key)
        if data is None:
            self._request(key)
            # The last picture stays up until this one is made: no flicker while moving.
            self._show(self.popup.picture.pixmap() if self.shown is not None else None)
            return
        pixmap = QPixmap()
        pixmap.loadFromData(data)
        self.shown = key
        self._show(pixmap)

    def _on_slider_hover_ended(self) -> None:
        if not self._slider.isSliderDown():
            self.popup.hide()
            self._wanted = self._hovered = None

    def _show(self, pixmap: QPixmap | None) -> None:
        x = self._slider.mark_x(self._position_ms)
        anchor = self._slider.mapToGlobal(QPoint(x, 0))
        self.popup.show_preview(anchor, format_ms(self._position_ms), pixmap)

    def _current_title(self) -> PreviewTitle | None:
        if self._title is None and self._source is not None and not is_url(self._source):
            try:
                identity = file_identity(Path(self._source))
            except OSError:
                return None
            self._title = PreviewTitle(self._source, identity)
        title = self._title
        return title if title is not None and title.failures < MAX_FAILURES else None

    # -- making pictures ---------------------------------------------------------------------

    def _request(self, key: ThumbnailKey) -> None:
        if self._busy:
            self._wanted = key
            return
        title = self._title
        if title is None:
            return
        self._busy = True
        self.jobs_started += 1
        cache, factory = self.cache, self._factory
        self._pool.run(
            lambda: (key, title.picture(key, cache, factory)),
            lambda result: self._on_picture(title, result),
        )

    def _on_picture(self, title: PreviewTitle, result: object) -> None:
        self._busy = False
        if isinstance(result, Exception):
            title.failures += 1
            log.warning("no seek preview of %s: %s", title.source, result)
        elif title is self._title and isinstance(result, tuple):
            key, image = result
            if key == self._hovered and self.popup.isVisible():
                self.shown = key
                self._show(QPixmap.fromImage(image))
        # What was wanted meanwhile may be of a title opened since: it is what to make next.
        wanted, self._wanted = self._wanted, None
        current = self._title
        if (
            wanted is not None
            and current is not None
            and wanted.identity == current.identity
            and wanted != self.shown
        ):
            self._request(wanted)

    @staticmethod
    def _on_title_released(result: object) -> None:
        if isinstance(result, Exception):
            log.warning("releasing a seek-preview thumbnailer failed: %s", result)
