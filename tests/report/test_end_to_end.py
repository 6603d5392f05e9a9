"""End to end: the real app window (offscreen, libVLC's dummy outputs) plays the 8 s sample
through a real `TelemetryClient` into the real collector over HTTP; the report then shows that
one session with a plausible startup and a watch time within 10 % of the time it was played."""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot

from player.recents import RecentSources
from player.session_journal import SessionJournals
from telemetry.client.client import TelemetryClient
from telemetry.client.config import TelemetryConfig
from telemetry.contracts.stored import store_url
from telemetry.report.compute import compute_report
from telemetry.report.queries import Filters
from tests.collector.harness import KEY, thread_collector
from tests.ui.conftest import engine_factory
from ui.main_window import MainWindow
from ui.playback_telemetry import PlaybackTelemetry, direct_video_id


def test_a_played_sample_shows_in_the_report(
    qtbot: QtBot, tmp_path: Path, sample_clip: Path
) -> None:
    with thread_collector(tmp_path / "collector") as collector:
        client = TelemetryClient(
            TelemetryConfig(
                consent_before_choice=True,  # a viewer who opted in
                endpoint=collector.url,
                write_key=KEY,
                outbox_path=tmp_path / "state" / "outbox.sqlite3",
                settings_path=tmp_path / "config" / "telemetry.json",
                flush_interval=0.2,
            )
        )
        client.set_context(app={"name": "reelscope", "version": "e2e"})
        client.start()
        window = MainWindow(engine_factory, QWidget(), recents=RecentSources(tmp_path / "r.json"))
        playback = PlaybackTelemetry(
            window, client.track, journals=SessionJournals(tmp_path / "sessions")
        )
        qtbot.addWidget(window)
        window.show()
        qtbot.waitExposed(window)
        try:
            began = time.monotonic()
            window.play(str(sample_clip))
            qtbot.waitUntil(
                lambda: playback.session is not None and playback.session.closed, timeout=20_000
            )
            played_ms = (time.monotonic() - began) * 1000
            assert client.flush(10)
        finally:
            window.close()
            client.close(timeout=2.0)
        report = compute_report(store_url(collector.db), Filters(app_version="e2e"))

    assert len(report.sessions) == 1
    session = report.sessions[0]
    assert session.video_id == direct_video_id(str(sample_clip))
    assert session.end_reason == "completed"
    assert session.completed
    assert session.startup_ms is not None
    assert 0 < session.startup_ms < 3000
    assert abs(session.watch_ms - played_ms) <= 0.1 * played_ms, (session, played_ms)
    # The clip is 8 s long and played once to its end at normal speed.
    assert session.duration_ms is not None
    assert session.content_watched_ms >= 0.9 * session.duration_ms
    assert session.playing_ms >= 0.9 * session.duration_ms
    assert report.qoe.plays == 1
    assert report.quality.lost_events == 0
