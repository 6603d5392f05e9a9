"""The home page: a vertical scroll area of carousel rows built from a served `Feed`, a details
panel for the focused tile, and a note when catalog entries were skipped.

Owns the browse telemetry of the page: `feed_served` when a feed is laid out, visibility spans
and impressions (through `VisibilityMonitor` and the pure tracker), `tile_action`s, and the
`source` of a play. A feed laid out before the viewer opted in is recorded when they do
(`recording_started`), so the first plays of a new user join to a served feed and impressions.
It never plays anything itself: activating a tile emits `play_requested`.
A new feed keeps each row's sideways offset (by row id) and the page's position (anchored on
the row at the top of the view), so returning from the player looks the same.

GUI thread only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QHideEvent, QShowEvent
from PySide6.QtWidgets import (
    QApplication,
    QFrame,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from player.catalog import CatalogItem, CatalogProblem
from player.feed import Feed
from telemetry.client.tile_actions import TileActionTracker
from telemetry.client.visibility import TileRef, Track, VisibilityTracker
from ui.home.posters import PosterCache
from ui.home.row_view import RowView
from ui.home.tile_delegate import POSTER_SIZE
from ui.home.tile_model import Tile, TileModel
from ui.home.visibility import VisibilityMonitor, monotonic_ms

DETAILS_WIDTH = 300


@dataclass(frozen=True, slots=True)
class ScrollState:
    """Where the page was: the row at the top of the view and how far into it, and each row's
    sideways offset by row id."""

    anchor_row_id: str | None = None
    anchor_offset: int = 0
    row_offsets: Mapping[str, int] = field(default_factory=dict)


def _format_duration(ms: int) -> str:
    if ms <= 0:
        return "length unknown"
    minutes, seconds = divmod(round(ms / 1000), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes}:{seconds:02d}"


class DetailsPanel(QFrame):
    """Title, duration, genres and description of one catalog item; below them, where the
    feed on screen came from (`show_source`)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("DetailsPanel")
        self.setFixedWidth(DETAILS_WIDTH)
        self.title = QLabel()
        self.title.setWordWrap(True)
        self.title.setStyleSheet("font-size: 18px; font-weight: bold;")
        self.meta = QLabel()
        self.meta.setWordWrap(True)
        self.meta.setStyleSheet("color: #a0a0a0;")
        self.description = QLabel()
        self.description.setWordWrap(True)
        self.description.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 16, 16, 16)
        layout.addWidget(self.title)
        layout.addWidget(self.meta)
        layout.addWidget(self.description, 1)
        self.source = QLabel()
        self.source.setObjectName("FeedSource")
        self.source.setWordWrap(True)
        self.source.setStyleSheet("color: #a0a0a0; font-size: 11px;")
        layout.addWidget(self.source)
        self.meta.setText("Choose a title to see what it is about.")

    def show_source(self, text: str) -> None:
        self.source.setText(text)

    def show_item(self, item: CatalogItem) -> None:
        self.title.setText(item.title)
        self.meta.setText(" · ".join([_format_duration(item.duration_ms), *item.genres]))
        self.description.setText(item.description)


class HomeView(QWidget):
    """The home page of carousel rows."""

    play_requested = Signal(object, object)  # CatalogItem, source dict for `play_request`

    def __init__(
        self,
        track: Track,
        *,
        clock: Callable[[], float] = monotonic_ms,
        posters: PosterCache | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("HomeView")
        self._track = track
        self._clock = clock
        self.posters = posters or PosterCache(POSTER_SIZE, self)
        self.tracker = VisibilityTracker(track, clock=clock)
        self.tile_actions = TileActionTracker(
            track, clock=clock, impression_id=self.tracker.impression_id
        )
        self.feed: Feed | None = None
        self._feed_recorded = False  # whether track() kept this feed's feed_served
        self.rows: list[RowView] = []
        self._row_boxes: list[QWidget] = []
        self._pending_state: ScrollState | None = None
        # Taken when the page is covered (by the player): coming back, focus lands on a row
        # and may scroll the page before the new feed is laid out.
        self._hidden_state: ScrollState | None = None

        self.notice = QLabel()
        self.notice.setObjectName("CatalogNotice")
        self.notice.setWordWrap(True)
        self.notice.setStyleSheet("color: #f0b429; padding: 4px 12px;")
        self.notice.hide()
        self.page = QScrollArea()
        self.page.setWidgetResizable(True)
        self.page.setFrameShape(QFrame.Shape.NoFrame)
        self.page.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.page.verticalScrollBar().rangeChanged.connect(self._on_page_range_changed)
        self.page.verticalScrollBar().setSingleStep(40)
        self.details = DetailsPanel()
        self.monitor = VisibilityMonitor(self.page, self.tracker, clock=clock, parent=self)

        left = QVBoxLayout()
        left.setContentsMargins(0, 0, 0, 0)
        left.addWidget(self.notice)
        left.addWidget(self.page, 1)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addLayout(left, 1)
        layout.addWidget(self.details)

    # -- driven from outside -----------------------------------------------------------------

    def show_feed(
        self,
        feed: Feed,
        items: Mapping[str, CatalogItem],
        progress: Mapping[str, float] | None = None,
    ) -> None:
        """Lays out `feed` (replacing the current one, keeping scroll positions) and records
        `feed_served`. Items missing from `items` are dropped from the layout."""
        state = self._hidden_state or (self.scroll_state() if self.feed is not None else None)
        self._hidden_state = None
        self.monitor.stop()
        self.tracker.close()
        progress = progress or {}
        content = QWidget()
        column = QVBoxLayout(content)
        column.setContentsMargins(12, 8, 12, 8)
        column.setSpacing(4)
        rows: list[RowView] = []
        boxes: list[QWidget] = []
        for row in feed.rows:
            tiles = [
                Tile(
                    TileRef(
                        feed.request_id,
                        feed.location,
                        row.row_id,
                        row.row_index,
                        row.track_id,
                        entry.rank,
                        entry.video_id,
                    ),
                    items[entry.video_id],
                    progress.get(entry.video_id, 0.0),
                )
                for entry in row.items
                if entry.video_id in items
            ]
            box = QWidget()
            box.setObjectName(f"row:{row.row_id}")
            box_layout = QVBoxLayout(box)
            box_layout.setContentsMargins(0, 0, 0, 0)
            box_layout.setSpacing(2)
            heading = QLabel(row.title)
            heading.setStyleSheet("font-size: 15px; font-weight: bold; padding-left: 6px;")
            view = RowView(
                TileModel(tiles, self.posters, box), page_scroll_bar=self.page.verticalScrollBar()
            )
            view.setObjectName(row.row_id)
            view.tile_activated.connect(self._on_row_tile_activated)
            view.tile_hovered.connect(self._on_row_tile_hovered)
            view.tile_focused.connect(self._on_row_tile_focused)
            view.row_step_requested.connect(self._on_row_row_step_requested)
            box_layout.addWidget(heading)
            box_layout.addWidget(view)
            column.addWidget(box)
            rows.append(view)
            boxes.append(box)
        column.addStretch(1)
        old = self.page.takeWidget()
        self.page.setWidget(content)
        if old is not None:
            old.deleteLater()
        self.feed, self.rows, self._row_boxes = feed, rows, boxes
        if rows:
            self.setFocusProxy(rows[0])
            focused = QApplication.focusWidget()
            if (
                state is None
                and self.isVisible()
                and (focused is None or self.isAncestorOf(focused))
            ):
                # A first feed lands with its first tile chosen, so Enter plays and the details
                # panel has something to say.
                rows[0].setFocus()
        self._feed_recorded = self._track("feed_served", feed.served_properties()) is not None
        if state is not None:
            self.restore_scroll_state(state)
        self.monitor.set_rows(rows)

    def recording_started(self) -> None:
        """Telemetry records from now on (the viewer just opted in): the feed on screen, laid
        out while nothing was recorded, is served now, and what is seen of it from now on."""
        if self.feed is None:
            return
        if not self._feed_recorded:
            self._feed_recorded = (
                self._track("feed_served", self.feed.served_properties()) is not None
            )
        self.tracker.recording_started()
        self.monitor.schedule()

    def show_problems(self, problems: Sequence[CatalogProblem]) -> None:
        """Tells the user some catalog entries were skipped (details in the tooltip)."""
        if not problems:
            self.notice.hide()
            return
        count = len(problems)
        self.notice.setText(
            f"{count} catalog {'entry was' if count == 1 else 'entries were'} skipped: "
            f"{problems[0]}" + (" (and more)" if count > 1 else "")
        )
        self.notice.setToolTip("\n".join(str(p) for p in problems))
        self.notice.show()

    def row(self, row_id: str) -> RowView:
        return next(view for view in self.rows if view.objectName() == row_id)

    def scroll_state(self) -> ScrollState:
        top = self.page.verticalScrollBar().value()
        anchor = next(
            (box for box in self._row_boxes if box.y() + box.height() > top),
            None,
        )
        return ScrollState(
            anchor_row_id=anchor.objectName().removeprefix("row:") if anchor else None,
            anchor_offset=top - anchor.y() if anchor else 0,
            row_offsets={view.objectName(): view.scroll_offset() for view in self.rows},
        )

    def restore_scroll_state(self, state: ScrollState) -> None:
        for view in self.rows:
            offset = state.row_offsets.get(view.objectName())
            if offset:
                view.set_scroll_offset(offset)
        self._pending_state = state
        content = self.page.widget()
        layout = content.layout() if content is not None else None
        if content is not None and layout is not None:
            # Lay the rows out now, at the size the scroll area will give them, so the anchor
            # row's position is right before the first paint.
            content.resize(
                self.page.viewport().width(),
                max(self.page.viewport().height(), content.sizeHint().height()),
            )
            layout.activate()
        self._apply_page_state()

    def shutdown(self) -> None:
        """Ends open spans and stops background work (the app is closing)."""
        self.monitor.stop()
        self.tracker.close()
        self.posters.shutdown()

    def hideEvent(self, event: QHideEvent) -> None:  # noqa: N802 - Qt override
        if self.feed is not None and not self.window().isMinimized():
            self._hidden_state = self.scroll_state()
        super().hideEvent(event)

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt override
        super().showEvent(event)
        if self._hidden_state is not None:
            self.restore_scroll_state(self._hidden_state)

    # -- internals ---------------------------------------------------------------------------

    def _apply_page_state(self) -> None:
        state = self._pending_state
        if state is None:
            return
        box = next(
            (b for b in self._row_boxes if b.objectName() == f"row:{state.anchor_row_id}"), None
        )
        target = (box.y() + state.anchor_offset) if box is not None else 0
        bar = self.page.verticalScrollBar()
        if bar.maximum() >= target:
            bar.setValue(target)
            self._pending_state = None

    def _on_page_range_changed(self, _minimum: int, _maximum: int) -> None:
        self._apply_page_state()

    def _on_row_tile_activated(self, tile: Tile, trigger: str) -> None:
        ref = tile.ref
        impression_id = self.tile_actions.activated(ref, "enter" if trigger == "enter" else "click")
        source = {
            "request_id": ref.request_id,
            "row_id": ref.row_id,
            "rank": ref.rank,
            "impression_id": impression_id,
            "location": ref.location,
        }
        self.play_requested.emit(tile.item, source)

    def _on_row_tile_hovered(self, tile: Tile | None) -> None:
        self.tile_actions.hover_changed(tile.ref if tile else None)

    def _on_row_tile_focused(self, tile: Tile | None) -> None:
        self.tile_actions.focus_changed(tile.ref if tile else None)
        if tile is not None:
            self.details.show_item(tile.item)
            sender = self.sender()
            if isinstance(sender, RowView):
                self.setFocusProxy(sender)
                self.page.ensureWidgetVisible(sender, 0, 8)

    def _on_row_row_step_requested(self, delta: int) -> None:
        sender = self.sender()
        if not isinstance(sender, RowView) or sender not in self.rows:
            return
        target = self.rows.index(sender) + delta
        if not 0 <= target < len(self.rows):
            return
        current = sender.currentIndex()
        x = sender.visualRect(current).center().x() if current.isValid() else 0
        self.rows[target].focus_tile_near(x)
