"""Playback telemetry end to end in the real app window (offscreen, libVLC's dummy outputs):
playing a clip puts its play session into the real telemetry outbox, from `play_request` to
`session_end`, with the window's own seeks and fullscreen; a missing file is a fatal startup
error; a resumed title offers to start over; and a finished session leaves no crash journal."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot

from player.recents import RecentSources
from player.session_journal import SessionJournals
from telemetry.client.client import TelemetryClient
from telemetry.client.config import TelemetryConfig
from telemetry.client.outbox_reader import OutboxReader
from ui.main_window import MainWindow
from ui.playback_telemetry import PlaybackTelemetry, direct_video_id

from .conftest import engine_factory

CLIP = Path(__file__).resolve().parents[2] / "resources" / "samples" / "colour-bars.mp4"  # 8 s


class App:
    def __init__(self, window: MainWindow, playback: PlaybackTelemetry, client: TelemetryClient):
        self.window, self.playback, self.client = window, playback, client

    def outbox(self) -> list[dict[str, object]]:
        """Committed events, oldest first (closes the client so that everything is committed)."""
        self.client.close(timeout=3.0)
        return list(reversed(OutboxReader(self.client.outbox_path).recent_events(1000)))


@pytest.fixture
def app(qtbot: QtBot, tmp_path: Path) -> Iterator[App]:
    config = TelemetryConfig(
        consent_before_choice=True,  # a viewer who opted in
        endpoint="http://127.0.0.1:9",  # unreachable: events stay in the outbox to be read
        write_key="test",
        outbox_path=tmp_path / "state" / "outbox.sqlite3",
        settings_path=tmp_path / "config" / "telemetry.json",
        connect_timeout=0.2,
    )
    client = TelemetryClient(config)
    client.start()
    window = MainWindow(engine_factory, QWidget(), recents=RecentSources(tmp_path / "recent.json"))
    playback = PlaybackTelemetry(
        window, client.track, journals=SessionJournals(tmp_path / "sessions")
    )
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    yield App(window, playback, client)
    window.close()
    client.close(timeout=1.0)


def _session_events(events: list[dict[str, object]]) -> list[tuple[str, dict[str, object]]]:
    found = []
    for event in events:
        properties = event["properties"]
        assert isinstance(properties, dict)
        if "play_session_id" in properties:
            found.append((str(event["type"]), properties))
    return found


def test_a_played_clip_lands_in_the_outbox_as_one_session(
    qtbot: QtBot, app: App, tmp_path: Path
) -> None:
    window = app.window
    window.play(str(CLIP))
    qtbot.waitUntil(lambda: _emitted(app, "first_frame"), timeout=10_000)
    window.toggle_fullscreen()
    window.player.seek_relative(3000)  # the Right key's action
    qtbot.waitUntil(lambda: _emitted(app, "seek_end"), timeout=10_000)
    qtbot.waitUntil(
        lambda: app.playback.session is not None and app.playback.session.closed, timeout=15_000
    )

    session = _session_events(app.outbox())
    types = [kind for kind, _ in session]
    assert types[0] == "play_request"
    assert types[-2:] == ["ended", "session_end"]
    assert {"player_ready", "first_frame", "seek_start", "seek_end", "window_change"} <= set(types)
    assert types.count("first_frame") == 1
    assert len({props["play_session_id"] for _, props in session}) == 1
    request = session[0][1]
    assert request["video_id"] == direct_video_id(str(CLIP))
    assert str(tmp_path) not in str(session)  # no local paths leave the machine
    props = dict(session)
    assert props["first_frame"]["startup_ms"] is not None
    # The video area the picture is scaled to (issue 15.4: upscale/downscale in the report).
    surface = window.player.surface
    assert props["first_frame"]["window_width"] is not None
    assert 0 < int(str(props["first_frame"]["window_width"])) <= 4 * max(1, surface.width())
    assert props["seek_start"]["method"] == "key"
    assert props["window_change"]["fullscreen"] is True
    assert props["session_end"]["reason"] == "completed"
    assert not list((tmp_path / "sessions").glob("*.json"))


def test_a_missing_file_is_a_fatal_startup_error(app: App, tmp_path: Path) -> None:
    app.window.play(str(tmp_path / "gone.mp4"))

    session = _session_events(app.outbox())
    assert [kind for kind, _ in session] == ["play_request", "error", "session_end"]
    assert dict(session)["error"]["category"] == "not_found"
    assert str(tmp_path) not in str(session)


def test_going_home_ends_the_session_as_navigated(qtbot: QtBot, app: App) -> None:
    app.window.play(str(CLIP))
    qtbot.waitUntil(lambda: _emitted(app, "first_frame"), timeout=10_000)
    app.window.show_home()

    session = dict(_session_events(app.outbox()))
    assert session["session_end"]["reason"] == "navigated"
    assert session["session_end"]["startup_ms"] is not None


def test_a_resumed_title_offers_to_start_over(qtbot: QtBot, app: App) -> None:
    window = app.window
    window.play(str(CLIP), start_ms=5000)
    assert "Press Home to start over" in window.statusBar().currentMessage()
    qtbot.waitUntil(lambda: _emitted(app, "first_frame"), timeout=10_000)
    qtbot.keyClick(window.player, Qt.Key.Key_Home)
    qtbot.waitUntil(lambda: _emitted(app, "seek_end"), timeout=10_000)
    assert window.player.engine.position_ms < 4000

    session = dict(_session_events(app.outbox()))
    assert session["play_request"]["start_position_ms"] == 5000
    assert (session["seek_end"]["to_ms"], session["seek_end"]["method"]) == (0, "key")


def _emitted(app: App, event_type: str) -> bool:
    return bool(app.client.outbox.counts_by_type().get(event_type))


def test_leaving_while_libvlc_is_slow_to_stop_keeps_the_gui_free_and_ends_at_once(
    qtbot: QtBot, app: App
) -> None:
    """Issue 15.7: libVLC's stop can block for seconds (a throttled HLS stream's input thread
    in a network read). Here it is made to take 1.5 s: leaving must not wait for it, and the
    session ends at the moment the viewer left, not when libVLC let go."""
    app.window.play(str(CLIP))
    qtbot.waitUntil(lambda: _emitted(app, "first_frame"), timeout=10_000)
    engine = app.window.player.engine
    player = engine._player  # type: ignore[attr-defined]
    real_stop = player.stop
    stopped = threading.Event()

    def slow_stop() -> None:
        stopped.wait(1.5)  # what a blocked libVLC input thread does to its caller
        real_stop()

    player.stop = slow_stop
    session = app.playback.session
    assert session is not None
    began = time.monotonic()
    app.window.show_home()
    left_after = time.monotonic() - began
    assert left_after < 0.5, f"the GUI thread waited {left_after:.2f} s"
    assert session.closed
    totals_at_leave = session.totals()
    qtbot.waitUntil(lambda: not engine._stopper.is_alive(), timeout=5000)  # type: ignore[attr-defined]
    end = dict(_session_events(app.outbox()))["session_end"]
    assert end["reason"] == "navigated"
    assert end["watch_ms"] == totals_at_leave["watch_ms"]
