"""A known-answer data set written by hand: three launches on two devices, seven play sessions
and two home feeds, with every figure worked out on paper in `test_known_answer.py`.

Times: launch 1 runs on 2026-11-01 from 10:00 UTC, launch 2 a day later; launch 3 (device 1's
next launch) has a clock an hour slow. `M` and `N` are launch 1's and 2's monotonic origins;
wall time = day start + (mono - origin), so every duration can be read off the mono values.

Sessions (mono offsets from the origin):
- S1 v1, from impression imp-1 (row 0, rank 0): request +5000, first frame at +5800
  (startup_ms 800, noticed at +6000), a 2000 ms stall [+18000, +20000], a 200 ms stall (not a
  stall), a 300 ms seek from 20 s to 40 s, paused +33500..+38500, ended at 60 s, completed.
- S2 v2, direct: paused before the first frame (startup none), heartbeats, then a crash; launch
  3 sends its `session_end` (crash_recovered), with the slow clock.
- S3 v4, from imp-4 but 31 minutes later (not attributed): fatal `not_found` before the first
  frame.
- S4 v3: the viewer stops after 3 s without a first frame (exit before video start).
- S5 v1, launch 2, from imp-21 (row 0, rank 1): fatal `decode` error after the first frame.
- S6 v6, launch 2: stopped at 15 s of 16 s (completed by the 90 % rule, no `ended`).
- S7 v2, launch 2: no end at all.

The events are checked against the client's vocabulary (`telemetry.contracts.events.SPECS`), so they
are exactly what the app could send.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from telemetry.contracts.events import SPECS

DAY1 = int(datetime(2026, 11, 1, 10, tzinfo=UTC).timestamp() * 1000)
DAY2 = DAY1 + 24 * 3600 * 1000
HOUR = 3600 * 1000
M = 1_000_000
N = 7_000_000

LINUX = {"app": {"name": "reelscope", "version": "1.0.0"}, "os": {"name": "Linux"}}
WINDOWS = {"app": {"name": "reelscope", "version": "1.1.0"}, "os": {"name": "Windows"}}


@dataclass
class Launch:
    """One app session's events, numbered in the order they are recorded."""

    device_id: str
    app_session_id: str
    origin_mono: int
    origin_wall: int
    context: dict[str, Any]
    clock_offset: int = 0  # the device's wall clock minus the true time
    events: list[dict[str, Any]] = field(default_factory=list)
    skip_seq: set[int] = field(default_factory=set)  # numbers lost before reaching the outbox
    next_seq: int = 1

    def emit(self, kind: str, mono: int, /, **props: Any) -> dict[str, Any]:
        problem = SPECS[kind].problem(props)
        assert problem is None, f"{kind}: {problem}"
        while self.next_seq in self.skip_seq:
            self.next_seq += 1
        seq, self.next_seq = self.next_seq, self.next_seq + 1
        event = {
            "event_id": str(uuid.uuid4()),
            "type": kind,
            "schema": 1,
            "time": self.origin_wall + (mono - self.origin_mono) + self.clock_offset,
            "mono_ms": mono,
            "seq": seq,
            "app_session_id": self.app_session_id,
            "device_id": self.device_id,
            "properties": props,
        }
        self.events.append(event)
        return event


def _source(location: str, impression: str | None = None, **tile: Any) -> dict[str, Any]:
    return {
        "request_id": tile.get("request_id"),
        "row_id": tile.get("row_id"),
        "rank": tile.get("rank"),
        "impression_id": impression,
        "location": location,
    }


def _feed(launch: Launch, mono: int, request_id: str, rows: list[tuple[str, list[str]]]) -> None:
    launch.emit(
        "feed_served",
        mono,
        request_id=request_id,
        location="home",
        rows=[
            {
                "row_id": row_id,
                "row_index": index,
                "track_id": row_id,
                "title": row_id,
                "items": [{"video_id": v, "rank": rank} for rank, v in enumerate(videos)],
            }
            for index, (row_id, videos) in enumerate(rows)
        ],
    )


def _tile(request_id: str, row_id: str, row: int, rank: int, video: str) -> dict[str, Any]:
    return {
        "request_id": request_id,
        "row_id": row_id,
        "row_index": row,
        "rank": rank,
        "video_id": video,
    }


def _visible(launch: Launch, mono: int, tile: dict[str, Any], half_ms: int) -> None:
    launch.emit(
        "tile_visibility",
        mono,
        **tile,
        start_mono=mono - half_ms,
        end_mono=mono,
        max_visible_fraction=1.0,
        ms_at_least_half_visible=half_ms,
        end_reason="hidden",
    )


def _impression(launch: Launch, mono: int, impression_id: str, tile: dict[str, Any]) -> None:
    launch.emit(
        "impression",
        mono,
        impression_id=impression_id,
        **tile,
        track_id=tile["row_id"],
        location="home",
    )


def _heartbeat(
    launch: Launch, mono: int, session: str, position: int, window: tuple[int, int] | None = None
) -> None:
    """10 s played; with `window`, the 640x360 picture and the video area it was scaled to."""
    sizes = {} if window is None else {
        "width": 640, "height": 360, "window_width": window[0], "window_height": window[1]
    }  # fmt: skip
    launch.emit(
        "heartbeat",
        mono,
        play_session_id=session,
        position_ms=position,
        played_ms=10_000,
        stall_ms=0,
        displayed_pictures=250,
        lost_pictures=0,
        lost_audio_buffers=0,
        demux_bitrate=1_000_000.0,
        **sizes,
    )


def _first_frame(launch: Launch, mono: int, session: str, startup: int | None) -> None:
    launch.emit(
        "first_frame",
        mono,
        play_session_id=session,
        startup_ms=startup,
        codec="h264",
        width=640,
        height=360,
        fps=25.0,
    )


def launch_1() -> Launch:
    """Device 1, Linux 1.0.0: feed r1, sessions S1-S4."""
    launch = Launch("device-1", "launch-1", M, DAY1, LINUX)
    _feed(launch, M, "r1", [("cw", ["v1", "v2", "v3"]), ("genre:x", ["v4", "v5"])])
    v1 = _tile("r1", "cw", 0, 0, "v1")
    v2 = _tile("r1", "cw", 0, 1, "v2")
    v3 = _tile("r1", "cw", 0, 2, "v3")
    v4 = _tile("r1", "genre:x", 1, 0, "v4")
    _visible(launch, M + 900, v1, 1200)
    _impression(launch, M + 1000, "imp-1", v1)
    _impression(launch, M + 1000, "imp-2", v2)
    _impression(launch, M + 1500, "imp-4", v4)
    _visible(launch, M + 2000, v1, 800)
    _visible(launch, M + 2000, v2, 1500)
    _visible(launch, M + 2000, v4, 1000)
    _visible(launch, M + 2000, v3, 300)  # never an impression: outside the dwell figures

    s = "S1"
    launch.emit(
        "play_request",
        M + 5000,
        play_session_id=s,
        video_id="v1",
        source=_source("home", "imp-1", request_id="r1", row_id="cw", rank=0),
        start_position_ms=0,
    )
    launch.emit("player_ready", M + 5200, play_session_id=s, open_ms=200, duration_ms=60_000)
    _first_frame(launch, M + 6000, s, 800)
    _heartbeat(launch, M + 15_800, s, 10_000, window=(1280, 720))  # scaled up
    launch.emit("rebuffer_start", M + 18_000, play_session_id=s, trigger="buffering",
                position_ms=12_000)  # fmt: skip
    launch.emit("rebuffer_end", M + 20_000, play_session_id=s, trigger="buffering",
                position_ms=12_000, stall_ms=2000)  # fmt: skip
    launch.emit("track_change", M + 22_000, play_session_id=s, kind="video",
                from_track="640x360", to_track="1280x720", width=1280, height=720,
                bitrate=2_500_000.0)  # fmt: skip
    launch.emit("rebuffer_start", M + 25_000, play_session_id=s, trigger="watchdog",
                position_ms=17_000)  # fmt: skip
    launch.emit("rebuffer_end", M + 25_200, play_session_id=s, trigger="watchdog",
                position_ms=17_000, stall_ms=200)  # fmt: skip
    launch.emit("seek_start", M + 28_200, play_session_id=s, from_ms=20_000, to_ms=40_000,
                method="mouse")  # fmt: skip
    launch.emit("seek_end", M + 28_600, play_session_id=s, from_ms=20_000, to_ms=40_000,
                method="mouse", seek_latency_ms=300)  # fmt: skip
    launch.emit("pause", M + 33_500, play_session_id=s, position_ms=45_000)
    launch.emit("resume", M + 38_500, play_session_id=s, position_ms=45_000)
    launch.emit("ended", M + 53_500, play_session_id=s, position_ms=60_000)
    launch.emit("session_end", M + 53_500, play_session_id=s, reason="completed",
                position_ms=60_000, duration_ms=60_000)  # fmt: skip

    s = "S2"
    launch.emit("play_request", M + 100_000, play_session_id=s, video_id="v2",
                source=_source("open_file"), start_position_ms=0)  # fmt: skip
    launch.emit("player_ready", M + 100_100, play_session_id=s, open_ms=100,
                duration_ms=100_000)  # fmt: skip
    launch.emit("pause", M + 100_200, play_session_id=s, position_ms=0)
    launch.emit("resume", M + 101_200, play_session_id=s, position_ms=0)
    _first_frame(launch, M + 101_700, s, None)
    _heartbeat(launch, M + 111_700, s, 10_000)
    _heartbeat(launch, M + 121_700, s, 20_000)

    s = "S3"
    launch.emit("play_request", M + 1_900_000, play_session_id=s, video_id="v4",
                source=_source("home", "imp-4", request_id="r1", row_id="genre:x", rank=0),
                start_position_ms=0)  # fmt: skip
    launch.emit("error", M + 1_900_400, play_session_id=s, fatal=True, phase="startup",
                category="not_found", message="no such file")  # fmt: skip
    launch.emit("session_end", M + 1_900_400, play_session_id=s, reason="error")

    s = "S4"
    launch.emit("play_request", M + 2_000_000, play_session_id=s, video_id="v3",
                source=_source("home"), start_position_ms=0)  # fmt: skip
    launch.emit("session_end", M + 2_003_000, play_session_id=s, reason="user_stop")
    return launch


def launch_2() -> Launch:
    """Device 2, Windows 1.1.0: feed r2, sessions S5-S7; seq 4 never reached the outbox."""
    launch = Launch("device-2", "launch-2", N, DAY2, WINDOWS, skip_seq={4})
    _feed(launch, N, "r2", [("row0", ["v2", "v1"])])
    v2 = _tile("r2", "row0", 0, 0, "v2")
    v1 = _tile("r2", "row0", 0, 1, "v1")
    _impression(launch, N + 1000, "imp-20", v2)
    _impression(launch, N + 1000, "imp-21", v1)
    _visible(launch, N + 3000, v2, 1100)
    _visible(launch, N + 3000, v1, 2500)

    s = "S5"
    launch.emit("play_request", N + 5000, play_session_id=s, video_id="v1",
                source=_source("home", "imp-21", request_id="r2", row_id="row0", rank=1),
                start_position_ms=0)  # fmt: skip
    _first_frame(launch, N + 6400, s, 1200)
    _heartbeat(launch, N + 16_200, s, 10_000, window=(640, 360))  # its own size
    launch.emit("error", N + 18_200, play_session_id=s, fatal=True, phase="playback",
                category="decode", message="bad frame", position_ms=12_000)  # fmt: skip
    launch.emit("session_end", N + 18_200, play_session_id=s, reason="error")

    s = "S6"
    launch.emit("play_request", N + 100_000, play_session_id=s, video_id="v6",
                source=_source("recent"), start_position_ms=0)  # fmt: skip
    launch.emit("player_ready", N + 100_500, play_session_id=s, open_ms=500, duration_ms=16_000)
    _first_frame(launch, N + 102_000, s, 2000)
    _heartbeat(launch, N + 112_000, s, 10_000, window=(320, 180))  # scaled down
    launch.emit("session_end", N + 117_000, play_session_id=s, reason="user_stop",
                position_ms=15_000)  # fmt: skip

    s = "S7"
    launch.emit("play_request", N + 200_000, play_session_id=s, video_id="v2",
                source=_source("recent"), start_position_ms=0)  # fmt: skip
    _first_frame(launch, N + 200_500, s, 500)
    _heartbeat(launch, N + 210_500, s, 10_000)
    return launch


def launch_3() -> Launch:
    """Device 1's next launch, its clock an hour slow: recovers S2 after the crash."""
    launch = Launch("device-1", "launch-3", 5000, DAY1 + 2 * HOUR, LINUX, clock_offset=-HOUR)
    launch.emit("app_start", 5000, startup_ms=300)
    launch.emit("session_end", 5100, play_session_id="S2", reason="crash_recovered",
                playing_ms=19_000, position_ms=19_500, duration_ms=100_000)  # fmt: skip
    return launch
