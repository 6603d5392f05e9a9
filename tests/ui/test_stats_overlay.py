"""Stats for nerds over the real engine: the `I` key toggles the window, and the figures it
shows are the engine's own (`media_stats()`, `video_info()`) read at the same moment, with the
play session's startup time, stalls and id."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from player.engine import PlaybackState
from player.session_journal import SessionJournals
from player.settings import Settings, SettingsStore
from telemetry.client.client import TelemetryClient
from telemetry.client.config import TelemetryConfig
from ui.main_window import MainWindow
from ui.playback_telemetry import PlaybackTelemetry
from ui.stats_overlay import format_figures, kbps
from ui.telemetry_controls import TelemetryControls

CLIP = str(Path(__file__).resolve().parents[2] / "resources" / "samples" / "colour-bars.mp4")


def test_the_overlay_shows_the_engines_own_figures(
    qtbot: QtBot, window: MainWindow, tmp_path: Path
) -> None:
    client = TelemetryClient(
        TelemetryConfig(
            consent_before_choice=True,  # a viewer who opted in
            endpoint="http://127.0.0.1:9",  # unreachable: nothing needs to be sent here
            write_key="test",
            outbox_path=tmp_path / "state" / "outbox.sqlite3",
            settings_path=tmp_path / "config" / "telemetry.json",
            connect_timeout=0.2,
        )
    )
    client.start()
    playback = PlaybackTelemetry(
        window, client.track, journals=SessionJournals(tmp_path / "sessions")
    )
    controls = TelemetryControls(
        window,
        client,
        SettingsStore(tmp_path / "config", environ={}),
        Settings(),
        session=lambda: playback.session,
        parent=window,
    )
    try:
        stats = controls.stats
        window.play(CLIP)
        engine = window.player.engine
        qtbot.waitUntil(
            lambda: engine.state is PlaybackState.PLAYING and engine.position_ms > 1500,
            timeout=10_000,
        )
        qtbot.keyClick(window.player, Qt.Key.Key_I)
        assert stats.isVisible()
        # Paused, the counters hold still, so "the same moment" can be checked exactly.
        window.player.toggle_pause()
        qtbot.waitUntil(lambda: engine.state is PlaybackState.PAUSED, timeout=5000)

        def figures_match() -> bool:
            before = engine.media_stats(), engine.video_info()
            shown = stats.refresh()
            after = engine.media_stats(), engine.video_info()
            # The buffer line comes from engine events, checked below.
            return before == after and shown == format_figures(
                *before, shown["buffer"], playback.session
            )

        qtbot.waitUntil(figures_match, timeout=5000)
        media, video = engine.media_stats(), engine.video_info()
        session = playback.session
        assert session is not None
        texts = {name: label.text() for name, label in stats.values.items()}
        assert texts["codec"] == video.codec == "h264"
        assert texts["resolution"] == f"{video.width}×{video.height}"
        assert texts["bitrate"] == kbps(media.demux_bitrate_bps)
        assert media.displayed_pictures > 0
        assert texts["dropped_frames"].startswith(f"{media.lost_pictures} of ")
        assert texts["buffer"].endswith(PlaybackState.PAUSED.value)
        totals = session.totals()
        assert isinstance(totals["startup_ms"], int)
        assert texts["startup"] == f"{totals['startup_ms']} ms"
        assert texts["stalls"] == f"{totals['rebuffer_count']} ({totals['rebuffer_ms']} ms)"
        assert texts["play_session"] == session.play_session_id
        assert len(stats.graph.samples) >= 1

        qtbot.keyClick(window.player, Qt.Key.Key_I)
        assert not stats.isVisible()
    finally:
        client.close(timeout=1.0)
