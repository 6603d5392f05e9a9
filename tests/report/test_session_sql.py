"""Known answers for `session_sql.play_sessions` (play sessions' figures in ClickHouse SQL):
hand-made launches whose every figure is worked out in the comments, one rule at a time."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from telemetry.contracts.clickhouse import Warehouse
from telemetry.report.queries import Filters
from telemetry.report.session_sql import SessionRows, play_sessions

from .session_facts import Stored, insert, open_engine

WALL = 1_700_000_000_000
L1, L2, L3 = "launch-1", "launch-2", "launch-3"  # in this order (later launches sort after)
CONTEXTS = {
    "aa01": '{"app": {"version": "1.0"}, "os": {"name": "linux"}}',
    "aa02": '{"app": {"version": "1.1"}, "os": {"name": "windows"}}',
}
UP = {"width": 1280, "height": 720, "window_width": 1920, "window_height": 1080}
DOWN = {"width": 1920, "height": 1080, "window_width": 960, "window_height": 540}
NATIVE = {"width": 1280, "height": 720, "window_width": 1285, "window_height": 725}  # within 1 %
TRACKS_1_2 = {"from_track": 1, "to_track": 2}
TRACKS_2_2 = {"from_track": 2, "to_track": 2}


def launch_events() -> list[Stored]:
    events: list[tuple[str, str | None, str, int, Any]] = [
        # a: every state. t0 1000; first frame 1000 + 500; stall 3000-4000; paused 5000-7000
        # (a seek inside it is paused time); a 200 ms stall is playing; ends at 10500.
        (L1, None, "app_start", 0, {}),
        (L1, "a", "play_request", 1000, {"video_id": "v1", "source": {"location": "home"}}),
        (L1, "a", "player_ready", 1100, {"duration_ms": 100000}),
        (L1, "a", "first_frame", 1700, {"startup_ms": 500, "height": 720}),
        (L1, "a", "heartbeat", 2500, {"position_ms": 1000, "played_ms": 1000, **UP}),
        (L1, "a", "rebuffer_start", 3000, {"position_ms": 1000}),
        (L1, "a", "rebuffer_end", 4000, {"position_ms": 1000, "stall_ms": 1000}),
        (L1, "a", "pause", 5000, {"position_ms": 1000}),
        (L1, "a", "seek_start", 5500, {"from_ms": 1000, "to_ms": 20000}),
        (L1, "a", "seek_end", 6300, {"to_ms": 20000, "seek_latency_ms": 700}),
        (L1, "a", "resume", 7000, {"position_ms": 20000}),
        (L1, "a", "rebuffer_start", 8000, {"position_ms": 20000}),
        (L1, "a", "rebuffer_end", 8200, {}),
        (L1, "a", "heartbeat", 10000, {"position_ms": 23000, "played_ms": 2000.0, **DOWN}),
        (L1, "a", "session_end", 10500, {"reason": "user_exit", "position_ms": 23500}),
        # b: a seek before the first frame spoils the startup and outranks it; a seek inside a
        # stall outranks the stall; `ended` completes it and ends the content watched
        (L1, "b", "play_request", 20000, {"video_id": "v1", "start_position_ms": 5000}),
        (L1, "b", "seek_start", 20200, {"from_ms": 5000, "to_ms": 30000}),
        (L1, "b", "first_frame", 21100, {"startup_ms": 1000, "height": 1080.0}),
        (L1, "b", "seek_end", 21300, {"to_ms": 30000}),
        (L1, "b", "heartbeat", 31300, {"position_ms": 40000, "played_ms": 10000}),
        (L1, "b", "rebuffer_start", 32000, {"position_ms": 40700}),
        (L1, "b", "seek_start", 32500, {"from_ms": 40700, "to_ms": 60000}),
        (L1, "b", "seek_end", 33000, {"to_ms": 60000, "seek_latency_ms": 500}),
        (L1, "b", "rebuffer_end", 34000, {"position_ms": 60000, "stall_ms": 2000}),
        (L1, "b", "ended", 35000, {"position_ms": 61000}),
        (L1, "b", "heartbeat", 36000, {"position_ms": 70000}),
        # c: overlapping ranges watched, clipped to the duration a session_end gives; the
        # latest session_end (in mono time) gives the reason, "" is "unknown"
        (L1, "c", "play_request", 50000, {"video_id": "v1"}),
        (L1, "c", "first_frame", 50100, {"startup_ms": 100}),
        (L1, "c", "heartbeat", 60100, {"position_ms": 10000}),
        (L1, "c", "heartbeat", 68600, {"position_ms": 18500}),
        (L1, "c", "seek_start", 68700, {"from_ms": 18500, "to_ms": 5000}),
        (L1, "c", "seek_end", 68800, {"to_ms": 5000, "seek_latency_ms": 100}),
        (L1, "c", "heartbeat", 75800, {"position_ms": 12000}),
        (L1, "c", "heartbeat", 88800, {"position_ms": 25000}),
        (
            L1,
            "c",
            "session_end",
            89000,
            {"reason": "ended", "position_ms": 25000, "duration_ms": 20000},
        ),
        (L1, "c", "session_end", 88000, {"reason": "crash", "position_ms": 1}),
        (L1, "c", "session_end", 90000, {"reason": "", "position_ms": 26000}),
        # d: a fatal error before the first frame fails the startup (no context: unknown)
        (L1, "d", "play_request", 100000, {"video_id": "v3"}),
        (L1, "d", "error", 100500, {"fatal": True, "category": "network", "position_ms": 0}),
        (L1, "d", "first_frame", 101000, {"startup_ms": 1000}),
        (L1, "d", "session_end", 101500, {"reason": "error"}),
        # e: the first fatal error after the first frame fails the playback; no session_end
        (L1, "e", "play_request", 110000, {"video_id": "v3"}),
        (L1, "e", "first_frame", 110400, {"startup_ms": 400}),
        (L1, "e", "error", 111000, {"fatal": False, "category": "decode"}),
        (L1, "e", "error", 112000, {"fatal": True, "category": ""}),
        (L1, "e", "error", 112500, {"fatal": True, "category": "decode"}),
        # f: its play_request's first copy (another key, arrived first) has another context; a
        # repeat and a heartbeat without object properties are ignored; a volume change
        # extends the timeline to 230000
        (L1, "f", "play_request", 200000, {"video_id": "v2"}),
        (L1, "f", "first_frame", 200300, {"startup_ms": 300}),
        (L1, "f", "heartbeat", 205300, {"position_ms": 5000}),
        (L1, "f", "heartbeat", 205300, {"position_ms": 5000}),
        (L1, "f", "heartbeat", 215300, []),
        (L1, "f", "volume_change", 230000, {"volume": 5}),
        # g: the last non-zero duration; seek_ends whose start was lost; a rebuffer_end without
        # a start is no stall; video switches; native scaling, played ms truncated; a boolean
        # position is no position; a repeat; a stall and a pause still open at the end
        (L1, "g", "play_request", 300000, {"video_id": "v1"}),
        (L1, "g", "player_ready", 300050, {"duration_ms": 50000}),
        (L1, "g", "player_ready", 300060, {"duration_ms": 0}),
        (L1, "g", "player_ready", 300070, {"duration_ms": 60000.0}),
        (L1, "g", "first_frame", 300300, {"startup_ms": 200, "height": 480}),
        (L1, "g", "heartbeat", 304200, {"position_ms": 4000.0, "played_ms": 1500.7, **NATIVE}),
        (L1, "g", "heartbeat", 305200, {"position_ms": True, "played_ms": 1000}),
        (L1, "g", "track_change", 306200, {"kind": "video", "height": 720, **TRACKS_1_2}),
        (L1, "g", "track_change", 307000, {"kind": "video", "height": 1080, **TRACKS_2_2}),
        (L1, "g", "track_change", 307500, {"kind": "audio", "height": 1080, **TRACKS_1_2}),
        (L1, "g", "seek_end", 308200, {"to_ms": 20000, "seek_latency_ms": 400}),
        (L1, "g", "seek_end", 309000, {"to_ms": 25000}),
        (L1, "g", "heartbeat", 314000, {"position_ms": 30000}),
        (L1, "g", "heartbeat", 314000, {"position_ms": 30000}),
        (L1, "g", "rebuffer_end", 315000, {"position_ms": 30000}),
        (L1, "g", "rebuffer_start", 316000, {"position_ms": 30000}),
        (L1, "g", "pause", 317000, {"position_ms": 30500}),
        (L1, "g", "volume_change", 320000, {"volume": 5}),
        # later launches: crash-recovered ends
        (L2, "e", "session_end", 10, {"reason": "crash"}),  # e was unended: crash
        (L2, "a", "session_end", 20, {"reason": "crash"}),  # a had ended: a repeated end
        (L2, "zzz", "session_end", 30, {"reason": "crash"}),  # never requested: an orphan
        (L2, "b", "session_end", 40, {"reason": "crash"}),
        (L3, "b", "heartbeat", 50, {"position_ms": 1}),  # the latest launch says nothing
        (L3, "yyy", "heartbeat", 60, {"position_ms": 1}),  # never requested: an orphan
    ]
    stored: list[Stored] = []
    seqs: dict[str, int] = {}
    for launch, psid, kind, mono, props in events:
        seqs[launch] = seqs.get(launch, 0) + 1
        context = None if psid == "d" else "aa01"
        stored.append(
            Stored(
                launch,
                seqs[launch],
                kind,
                mono,
                props,
                psid,
                corrected_time=WALL + mono,
                time=WALL + mono,
                device_id=f"device-{launch}",
                context_hash=context,
                received_at=WALL + 1_000_000,
            )
        )
    (request_f,) = [e for e in stored if e.play_session_id == "f" and e.type == "play_request"]
    stored.append(
        dataclasses.replace(
            request_f, key_id="key-2", event_id="other", received_at=WALL, context_hash="aa02"
        )
    )
    return stored


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Warehouse]:
    warehouse = open_engine(Path(tmp_path_factory.mktemp("facts")) / "clickhouse")
    try:
        insert(warehouse, launch_events(), CONTEXTS)
        yield warehouse
    finally:
        warehouse.close()


@pytest.fixture(scope="module")
def everything(engine: Warehouse) -> SessionRows:
    return play_sessions(engine, Filters())


def by_id(rows: SessionRows) -> dict[str, Any]:
    return {s.play_session_id: dataclasses.asdict(s) for s in rows.sessions}


def test_each_state_by_priority_and_short_stalls_are_playing(everything: SessionRows) -> None:
    a = by_id(everything)["a"]
    assert a["startup_ms"] == 500
    assert a["startup_phase_ms"] == 500
    assert (a["playing_ms"], a["rebuffer_ms"], a["paused_ms"], a["seek_ms"]) == (
        6000,
        1000,
        2000,
        0,
    )
    assert a["watch_ms"] == 7500
    assert (a["stall_count"], a["seek_count"], a["seek_latencies_ms"]) == (1, 1, [700])
    # 0-1000 played, then 20000-23000 and 23000-23500 (the session_end's position)
    assert a["content_watched_ms"] == 4500
    assert not a["completed"]
    assert not a["ended"]
    assert (a["end_reason"], a["duration_ms"], a["failure_category"]) == ("user_exit", 100000, None)
    assert a["rendition_ms"] == {720: 6000}
    assert a["rendition_switches"] == 0
    assert a["scaling_ms"] == {"upscaled": 1000, "downscaled": 2000}
    assert (a["video_id"], a["location"], a["started_at"]) == ("v1", "home", WALL + 1000)
    assert (a["device_id"], a["app_version"], a["os"]) == ("device-launch-1", "1.0", "linux")


def test_seeking_outranks_startup_and_stalls_and_spoils_the_startup(
    everything: SessionRows,
) -> None:
    b = by_id(everything)["b"]
    assert b["first_frame"]
    assert b["startup_ms"] is None
    # 20000-20200 startup, 20200-21300 seeking (over the first frame at 21000), playing to
    # 32000, stalled 32000-32500, seeking 32500-33000, stalled to 34000, playing to 36000
    assert (b["startup_phase_ms"], b["seek_ms"], b["rebuffer_ms"], b["playing_ms"]) == (
        200,
        1600,
        1500,
        12700,
    )
    assert (b["seek_count"], b["seek_latencies_ms"], b["stall_count"]) == (2, [1100, 500], 1)
    # from the seek target 30000: 30000-40000, 40000-40700, 60000-61000; nothing after ended
    assert b["content_watched_ms"] == 11700
    assert b["ended"]
    assert b["completed"]
    assert b["rendition_ms"] == {1080: 12700}
    assert b["scaling_ms"] == {}
    assert b["end_reason"] is None  # the latest launch's late end says nothing


def test_content_watched_is_a_union_clipped_to_the_duration(everything: SessionRows) -> None:
    c = by_id(everything)["c"]
    assert c["content_watched_ms"] == 20000
    assert c["duration_ms"] == 20000
    assert c["completed"]
    assert not c["ended"]
    assert c["end_reason"] == "unknown"  # the latest end (mono 90000) has reason ""
    assert (c["startup_ms"], c["seek_ms"], c["playing_ms"], c["watch_ms"]) == (
        100,
        100,
        39800,
        40000,
    )
    assert c["rendition_ms"] == {}  # the first frame had no height


def test_failure_phase_and_category(everything: SessionRows) -> None:
    d, e = by_id(everything)["d"], by_id(everything)["e"]
    assert (d["failure_category"], d["failure_phase"], d["end_reason"]) == (
        "network",
        "startup",
        "error",
    )
    assert (d["app_version"], d["os"]) == (None, None)
    assert (e["failure_category"], e["failure_phase"]) == ("unknown", "playback")


def test_late_ends(everything: SessionRows) -> None:
    sessions = by_id(everything)
    assert sessions["e"]["end_reason"] == "crash"  # unended in its launch: a later one ended it
    assert sessions["a"]["end_reason"] == "user_exit"
    assert (everything.orphans, everything.repeated_ends) == (2, 1)  # zzz, yyy; a


def test_copies_repeats_and_events_without_figures(everything: SessionRows) -> None:
    f = by_id(everything)["f"]
    assert (f["app_version"], f["os"]) == ("1.1", "windows")  # the first copy's context
    assert (f["startup_phase_ms"], f["playing_ms"], f["content_watched_ms"]) == (300, 29700, 5000)
    assert [s.play_session_id for s in everything.sessions] == ["a", "b", "c", "d", "e", "f", "g"]


def test_lost_starts_switches_scaling_and_what_is_still_open_at_the_end(
    everything: SessionRows,
) -> None:
    g = by_id(everything)["g"]
    assert g["duration_ms"] == 60000
    # lost starts: 307800-308200 from the latency sent, then 0 ms; both counted
    assert (g["seek_count"], g["seek_latencies_ms"], g["seek_ms"]) == (2, [400, 0], 400)
    # the rebuffer_end without a start is no stall; the one open since 316000 is (1000 ms,
    # then paused: the pause open since 317000 outranks it to the end at 320000)
    assert (g["stall_count"], g["rebuffer_ms"], g["paused_ms"]) == (1, 1000, 3000)
    assert (g["startup_phase_ms"], g["playing_ms"], g["watch_ms"]) == (200, 15400, 17000)
    assert g["rendition_switches"] == 1  # the same track again and an audio change are not
    assert g["rendition_ms"] == {480: 6000, 720: 9400}
    assert g["scaling_ms"] == {"native": 1500}
    assert g["content_watched_ms"] == 9500  # 0-4000, 25000-30000, 30000-30500


@pytest.mark.parametrize(
    ("filters", "selected"),
    [
        (Filters(video_id="v2"), ["f"]),
        (Filters(video_id="v3"), ["d", "e"]),
        (Filters(app_version="1.1"), ["f"]),
        (Filters(os="linux"), ["a", "b", "c", "e", "g"]),
        (Filters(app_version="1.0", os="windows"), []),
        (Filters(since=WALL + 50000, until=WALL + 110000), ["c", "d"]),
        (Filters(since=WALL + 110000, video_id="v3"), ["e"]),
    ],
)
def test_filters_select_by_the_play_request(
    engine: Warehouse, filters: Filters, selected: list[str]
) -> None:
    rows = play_sessions(engine, filters)
    assert [s.play_session_id for s in rows.sessions] == selected
    assert (rows.orphans, rows.repeated_ends) == (2, 1)  # whatever the filters
