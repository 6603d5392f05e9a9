"""The report over events recorded twice under new seq numbers (a relay or client that re-sends
what it already sent, with new event ids), through the real collector: every figure equals the
figures of the same events recorded once, whatever the event type and wherever the copy lands
(beside the original, or after the session's end). A crash-recovered end of a session its own
launch ended is a repeat, not an orphan; of two different ends the latest is the session's end.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from telemetry.contracts.stored import store_url
from telemetry.report.compute import compute_report
from telemetry.report.metrics import Report
from telemetry.report.queries import Filters
from tests.collector.harness import thread_collector

from .conftest import post
from .known_data import DAY1, HOUR, Launch, M, _feed, _first_frame, _heartbeat, _impression, _tile
from .known_data import _source as source
from .known_data import _visible as visible


def _one_session(launch: Launch) -> None:
    """A feed, an impression, and a played session with a stall, a seek and a pause."""
    _feed(launch, M, "r1", [("cw", ["v1", "v2"])])
    tile = _tile("r1", "cw", 0, 0, "v1")
    visible(launch, M + 1500, tile, 1200)
    _impression(launch, M + 1500, "imp-1", tile)
    s = "S1"
    launch.emit("play_request", M + 5000, play_session_id=s, video_id="v1",
                source=source("home", "imp-1", request_id="r1", row_id="cw", rank=0),
                start_position_ms=0)  # fmt: skip
    launch.emit("player_ready", M + 5200, play_session_id=s, open_ms=200, duration_ms=60_000)
    _first_frame(launch, M + 6000, s, 800)
    _heartbeat(launch, M + 15_800, s, 10_000)
    launch.emit("rebuffer_start", M + 18_000, play_session_id=s, trigger="buffering",
                position_ms=12_000)  # fmt: skip
    launch.emit("rebuffer_end", M + 20_000, play_session_id=s, trigger="buffering",
                position_ms=12_000, stall_ms=2000)  # fmt: skip
    launch.emit("seek_start", M + 28_000, play_session_id=s, from_ms=20_000, to_ms=40_000,
                method="mouse")  # fmt: skip
    launch.emit("seek_end", M + 28_500, play_session_id=s, from_ms=20_000, to_ms=40_000,
                method="mouse", seek_latency_ms=500)  # fmt: skip
    launch.emit("pause", M + 33_500, play_session_id=s, position_ms=45_000)
    launch.emit("resume", M + 38_500, play_session_id=s, position_ms=45_000)
    launch.emit("error", M + 40_000, play_session_id=s, fatal=False, phase="playback",
                category="decode", message="late picture", position_ms=46_500)  # fmt: skip
    _heartbeat(launch, M + 41_000, s, 47_500)
    launch.emit("ended", M + 53_500, play_session_id=s, position_ms=60_000)
    launch.emit("session_end", M + 53_500, play_session_id=s, reason="completed",
                position_ms=60_000, duration_ms=60_000)  # fmt: skip


def _launch() -> Launch:
    launch = Launch("device-1", "launch-1", M, DAY1, {"app": {"version": "1.0.0"}})
    _one_session(launch)
    return launch


def _recorded_again(launch: Launch, where: Callable[[int], bool]) -> Launch:
    """`launch` with every event for which `where(index)` holds recorded a second time: each
    copy right after its original, and again after the last event (new ids, new seqs)."""
    again = Launch(launch.device_id, launch.app_session_id, M, DAY1, launch.context)
    originals = launch.events
    for index, event in enumerate(originals):
        again.emit(event["type"], event["mono_ms"], **copy.deepcopy(event["properties"]))
        if where(index):
            again.emit(event["type"], event["mono_ms"], **copy.deepcopy(event["properties"]))
    for index, event in enumerate(originals):
        if where(index):
            again.emit(event["type"], event["mono_ms"], **copy.deepcopy(event["properties"]))
    return again


def _report(tmp_path: Path, *launches: Launch) -> Report:
    with thread_collector(tmp_path) as collector:
        for launch in launches:
            post(collector, launch, launch.events)
        return compute_report(store_url(collector.db), Filters())


def _figures(result: Report) -> tuple[Any, ...]:
    (session,) = result.sessions
    # `started_at` is the corrected wall clock, which depends on when the batch was sent.
    return (replace(session, started_at=0), result.qoe, result.browse, result.titles)


def test_every_event_recorded_twice_gives_the_same_figures(tmp_path: Path) -> None:
    clean = _report(tmp_path / "once", _launch())
    doubled = _launch()
    twice = _report(tmp_path / "twice", _recorded_again(doubled, lambda _index: True))

    session = clean.sessions[0]
    assert (session.stall_count, session.rebuffer_ms, session.seek_count) == (1, 2000, 1)
    assert (session.seek_latencies_ms, session.paused_ms, session.completed) == ([500], 5000, True)
    assert clean.browse.feeds == 1
    assert _figures(twice) == _figures(clean)
    assert twice.quality.events_recorded_twice == 2 * len(doubled.events)
    assert clean.quality.events_recorded_twice == 0
    assert twice.quality.sessions_without_request == 0


def test_each_event_type_recorded_twice_alone_changes_nothing(tmp_path: Path) -> None:
    clean = _figures(_report(tmp_path / "once", _launch()))
    events = _launch().events
    for index in range(len(events)):
        twice = _report(
            tmp_path / f"twice-{index}", _recorded_again(_launch(), lambda i, n=index: i == n)
        )
        assert _figures(twice) == clean, f"{events[index]['type']} recorded twice"


def test_a_crash_recovered_end_of_an_ended_session_is_a_repeat_not_an_orphan(
    tmp_path: Path,
) -> None:
    launch = _launch()
    # The next launch found the session's journal (the app died after ending it) and sent it.
    next_launch = Launch("device-1", "launch-2", 5000, DAY1 + 2 * HOUR, launch.context)
    next_launch.emit("session_end", 5100, play_session_id="S1", reason="crash_recovered",
                     playing_ms=30_000, position_ms=50_000)  # fmt: skip
    # And a session of its own whose play_request never arrived: that one is an orphan.
    next_launch.emit("session_end", 5200, play_session_id="S9", reason="crash_recovered")
    result = _report(tmp_path, launch, next_launch)

    (session,) = result.sessions
    assert session.end_reason == "completed"
    assert result.quality.sessions_without_request == 1
    assert result.quality.events_recorded_twice == 1


def test_of_two_different_ends_the_latest_ends_the_session(tmp_path: Path) -> None:
    launch = Launch("device-1", "launch-1", M, DAY1, {"app": {"version": "1.0.0"}})
    s = "S1"
    launch.emit("play_request", M, play_session_id=s, video_id="v1",
                source=source("open_file"), start_position_ms=0)  # fmt: skip
    launch.emit("player_ready", M + 200, play_session_id=s, open_ms=200, duration_ms=600_000)
    _first_frame(launch, M + 1000, s, 1000)
    # An end recorded too early (the session went on playing) and the real one afterwards.
    launch.emit("session_end", M + 5000, play_session_id=s, reason="navigated", position_ms=4000)
    _heartbeat(launch, M + 11_000, s, 10_000)
    _heartbeat(launch, M + 21_000, s, 20_000)
    launch.emit("session_end", M + 25_000, play_session_id=s, reason="app_exit",
                position_ms=24_000)  # fmt: skip
    (session,) = _report(tmp_path, launch).sessions

    assert session.end_reason == "app_exit"
    assert (session.playing_ms, session.watch_ms) == (24_000, 25_000)
    assert session.content_watched_ms == 24_000
