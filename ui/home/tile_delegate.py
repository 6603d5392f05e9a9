"""Paints a tile: the poster (or a placeholder until it is decoded), the title under it, a
progress bar when the title is partly watched, and a highlight on hover and focus. Painting
rather than one widget per tile keeps rows of thousands of titles cheap.

GUI thread only.
"""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem

from ui.home.tile_model import Tile, TileRole

POSTER_SIZE = QSize(192, 108)
TITLE_HEIGHT = 24
TILE_SIZE = QSize(POSTER_SIZE.width(), POSTER_SIZE.height() + TITLE_HEIGHT)
_PROGRESS_HEIGHT = 4
_PLACEHOLDER = QColor("#2a2d34")
_PLACEHOLDER_TEXT = QColor("#8a8f99")
_HOVER = QColor("#c9ced6")
_FOCUS = QColor("#4f9dff")
_PROGRESS_TRACK = QColor(0, 0, 0, 160)
_PROGRESS = QColor("#e5483b")


class TileDelegate(QStyledItemDelegate):
    def sizeHint(  # noqa: N802 - Qt override
        self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> QSize:
        return TILE_SIZE

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        tile = index.data(TileRole.TILE)
        if not isinstance(tile, Tile):
            return
        rect: QRect = option.rect
        state: QStyle.StateFlag = option.state
        poster_rect = QRect(rect.topLeft(), POSTER_SIZE)
        painter.save()
        pixmap = index.data(TileRole.POSTER)
        if isinstance(pixmap, QPixmap):
            source = QRect(
                (pixmap.width() - POSTER_SIZE.width()) // 2,
                (pixmap.height() - POSTER_SIZE.height()) // 2,
                POSTER_SIZE.width(),
                POSTER_SIZE.height(),
            )
            painter.drawPixmap(poster_rect, pixmap, source)
        else:
            painter.fillRect(poster_rect, _PLACEHOLDER)
            painter.setPen(_PLACEHOLDER_TEXT)
            painter.drawText(
                poster_rect.adjusted(8, 8, -8, -8),
                Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                tile.item.title,
            )
        if tile.progress > 0.0:
            track = QRect(
                poster_rect.left(),
                poster_rect.bottom() - _PROGRESS_HEIGHT + 1,
                poster_rect.width(),
                _PROGRESS_HEIGHT,
            )
            painter.fillRect(track, _PROGRESS_TRACK)
            done = QRect(track)
            done.setWidth(max(1, round(track.width() * tile.progress)))
            painter.fillRect(done, _PROGRESS)
        focused = bool(state & QStyle.StateFlag.State_HasFocus) or bool(
            state & QStyle.StateFlag.State_Selected
        )
        hovered = bool(state & QStyle.StateFlag.State_MouseOver)
        if focused or hovered:
            painter.setPen(QPen(_FOCUS if focused else _HOVER, 3))
            painter.drawRect(poster_rect.adjusted(1, 1, -2, -2))
        painter.setPen(option.palette.text().color())
        title_rect = QRect(rect.left(), poster_rect.bottom() + 1, rect.width(), TITLE_HEIGHT)
        title = option.fontMetrics.elidedText(
            tile.item.title, Qt.TextElideMode.ElideRight, title_rect.width()
        )
        painter.drawText(
            title_rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, title
        )
        painter.restore()
