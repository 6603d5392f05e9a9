"""Fixtures for the player tests: the ffmpeg-made media, made once per test session."""

from __future__ import annotations

import pytest

from .fixture_media import FixtureMedia


@pytest.fixture(scope="session")
def media(tmp_path_factory: pytest.TempPathFactory) -> FixtureMedia:
    return FixtureMedia(tmp_path_factory.mktemp("fixture-media"))
