"""The player window offscreen: real widgets, real libVLC (dummy outputs), real media files."""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent, QMouseEvent
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from player.engine import EngineEventKind, PlaybackState
from player.errors import ErrorCategory, PlaybackProblem
from tests.player.fixture_media import FixtureMedia
from tests.player.media_server import MediaServer, Pacing, mdat_offset
from tests.player.refused_port import refused_port
from ui.main_window import MainWindow

SAMPLES = Path(__file__).resolve().parents[2] / "resources" / "samples"
CLIP = str(SAMPLES / "colour-bars.mp4")  # 8 s
LONG_CLIP = str(SAMPLES / "test-card.mp4")  # 24 s


def _wait_playing(qtbot: QtBot, window: MainWindow, past_ms: int = 200) -> None:
    engine = window.player.engine
    qtbot.waitUntil(
        lambda: engine.state is PlaybackState.PLAYING and engine.position_ms > past_ms,
        timeout=10_000,
    )


def test_plays_a_clip_and_the_controls_follow(qtbot: QtBot, window: MainWindow) -> None:
    window.play(CLIP)
    assert window.pages.currentWidget() is window.player
    _wait_playing(qtbot, window, past_ms=600)
    controls = window.player.controls
    qtbot.waitUntil(lambda: controls.seek_slider.maximum() == 8000)
    qtbot.waitUntil(lambda: controls.seek_slider.value() >= 600)
    assert controls.total.text() == "0:08"
    assert controls.play_button.toolTip().startswith("Pause")
    assert "colour-bars.mp4" in window.windowTitle()
    assert window.recents.items == [CLIP]


def test_keyboard_shortcuts(qtbot: QtBot, window: MainWindow) -> None:
    window.play(LONG_CLIP)
    _wait_playing(qtbot, window)
    engine = window.player.engine
    player = window.player

    qtbot.keyClick(player, Qt.Key.Key_Right)
    qtbot.waitUntil(lambda: engine.position_ms >= 10_000, timeout=5000)
    qtbot.keyClick(player, Qt.Key.Key_Left)
    qtbot.waitUntil(lambda: engine.position_ms < 9_000, timeout=5000)

    qtbot.keyClick(player, Qt.Key.Key_Down)
    assert engine.volume == 95
    qtbot.keyClick(player, Qt.Key.Key_Up)
    qtbot.keyClick(player, Qt.Key.Key_Up)
    assert engine.volume == 105
    assert player.controls.volume_slider.value() == 105

    qtbot.keyClick(player, Qt.Key.Key_M)
    assert engine.muted
    assert player.controls.mute_button.isChecked()
    qtbot.keyClick(player, Qt.Key.Key_M)
    assert not engine.muted

    with qtbot.waitSignal(
        player.engine_event, check_params_cb=lambda e: e.kind is EngineEventKind.PAUSED
    ):
        qtbot.keyClick(player, Qt.Key.Key_Space)
    assert engine.state is PlaybackState.PAUSED
    qtbot.keyClick(player, Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: engine.state is PlaybackState.PLAYING)

    qtbot.keyClick(player, Qt.Key.Key_F)
    qtbot.waitUntil(window.isFullScreen)
    qtbot.keyClick(player, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not window.isFullScreen())
    assert window.pages.currentWidget() is window.player
    qtbot.keyClick(player, Qt.Key.Key_Escape)
    assert window.pages.currentWidget() is window.home
    # The stop runs on a worker thread; libVLC's own stop of this clip now and then takes 5-6 s
    # with the dummy video output (its decoder waiting on a picture buffer), well past the
    # default 5 s wait: going home (above) did not wait for it.
    qtbot.waitUntil(lambda: engine.state is PlaybackState.STOPPED, timeout=15_000)


def test_clicking_the_seek_slider_seeks_there(qtbot: QtBot, window: MainWindow) -> None:
    window.play(LONG_CLIP)
    _wait_playing(qtbot, window)
    slider = window.player.controls.seek_slider
    qtbot.waitUntil(lambda: slider.maximum() == 24_000)
    x = int(slider.width() * 0.75)
    qtbot.mousePress(slider, Qt.MouseButton.LeftButton, pos=QPoint(x, slider.height() // 2))
    assert slider.isSliderDown()
    qtbot.mouseRelease(slider, Qt.MouseButton.LeftButton, pos=QPoint(x, slider.height() // 2))
    engine = window.player.engine
    qtbot.waitUntil(lambda: engine.position_ms >= 16_000, timeout=5000)
    assert abs(engine.position_ms - 18_000) < 1500


def test_dragging_the_seek_slider_previews_then_seeks_once(
    qtbot: QtBot, window: MainWindow
) -> None:
    window.play(LONG_CLIP)
    _wait_playing(qtbot, window)
    controls = window.player.controls
    slider = controls.seek_slider
    qtbot.waitUntil(lambda: slider.maximum() == 24_000)
    y = slider.height() // 2
    seeks: list[int] = []
    slider.seek_requested.connect(seeks.append)
    qtbot.mousePress(slider, Qt.MouseButton.LeftButton, pos=QPoint(int(slider.width() * 0.2), y))
    for fraction in (0.3, 0.4, 0.5):
        move = QMouseEvent(
            QMouseEvent.Type.MouseMove,
            QPointF(slider.width() * fraction, y),
            QPointF(slider.mapToGlobal(QPoint(int(slider.width() * fraction), y))),
            Qt.MouseButton.NoButton,
            Qt.MouseButton.LeftButton,
            Qt.KeyboardModifier.NoModifier,
        )
        QApplication.sendEvent(slider, move)
    assert controls.elapsed.text() in {"0:11", "0:12", "0:13"}
    assert seeks == []
    qtbot.mouseRelease(slider, Qt.MouseButton.LeftButton, pos=QPoint(int(slider.width() * 0.5), y))
    assert len(seeks) == 1
    assert abs(seeks[0] - 12_000) < 1500


def test_end_of_media_resets_the_controls_and_play_restarts(
    qtbot: QtBot, window: MainWindow
) -> None:
    window.play(CLIP)
    _wait_playing(qtbot, window)
    engine = window.player.engine
    window.player.seek(7000)
    qtbot.waitUntil(lambda: engine.state is PlaybackState.ENDED, timeout=10_000)
    controls = window.player.controls
    qtbot.waitUntil(lambda: controls.play_button.toolTip().startswith("Play"))
    assert controls.seek_slider.value() == 8000
    window.player.toggle_pause()
    qtbot.waitUntil(lambda: engine.state is PlaybackState.PLAYING and engine.position_ms < 7000)


def test_bad_inputs_show_a_message_and_the_next_file_plays(
    qtbot: QtBot, window: MainWindow, tmp_path: Path, media: FixtureMedia
) -> None:
    text_file = tmp_path / "notes.mp4"
    text_file.write_text("not a video\n" * 50)
    cases = [
        (str(tmp_path / "missing.mp4"), ErrorCategory.NOT_FOUND, "Can't find"),
        (str(text_file), ErrorCategory.UNSUPPORTED, "not a video"),
        (str(media.text_mkv()), ErrorCategory.UNSUPPORTED, "text file"),
        # It plays its first seconds, then its data stops: an error, not a finished title.
        (str(media.truncated()), ErrorCategory.DECODE, "stops before its end"),
        (f"http://127.0.0.1:{refused_port()}/x.mp4", ErrorCategory.NETWORK, "Can't reach"),
    ]
    for source, category, words in cases:
        with qtbot.waitSignal(window.player.playback_failed, timeout=10_000) as failed:
            window.play(source)
        problem: PlaybackProblem = failed.args[0]
        assert problem.category is category
        assert window.player.message.isVisible()
        assert words in window.player.message.text()
        assert not window.player.controls.play_button.toolTip().startswith("Pause")
        window.play(CLIP)
        assert window.player.surface.isVisible()
        _wait_playing(qtbot, window)


def test_dropping_a_file_plays_it(qtbot: QtBot, window: MainWindow) -> None:
    data = QMimeData()
    data.setUrls([QUrl.fromLocalFile(CLIP)])
    drop = QDropEvent(
        QPointF(50, 50),
        Qt.DropAction.CopyAction,
        data,
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
    )
    # QApplication drops synthetic Drop events when no drag is in progress: call the handler.
    with qtbot.waitSignal(window.source_opened) as opened:
        window.dropEvent(drop)
    assert opened.args == [CLIP]
    _wait_playing(qtbot, window)


def test_controls_hide_in_fullscreen_and_return_on_mouse_move(
    qtbot: QtBot, window: MainWindow
) -> None:
    window.play(CLIP)
    _wait_playing(qtbot, window)
    player = window.player
    player._hide_controls.setInterval(150)
    window.toggle_fullscreen()
    qtbot.waitUntil(lambda: not player.controls.isVisible(), timeout=3000)
    assert player.cursor().shape() == Qt.CursorShape.BlankCursor
    qtbot.mouseMove(player.surface, QPoint(30, 30))
    qtbot.waitUntil(player.controls.isVisible, timeout=2000)
    qtbot.waitUntil(lambda: not player.controls.isVisible(), timeout=3000)
    window.toggle_fullscreen()
    assert player.controls.isVisible()


def test_a_stall_shows_buffering_after_a_grace_time_and_hides_it_when_playing(
    qtbot: QtBot, window: MainWindow
) -> None:
    """Issue 15.8: the server falls silent for 3 s (its schedule is the truth): "Buffering"
    shows during the silence, never before it, and goes once the picture moves again."""
    test_card = SAMPLES / "test-card.mp4"
    silence_at = mdat_offset(test_card) + 130_000
    with MediaServer() as server:
        url = server.add(
            "stall.mp4", test_card, Pacing(rate=36_000, silence_at=silence_at, silence_s=3.0)
        )
        window.play(url)
        _wait_playing(qtbot, window)
        indicator = window.player.buffering
        qtbot.waitUntil(indicator.isVisible, timeout=20_000)
        shown_at = time.monotonic()
        qtbot.waitUntil(lambda: len(server.silences("stall.mp4")) == 1, timeout=10_000)
        (silence,) = server.silences("stall.mp4")
        assert silence.began <= shown_at <= silence.ended + 1.0
        qtbot.waitUntil(lambda: not indicator.isVisible(), timeout=5000)
        assert time.monotonic() >= silence.ended
        window.player.stop()
