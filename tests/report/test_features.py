"""The report's features section through `reelscope-report`, over a hand-made event set stored
by a real collector: every count and the up-next take rate exact, the title filter applied, an
event recorded twice counted once, and "n/a" (not a division error) when no card was shown."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from telemetry.report.cli import main
from telemetry.report.queries import store_url
from tests.collector.harness import thread_collector

from .conftest import post
from .known_data import DAY1, LINUX, Launch, M


def _play(launch: Launch, mono: int, session: str, video: str) -> None:
    source = {"request_id": None, "row_id": None, "rank": None, "impression_id": None}
    launch.emit("play_request", mono, play_session_id=session, video_id=video,
                source={**source, "location": "open_file"}, start_position_ms=0)  # fmt: skip


def _watching(launch: Launch, s: str) -> None:
    """In session `s`: 2 audio and 1 subtitle track changes, 2 chapter seeks (and a mouse
    seek), a subtitle file, 3 delay changes, 2 screenshots (one recorded twice), one A-B loop
    closed (set_a, set_b, clear) and 4 speed changes."""
    t = M + 1000
    changes = (("audio", 1, 2), ("audio", 2, 1), ("subtitle", None, 3), ("video", 0, 0))
    for track, before, after in changes:
        launch.emit("track_change", t, play_session_id=s, kind=track, from_track=before,
                    to_track=after)  # fmt: skip
        t += 10
    for method in ("chapter", "chapter", "mouse"):
        launch.emit("seek_end", t, play_session_id=s, from_ms=0, to_ms=60_000, method=method,
                    seek_latency_ms=100)  # fmt: skip
        t += 10
    launch.emit("subtitle_file_added", t, play_session_id=s, method="drop", format="srt")
    for step in range(3):
        launch.emit("subtitle_delay_change", t + step, play_session_id=s, from_ms=step * 50,
                    to_ms=step * 50 + 50)  # fmt: skip
    shot = launch.emit("screenshot", t + 10, play_session_id=s, position_ms=5000)
    launch.emit("screenshot", t + 20, play_session_id=s, position_ms=9000)
    launch.emit("screenshot", shot["mono_ms"], **shot["properties"])  # the same event again
    for action in ("set_a", "set_b", "clear"):
        launch.emit("ab_loop", t + 30, play_session_id=s, action=action, a_ms=1000, b_ms=2000)
    for step in range(4):
        launch.emit("rate_change", t + 40 + step, play_session_id=s, from_rate=1.0,
                    to_rate=1.1)  # fmt: skip
    launch.emit("session_end", t + 100, play_session_id=s, reason="completed")


def _card(launch: Launch, mono: int, card: str, seen: bool, action: str | None) -> None:
    launch.emit("postplay_served", mono, postplay_id=card, video_id="v1", next_video_id="v2",
                origin="folder", autoplay=True, countdown_ms=5000)  # fmt: skip
    if seen:
        launch.emit("postplay_seen", mono + 1, postplay_id=card)
    if action is not None:
        launch.emit("postplay_action", mono + 2, postplay_id=card, action=action, dwell_ms=900)


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
    launch = Launch("dev-f", "app-f", M, DAY1, LINUX)
    _play(launch, M, "F1", "v1")
    _watching(launch, "F1")
    _play(launch, M + 5000, "F2", "v2")
    launch.emit("screenshot", M + 5100, play_session_id="F2", position_ms=100)
    launch.emit("rate_change", M + 5200, play_session_id="F2", from_rate=1.0, to_rate=0.9)
    launch.emit("session_end", M + 5300, play_session_id="F2", reason="user_stop")
    _card(launch, M + 6000, "c1", True, "play")
    _card(launch, M + 6100, "c2", True, "autoplay")
    _card(launch, M + 6200, "c3", True, "dismiss")
    _card(launch, M + 6300, "c4", True, None)
    _card(launch, M + 6400, "c5", False, "autoplay")  # never on screen: not shown, not chosen
    return _store(tmp_path_factory.mktemp("features"), launch)


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
    _play(launch, M, "G1", "v1")
    launch.emit("screenshot", M + 100, play_session_id="G1", position_ms=100)
    _card(launch, M + 200, "g1", False, "autoplay")
    url = _store(tmp_path, launch)
    up_next = _json(capsys, "--store", url)["up_next"]
    assert (up_next["shown"], up_next["take_rate"]) == (0, None)
    assert main(["--store", url]) == 0
    out = capsys.readouterr().out
    assert "up next take rate (chosen / shown)  n/a" in out
