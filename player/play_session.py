"""One play session: turns engine events and a polled playhead into quality-of-experience
events (startup, stalls, seeks, heartbeats, session end) that say what the viewer lived through.

libVLC's own events do not say it directly: `Playing` comes before the first picture, time is
reported only every 250-500 ms, and a starved stream may send no `Buffering` event at all (its
input thread blocks in a read and reports nothing). So this module keeps a small state machine
over engine events and playhead observations, plus a watchdog on the playhead, and derives the
timing from the playhead itself:
- the first frame is the first advance of the playhead after buffering reached 100 %; since the
  playhead is reported late, the moment it started is extrapolated back, `t - advance / rate`;
- a stall's duration is the wall time between the last advancing observation before it and the
  first after it, minus the media time the playhead covered in between (divided by the rate).
  That is exact whatever libVLC did or did not report in between;
- a seek ends when the playhead advances past the target, extrapolated back the same way, or
  when the displayed-pictures counter shows new pictures, whichever comes first (libVLC's HLS
  playhead stands at the target, or goes back to a segment start, long after the picture moved);
- a picture that stops while the playhead goes on (the video late, the audio not) is a stall
  too: the displayed-pictures counter standing still (`player.picture_watch`).

Every duration comes from the injected monotonic clock (ms) and from `EngineEvent.mono_ms`,
which share the same origin (`monotonic_ms`). Events are emitted through an injected callable
with the signature of `TelemetryClient.track`.

Threads: one owning thread (the GUI thread in the app, the test's thread in tests) calls every
method; engine events must already have been handed over to it. No Qt, no libVLC.
"""

from __future__ import annotations

import enum
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Final, Protocol
from urllib.parse import unquote, urlsplit

from player.engine import EngineEvent, EngineEventKind, MediaStats, PlaybackState, VideoInfo
from player.errors import PlaybackProblem, classify
from player.picture_watch import STATS_LAG_MS, PictureWatch
from player.sources import local_path
from player.watched_ranges import WatchedRanges

WATCHDOG_MS: Final = 1000  # playhead frozen this long while playing at a rate > 0 = a stall
# libVLC reports MPEG-TS and HLS time in ~1 s steps: a playhead that only ever moves in steps of
# `s` ms is frozen between them by design, so the watchdog waits `s` plus this margin there.
_STEP_MARGIN_MS: Final = 600
_MAX_STEP_MS: Final = 2000  # larger advances are catch-ups after a freeze, not the report grain
HEARTBEAT_MS: Final = 10_000
TRACK_CHECK_MS: Final = 1000  # how often the picture's size is looked at while playing
JUMP_MS: Final = 1250  # an unexplained playhead jump larger than this is a seek
JOURNAL_EVERY_MS: Final = 2000  # how stale the crash journal's position may get
# Extrapolating the playhead past this would guess across a stall libVLC has not reported.
_MAX_EXTRAPOLATION_MS: Final = 1000
FROZEN_PICTURE: Final = "frozen_picture"  # the stall trigger of a picture frozen while playing
# After a seek the pictures ended, libVLC's HLS playhead may go back to the segment start
# before the target (segments are seconds long) before it passes the target.
_SETTLE_BACK_MS: Final = 10_000


def monotonic_ms() -> float:
    """The session clock: the same origin as `EngineEvent.mono_ms`."""
    return time.monotonic() * 1000.0


class EndReason(enum.StrEnum):
    """Why a play session ended (`session_end.reason`)."""

    COMPLETED = "completed"
    USER_STOP = "user_stop"
    NAVIGATED = "navigated"
    NEXT_ITEM = "next_item"
    APP_EXIT = "app_exit"
    ERROR = "error"
    CRASH_RECOVERED = "crash_recovered"


class Activity(enum.StrEnum):
    """What the viewer is living through at a moment; every ms of a session is in one."""

    STARTUP = "startup"
    PLAYING = "playing"
    PAUSED = "paused"
    STALLED = "stalled"
    SEEKING = "seeking"
    IDLE = "idle"  # ended or closed


class Emit(Protocol):
    """Where events go: `TelemetryClient.track` has this shape."""

    def __call__(
        self, event_type: str, properties: dict[str, object], *, critical: bool = False
    ) -> object: ...


class EngineReadout(Protocol):
    """What the session reads from the engine when polled (a `PlaybackEngine` fits)."""

    @property
    def position_ms(self) -> int: ...

    @property
    def duration_ms(self) -> int: ...

    @property
    def rate(self) -> float: ...

    @property
    def state(self) -> PlaybackState: ...

    def media_stats(self) -> MediaStats: ...

    def video_info(self) -> VideoInfo: ...


class Journal(Protocol):
    """Keeps the latest snapshot of a live session where a crash cannot take it."""

    def save(self, snapshot: Mapping[str, object]) -> None: ...

    def end(self, send_end: Callable[[], object]) -> None:
        """Calls `send_end` (it emits the `session_end`, returning what `emit` returned), and
        lets the snapshot go once that event can no longer be lost."""


@dataclass(frozen=True, slots=True)
class SourceContext:
    """Where the play came from: the feed tile (request, row, rank, impression) or elsewhere.

    `location` names the surface: "home", "continue_watching", "open_file", "open_url",
    "recent", "command_line", "drop"...
    """

    location: str
    request_id: str | None = None
    row_id: str | None = None
    rank: int | None = None
    impression_id: str | None = None

    def properties(self) -> dict[str, object]:
        return {
            "request_id": self.request_id,
            "row_id": self.row_id,
            "rank": self.rank,
            "impression_id": self.impression_id,
            "location": self.location,
        }


@dataclass(frozen=True, slots=True)
class WindowState:
    """The player window as the viewer sees it; fed by the UI."""

    fullscreen: bool = False
    minimised: bool = False
    covered: bool = False
    active: bool = True
    # The video area's size in device pixels (0: unknown): the picture is scaled to fit it.
    width: int = 0
    height: int = 0

    @property
    def exposed(self) -> bool:
        return not (self.minimised or self.covered)


@dataclass(slots=True)
class _Observation:
    """The playhead was at `position` ms of media at monotonic `mono` ms."""

    mono: float
    position: int


@dataclass(slots=True)
class _Seek:
    started: float
    from_ms: int
    to_ms: int
    method: str
    pictures: int  # the displayed-pictures counter when the seek began
    new_pictures: bool = False  # the counter has shown pictures from after the seek


@dataclass(slots=True)
class _Stall:
    trigger: str  # "buffering", "watchdog" or FROZEN_PICTURE
    since: float  # best estimate of when the picture froze (settled by the formula at the end)
    anchor: _Observation  # the last advancing observation before the stall


@dataclass(slots=True)
class _Counters:
    """Running totals a heartbeat reports deltas of."""

    playing: float = 0.0
    stalled: float = 0.0
    displayed: int = 0
    lost_pictures: int = 0
    lost_audio: int = 0


class PlaySession:
    """One attempt to play one title, from `play_request` to `session_end`."""

    def __init__(
        self,
        *,
        video_id: str,
        source: str,
        context: SourceContext,
        readout: EngineReadout,
        emit: Emit,
        start_position_ms: int = 0,
        clock: Callable[[], float] = monotonic_ms,
        journal: Journal | None = None,
        session_id: str | None = None,
    ) -> None:
        self.play_session_id = session_id or str(uuid.uuid4())
        self.video_id = video_id
        self._source = source
        self._context = context
        self._readout = readout
        self._emit_to = emit
        self._clock = clock
        self._journal = journal
        self._start_position = max(0, int(start_position_ms))

        self._started_at = 0.0
        self._live = False
        self._closed = False
        self._ended = False
        self._ready = False
        self._playing_at: float | None = None
        self._buffer_full_at: float | None = None
        self._first_frame_at: float | None = None
        self._startup_ms: int | None = None
        self._startup_spoiled = False  # a pause or seek came before the first frame
        self._paused = False
        self._seek: _Seek | None = None
        self._stall: _Stall | None = None
        self._last: _Observation | None = None  # the latest playhead observation
        # When the playhead was last seen (event or poll) at `_last.position`; and, once it has
        # moved on, when it was last seen at the position before (`_still_seen`).
        self._last_seen = 0.0
        self._still_seen = 0.0
        self._step_ms = 0.0  # the smallest regular advance between reports (the report grain)
        self._motion: _Observation | None = None  # where the playhead was last seen moving
        self._pictures = PictureWatch()
        # A seek's target while the playhead still settles on it (see `_end_seek_by_picture`).
        self._settling: _Observation | None = None
        self._rate = 1.0
        self._volume: tuple[int, bool] | None = None
        self._window: WindowState | None = None
        self._video_label: str | None = None
        self._track_check_due = False
        self._track_check_at = 0.0
        self._duration = 0

        self._times: dict[Activity, float] = dict.fromkeys(Activity, 0.0)
        self._since = 0.0
        self._rebuffer_count = 0
        self._watched = WatchedRanges()
        self._next_beat = HEARTBEAT_MS
        self._beat_mark = _Counters()
        self._journal_due = 0.0

    # -- what the owner may ask ------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def activity(self) -> Activity:
        if self._closed or self._ended or not self._live:
            return Activity.IDLE
        if self._paused:
            return Activity.PAUSED
        if self._seek is not None:
            return Activity.SEEKING
        if self._first_frame_at is None:
            return Activity.STARTUP
        if self._stall is not None:
            return Activity.STALLED
        return Activity.PLAYING

    def totals(self, *, at: float | None = None) -> dict[str, object]:
        """The session's totals so far, or at `at` (the session clock): the optional part of
        `session_end`."""
        now = self._clock() if at is None else at
        times = self._times_at(now)
        watch = sum(
            times[a]
            for a in (Activity.STARTUP, Activity.PLAYING, Activity.STALLED, Activity.SEEKING)
        )
        return {
            "startup_ms": self._startup_ms,
            "playing_ms": round(times[Activity.PLAYING]),
            "rebuffer_ms": round(times[Activity.STALLED]),
            "rebuffer_count": self._rebuffer_count,
            "seek_ms": round(times[Activity.SEEKING]),
            "watch_ms": round(watch),
            "content_watched_ms": self._watched.total_ms,
            "position_ms": self._position_estimate(now),
            "duration_ms": self._duration or None,
        }

    # -- the owner's calls -------------------------------------------------------------------

    def start(self, *, at: float | None = None) -> None:
        """The play was requested: time zero for startup. Call before opening the media, or
        give `at` (the session clock) when the request is only recognised afterwards."""
        now = self._clock() if at is None else at
        self._started_at = self._since = self._journal_due = now
        self._live = True
        self._emit(
            "play_request",
            video_id=self.video_id,
            source=self._context.properties(),
            start_position_ms=self._start_position,
        )
        self._save_journal(now)

    def on_engine_event(self, event: EngineEvent) -> None:
        """An engine event, already on the owning thread, in engine order."""
        if not self._live or self._closed or event.mono_ms < self._started_at:
            return  # late events of a previous media belong to its own session
        kind, at = event.kind, event.mono_ms
        if kind is EngineEventKind.LENGTH_CHANGED and int(event.value or 0) > 0:
            self._duration = int(event.value or 0)
            self._announce_ready(at)
        elif kind is EngineEventKind.PLAYING:
            self._on_playing(at)
        elif kind is EngineEventKind.PAUSED:
            self._on_paused(at)
        elif kind is EngineEventKind.BUFFERING:
            self._on_buffering(at, float(event.value or 0.0))
        elif kind is EngineEventKind.TIME_CHANGED:
            self._observe(at, int(event.value or 0))
        elif kind is EngineEventKind.TRACK_ADDED and self._first_frame_at is not None:
            # A new elementary stream after the first picture is a rendition or track switch;
            # its size is only readable once the decoder has it, at the next poll.
            self._track_check_due = event.value == "video"
        elif kind is EngineEventKind.ENDED:
            self._on_ended(at)
        elif kind is EngineEventKind.ERROR:
            detail = str(event.value or "")
            self._fail(at, classify(self._source, detail), _redact(detail, self._source))

    def on_poll(self) -> None:
        """The watchdog: call every 100-250 ms while the session is live."""
        if not self._live or self._closed:
            return
        now = self._clock()
        state = self._readout.state
        if state in (PlaybackState.PLAYING, PlaybackState.PAUSED, PlaybackState.BUFFERING):
            self._observe(now, self._readout.position_ms)
        rate = self._readout.rate
        if rate != self._rate:
            self.set_rate(rate)
        if (
            self.activity is Activity.PLAYING
            and self._motion is not None
            and self._rate > 0
            and state is PlaybackState.PLAYING
            and now - self._motion.mono >= self._watchdog_ms()
        ):
            self._begin_stall("watchdog", self._motion.mono, now)
        if self._first_frame_at is not None:
            self._watch_pictures(now, state)
        if self._track_check_due or (
            self._first_frame_at is not None and now >= self._track_check_at
        ):
            # A new stream says so (ESAdded), a size change inside one stream does not: look
            # at the picture shown about once a second as well.
            self._track_check_due = False
            self._track_check_at = now + TRACK_CHECK_MS
            self._check_video_track()
        self._heartbeat_if_due(now)
        if now >= self._journal_due:
            self._save_journal(now)

    def seek(self, to_ms: int, method: str) -> None:
        """The viewer asked for a seek (method: mouse, key, chapter). Call before the engine's."""
        if not self._live or self._closed:
            return
        now = self._clock()
        self._settle(now)
        if self._stall is not None:
            self._end_stall(now, self._last_position())
        if self._first_frame_at is None:
            self._startup_spoiled = True
        target = max(0, int(to_ms))
        if self._duration > 0:
            target = min(target, self._duration - 1)
        if self._seek is not None:
            # Scrubbing: one seek from the first press to where the playhead finally lands.
            self._seek.to_ms, self._seek.method = target, method
            return
        from_ms = self._credit_watched(now)
        pictures = self._readout.media_stats().displayed_pictures
        self._seek = _Seek(now, from_ms, target, method, pictures)
        self._emit("seek_start", from_ms=from_ms, to_ms=target, method=method)
        self._save_journal(now)

    def set_rate(self, rate: float) -> None:
        """The playback speed changed (asked by the viewer, or noticed when polling)."""
        if not self._live or self._closed or rate == self._rate:
            return
        if self._motion is not None:
            # The playhead's pace changes: what played since the last report played at the old
            # pace; freezes are measured from here at the new one.
            now = self._clock()
            self._motion = _Observation(now, self._credit_watched(now))
        previous, self._rate = self._rate, rate
        self._emit("rate_change", from_rate=previous, to_rate=rate)

    def set_volume(self, volume: int, muted: bool) -> None:
        """Volume (percent) or mute changed; the first call only sets the starting point."""
        if self._closed:
            return
        previous, self._volume = self._volume, (int(volume), bool(muted))
        if previous is not None and previous != self._volume and self._live:
            self._emit("volume_change", from_volume=previous[0], to_volume=int(volume), muted=muted)

    def window_changed(self, window: WindowState) -> None:
        """The player window's state; the first call only sets the starting point."""
        if self._closed:
            return
        previous, self._window = self._window, window
        if previous is None or not self._live:
            return
        before = (previous.fullscreen, previous.exposed, previous.active)
        if before != (window.fullscreen, window.exposed, window.active):
            self._emit(
                "window_change",
                fullscreen=window.fullscreen,
                exposed=window.exposed,
                active=window.active,
            )

    def report_problem(self, problem: PlaybackProblem, *, fatal: bool) -> None:
        """A problem found by Reelscope itself (a missing file, say), not by the engine."""
        if not self._live or self._closed:
            return
        now = self._clock()
        if fatal:
            self._fail(now, problem, _redact(problem.detail, self._source))
        else:
            self._emit_error(problem, _redact(problem.detail, self._source), fatal=False)

    def end(self, reason: EndReason) -> None:
        """Closes the session with `session_end`; later calls do nothing."""
        if not self._live or self._closed:
            return
        now = self._clock()
        self._settle(now)
        if self._stall is not None:
            # The viewer left a frozen picture: the stall lasted until they did.
            self._end_stall(now, self._last_position())
        self._credit_watched(now)
        totals = self.totals(at=now)  # the moment it closed, not a tick later
        self._closed = True
        send_end = partial(self._emit, "session_end", critical=True, reason=reason.value, **totals)
        if self._journal is None:
            send_end()
        else:
            self._journal.end(send_end)

    # -- engine events -----------------------------------------------------------------------

    def _announce_ready(self, at: float) -> None:
        if self._ready:
            return
        self._ready = True
        self._emit(
            "player_ready",
            open_ms=round(at - self._started_at),
            duration_ms=self._duration or None,
        )

    def _on_playing(self, at: float) -> None:
        if self._playing_at is None:
            self._playing_at = at
            # A live stream has no length: it is ready when it plays.
            self._announce_ready(at)
            return
        if not self._paused:
            return
        self._settle(at)
        self._paused = False
        position = self._last_position()
        if self._motion is not None:
            self._motion = _Observation(at, position)
        self._emit("resume", position_ms=position)
        self._save_journal(at)

    def _on_paused(self, at: float) -> None:
        if self._paused or self._ended:
            return
        self._settle(at)
        if self._stall is not None:
            self._end_stall(at, self._last_position())
        if self._first_frame_at is None:
            self._startup_spoiled = True
        position = self._credit_watched(at)
        self._paused = True
        self._emit("pause", position_ms=position)
        self._save_journal(at)

    def _on_buffering(self, at: float, percent: float) -> None:
        if percent >= 100.0:
            self._buffer_full_at = at
            if self._seek is not None and self._paused and at >= self._seek.started:
                # A paused seek never moves the playhead: it is done once the picture at the
                # target is decoded, which is when the buffer is full again.
                self._end_seek(at, self._seek.to_ms)
            return
        self._buffer_full_at = None
        if self.activity is Activity.PLAYING and self._motion is not None:
            self._begin_stall("buffering", at, at)

    def _on_ended(self, at: float) -> None:
        if self._ended:
            return
        self._settle(at)
        end_position = self._duration or self._last_position()
        if self._seek is not None:
            self._end_seek(at, end_position)
        if self._stall is not None:
            self._end_stall(at, end_position)
        if self._first_frame_at is not None and self._last is not None:
            # The last reports come every 250-500 ms; the playhead went on to the end.
            self._watched.add(self._last.position, end_position)
        self._last = _Observation(at, end_position)
        self._ended = True
        self._emit("ended", position_ms=end_position)
        self.end(EndReason.COMPLETED)

    def _fail(self, at: float, problem: PlaybackProblem, message: str) -> None:
        self._settle(at)
        self._emit_error(problem, message, fatal=True)
        self.end(EndReason.ERROR)

    def _emit_error(self, problem: PlaybackProblem, message: str, *, fatal: bool) -> None:
        self._emit(
            "error",
            critical=True,
            fatal=fatal,
            phase="startup" if self._first_frame_at is None else "playback",
            category=problem.category.value,
            message=message or problem.category.value,
            position_ms=self._last_position() if self._last is not None else None,
        )

    # -- the playhead ------------------------------------------------------------------------

    def _observe(self, at: float, position: int) -> None:
        """A playhead report (an engine event or a poll). Only changes carry news."""
        previous = self._last
        if previous is not None and position == previous.position:
            self._last_seen = max(self._last_seen, at)
            return
        self._still_seen, self._last_seen = self._last_seen, at
        if self._first_frame_at is None or self._ended or self._paused or self._seek is not None:
            self._last = _Observation(at, position)
            if self._ended or self._paused:
                return
            if self._first_frame_at is None:
                self._maybe_first_frame(at, position)
            elif self._seek is not None and self._landed(self._seek, at, position):
                self._end_seek(at, position)
            return
        self._observe_moving(at, position, self._motion or previous or _Observation(at, position))

    def _observe_moving(self, at: float, position: int, motion: _Observation) -> None:
        """A new playhead report while playing or stalled, `motion` the last one that moved."""
        if self._settling is not None and self._stall is None and self._settles(at, position):
            return
        if position < motion.position:
            if motion.position - position > JUMP_MS:
                self._last = _Observation(at, position)
                self._infer_seek(at, motion, position)
            # Smaller steps back are reports overtaken by newer polls: not news.
            return
        self._last = _Observation(at, position)
        if self._stall is not None and self._stall.trigger == FROZEN_PICTURE:
            # The playhead goes on under a frozen picture (the media is heard, so watched):
            # only new pictures end this stall.
            self._watched.add(motion.position, position)
            self._motion = _Observation(at, position)
        elif self._stall is not None:
            self._end_stall(at, position)
        elif position - (motion.position + (at - motion.mono) * self._rate) > JUMP_MS:
            self._infer_seek(at, motion, position)
        else:
            step = position - motion.position
            if 0 < step <= _MAX_STEP_MS:
                # The report grain: remembered as the typical step (a slow-moving average that
                # follows the steps up fast and down slowly, so 1 s steps stay 1 s steps).
                self._step_ms = max(step * 1.0, self._step_ms * 0.9 + step * 0.1)
            self._watched.add(motion.position, position)
            self._motion = _Observation(at, position)

    def _watchdog_ms(self) -> float:
        """How long a playhead may stand still before it is a stall: longer than its grain."""
        if self._step_ms == 0:
            return WATCHDOG_MS + _STEP_MARGIN_MS  # no step seen yet since the first frame
        if self._step_ms <= 0.6 * WATCHDOG_MS:
            return WATCHDOG_MS
        return max(WATCHDOG_MS, self._step_ms / max(self._rate, 1e-3) + _STEP_MARGIN_MS)

    def _maybe_first_frame(self, at: float, position: int) -> None:
        if self._paused:
            return
        anchor = self._seek.to_ms if self._seek is not None else self._start_position
        if position <= anchor:
            return
        floor = max(self._playing_at or self._started_at, self._buffer_full_at or 0.0)
        advance = position - anchor
        began = min(at, max(floor, self._since, at - advance / max(self._rate, 1e-3)))
        self._settle(began)
        self._first_frame_at = began
        if not self._startup_spoiled:
            self._startup_ms = round(began - self._started_at)
        info = self._readout.video_info()
        self._video_label = _label(info)
        self._pictures.set_fps(info.fps)
        self._emit(
            "first_frame",
            startup_ms=self._startup_ms,
            codec=info.codec or None,
            width=info.width or None,
            height=info.height or None,
            fps=info.fps or None,
            window_width=self._window_size()[0],
            window_height=self._window_size()[1],
        )
        self._watched.add(anchor, position)
        self._motion = _Observation(at, position)
        if self._seek is not None:
            self._close_seek(began)
        self._save_journal(at)

    def _infer_seek(self, at: float, motion: _Observation, position: int) -> None:
        """The playhead jumped without our asking (a seek from elsewhere): open a seek."""
        self._settle(at)
        from_ms = round(motion.position + min(at - motion.mono, _MAX_EXTRAPOLATION_MS) * self._rate)
        self._seek = _Seek(at, from_ms, position, "inferred", self._pictures.count)
        self._motion = None
        self._emit("seek_start", from_ms=from_ms, to_ms=position, method="inferred")

    def _end_seek(self, at: float, position: int) -> None:
        seek = self._seek
        assert seek is not None
        # The playhead landed near the target and has moved `advance` since: extrapolate back.
        advance = max(0.0, min(position - seek.to_ms, (at - seek.started) * self._rate))
        landed = min(at, max(seek.started, self._since, at - advance / max(self._rate, 1e-3)))
        self._settle(landed)
        self._watched.add(round(position - advance), position)
        self._motion = _Observation(at, position)
        self._close_seek(landed)

    def _close_seek(self, landed: float) -> None:
        seek = self._seek
        assert seek is not None
        self._seek = None
        self._settling = None
        # libVLC restarts its time reports after a seek, the first ones late and uneven (more
        # so on a loaded machine, whose input thread also runs the seek's buffering): the
        # report grain is learnt again, the watchdog waiting as long as after the first frame.
        self._step_ms = 0.0
        self._emit(
            "seek_end",
            from_ms=seek.from_ms,
            to_ms=seek.to_ms,
            method=seek.method,
            seek_latency_ms=round(landed - seek.started),
        )
        self._save_journal(landed)

    def _begin_stall(self, trigger: str, since: float, at: float) -> None:
        motion = self._motion
        assert motion is not None
        # The picture froze before we could tell (the watchdog needs a second): time the stall
        # from its estimated start; `_end_stall` settles the estimate.
        since = min(at, max(since, self._since))
        self._settle(since)
        position = self._last_position()
        self._stall = _Stall(trigger, since, motion)
        self._rebuffer_count += 1
        self._emit("rebuffer_start", trigger=trigger, position_ms=position)
        self._save_journal(at)

    def _end_stall(self, at: float, position: int) -> None:
        """The playhead moved again (or the stall was cut short by a pause, seek or exit)."""
        stall = self._stall
        assert stall is not None
        anchor = stall.anchor
        if stall.trigger == FROZEN_PICTURE:
            # From the counter's last move to its next: what the viewer saw frozen, however
            # far the playhead went meanwhile.
            stall_ms = at - stall.since
        else:
            stall_ms = self._playhead_stall_ms(anchor, at, position)
        self._settle(at)
        # The stall was timed from an estimate of when the picture froze; the formula above is
        # exact, so the difference moves between stalled and playing time.
        self._reassign(stall_ms - (at - stall.since))
        self._stall = None
        if position > anchor.position:
            self._watched.add(anchor.position, position)
        self._motion = _Observation(at, position)
        self._emit(
            "rebuffer_end",
            trigger=stall.trigger,
            position_ms=position,
            stall_ms=round(stall_ms),
        )
        self._save_journal(at)

    def _playhead_stall_ms(self, anchor: _Observation, at: float, position: int) -> float:
        """A playhead stall's length: from `anchor`, its last advance, to `at`, less the media
        the playhead can have shown since."""
        covered = max(0, position - anchor.position) / max(self._rate, 1e-3)
        # libVLC's playhead jumps ahead when a stall ends (0.5-0.8 s for a starved MP4): that
        # media was never shown. Seen still frozen at `_last_seen`, the playhead can have played
        # at most the wall time since then (plus one report step), whatever it says now.
        since_frozen = max(0.0, at - max(self._still_seen, anchor.mono))
        grain = self._step_ms if self._watchdog_ms() > WATCHDOG_MS else 0.0
        covered = min(covered, since_frozen + grain / max(self._rate, 1e-3))
        return max(0.0, (at - anchor.mono) - covered)

    def _watch_pictures(self, now: float, state: PlaybackState) -> None:
        """The picture's rules, at each poll after the first frame: a seek ends when new
        pictures show; a picture frozen while the playhead moves is a stall until they do."""
        pictures = self._pictures
        moved = pictures.read(now, self._readout.media_stats().displayed_pictures)
        seek = self._seek
        if seek is not None and not self._paused:
            # More new pictures than one statistics refresh can owe from before the seek are
            # the first pictures from the target; the decoder hands them over ahead of the
            # screen, which may hold the first one a while: the seek is over once the counter
            # moves again after that.
            if not moved:
                return
            if seek.new_pictures:
                self._end_seek_by_picture(now)
            seek.new_pictures = pictures.count - seek.pictures > pictures.pictures_in(STATS_LAG_MS)
            return
        stall = self._stall
        if stall is not None and stall.trigger == FROZEN_PICTURE:
            if moved:
                self._end_stall(now, self._last_position())
            return
        if (
            self.activity is not Activity.PLAYING
            or state is not PlaybackState.PLAYING
            or self._rate <= 0
            or not pictures.moving
            or self._motion is None
        ):
            return
        frozen_ms = pictures.frozen_ms(self._watchdog_ms())
        # The playhead went on well after the pictures stopped (a playhead frozen with them is
        # the watchdog's stall, not this one).
        if (
            now - max(pictures.changed_at, self._since) >= frozen_ms
            and self._motion.mono - pictures.changed_at >= frozen_ms / 2
        ):
            self._begin_stall(FROZEN_PICTURE, pictures.changed_at, now)

    def _landed(self, seek: _Seek, at: float, position: int) -> bool:
        """Whether a playhead report says a seek landed: past the target by no more than the
        time since the seek. libVLC echoes the target at once, inside `set_time`, and may still
        report the old position, or (HLS) a segment start before the target, for a while."""
        if at <= seek.started or position <= seek.to_ms:
            return False
        return position - seek.to_ms <= (at - seek.started) * self._rate + JUMP_MS

    def _end_seek_by_picture(self, at: float) -> None:
        """New pictures are shown: the seek is over wherever libVLC's playhead says it is."""
        seek = self._seek
        assert seek is not None
        self._settle(at)
        self._motion = _Observation(at, self._last_position())
        self._close_seek(at)
        self._settling = _Observation(at, seek.to_ms)

    def _settles(self, at: float, position: int) -> bool:
        """Whether a report is the playhead still settling on the last seek's target: from a
        segment start before it up to where it has played to since. Not seeks of their own."""
        settling = self._settling
        assert settling is not None
        target = settling.position
        ahead = target + (at - settling.mono) * self._rate + JUMP_MS
        if not target - _SETTLE_BACK_MS <= position <= ahead:
            self._settling = None  # somewhere else: a jump of its own
            return False
        if position > target:
            self._settling = None  # past the target: settled
        self._last = self._motion = _Observation(at, position)
        return True

    def _check_video_track(self) -> None:
        info = self._readout.video_info()
        self._pictures.set_fps(info.fps)
        label = _label(info)
        if label != self._video_label:
            previous, self._video_label = self._video_label, label
            self._emit(
                "track_change",
                kind="video",
                from_track=previous,
                to_track=label,
                width=info.width or None,
                height=info.height or None,
                bitrate=float(self._readout.media_stats().demux_bitrate_bps) or None,
            )

    # -- time accounting -----------------------------------------------------------------------

    def _settle(self, at: float) -> None:
        """Credits the time since the last transition to the current activity, up to `at`.

        Called only at transitions, so `_since` is when the current activity began and a
        transition found out late (a first frame, a stall) can be dated back as far as that.
        """
        if at <= self._since:
            return
        self._times[self.activity] += at - self._since
        self._since = at

    def _times_at(self, now: float) -> dict[Activity, float]:
        times = dict(self._times)
        times[self.activity] += max(0.0, now - self._since)
        return times

    def _reassign(self, stalled_ms: float) -> None:
        """Moves `stalled_ms` of playing time to stalled time (negative: back again)."""
        self._times[Activity.STALLED] += stalled_ms
        self._times[Activity.PLAYING] -= stalled_ms

    def _heartbeat_if_due(self, now: float) -> None:
        times = self._times_at(now)
        live = times[Activity.PLAYING] + times[Activity.STALLED] + times[Activity.SEEKING]
        if self._first_frame_at is None or live < self._next_beat:
            return
        self._next_beat = (int(live) // HEARTBEAT_MS + 1) * HEARTBEAT_MS
        stats = self._readout.media_stats()
        mark = _Counters(
            playing=times[Activity.PLAYING],
            stalled=times[Activity.STALLED],
            displayed=stats.displayed_pictures,
            lost_pictures=stats.lost_pictures,
            lost_audio=stats.lost_audio_buffers,
        )
        last, self._beat_mark = self._beat_mark, mark
        info = self._readout.video_info()
        self._emit(
            "heartbeat",
            width=info.width or None,
            height=info.height or None,
            position_ms=self._position_estimate(now),
            played_ms=round(mark.playing - last.playing),
            stall_ms=round(mark.stalled - last.stalled),
            displayed_pictures=mark.displayed - last.displayed,
            lost_pictures=mark.lost_pictures - last.lost_pictures,
            lost_audio_buffers=mark.lost_audio - last.lost_audio,
            demux_bitrate=float(stats.demux_bitrate_bps),
            window_width=self._window_size()[0],
            window_height=self._window_size()[1],
        )
        self._save_journal(now)

    # -- helpers -------------------------------------------------------------------------------

    def _window_size(self) -> tuple[int | None, int | None]:
        """The video area's size for `first_frame` and heartbeats (None while unknown)."""
        window = self._window
        if window is None:
            return None, None
        return window.width or None, window.height or None

    def _last_position(self) -> int:
        return self._last.position if self._last is not None else self._start_position

    def _credit_watched(self, now: float) -> int:
        """Counts as watched what played since the last report (reports lag 250-500 ms);
        returns the playhead's estimated position."""
        position = self._position_estimate(now)
        if self.activity is Activity.PLAYING and self._motion is not None:
            self._watched.add(self._motion.position, position)
        return position

    def _position_estimate(self, now: float) -> int:
        """The playhead now: the last report, moved on at the rate while playing."""
        position = self._last_position()
        if self.activity is Activity.PLAYING and self._motion is not None:
            elapsed = min(max(0.0, now - self._motion.mono), _MAX_EXTRAPOLATION_MS)
            position = round(self._motion.position + elapsed * self._rate)
            if self._duration > 0:
                position = min(position, self._duration)
        return position

    def _emit(self, event_type: str, *, critical: bool = False, **properties: object) -> object:
        return self._emit_to(
            event_type,
            {"play_session_id": self.play_session_id, **properties},
            critical=critical,
        )

    def _save_journal(self, now: float) -> None:
        if self._journal is None or self._closed:
            return
        self._journal_due = now + JOURNAL_EVERY_MS
        self._journal.save(
            {
                "play_session_id": self.play_session_id,
                "video_id": self.video_id,
                "saved_at": time.time(),
                "totals": self.totals(),
            }
        )


def _label(info: VideoInfo) -> str | None:
    """A rendition's name in `track_change`: its picture size."""
    return f"{info.width}x{info.height}" if info.width and info.height else None


def _redact(detail: str, source: str) -> str:
    """libVLC's words without the viewer's own file path or the network address of what they
    watch (events carry neither: a direct play's video id is a hash of its source)."""
    path = local_path(source)
    if path is None:
        return _redact_url(detail, source)
    text = detail.replace(str(path.expanduser().resolve()), "<media>")
    return text.replace(str(path), "<media>").replace(
        path.expanduser().resolve().as_uri(), "<media>"
    )


def _redact_url(detail: str, url: str) -> str:
    """The URL in any spelling libVLC logs it (whole, unquoted, host and port, path parts)."""
    parts = urlsplit(url)
    text = detail
    for whole in sorted({url, unquote(url)}, key=len, reverse=True):
        text = text.replace(whole, "<media>")
    pieces = {parts.netloc, parts.hostname or "", parts.path, unquote(parts.path), parts.query}
    for piece in sorted((p for p in pieces if len(p) > 1), key=len, reverse=True):
        text = text.replace(
            piece, "<host>" if piece in (parts.netloc, parts.hostname) else "<media>"
        )
    return text
