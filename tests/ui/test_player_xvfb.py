"""The player under a real X server (Xvfb): libVLC draws into the embedded native surface.

Run by `make test` as `xvfb-run pytest -m xvfb` with QT_QPA_PLATFORM=xcb. A screenshot of the
*screen* is taken, because VLC draws into the native window and `QWidget.grab()` shows black.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QPoint
from PySide6.QtGui import QGuiApplication, QImage
from pytestqt.qtbot import QtBot

from player.engine import EngineEventKind, PlaybackState
from ui.main_window import MainWindow

pytestmark = pytest.mark.xvfb

CLIP = str(Path(__file__).resolve().parents[2] / "resources" / "samples" / "mandelbrot-voyage.mp4")


def _bright_fraction(image: QImage) -> float:
    """Share of sampled pixels that are clearly not black."""
    samples = bright = 0
    for y in range(0, image.height(), 7):
        for x in range(0, image.width(), 7):
            colour = image.pixelColor(x, y)
            samples += 1
            bright += colour.red() + colour.green() + colour.blue() > 90
    return bright / max(1, samples)


def _surface_screenshot(window: MainWindow) -> QImage:
    surface = window.player.surface
    origin = surface.mapToGlobal(QPoint(0, 0))
    screen = QGuiApplication.primaryScreen()
    pixmap = screen.grabWindow(0, origin.x(), origin.y(), surface.width(), surface.height())
    return pixmap.toImage()


def test_video_is_drawn_in_the_window_and_responds(qtbot: QtBot, window: MainWindow) -> None:
    assert QGuiApplication.platformName() == "xcb"
    window.play(CLIP)
    engine = window.player.engine
    with qtbot.waitSignal(
        window.player.engine_event,
        timeout=10_000,
        check_params_cb=lambda e: e.kind is EngineEventKind.VIDEO_OUTPUT and bool(e.value),
    ):
        pass
    qtbot.waitUntil(lambda: engine.position_ms > 800, timeout=10_000)
    qtbot.waitUntil(lambda: _bright_fraction(_surface_screenshot(window)) > 0.5, timeout=5000)

    # The playhead advances while playing ...
    first = engine.position_ms
    qtbot.waitUntil(lambda: engine.position_ms > first + 400, timeout=5000)
    # ... and holds while paused.
    with qtbot.waitSignal(
        window.player.engine_event, check_params_cb=lambda e: e.kind is EngineEventKind.PAUSED
    ):
        window.player.toggle_pause()
    held = engine.position_ms
    with pytest.raises(qtbot.TimeoutError):
        qtbot.waitUntil(lambda: engine.position_ms != held, timeout=800)

    window.player.toggle_pause()
    window.player.seek(9000)
    qtbot.waitUntil(lambda: engine.position_ms >= 9000, timeout=5000)
    assert abs(engine.position_ms - 9000) <= 500

    window.player.seek(14_500)
    qtbot.waitUntil(lambda: engine.state is PlaybackState.ENDED, timeout=10_000)
    qtbot.waitUntil(lambda: window.player.controls.play_button.toolTip().startswith("Play"))
    assert window.player.controls.seek_slider.value() == 15_000
