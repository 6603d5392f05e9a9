"""One carousel row: a horizontal `QListView` of painted tiles, with arrow buttons that appear
on hover and scroll a page at a time (animated), keyboard navigation, and the vertical wheel
handed to the page (a horizontal list would otherwise turn it into sideways scrolling).

Reports upward, never decides: `tile_activated` (click or Enter), `tile_hovered`,
`tile_focused`, `row_step_requested` (Up/Down), `scrolled` (any horizontal movement).
GUI thread only.
"""

from __future__ import annotations

from PySide6.QtCore import (
    QAbstractAnimation,
    QEasingCurve,
    QEvent,
    QItemSelectionModel,
    QModelIndex,
    QPoint,
    QPropertyAnimation,
    Qt,
    Signal,
)
from PySide6.QtGui import QEnterEvent, QFocusEvent, QKeyEvent, QResizeEvent, QWheelEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QFrame,
    QListView,
    QScrollBar,
    QToolButton,
    QWidget,
)

from ui.home.tile_delegate import TILE_SIZE, TileDelegate
from ui.home.tile_model import TileModel

SPACING = 6
SCROLL_ANIMATION_MS = 260
_ARROW_WIDTH = 36


class RowView(QListView):
    """A sideways-scrolling row of tiles."""

    tile_activated = Signal(object, str)  # Tile, "click" or "enter"
    tile_hovered = Signal(object)  # Tile, or None when the pointer leaves the tiles
    tile_focused = Signal(object)  # Tile, or None when the row loses focus
    row_step_requested = Signal(int)  # -1 up, +1 down
    scrolled = Signal()

    def __init__(
        self,
        model: TileModel,
        *,
        page_scroll_bar: QScrollBar | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._page_scroll_bar = page_scroll_bar
        self._pending_offset: int | None = None  # first: Qt calls updateGeometries() early
        self.setModel(model)
        self.setItemDelegate(TileDelegate(self))
        self.setFlow(QListView.Flow.LeftToRight)
        self.setWrapping(False)
        self.setUniformItemSizes(True)
        self.setSpacing(SPACING)
        self.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setMouseTracking(True)
        self.setFixedHeight(TILE_SIZE.height() + 2 * SPACING)
        self.horizontalScrollBar().setSingleStep(24)
        self.horizontalScrollBar().valueChanged.connect(self._on_scroll_bar_value_changed)
        self._animation = QPropertyAnimation(self.horizontalScrollBar(), b"value", self)
        self._animation.setDuration(SCROLL_ANIMATION_MS)
        self._animation.setEasingCurve(QEasingCurve.Type.OutCubic)
        self._left = self._make_arrow("‹", -1)
        self._right = self._make_arrow("›", +1)
        self.clicked.connect(self._on_self_clicked)
        self.entered.connect(self._on_self_entered)
        selection = self.selectionModel()
        selection.currentChanged.connect(self._on_selection_current_changed)

    @property
    def tile_model(self) -> TileModel:
        model = self.model()
        assert isinstance(model, TileModel)
        return model

    def scroll_by_page(self, direction: int) -> None:
        """Animates one viewport width (less a tile, for context) left or right."""
        bar = self.horizontalScrollBar()
        step = max(self.viewport().width() - TILE_SIZE.width(), TILE_SIZE.width())
        start = self._animation.endValue() if self._is_animating() else bar.value()
        target = max(bar.minimum(), min(bar.maximum(), int(start) + direction * step))
        self._animation.stop()
        self._animation.setStartValue(bar.value())
        self._animation.setEndValue(target)
        self._animation.start()

    def scroll_offset(self) -> int:
        return self.horizontalScrollBar().value()

    def set_scroll_offset(self, x: int) -> None:
        """Scrolls to `x` now, or as soon as the layout makes the range long enough."""
        self._pending_offset = x
        self._apply_pending_offset()

    def focus_tile_near(self, x: int) -> None:
        """Takes focus on the tile under viewport x (or the nearest one)."""
        count = self.model().rowCount()
        if count == 0:
            return
        index = self.indexAt(QPoint(x, self.viewport().height() // 2))
        if not index.isValid():
            pitch = TILE_SIZE.width() + 2 * SPACING
            row = (self.horizontalScrollBar().value() + x) // pitch
            index = self.model().index(max(0, min(count - 1, row)), 0)
        self.setCurrentIndex(index)
        self.setFocus(Qt.FocusReason.OtherFocusReason)

    def _make_arrow(self, text: str, direction: int) -> QToolButton:
        button = QToolButton(self)
        button.setText(text)
        button.setObjectName("RowArrow")
        button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        button.setAutoRepeat(True)
        button.setAutoRepeatDelay(400)
        button.setAutoRepeatInterval(SCROLL_ANIMATION_MS)
        button.setStyleSheet(
            "QToolButton { background: rgba(20,20,20,170); color: white; border: none;"
            " font-size: 28px; } QToolButton:hover { background: rgba(20,20,20,220); }"
        )
        button.clicked.connect(lambda: self.scroll_by_page(direction))
        button.hide()
        return button

    def _apply_pending_offset(self) -> None:
        bar = self.horizontalScrollBar()
        if self._pending_offset is not None and bar.maximum() >= self._pending_offset:
            bar.setValue(self._pending_offset)
            self._pending_offset = None

    def _is_animating(self) -> bool:
        return self._animation.state() == QAbstractAnimation.State.Running

    def _update_arrows(self, hovered: bool) -> None:
        bar = self.horizontalScrollBar()
        self._left.setVisible(hovered and bar.value() > bar.minimum())
        self._right.setVisible(hovered and bar.value() < bar.maximum())

    # -- Qt overrides ----------------------------------------------------------------------

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802 - Qt override
        delta = event.angleDelta()
        if abs(delta.y()) > abs(delta.x()):
            # Sent straight to the page's bar: relying on propagation of an ignored event
            # fails for synthetic events and after Qt's wheel-phase grabbing.
            if self._page_scroll_bar is not None:
                QApplication.sendEvent(self._page_scroll_bar, event)
            else:
                event.ignore()
            return
        super().wheelEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt override
        key = event.key()
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self.currentIndex().isValid():
            self.tile_activated.emit(self.tile_model.tile(self.currentIndex().row()), "enter")
            event.accept()
        elif key in (Qt.Key.Key_Up, Qt.Key.Key_Down):
            self.row_step_requested.emit(-1 if key == Qt.Key.Key_Up else 1)
            event.accept()
        else:
            super().keyPressEvent(event)

    def enterEvent(self, event: QEnterEvent) -> None:  # noqa: N802 - Qt override
        self._update_arrows(True)
        super().enterEvent(event)

    def leaveEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt override
        self._update_arrows(False)
        self.tile_hovered.emit(None)
        super().leaveEvent(event)

    def focusInEvent(self, event: QFocusEvent) -> None:  # noqa: N802 - Qt override
        super().focusInEvent(event)
        if not self.currentIndex().isValid() and self.model().rowCount():
            self.selectionModel().setCurrentIndex(
                self.model().index(0, 0), QItemSelectionModel.SelectionFlag.ClearAndSelect
            )
        elif self.currentIndex().isValid():
            self.tile_focused.emit(self.tile_model.tile(self.currentIndex().row()))

    def focusOutEvent(self, event: QFocusEvent) -> None:  # noqa: N802 - Qt override
        super().focusOutEvent(event)
        self.tile_focused.emit(None)

    def updateGeometries(self) -> None:  # noqa: N802 - Qt override
        super().updateGeometries()
        self._apply_pending_offset()

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        height = self.viewport().height()
        self._left.setGeometry(0, 0, _ARROW_WIDTH, height)
        self._right.setGeometry(self.width() - _ARROW_WIDTH, 0, _ARROW_WIDTH, height)

    # -- slots -----------------------------------------------------------------------------

    def _on_scroll_bar_value_changed(self, _value: int) -> None:
        if self.underMouse():
            self._update_arrows(True)
        self.scrolled.emit()

    def _on_self_clicked(self, index: QModelIndex) -> None:
        self.tile_activated.emit(self.tile_model.tile(index.row()), "click")

    def _on_self_entered(self, index: QModelIndex) -> None:
        self.tile_hovered.emit(self.tile_model.tile(index.row()))

    def _on_selection_current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if current.isValid():
            self.selectionModel().select(current, QItemSelectionModel.SelectionFlag.ClearAndSelect)
            if self.hasFocus():
                self.tile_focused.emit(self.tile_model.tile(current.row()))
