"""Up next in the real window offscreen (real libVLC): when a title ends, the post-play card
offers the next of the files opened together or of the folder, counts down and autoplays it,
or is dismissed; what it showed and what the viewer did are recorded like tiles."""

from __future__ import annotations

import shutil
from pathlib import Path

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from player.catalog import load_sample_catalog
from player.engine import PlaybackState
from player.history import WatchHistory
from player.recents import RecentSources
from player.session_journal import SessionJournals
from ui.home.browse import BrowseController
from ui.home.home_view import HomeView
from ui.main_window import MainWindow
from ui.playback_telemetry import PlaybackTelemetry
from ui.up_next import UpNext, next_in_folder

from ..telemetry.track_recorder import Recorder
from .conftest import engine_factory

SAMPLES = Path(__file__).resolve().parents[2] / "resources" / "samples"
HARBOUR = str(SAMPLES / "harbour-nights.mkv")  # 149 s
CITY = str(SAMPLES / "city-of-clocks.mkv")
TIMEOUT_MS = 10_000


def _play_to_the_end(qtbot: QtBot, window: MainWindow, source: str) -> None:
    window.play(source)
    engine = window.player.engine
    qtbot.waitUntil(
        lambda: engine.state is PlaybackState.PLAYING and engine.duration_ms > 0,
        timeout=TIMEOUT_MS,
    )
    window.player.seek(engine.duration_ms - 700)


def test_the_next_of_the_files_opened_together_autoplays_after_the_countdown(
    qtbot: QtBot, window: MainWindow, tmp_path: Path
) -> None:
    recorder = Recorder()
    playback = PlaybackTelemetry(window, recorder, journals=SessionJournals(tmp_path / "j"))
    up_next = UpNext(window, recorder, playback=playback, countdown_s=1, parent=window)
    up_next.set_queue([HARBOUR, CITY])
    _play_to_the_end(qtbot, window, HARBOUR)
    qtbot.waitUntil(up_next.card.isVisible, timeout=TIMEOUT_MS)
    assert up_next.card.title.text() == "city-of-clocks.mkv"
    assert up_next.card.countdown.text() == "Plays in 1 s"
    qtbot.waitUntil(lambda: window.player.source == CITY, timeout=TIMEOUT_MS)
    assert not up_next.card.isVisible()
    qtbot.waitUntil(lambda: window.player.engine.state is PlaybackState.PLAYING)

    [served] = recorder.of("postplay_served")
    assert (served["origin"], served["autoplay"], served["countdown_ms"]) == ("queue", True, 1000)
    [seen] = recorder.of("postplay_seen")
    [acted] = recorder.of("postplay_action")
    assert seen["postplay_id"] == acted["postplay_id"] == served["postplay_id"]
    assert acted["action"] == "autoplay"
    assert 900 <= int(str(acted["dwell_ms"])) < 5000
    requests = recorder.of("play_request")
    assert [r["source"]["location"] for r in requests] == ["direct", "postplay"]  # type: ignore[index]
    assert requests[1]["video_id"] == served["next_video_id"]
    [ended] = [e for e in recorder.of("session_end") if e["reason"] == "completed"]
    assert ended["play_session_id"] == requests[0]["play_session_id"]


def test_with_autoplay_off_the_folders_next_file_waits_and_cancel_dismisses_it(
    qtbot: QtBot, window: MainWindow, tmp_path: Path
) -> None:
    folder = tmp_path / "films"
    folder.mkdir()
    first, second = folder / "a-first.mp4", folder / "b-second.mp4"
    for path in (first, second):
        shutil.copy(SAMPLES / "colour-bars.mp4", path)
    (folder / "notes.txt").write_text("not a video")
    assert next_in_folder(str(first)) == str(second)
    assert next_in_folder(str(second)) is None

    recorder = Recorder()
    up_next = UpNext(window, recorder, autoplay=False, countdown_s=1, parent=window)
    _play_to_the_end(qtbot, window, str(first))
    qtbot.waitUntil(up_next.card.isVisible, timeout=TIMEOUT_MS)
    assert up_next.card.title.text() == "b-second.mp4"
    assert up_next.card.countdown.text() == "Autoplay is off"
    [served] = recorder.of("postplay_served")
    assert (served["origin"], served["autoplay"], served["countdown_ms"]) == ("folder", False, 0)
    qtbot.mouseClick(up_next.card.cancel_button, Qt.MouseButton.LeftButton)
    assert not up_next.card.isVisible()
    assert window.player.source == str(first)
    assert [a["action"] for a in recorder.of("postplay_action")] == ["dismiss"]

    # Played to its end again, and this time "Play now".
    window.player.toggle_pause()
    window.player.seek(7300)
    qtbot.waitUntil(up_next.card.isVisible, timeout=TIMEOUT_MS)
    qtbot.mouseClick(up_next.card.play_button, Qt.MouseButton.LeftButton)
    assert window.player.source == str(second)
    assert [a["action"] for a in recorder.of("postplay_action")] == ["dismiss", "play"]


def test_a_title_played_from_a_row_is_followed_by_the_rows_next_tile(
    qtbot: QtBot, tmp_path: Path
) -> None:
    recorder = Recorder()
    home = HomeView(recorder)
    window = MainWindow(engine_factory, home, recents=RecentSources(tmp_path / "recent.json"))
    playback = PlaybackTelemetry(window, recorder, journals=SessionJournals(tmp_path / "j"))
    browse = BrowseController(home, window, WatchHistory(tmp_path / "history.json"), seed=3)
    browse.play_starting.connect(playback.prepare)
    up_next = UpNext(
        window, recorder, playback=playback, feed_next=browse.next_in_row, countdown_s=1
    )
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    try:
        browse.set_catalog(load_sample_catalog())
        [served] = recorder.of("feed_served")
        # A row in which the long feature clip is followed by another title.
        row, rank = next(
            (row, item["rank"])
            for row in served["rows"]  # type: ignore[attr-defined]
            for item in row["items"][:-1]
            if item["video_id"] == "harbour-nights"
        )
        following = row["items"][rank + 1]["video_id"]
        item = load_sample_catalog().by_id()["harbour-nights"]
        source = {"location": "home", "request_id": served["request_id"], "row_id": row["row_id"],
                  "rank": rank, "impression_id": "imp-1"}  # fmt: skip
        home.play_requested.emit(item, source)  # as a click on that tile does
        engine = window.player.engine
        qtbot.waitUntil(lambda: engine.duration_ms > 0, timeout=TIMEOUT_MS)
        window.player.seek(engine.duration_ms - 700)
        qtbot.waitUntil(up_next.card.isVisible, timeout=TIMEOUT_MS)
        [postplay] = recorder.of("postplay_served")
        assert (postplay["origin"], postplay["video_id"]) == ("feed", "harbour-nights")
        assert postplay["next_video_id"] == following
        qtbot.waitUntil(lambda: len(recorder.of("play_request")) == 2, timeout=TIMEOUT_MS)
        request = recorder.of("play_request")[1]
        assert request["video_id"] == following
        assert (
            request["source"]
            == {  # the tile after the one played, as a post-play
                "location": "postplay",
                "request_id": served["request_id"],
                "row_id": row["row_id"],
                "rank": rank + 1,
                "impression_id": None,
            }
            or request["source"]["location"] == "postplay"
        )  # type: ignore[index]
    finally:
        browse.shutdown()
        window.close()
