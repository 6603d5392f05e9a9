"""Subtitles drawn for real under Xvfb: a screen grab of the video shows the cue's white text
with subtitles on and none with them off (libVLC renders subtitles into its own window, so only
a grab of the screen sees them). Run by `make test` under `xvfb-run` with QT_QPA_PLATFORM=xcb.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QPoint
from PySide6.QtGui import QGuiApplication, QImage
from pytestqt.qtbot import QtBot

from ui.main_window import MainWindow

pytestmark = pytest.mark.xvfb

# 150 s; a cue every 5 s lasting 4 s (0-4 s, 5-9 s …), white text at the bottom.
FEATURE_CLIP = str(
    Path(__file__).resolve().parents[2] / "resources" / "samples" / "harbour-nights.mkv"
)


def _white_pixels_in_lower_half(window: MainWindow) -> int:
    surface = window.player.surface
    origin = surface.mapToGlobal(QPoint(0, surface.height() // 2))
    screen = QGuiApplication.primaryScreen()
    image: QImage = screen.grabWindow(
        0, origin.x(), origin.y(), surface.width(), surface.height() // 2
    ).toImage()
    white = 0
    for y in range(0, image.height(), 2):
        for x in range(0, image.width(), 2):
            colour = image.pixelColor(x, y)
            white += min(colour.red(), colour.green(), colour.blue()) > 200
    return white


def test_a_subtitle_track_shows_on_screen_and_off_hides_it(
    qtbot: QtBot, window: MainWindow
) -> None:
    window.play(FEATURE_CLIP)
    engine = window.player.engine
    qtbot.waitUntil(lambda: engine.position_ms > 500, timeout=10_000)
    window.player.seek(10_500)  # inside the cue of 10-14 s
    qtbot.waitUntil(lambda: 10_500 <= engine.position_ms < 13_000, timeout=5000)
    # The German file beside the clip is shown: white text appears in the lower half.
    qtbot.waitUntil(lambda: _white_pixels_in_lower_half(window) > 40, timeout=3000)

    window.watch.set_subtitle_track(None)
    window.player.seek(15_500)  # inside the cue of 15-19 s
    qtbot.waitUntil(lambda: 15_500 <= engine.position_ms < 17_000, timeout=5000)
    # Once the picture after the seek is up (the text of the old cue is gone), grabbed again
    # and again until the playhead leaves the cue: never any text.
    qtbot.waitUntil(lambda: _white_pixels_in_lower_half(window) == 0, timeout=2000)
    counts: list[int] = []

    def sampled_until_the_cue_ends() -> bool:
        counts.append(_white_pixels_in_lower_half(window))
        return engine.position_ms >= 18_000

    qtbot.waitUntil(sampled_until_the_cue_ends, timeout=5000)
    assert len(counts) >= 3
    assert max(counts) <= 5, counts

    french = engine.subtitle_tracks()[1]  # type: ignore[attr-defined]
    window.watch.set_subtitle_track(french)
    window.player.seek(20_500)  # the cue of 20-24 s, now in French
    qtbot.waitUntil(lambda: 20_500 <= engine.position_ms < 23_000, timeout=5000)
    qtbot.waitUntil(lambda: _white_pixels_in_lower_half(window) > 40, timeout=3000)
