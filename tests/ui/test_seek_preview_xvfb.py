"""The seek-bar preview under a real X server (Xvfb) with the real pointer: the popup shows on
screen above the native video surface libVLC draws into, and stays up while the pointer is on
the seek bar (mapping the popup window sends the seek bar a leave under X11)."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QPoint
from PySide6.QtGui import QCursor, QGuiApplication
from pytestqt.qtbot import QtBot

from player.engine import PlaybackState
from ui.main_window import MainWindow

from .test_seek_preview import FEATURE_CLIP, TIMEOUT_MS, _mean_abs_difference

pytestmark = pytest.mark.xvfb

ON_SCREEN_TOLERANCE = 3.0  # the popup's picture, grabbed from the screen, vs the pixmap


def test_the_popup_shows_on_screen_above_the_video_while_the_pointer_is_on_the_bar(
    qtbot: QtBot, window: MainWindow, tmp_path: Path
) -> None:
    assert QGuiApplication.platformName() == "xcb"
    window.play(str(FEATURE_CLIP))
    slider = window.player.controls.seek_slider
    preview = window.player.seek_preview
    qtbot.waitUntil(
        lambda: window.player.engine.state is PlaybackState.PLAYING and slider.maximum() > 0,
        timeout=TIMEOUT_MS,
    )
    QCursor.setPos(slider.mapToGlobal(QPoint(slider.mark_x(90_000), slider.height() // 2)))
    qtbot.waitUntil(lambda: preview.shown is not None, timeout=TIMEOUT_MS)
    popup = preview.popup
    assert popup.isVisible()
    label = popup.picture
    shown = label.pixmap().toImage()
    # The label centres its pixmap.
    origin = label.mapToGlobal(
        QPoint((label.width() - shown.width()) // 2, (label.height() - shown.height()) // 2)
    )
    screen = QGuiApplication.primaryScreen()

    def on_screen() -> float:
        grab = screen.grabWindow(0, origin.x(), origin.y(), shown.width(), shown.height())
        return _mean_abs_difference(grab.toImage(), shown)

    qtbot.waitUntil(lambda: on_screen() < ON_SCREEN_TOLERANCE, timeout=TIMEOUT_MS)
    assert popup.isVisible()

    QCursor.setPos(window.player.surface.mapToGlobal(QPoint(20, 20)))
    qtbot.waitUntil(lambda: not popup.isVisible(), timeout=TIMEOUT_MS)
