"""Measures which tiles are on screen, by geometry rather than paint calls, and feeds the pure
`telemetry.client.visibility.VisibilityTracker`.

Every trigger (a row or the page scrolled, a resize, a new feed, the window minimised, shown,
activated or covered by the player) calls `schedule()`; passes are coalesced on a short timer,
so a continuous scroll costs one pass per `PASS_INTERVAL_MS`, not one per pixel. A pass maps
each row's viewport into the page's viewport, skips rows outside it, and walks only the tiles
that can intersect (from the scroll offset and the fixed tile pitch). A second timer wakes the
tracker at its next impression deadline.

"Window active" means: the window is active and not minimised, and the home page is visible
(not covered by the player page).

GUI thread only.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from PySide6.QtCore import QEvent, QObject, QPoint, QRect, QTimer
from PySide6.QtWidgets import QScrollArea, QWidget

from telemetry.client.visibility import TileRef, VisibilityTracker
from ui.home.row_view import RowView

PASS_INTERVAL_MS = 40
_WINDOW_EVENTS = frozenset(
    {
        QEvent.Type.WindowStateChange,
        QEvent.Type.ActivationChange,
        QEvent.Type.WindowActivate,
        QEvent.Type.WindowDeactivate,
        QEvent.Type.Show,
        QEvent.Type.Hide,
        QEvent.Type.Expose,
    }
)


def monotonic_ms() -> float:
    return time.monotonic() * 1000.0


def visible_fractions(page: QScrollArea, rows: Sequence[RowView]) -> dict[TileRef, float]:
    """Each tile's visible fraction (> 0 only) inside the page's viewport."""
    page_viewport = page.viewport()
    page_rect = page_viewport.rect()
    fractions: dict[TileRef, float] = {}
    for row in rows:
        viewport = row.viewport()
        origin = viewport.mapTo(page_viewport, QPoint(0, 0))
        clip = QRect(origin, viewport.size()).intersected(page_rect)
        if clip.isEmpty():
            continue
        clip.translate(-origin)
        model = row.tile_model
        index = row.indexAt(QPoint(clip.left(), clip.center().y()))
        first = index.row() if index.isValid() else 0
        for number in range(first, model.rowCount()):
            rect = row.visualRect(model.index(number, 0))
            if rect.left() > clip.right():
                break
            seen = rect.intersected(clip)
            if seen.isEmpty():
                continue
            area = rect.width() * rect.height()
            fractions[model.tile(number).ref] = seen.width() * seen.height() / area
    return fractions


class VisibilityMonitor(QObject):
    """Runs coalesced visibility passes over a page of rows."""

    def __init__(
        self,
        page: QScrollArea,
        tracker: VisibilityTracker,
        *,
        clock: Callable[[], float] = monotonic_ms,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._page = page
        self._tracker = tracker
        self._clock = clock
        self._rows: list[RowView] = []
        self._window: QWidget | None = None
        self._pass_timer = QTimer(self)
        self._pass_timer.setSingleShot(True)
        self._pass_timer.setInterval(PASS_INTERVAL_MS)
        self._pass_timer.timeout.connect(self.run_pass)
        self._deadline_timer = QTimer(self)
        self._deadline_timer.setSingleShot(True)
        self._deadline_timer.timeout.connect(self.poll)
        page.verticalScrollBar().valueChanged.connect(self.schedule)
        page.installEventFilter(self)

    def set_rows(self, rows: Sequence[RowView]) -> None:
        self._rows = list(rows)
        for row in self._rows:
            row.scrolled.connect(self.schedule)
        self.schedule()

    def schedule(self) -> None:
        """Asks for a pass soon; several requests before it runs make one pass."""
        if not self._pass_timer.isActive():
            self._pass_timer.start()

    def window_active(self) -> bool:
        window = self._page.window()
        return (
            window.isActiveWindow()
            and not window.isMinimized()
            and self._page.isVisibleTo(window)
            and window.isVisible()
        )

    def run_pass(self) -> None:
        """Measures now and feeds the tracker (tests call this directly)."""
        self._pass_timer.stop()
        self._watch_window()
        active = self.window_active()
        self._tracker.update(visible_fractions(self._page, self._rows), window_active=active)
        self._arm_deadline()

    def poll(self) -> None:
        """Fires impressions that are due (tests call this after moving the fake clock)."""
        self._tracker.poll()
        self._arm_deadline()

    def stop(self) -> None:
        self._pass_timer.stop()
        self._deadline_timer.stop()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        if event.type() in _WINDOW_EVENTS or event.type() == QEvent.Type.Resize:
            self.schedule()
        return False

    def _watch_window(self) -> None:
        window = self._page.window()
        if window is not self._window:
            if self._window is not None:
                self._window.removeEventFilter(self)
            window.installEventFilter(self)
            self._window = window

    def _arm_deadline(self) -> None:
        deadline = self._tracker.next_deadline()
        if deadline is None:
            self._deadline_timer.stop()
            return
        self._deadline_timer.start(max(0, round(deadline - self._clock())))
