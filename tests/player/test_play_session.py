"""The play session's state machine on synthetic engine event sequences (fast, no libVLC).

The sequences copy what libVLC 3.0.24 was seen to send (see libvlc-and-qt-notes.md): `Playing`
before the picture, time reports every 250-500 ms that start late, `Buffering` bursts on seeks,
and nothing at all while a starved input blocks.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from player.engine import EngineEventKind as K
from player.engine import MediaStats, PlaybackState, VideoInfo
from player.errors import ErrorCategory, PlaybackProblem, missing_local_file
from player.play_session import JOURNAL_EVERY_MS, EndReason, WindowState
from player.session_journal import SessionJournals
from player.watched_ranges import WatchedRanges

from .session_harness import Harness, Recorder


def test_local_file_startup_is_extrapolated_back_from_the_first_time_report() -> None:
    h = Harness()
    h.open_and_play()
    assert h.out.types() == ["play_request", "player_ready"]
    assert h.out.one("player_ready") == {
        "play_session_id": h.session.play_session_id,
        "open_ms": 9,
        "duration_ms": 24_000,
    }
    # libVLC reports 400 ms of media at 480 ms: the picture started at 80 ms.
    h.time(400, at=480)
    h.play_steadily(480, 2000)
    frame = h.out.one("first_frame")
    assert frame["startup_ms"] == 80
    assert (frame["codec"], frame["width"], frame["height"], frame["fps"]) == (
        "h264",
        480,
        270,
        24.0,
    )
    request = h.out.one("play_request")
    assert request["source"] == {
        "request_id": "req-1",
        "row_id": "row-1",
        "rank": 3,
        "impression_id": "imp-1",
        "location": "home",
    }


def test_startup_waits_for_the_playhead_to_advance_after_a_full_buffer() -> None:
    h = Harness()
    h.session.start()
    h.engine.state = PlaybackState.PLAYING
    h.event(K.PLAYING, at=700)
    h.event(K.BUFFERING, 100.0, at=1355)
    h.time(0, at=1355)  # a stream reports 0 first: not an advance
    assert "first_frame" not in h.out.types()
    h.time(490, at=1855)
    assert h.out.one("first_frame")["startup_ms"] == 1365


def test_startup_is_never_earlier_than_the_full_buffer() -> None:
    h = Harness(start_position_ms=6000)
    h.session.start()
    h.engine.state = PlaybackState.PLAYING
    h.event(K.PLAYING, at=40)
    h.event(K.BUFFERING, 100.0, at=300)
    h.poll(at=310)  # the playhead still reads 0 before the start position is applied
    h.time(7000, at=500)
    assert h.out.one("first_frame")["startup_ms"] == 300


def test_pause_before_the_first_frame_records_no_startup_time() -> None:
    h = Harness()
    h.open_and_play()
    h.event(K.PAUSED, at=60)
    h.engine.state = PlaybackState.PAUSED
    h.poll(at=1000)
    h.event(K.PLAYING, at=3000)
    h.engine.state = PlaybackState.PLAYING
    h.time(400, at=3400)
    assert h.out.types()[2:] == ["pause", "resume", "first_frame"]
    assert h.out.one("first_frame")["startup_ms"] is None
    h.session.end(EndReason.USER_STOP)
    end = h.out.one("session_end")
    assert end["startup_ms"] is None
    assert end["playing_ms"] == 400  # the picture started on resuming at 3000, not before
    assert end["watch_ms"] == 60 + 400  # waiting, then playing; the pause is not watching


def test_stop_before_the_first_frame_is_an_exit_before_video_start() -> None:
    h = Harness()
    h.open_and_play()
    h.poll(at=900)
    h.now = 1200
    h.session.end(EndReason.USER_STOP)
    assert h.out.types() == ["play_request", "player_ready", "session_end"]
    end = h.out.one("session_end")
    assert end["reason"] == "user_stop"
    assert end["startup_ms"] is None
    assert end["watch_ms"] == 1200  # all of it waiting for a picture
    assert end["playing_ms"] == 0
    assert h.out.events[-1][2] is True  # session_end is critical


def test_buffering_stall_duration_is_frozen_wall_time_not_the_buffering_window() -> None:
    h = Harness()
    h.open_and_play()
    h.time(400, at=480)
    h.time(1040, at=1120)
    h.event(K.BUFFERING, 0.0, at=1620)
    h.event(K.BUFFERING, 37.0, at=2000)
    h.poll(at=2100)
    h.event(K.BUFFERING, 100.0, at=3220)
    h.time(1740, at=3220)
    assert h.out.types()[-2:] == ["rebuffer_start", "rebuffer_end"]
    start, end = h.out.one("rebuffer_start"), h.out.one("rebuffer_end")
    assert (start["trigger"], start["position_ms"]) == ("buffering", 1040)
    # 2100 ms of wall time between the reports, 700 ms of it spent playing.
    assert end == {
        "play_session_id": h.session.play_session_id,
        "trigger": "buffering",
        "position_ms": 1740,
        "stall_ms": 1400,
    }
    totals = h.session.totals()
    assert totals["rebuffer_ms"] == 1400
    assert totals["rebuffer_count"] == 1
    assert totals["playing_ms"] == 3220 - 80 - 1400


def test_watchdog_catches_a_starved_input_that_reports_nothing() -> None:
    h = Harness()
    h.open_and_play()
    h.time(400, at=480)
    h.play_steadily(480, 5480)
    frozen_at = h.engine.position_ms
    for at in range(5500, 6480, 100):
        h.poll(at=at)
    assert "rebuffer_start" not in h.out.types()  # frozen for less than a second
    h.poll(at=6500)
    assert h.out.one("rebuffer_start") == {
        "play_session_id": h.session.play_session_id,
        "trigger": "watchdog",
        "position_ms": frozen_at,
    }
    for at in range(6600, 9100, 100):
        h.poll(at=at)
    h.event(K.BUFFERING, 0.0, at=8177)  # late and in the middle: no second stall
    # libVLC's playhead jumps 1639 ms when it resumes, but it was seen frozen at 9000: only the
    # 127 ms since then can have been shown. The jump is not played time.
    h.time(frozen_at + 1639, at=9127)
    assert h.out.one("rebuffer_end")["stall_ms"] == 9127 - 5480 - 127
    assert h.session.totals()["rebuffer_ms"] == 3520
    assert h.session.totals()["playing_ms"] == 9127 - 80 - 3520


def test_the_playhead_jump_when_a_stall_ends_is_not_played_time() -> None:
    """Issue 15.1: a starved MP4's playhead leaps 0.5-0.8 s ahead at resume; the picture was
    frozen all along, so the stall is the whole frozen wall time (the 12-15 % it lost)."""
    h = Harness()
    h.open_and_play()
    h.time(400, at=480)
    h.play_steadily(480, 4480)
    frozen_at = h.engine.position_ms
    h.event(K.BUFFERING, 0.0, at=4600)
    for at in range(4700, 7800, 100):
        h.poll(at=at)
    h.event(K.BUFFERING, 100.0, at=7810)
    h.time(frozen_at + 700, at=7850)  # the leap: 700 ms of media in 150 ms of wall time
    stall = h.out.one("rebuffer_end")["stall_ms"]
    assert isinstance(stall, int)
    # Frozen from the last advance (4480) until the picture moved again (7700..7850).
    assert 7850 - 4480 - 150 <= stall <= 7850 - 4480


def test_a_playhead_reported_in_1_s_steps_is_not_stalled_between_steps() -> None:
    """Issue 15.3: libVLC reports MPEG-TS/HLS time every ~1 s; the watchdog must not call the
    wait for the next step a stall, and still catches a real freeze."""
    h = Harness()
    h.open_and_play()
    h.time(400, at=480)
    position, at = 400, 480
    for _ in range(12):
        # A step of 1000 ms media, reported 1000-1100 ms apart (a loaded machine's jitter).
        for poll in range(at + 100, at + 1100, 100):
            h.poll(at=poll)
        at += 1000 + (100 if position % 3000 == 400 else 0)
        position += 1000
        h.time(position, at=at)
    assert "rebuffer_start" not in h.out.types()
    for poll in range(at + 100, at + 4000, 100):
        h.poll(at=poll)
    assert len(h.out.of("rebuffer_start")) == 1


def test_no_stall_while_paused_seeking_or_before_the_first_frame() -> None:
    h = Harness()
    h.open_and_play()
    for at in range(100, 3000, 100):  # a slow start is startup, not rebuffering
        h.poll(at=at)
    h.time(400, at=3400)
    h.event(K.PAUSED, at=3500)
    h.engine.state = PlaybackState.PAUSED
    for at in range(3600, 9000, 100):
        h.poll(at=at)
    h.engine.state = PlaybackState.PLAYING
    h.event(K.PLAYING, at=9000)
    h.time(900, at=9400)
    h.session.seek(5000, "key")
    h.time(5000, at=9400)
    h.event(K.BUFFERING, 0.0, at=9401)
    for at in range(9500, 10_600, 100):
        h.poll(at=at)
    h.event(K.BUFFERING, 100.0, at=10_600)
    h.time(5100, at=10_700)
    assert "rebuffer_start" not in h.out.types()
    assert h.out.types()[-1] == "seek_end"


def test_a_seek_ends_when_the_playhead_moves_from_the_target() -> None:
    h = Harness()
    h.open_and_play()
    h.time(400, at=480)
    h.play_steadily(480, 1480)
    h.now = 1512
    h.session.seek(12_000, "mouse")
    h.time(12_000, at=1512)  # libVLC's echo inside set_time
    h.event(K.BUFFERING, 0.0, at=1512)
    h.event(K.BUFFERING, 100.0, at=1532)
    h.poll(at=1600)
    h.time(12_317, at=1861)
    start, end = h.out.one("seek_start"), h.out.one("seek_end")
    assert (start["from_ms"], start["to_ms"], start["method"]) == (1432, 12_000, "mouse")
    assert end["seek_latency_ms"] == 1861 - 317 - 1512
    assert "rebuffer_start" not in h.out.types()
    assert h.session.totals()["seek_ms"] == 32
    h.play_steadily(1861, 3000)
    assert "rebuffer_start" not in h.out.types()


def test_a_paused_seek_ends_when_the_target_picture_is_buffered() -> None:
    h = Harness()
    h.open_and_play()
    h.time(400, at=480)
    h.event(K.PAUSED, at=600)
    h.engine.state = PlaybackState.PAUSED
    h.now = 1000
    h.session.seek(3000, "key")
    h.event(K.BUFFERING, 0.0, at=1001)
    h.event(K.BUFFERING, 100.0, at=1004)
    assert h.out.one("seek_end")["seek_latency_ms"] == 4
    h.poll(at=1100)
    assert h.out.types()[-1] == "seek_end"


def test_scrubbing_is_one_seek_to_the_final_target() -> None:
    h = Harness()
    h.open_and_play()
    h.time(400, at=480)
    h.now = 600
    h.session.seek(5000, "mouse")
    h.now = 700
    h.session.seek(9000, "mouse")
    h.time(9300, at=1000)
    assert h.out.one("seek_start")["to_ms"] == 5000
    end = h.out.one("seek_end")
    assert (end["to_ms"], end["seek_latency_ms"]) == (9000, 100)


def test_an_unexplained_jump_is_an_inferred_seek() -> None:
    h = Harness()
    h.open_and_play()
    h.time(400, at=480)
    h.play_steadily(480, 1480)
    h.time(9000, at=1730)
    start = h.out.one("seek_start")
    assert (start["method"], start["to_ms"]) == ("inferred", 9000)
    h.time(9250, at=1980)
    assert h.out.one("seek_end")["method"] == "inferred"
    h.time(2000, at=2230)  # and backwards
    assert len(h.out.of("seek_start")) == 2


def test_heartbeats_every_ten_seconds_of_live_time_none_while_paused() -> None:
    h = Harness()
    h.open_and_play(duration=60_000)
    h.time(400, at=480)
    h.engine.stats = MediaStats(
        displayed_pictures=240, lost_pictures=2, lost_audio_buffers=1, demux_bitrate_bps=3e5
    )
    h.play_steadily(480, 9980)  # the picture started at 80
    assert "heartbeat" not in h.out.types()
    h.play_steadily(9980, 15_000)
    beat = h.out.one("heartbeat")
    assert 10_000 <= beat["played_ms"] <= 10_250  # the first poll after 10 s of playing
    assert beat["stall_ms"] == 0
    assert (beat["displayed_pictures"], beat["lost_pictures"]) == (240, 2)
    assert beat["lost_audio_buffers"] == 1
    assert beat["demux_bitrate"] == 3e5
    h.event(K.PAUSED, at=15_000)
    h.engine.state = PlaybackState.PAUSED
    for at in range(15_100, 40_000, 250):
        h.poll(at=at)
    assert len(h.out.of("heartbeat")) == 1
    h.engine.state = PlaybackState.PLAYING
    h.event(K.PLAYING, at=40_000)
    h.engine.stats = MediaStats(displayed_pictures=600, lost_pictures=2, lost_audio_buffers=1)
    h.pictures_fps = 24.0  # the pictures move on (a counter standing still is a stall)
    h.play_steadily(40_000, 46_000)
    second = h.out.of("heartbeat")[1]
    assert 10_000 <= second["played_ms"] <= 10_250  # about 5 s each side of the pause
    assert second["lost_pictures"] == 0
    assert 360 + 4.5 * 24 <= second["displayed_pictures"] <= 360 + 5.5 * 24
    assert "rebuffer_start" not in h.out.types()


def test_double_rate_counts_wall_time_as_watched_and_media_time_as_content() -> None:
    h = Harness()
    h.open_and_play()
    h.time(400, at=480)
    h.play_steadily(480, 2480)
    h.now = 2680  # 200 ms after the last report, which the rate change must not lose
    h.engine.rate = 2.0
    h.session.set_rate(2.0)
    h.engine.position_ms = 2600
    h.play_steadily(2680, 6680)
    h.session.end(EndReason.USER_STOP)
    assert h.out.one("rate_change")["from_rate"] == 1.0
    assert h.out.one("rate_change")["to_rate"] == 2.0
    end = h.out.one("session_end")
    assert end["watch_ms"] == 6680
    assert end["playing_ms"] == 6600
    assert end["content_watched_ms"] == 400 + 2000 + 200 + 8000
    assert "rebuffer_start" not in h.out.types()


def test_a_rate_changed_elsewhere_is_noticed_when_polling() -> None:
    h = Harness()
    h.open_and_play()
    h.time(400, at=480)
    h.engine.rate = 1.5
    h.poll(at=500)
    assert h.out.one("rate_change")["to_rate"] == 1.5


def test_volume_and_window_changes_are_reported_once_each() -> None:
    h = Harness()
    h.open_and_play()
    h.session.set_volume(100, False)
    h.session.window_changed(WindowState())
    assert "volume_change" not in h.out.types()
    h.session.set_volume(60, False)
    h.session.set_volume(60, False)
    h.session.set_volume(60, True)
    h.session.window_changed(WindowState(fullscreen=True))
    h.session.window_changed(WindowState(fullscreen=True))
    h.session.window_changed(WindowState(fullscreen=True, minimised=True, active=False))
    volumes = h.out.of("volume_change")
    assert [(v["from_volume"], v["to_volume"], v["muted"]) for v in volumes] == [
        (100, 60, False),
        (60, 60, True),
    ]
    windows = h.out.of("window_change")
    assert [(w["fullscreen"], w["exposed"], w["active"]) for w in windows] == [
        (True, True, True),
        (True, False, False),
    ]


def test_a_new_video_track_after_the_first_frame_is_a_rendition_switch() -> None:
    h = Harness()
    h.open_and_play()
    h.time(400, at=480)
    h.event(K.TRACK_ADDED, "video", at=900)
    h.engine.info = VideoInfo("h264", 1280, 720, 24.0)
    h.poll(at=1000)
    change = h.out.one("track_change")
    assert (change["kind"], change["from_track"], change["to_track"]) == (
        "video",
        "480x270",
        "1280x720",
    )


def test_a_404_is_a_fatal_startup_error_then_the_session_ends() -> None:
    h = Harness(source="http://127.0.0.1:9/missing.mp4")
    h.session.start()
    h.event(K.OPENING, at=1)
    h.event(K.ERROR, "access stream error: HTTP 404 error", at=30)
    assert h.out.types() == ["play_request", "error", "session_end"]
    error = h.out.one("error")
    assert error["fatal"] is True
    assert (error["phase"], error["category"]) == ("startup", "not_found")
    assert error["message"] == "access stream error: HTTP 404 error"
    assert h.out.one("session_end")["reason"] == "error"
    h.event(K.STOPPED, at=40)
    h.session.end(EndReason.USER_STOP)
    assert h.out.types()[-1] == "session_end"
    assert len(h.out.of("session_end")) == 1


def test_an_error_after_the_first_frame_is_a_playback_error_without_local_paths(
    tmp_path: Path,
) -> None:
    clip = tmp_path / "holiday.mp4"
    clip.write_bytes(b"")
    h = Harness(source=str(clip))
    h.open_and_play()
    h.time(400, at=480)
    h.event(K.ERROR, f"mp4 demux error: cannot read {clip} (corrupt)", at=900)
    error = h.out.one("error")
    assert error["phase"] == "playback"
    assert error["message"] == "mp4 demux error: cannot read <media> (corrupt)"
    assert str(tmp_path) not in json.dumps(h.out.events)


def test_a_network_error_is_reported_without_the_address() -> None:
    """A direct play's video id is a hash of its source: its error must not give it away."""
    url = "https://media.example.org:8443/private/My%20Show/index.m3u8?token=s3cret"
    h = Harness(source=url)
    h.session.start()
    h.event(
        K.ERROR,
        f"VLC is unable to open the MRL '{url}'.\n"
        "cannot connect to media.example.org:8443\n"
        "adaptive: cannot fetch /private/My Show/index.m3u8 (token=s3cret)\n"
        "getaddrinfo failed for media.example.org",
        at=30,
    )
    error = h.out.one("error")
    assert error["category"] == "network"
    message = str(error["message"])
    for secret in ("media.example.org", "8443", "private", "My Show", "My%20Show", "s3cret"):
        assert secret not in message, message
    assert "cannot connect to <host>" in message
    assert secret not in json.dumps(h.out.events)


def test_a_missing_file_found_before_opening_is_reported_without_its_path(
    tmp_path: Path,
) -> None:
    gone = tmp_path / "gone.mp4"
    h = Harness(source=str(gone))
    h.session.start()
    problem = missing_local_file(str(gone))
    assert problem is not None
    h.session.report_problem(problem, fatal=True)
    assert h.out.types() == ["play_request", "error", "session_end"]
    error = h.out.one("error")
    assert (error["category"], error["phase"], error["fatal"]) == ("not_found", "startup", True)
    assert error["message"] == "<media>: no such file"


def test_our_own_non_fatal_problem_keeps_the_session_going() -> None:
    h = Harness()
    h.open_and_play()
    h.session.report_problem(
        PlaybackProblem(ErrorCategory.DECODE, "Subtitles unreadable", "bad srt"), fatal=False
    )
    assert h.out.one("error")["fatal"] is False
    assert not h.session.closed


def test_end_of_media_ends_the_session_as_completed() -> None:
    h = Harness()
    h.open_and_play(duration=8000)
    h.time(400, at=480)
    h.play_steadily(480, 7980)
    h.event(K.ENDED, at=8100)
    assert h.out.types()[-2:] == ["ended", "session_end"]
    assert h.out.one("ended")["position_ms"] == 8000
    end = h.out.one("session_end")
    assert end["reason"] == "completed"
    assert end["content_watched_ms"] == 8000
    h.time(100, at=8200)
    h.session.end(EndReason.APP_EXIT)
    assert h.out.types()[-1] == "session_end"
    assert len(h.out.of("session_end")) == 1


def test_the_end_totals_are_those_of_the_moment_it_closed() -> None:
    """The clock moves between the session's own readings (a busy GUI thread): session_end
    carries the totals at the instant it closed, the ones the session gives from then on."""
    h = Harness()
    h.open_and_play()
    h.time(400, at=480)
    h.play_steadily(480, 2000)
    h.tick_ms = 1.0
    h.session.end(EndReason.NAVIGATED)
    end = h.out.one("session_end")
    later = h.session.totals()
    assert (end["watch_ms"], end["playing_ms"]) == (later["watch_ms"], later["playing_ms"])


def test_a_stall_cut_short_by_a_pause_or_exit_is_closed_first() -> None:
    h = Harness()
    h.open_and_play()
    h.time(400, at=480)
    h.event(K.BUFFERING, 0.0, at=700)
    h.event(K.PAUSED, at=1480)
    assert h.out.types()[-3:] == ["rebuffer_start", "rebuffer_end", "pause"]
    assert h.out.one("rebuffer_end")["stall_ms"] == 1000
    h.engine.state = PlaybackState.PLAYING
    h.event(K.PLAYING, at=2000)
    h.event(K.BUFFERING, 0.0, at=2100)
    h.now = 2600
    h.session.end(EndReason.NAVIGATED)
    assert h.out.types()[-3:] == ["rebuffer_start", "rebuffer_end", "session_end"]
    assert h.out.of("rebuffer_end")[1]["stall_ms"] == 600
    assert h.out.one("session_end")["rebuffer_ms"] == 1600


def test_events_from_before_the_request_belong_to_an_older_session() -> None:
    h = Harness()
    h.now = 5000
    h.session.start()
    h.event(K.ENDED, at=4990)  # the previous media's end, still queued
    h.event(K.ERROR, "old", at=4995)
    assert h.out.types() == ["play_request"]


class _Journal:
    def __init__(self) -> None:
        self.saved: list[dict[str, object]] = []
        self.discarded = False

    def save(self, snapshot: object) -> None:
        self.saved.append(dict(snapshot))  # type: ignore[call-overload]

    def end(self, send_end: Callable[[], object]) -> None:
        send_end()
        self.discarded = True


def test_the_journal_follows_the_session_and_is_discarded_at_the_end() -> None:
    journal = _Journal()
    h = Harness(journal=journal)
    h.open_and_play()
    h.time(400, at=480)
    h.play_steadily(480, 6480)
    assert len(journal.saved) >= 4  # start, first frame, then every 2 s
    last = journal.saved[-1]
    assert last["video_id"] == "test-card"
    totals = last["totals"]
    assert isinstance(totals, dict)
    assert totals["position_ms"] >= 6480 - JOURNAL_EVERY_MS - 250
    assert not journal.discarded
    h.session.end(EndReason.USER_STOP)
    assert journal.discarded


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_an_unfinished_journal_becomes_a_crash_recovered_session_end(tmp_path: Path) -> None:
    out = Recorder()
    h = Harness(journal=SessionJournals(tmp_path).journal("s-1"), session_id="s-1")
    h.open_and_play()
    h.time(400, at=480)
    h.play_steadily(480, 4480)
    path = tmp_path / "s-1.session.json"
    snapshot = json.loads(path.read_text())
    snapshot["pid"], snapshot["run"] = _dead_pid(), "an-earlier-run"
    path.write_text(json.dumps(snapshot))
    (tmp_path / "torn.session.json").write_text("{")
    alive = dict(snapshot, play_session_id="s-2", pid=os.getppid())
    (tmp_path / "s-2.session.json").write_text(json.dumps(alive))

    recovered = SessionJournals(tmp_path).recover(out)

    assert [r.play_session_id for r in recovered] == ["s-1"]
    end = out.one("session_end")
    assert end["reason"] == "crash_recovered"
    assert end["play_session_id"] == "s-1"
    assert end["position_ms"] == recovered[0].position_ms >= 4480 - JOURNAL_EVERY_MS - 250
    assert end["playing_ms"] >= 4400 - JOURNAL_EVERY_MS - 250
    assert out.events[0][2] is True
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s-2.session.json"]


@pytest.mark.parametrize(
    ("ranges", "total", "merged"),
    [
        ([(0, 10), (20, 30)], 20, [(0, 10), (20, 30)]),
        ([(0, 10), (5, 15)], 15, [(0, 15)]),
        ([(20, 30), (0, 10), (10, 20)], 30, [(0, 30)]),
        ([(0, 100), (10, 20)], 100, [(0, 100)]),
        ([(50, 60), (0, 5), (55, 70), (5, 5), (9, 3)], 25, [(0, 5), (50, 70)]),
    ],
)
def test_watched_ranges_merge(
    ranges: list[tuple[int, int]], total: int, merged: list[tuple[int, int]]
) -> None:
    watched = WatchedRanges()
    for start, end in ranges:
        watched.add(start, end)
    assert watched.total_ms == total
    assert watched.ranges() == merged


def test_a_picture_size_change_without_a_new_stream_is_a_track_change_and_beats_carry_it() -> None:
    """Issue 15.4: the rendition shown is reported at the first frame, on every switch (seen
    within about a second even when libVLC announces no new stream), and in heartbeats."""
    h = Harness()
    h.open_and_play()
    h.time(400, at=480)
    assert (h.out.one("first_frame")["width"], h.out.one("first_frame")["height"]) == (480, 270)
    h.play_steadily(480, 3480)
    h.engine.info = VideoInfo("h264", 1280, 720, 24.0)
    h.play_steadily(3480, 4730)
    change = h.out.one("track_change")
    assert (change["from_track"], change["to_track"]) == ("480x270", "1280x720")
    h.play_steadily(4730, 10_600)
    beat = h.out.one("heartbeat")
    assert (beat["width"], beat["height"]) == (1280, 720)


def test_a_frozen_picture_under_a_moving_playhead_is_a_stall_until_pictures_move_again() -> None:
    """Issue 15.2: the video stops (late data, a rendition switch), the audio and with it
    libVLC's playhead go on: the displayed-pictures counter standing still is the stall."""
    h = Harness()
    h.open_and_play()
    h.time(400, at=480)
    h.pictures_fps = 24.0
    h.play_steadily(480, 4480)
    frozen_since = 4480 - 125  # the counter's last move: the poll half a step before 4480
    h.pictures_fps = 0.0
    h.play_steadily(4480, 5230)  # still for 750 ms by the last poll: not yet
    assert "rebuffer_start" not in h.out.types()
    h.play_steadily(5230, 8480)
    assert h.out.one("rebuffer_start")["trigger"] == "frozen_picture"
    assert "rebuffer_end" not in h.out.types()  # the playhead moving does not end it
    h.pictures_fps = 24.0
    h.play_steadily(8480, 9480)
    end = h.out.one("rebuffer_end")
    assert end["trigger"] == "frozen_picture"
    assert end["stall_ms"] == 8480 + 125 - frozen_since  # to the first poll that saw it move
    totals = h.session.totals()
    assert totals["rebuffer_ms"] == end["stall_ms"]
    assert totals["rebuffer_count"] == 1
    # What played under the frozen picture was heard: watched content, not playing time.
    assert totals["content_watched_ms"] == 9480 - 80
    assert totals["playing_ms"] == 9480 - 80 - end["stall_ms"]


def test_a_still_counter_is_no_stall_for_audio_slow_frame_rates_or_a_frozen_playhead() -> None:
    h = Harness()
    h.open_and_play()
    h.time(400, at=480)
    h.play_steadily(480, 6480)  # audio only: the counter never moves
    assert "rebuffer_start" not in h.out.types()

    slideshow = Harness()
    slideshow.engine.info = VideoInfo("h264", 480, 270, 0.5)  # a new picture every 2 s
    slideshow.open_and_play()
    slideshow.time(400, at=480)
    for second in range(1, 12):
        slideshow.engine.stats = MediaStats(displayed_pictures=second // 2)
        slideshow.play_steadily(480 + (second - 1) * 1000, 480 + second * 1000)
    assert "rebuffer_start" not in slideshow.out.types()

    both = Harness()
    both.open_and_play()
    both.time(400, at=480)
    both.pictures_fps = 24.0
    both.play_steadily(480, 3480)
    for at in range(3500, 6500, 100):  # the playhead and the picture freeze together
        both.poll(at=at)
    both.pictures_fps = 24.0
    both.play_steadily(6480, 8480)
    assert [e["trigger"] for e in both.out.of("rebuffer_start")] == ["watchdog"]


def test_a_seek_ends_when_new_pictures_show_though_the_playhead_stands_at_the_target() -> None:
    """Issue 15.5, HLS: libVLC's playhead stays at the target (or reports the old position)
    long after the picture at the target is shown; the counter says when pictures came."""
    h = Harness()
    h.open_and_play()
    h.time(400, at=480)
    h.pictures_fps = 24.0
    h.play_steadily(480, 2480)
    h.pictures_fps = 0.0
    shown = h.engine.stats.displayed_pictures
    h.now = 2500
    h.session.seek(9000, "key")
    h.time(9000, at=2500)
    h.time(2650, at=2600)  # a report of the old position, sent after the seek
    h.engine.position_ms = 9000
    for at in range(2700, 4100, 100):
        h.poll(at=at)
    # 9 pictures (350 ms at 24 fps) may be owed from before the seek: not yet new ones.
    h.engine.stats = MediaStats(displayed_pictures=shown + 9)
    h.poll(at=4100)
    assert "seek_end" not in h.out.types()
    h.engine.stats = MediaStats(displayed_pictures=shown + 16)
    h.poll(at=4200)  # the first pictures from the target: the screen may hold the first one
    h.poll(at=4300)
    assert "seek_end" not in h.out.types()
    h.engine.stats = MediaStats(displayed_pictures=shown + 24)
    h.poll(at=4400)  # and they move on
    assert h.out.one("seek_end")["seek_latency_ms"] == 4400 - 2500
    assert "rebuffer_start" not in h.out.types()


def test_first_frame_and_heartbeats_carry_the_video_area_the_picture_is_scaled_to() -> None:
    h = Harness()
    h.session.window_changed(WindowState(width=1280, height=720))
    h.open_and_play()
    h.time(400, at=480)
    frame = h.out.one("first_frame")
    assert (frame["window_width"], frame["window_height"]) == (1280, 720)
    h.session.window_changed(WindowState(width=640, height=360))
    assert "window_change" not in h.out.types()  # a size alone is no window change
    h.play_steadily(480, 10_600)
    beat = h.out.one("heartbeat")
    assert (beat["height"], beat["window_width"], beat["window_height"]) == (270, 640, 360)


def test_after_a_seek_the_watchdog_waits_as_after_the_first_frame() -> None:
    """libVLC's first time reports after a seek come late and uneven (on a loaded machine more
    so): the report grain is learnt again before a still playhead is a stall."""
    h = Harness()
    h.open_and_play()
    h.time(400, at=480)
    h.play_steadily(480, 2480)
    h.now = 2500
    h.session.seek(9000, "key")
    h.time(9000, at=2500)
    h.time(9250, at=2800)
    assert h.out.one("seek_end")["seek_latency_ms"] == 50
    for at in range(2900, 4400, 100):  # 1.5 s without a report: not yet a stall
        h.poll(at=at)
    assert "rebuffer_start" not in h.out.types()
    h.time(10_750, at=4300)
    h.play_steadily(4300, 6300)
    for at in range(6400, 8900, 100):  # a real freeze is still caught
        h.poll(at=at)
    assert h.out.one("rebuffer_start")["trigger"] == "watchdog"


def test_an_hls_playhead_settling_on_the_target_after_the_pictures_makes_no_seeks() -> None:
    """After a seek the pictures ended, libVLC's HLS playhead reports the segment start before
    the target, then the target again: one seek, not three."""
    h = Harness()
    h.open_and_play()
    h.time(400, at=480)
    h.pictures_fps = 24.0
    h.play_steadily(480, 2480)
    shown = h.engine.stats.displayed_pictures
    h.now = 2500
    h.session.seek(9000, "key")
    h.time(9000, at=2500)
    for count, at in ((shown + 16, 2900), (shown + 24, 3200)):
        h.engine.stats = MediaStats(displayed_pictures=count)
        h.poll(at=at)
    assert h.out.one("seek_end")["seek_latency_ms"] == 3200 - 2500
    h.time(7160, at=3300)  # the segment start
    h.time(7400, at=3550)
    h.time(9180, at=3800)  # past the target: settled
    h.time(9430, at=4050)
    assert [e["method"] for e in h.out.of("seek_start")] == ["key"]
    h.time(20_000, at=4300)  # a jump of its own is still a seek
    assert [e["method"] for e in h.out.of("seek_start")] == ["key", "inferred"]
