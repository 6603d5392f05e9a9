"""Fixtures for the Qt tests: a real `MainWindow` around a real libVLC engine.

Offscreen, the engine gets libVLC's dummy video output; under Xvfb (the `xvfb` tests) it
draws into the window for real. Audio always goes to libVLC's dummy output.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot

from player.engine import EventSink, PlaybackEngine
from player.recents import RecentSources
from player.vlc_engine import VlcEngine
from tests.player.fixture_media import FixtureMedia
from ui.main_window import MainWindow


@pytest.fixture(scope="session")
def media(tmp_path_factory: pytest.TempPathFactory) -> FixtureMedia:
    """The ffmpeg-made test media (`tests/player/fixture_media.py`), made once per session."""
    return FixtureMedia(tmp_path_factory.mktemp("fixture-media"))


def engine_factory(sink: EventSink) -> PlaybackEngine:
    headless = QGuiApplication.platformName() == "offscreen"
    return VlcEngine(sink, video_output="dummy" if headless else None, audio_output="dummy")


@pytest.fixture
def window(qtbot: QtBot, tmp_path: Path) -> Iterator[MainWindow]:
    # The player tests need a home page to go back to, not the carousel (tested on its own).
    window = MainWindow(engine_factory, QWidget(), recents=RecentSources(tmp_path / "recent.json"))
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    yield window
    window.close()
