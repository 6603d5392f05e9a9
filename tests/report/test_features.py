"""The report's features section through `reelscope-report`, over a hand-made event set stored
by a real collector: every count and the up-next take rate exact, the title filter applied, an
event recorded twice counted once, and "n/a" (not a division error) when no card was shown."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from telemetry.contracts.stored import store_url
from telemetry.report.cli import main
from tests.collector.harness import thread_collector

from .conftest import post
from .feature_data import card, feature_launch, play
from .known_data import DAY1, LINUX, Launch, M


def _store(directory: Path, launch: Launch) -> str:
    with thread_collector(directory) as collector:
        post(collector, launch, launch.events)
        return store_url(collector.db)


def _json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    assert main([*args, "--json"]) == 0
    features: dict[str, Any] = orjson.loads(capsys.readouterr().out)["features"]
    return features


@pytest.fixture(scope="module")
def feature_store(tmp_path_factory: pytest.TempPathFactory) -> str:
    return _store(tmp_path_factory.mktemp("features"), feature_launch())


def test_counts_and_take_rate_are_exact(
    feature_store: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _json(capsys, "--store", feature_store) == {
        "audio_track_changes": 2,
        "subtitle_track_changes": 1,
        "chapter_seeks": 2,
        "subtitle_files_added": 1,
        "subtitle_delay_changes": 3,
        "screenshots": 3,
        "ab_loops_set": 1,
        "speed_changes": 5,
        "up_next": {
            "served": 5,
            "shown": 4,
            "chosen": 2,
            "chosen_by_click": 1,
            "autoplayed": 1,
            "dismissed": 1,
            "take_rate": 0.5,
        },
    }
    assert main(["--store", feature_store]) == 0
    out = capsys.readouterr().out
    assert "up next take rate (chosen / shown)  50.0 %" in out
    page = tmp_path / "report.html"
    assert main(["--store", feature_store, "--html", str(page)]) == 0
    assert "<td>up next take rate (chosen / shown)</td>" in page.read_text()


def test_the_title_filter_applies(feature_store: str, capsys: pytest.CaptureFixture[str]) -> None:
    features = _json(capsys, "--store", feature_store, "--title", "v2")
    assert (features["screenshots"], features["speed_changes"]) == (1, 1)
    assert features["chapter_seeks"] == 0
    assert features["up_next"]["served"] == 0


def test_no_card_shown_gives_n_a(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    launch = Launch("dev-g", "app-g", M, DAY1, LINUX)
    play(launch, M, "G1", "v1")
    launch.emit("screenshot", M + 100, play_session_id="G1", position_ms=100)
    card(launch, M + 200, "g1", False, "autoplay")
    url = _store(tmp_path, launch)
    up_next = _json(capsys, "--store", url)["up_next"]
    assert (up_next["shown"], up_next["take_rate"]) == (0, None)
    assert main(["--store", url]) == 0
    out = capsys.readouterr().out
    assert "up next take rate (chosen / shown)  n/a" in out
