"""Light vector icons for the dark control bar, painted once at start-up.

The platform's standard media icons are dark glyphs that vanish on Reelscope's dark theme,
so the few the player needs are drawn here. GUI thread only (QPixmap).
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPainterPath, QPen, QPixmap, QPolygonF

_SIZE = 64
_COLOUR = QColor("#f2f2f2")


def _icon(draw: Callable[[QPainter], None]) -> QIcon:
    pixmap = QPixmap(_SIZE, _SIZE)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(QPen(_COLOUR, 5, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
    painter.setBrush(_COLOUR)
    draw(painter)
    painter.end()
    return QIcon(pixmap)


def _polygon(*points: tuple[float, float]) -> QPolygonF:
    return QPolygonF([QPointF(x, y) for x, y in points])


def play() -> QIcon:
    return _icon(lambda p: p.drawPolygon(_polygon((18, 10), (54, 32), (18, 54))))


def pause() -> QIcon:
    def draw(p: QPainter) -> None:
        p.drawRoundedRect(QRectF(14, 10, 12, 44), 3, 3)
        p.drawRoundedRect(QRectF(38, 10, 12, 44), 3, 3)

    return _icon(draw)


def _speaker(p: QPainter) -> None:
    p.drawPolygon(_polygon((8, 24), (20, 24), (34, 10), (34, 54), (20, 40), (8, 40)))


def volume() -> QIcon:
    def draw(p: QPainter) -> None:
        _speaker(p)
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.drawArc(QRectF(30, 20, 16, 24), -60 * 16, 120 * 16)
        p.drawArc(QRectF(30, 10, 26, 44), -60 * 16, 120 * 16)

    return _icon(draw)


def muted() -> QIcon:
    def draw(p: QPainter) -> None:
        _speaker(p)
        p.drawLine(QPointF(42, 24), QPointF(58, 40))
        p.drawLine(QPointF(58, 24), QPointF(42, 40))

    return _icon(draw)


def fullscreen() -> QIcon:
    def draw(p: QPainter) -> None:
        p.setBrush(Qt.BrushStyle.NoBrush)
        path = QPainterPath()
        for (x, y), (dx, dy) in (
            ((10, 10), (1, 1)),
            ((54, 10), (-1, 1)),
            ((10, 54), (1, -1)),
            ((54, 54), (-1, -1)),
        ):
            path.moveTo(x + 14 * dx, y)
            path.lineTo(x, y)
            path.lineTo(x, y + 14 * dy)
        p.drawPath(path)

    return _icon(draw)
