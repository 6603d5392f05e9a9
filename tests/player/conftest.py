"""Fixtures for the player tests: the ffmpeg-made media, made once per test session, and a
real libVLC engine (no picture, no sound) with the probe that records its events."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from player.vlc_engine import VlcEngine

from .engine_probe import EngineProbe
from .fixture_media import FixtureMedia


@pytest.fixture(scope="session")
def media(tmp_path_factory: pytest.TempPathFactory) -> FixtureMedia:
    return FixtureMedia(tmp_path_factory.mktemp("fixture-media"))


@pytest.fixture
def probe() -> EngineProbe:
    return EngineProbe()


@pytest.fixture
def engine(probe: EngineProbe) -> Iterator[VlcEngine]:
    engine = VlcEngine(probe, video_output="dummy", audio_output="dummy")
    yield engine
    engine.release()
