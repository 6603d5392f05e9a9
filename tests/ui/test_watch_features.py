"""Tracks, subtitles, chapters, speed steps, screenshots and the A-B loop in the real window
offscreen (real libVLC, dummy outputs) on the feature samples, with what they record checked
against the event vocabulary."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot

from player.engine import PlaybackState
from player.recents import RecentSources
from player.session_journal import SessionJournals
from player.track_memory import SUBTITLES_OFF, TrackMemory
from ui.main_window import MainWindow
from ui.playback_telemetry import PlaybackTelemetry

from ..telemetry.track_recorder import Recorder
from .conftest import engine_factory

SAMPLES = Path(__file__).resolve().parents[2] / "resources" / "samples"
FEATURE_CLIP = str(SAMPLES / "harbour-nights.mkv")  # 150 s, chapters at 0, 37.5, 75, 112.5 s
TIMEOUT_MS = 10_000


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def featured(qtbot: QtBot, tmp_path: Path, recorder: Recorder) -> Iterator[MainWindow]:
    window = MainWindow(
        engine_factory,
        QWidget(),
        recents=RecentSources(tmp_path / "recent.json"),
        track_memory=TrackMemory(tmp_path / "choices.json"),
    )
    PlaybackTelemetry(window, recorder, journals=SessionJournals(tmp_path / "j"), parent=window)
    window.watch.screenshot_dir = tmp_path / "shots"
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    yield window
    window.close()


def _play(qtbot: QtBot, window: MainWindow) -> None:
    window.play(FEATURE_CLIP)
    engine = window.player.engine
    qtbot.waitUntil(
        lambda: (
            engine.state is PlaybackState.PLAYING
            and len(window.watch.chapters) == 4
            and engine.position_ms > 600
        ),  # the first picture is up by then
        timeout=TIMEOUT_MS,
    )


def test_chapter_keys_and_menu_seek_by_chapter_and_the_seek_bar_marks_them(
    qtbot: QtBot, featured: MainWindow, recorder: Recorder
) -> None:
    _play(qtbot, featured)
    player, engine = featured.player, featured.player.engine
    assert player.controls.seek_slider.marks == (37_500, 75_000, 112_500)

    def landed(low_ms: int, seeks: int) -> None:
        # Each seek is waited for until the play session saw it land, so none merge.
        qtbot.waitUntil(
            lambda: (
                low_ms <= engine.position_ms < low_ms + 1500
                and len(recorder.of("seek_end")) == seeks
            ),
            timeout=TIMEOUT_MS,
        )

    qtbot.keyClick(player, Qt.Key.Key_PageDown)
    landed(37_500, 1)
    qtbot.keyClick(player, Qt.Key.Key_PageDown)
    landed(75_000, 2)
    # Just into a chapter, "previous" goes to the chapter before.
    qtbot.keyClick(player, Qt.Key.Key_PageUp)
    landed(37_500, 3)
    menu = featured.watch.chapter_menu
    menu.aboutToShow.emit()
    titles = [a.text() for a in menu.actions() if a.isCheckable()]
    assert titles == [
        "1. Arrival\t0:00",
        "2. The Quay\t0:37",
        "3. Lanterns\t1:15",
        "4. Departure\t1:52",
    ]
    [last] = [a for a in menu.actions() if a.text().startswith("4.")]
    last.trigger()
    landed(112_500, 4)
    assert [(s["to_ms"], s["method"]) for s in recorder.of("seek_end")] == [
        (37_500, "chapter"),
        (75_000, "chapter"),
        (37_500, "chapter"),
        (112_500, "chapter"),
    ]


def test_audio_and_subtitle_choices_switch_and_are_remembered_for_the_title(
    qtbot: QtBot, featured: MainWindow, recorder: Recorder, tmp_path: Path
) -> None:
    _play(qtbot, featured)
    player, watch = featured.player, featured.watch
    engine = watch.engine
    qtbot.waitUntil(lambda: len(engine.subtitle_tracks()) == 3, timeout=TIMEOUT_MS)
    english, french = engine.audio_tracks()
    qtbot.keyClick(player, Qt.Key.Key_B)
    qtbot.waitUntil(lambda: engine.audio_track == french.id, timeout=TIMEOUT_MS)
    # The German file beside the clip is shown first; V goes on to "off".
    assert engine.subtitle_track == engine.subtitle_tracks()[2].id
    qtbot.keyClick(player, Qt.Key.Key_V)
    qtbot.waitUntil(lambda: engine.subtitle_track == -1, timeout=TIMEOUT_MS)
    qtbot.keyClick(player, Qt.Key.Key_H)
    qtbot.keyClick(player, Qt.Key.Key_H)
    qtbot.keyClick(player, Qt.Key.Key_G)
    assert engine.subtitle_delay_ms == 50
    menu = watch.audio_menu
    menu.aboutToShow.emit()
    assert [a.text() for a in menu.actions() if a.isCheckable() and a.isChecked()] == [french.name]
    assert [p["kind"] for p in recorder.of("track_change") if p["kind"] != "video"] == [
        "audio",
        "subtitle",
    ]
    assert [p["to_ms"] for p in recorder.of("subtitle_delay_change")] == [50, 100, 50]

    featured.show_home()
    _play(qtbot, featured)
    engine = watch.engine
    qtbot.waitUntil(
        lambda: engine.audio_track == french.id and engine.subtitle_track == -1,
        timeout=TIMEOUT_MS,
    )
    assert engine.subtitle_delay_ms == 50
    choice = TrackMemory(tmp_path / "choices.json").get(FEATURE_CLIP)  # as saved on disk
    assert choice is not None
    assert (choice.audio_language, choice.subtitle_language) == ("French", SUBTITLES_OFF)
    assert english.language == "English"


def test_preferred_subtitle_language_applies_to_a_title_never_chosen_for(
    qtbot: QtBot, featured: MainWindow
) -> None:
    featured.watch.preferred_subtitle = "fr"
    featured.watch.preferred_audio = "French"
    _play(qtbot, featured)
    engine = featured.watch.engine
    french_sub = engine.subtitle_tracks()[1]
    qtbot.waitUntil(
        lambda: (
            engine.subtitle_track == french_sub.id
            and engine.audio_track == engine.audio_tracks()[1].id
        ),
        timeout=TIMEOUT_MS,
    )


def test_a_dropped_subtitle_file_is_added_to_the_playing_title(
    qtbot: QtBot, featured: MainWindow, recorder: Recorder, tmp_path: Path
) -> None:
    _play(qtbot, featured)
    engine = featured.watch.engine
    qtbot.waitUntil(lambda: len(engine.subtitle_tracks()) == 3, timeout=TIMEOUT_MS)
    vtt = tmp_path / "extra.vtt"
    vtt.write_text("WEBVTT\n\n00:00.000 --> 02:30.000\nDropped\n")
    data = QMimeData()
    data.setUrls([QUrl.fromLocalFile(str(vtt))])
    drop = QDropEvent(
        QPointF(10, 10),
        Qt.DropAction.CopyAction,
        data,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    featured.dropEvent(drop)
    qtbot.waitUntil(lambda: len(engine.subtitle_tracks()) == 4, timeout=TIMEOUT_MS)
    assert featured.player.source == FEATURE_CLIP  # still the same title, not "playing" the vtt
    qtbot.waitUntil(lambda: len(recorder.of("track_change")) >= 1, timeout=TIMEOUT_MS)
    assert recorder.of("subtitle_file_added")[0] | {"play_session_id": ""} == {
        "play_session_id": "",
        "method": "drop",
        "format": "vtt",
    }


def test_speed_steps_screenshot_and_ab_loop(
    qtbot: QtBot, featured: MainWindow, recorder: Recorder
) -> None:
    _play(qtbot, featured)
    player, watch = featured.player, featured.watch
    engine = player.engine
    qtbot.keyClick(player, Qt.Key.Key_BracketRight)
    qtbot.keyClick(player, Qt.Key.Key_BracketRight)
    assert engine.rate == pytest.approx(1.2)
    qtbot.keyClick(player, Qt.Key.Key_BracketLeft)
    assert engine.rate == pytest.approx(1.1)
    qtbot.keyClick(player, Qt.Key.Key_Equal)
    assert engine.rate == 1.0
    for _ in range(12):
        qtbot.keyClick(player, Qt.Key.Key_BracketLeft)
    assert engine.rate == pytest.approx(0.1)  # the slowest step
    qtbot.keyClick(player, Qt.Key.Key_Equal)

    messages: list[str] = []
    player.status_message.connect(messages.append)
    qtbot.keyClick(player, Qt.Key.Key_S)
    assert messages[-1].startswith("Screenshot saved to"), messages
    [shot] = watch.screenshot_dir.glob("harbour-nights-*.png")
    qtbot.waitUntil(lambda: shot.stat().st_size > 0, timeout=TIMEOUT_MS)
    assert len(recorder.of("screenshot")) == 1

    qtbot.keyClick(player, Qt.Key.Key_L)
    a_ms = watch.loop_a_ms
    assert a_ms is not None
    qtbot.waitUntil(lambda: engine.position_ms > a_ms + 600, timeout=TIMEOUT_MS)
    qtbot.keyClick(player, Qt.Key.Key_L)
    b_ms = watch.loop_b_ms
    assert b_ms is not None
    # Playback reaches B and goes back to A, again and again.
    qtbot.waitUntil(lambda: len(recorder.of("seek_start")) >= 2, timeout=TIMEOUT_MS)
    assert {(s["to_ms"], s["method"]) for s in recorder.of("seek_start")} == {(a_ms, "loop")}
    qtbot.keyClick(player, Qt.Key.Key_L)
    assert watch.loop_a_ms is None
    assert [p["action"] for p in recorder.of("ab_loop")] == ["set_a", "set_b", "clear"]
