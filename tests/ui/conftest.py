"""Fixtures for the Qt tests: a real `MainWindow` around a real libVLC engine.

Offscreen, the engine gets libVLC's dummy video output; under Xvfb (the `xvfb` tests) it
draws into the window for real. Audio always goes to libVLC's dummy output.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtGui import QGuiApplication
from pytestqt.qtbot import QtBot

from player.engine import EventSink, PlaybackEngine
from player.recents import RecentSources
from player.vlc_engine import VlcEngine
from ui.main_window import MainWindow
from ui.sample_list import SampleList


def engine_factory(sink: EventSink) -> PlaybackEngine:
    headless = QGuiApplication.platformName() == "offscreen"
    return VlcEngine(sink, video_output="dummy" if headless else None, audio_output="dummy")


@pytest.fixture
def window(qtbot: QtBot, tmp_path: Path) -> Iterator[MainWindow]:
    home = SampleList()
    window = MainWindow(engine_factory, home, recents=RecentSources(tmp_path / "recent.json"))
    home.play_requested.connect(window.play)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    yield window
    window.close()
