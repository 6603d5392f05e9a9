"""The playback engine interface: what the rest of Reelscope may ask of a player backend.

Owns the engine-neutral vocabulary (`EngineEventKind`, `EngineEvent`, `PlaybackState`,
`MediaStats`, `VideoInfo`) and the `PlaybackEngine` protocol. `player.vlc_engine` is the real
implementation; nothing else in the code base names libVLC.

Threads: an engine's methods are called from one thread (the GUI thread in the app, the test's
thread in tests). Engine events are *not* delivered on that thread: the engine hands each one,
already copied into a plain frozen `EngineEvent`, to the `EventSink` given at construction,
on whatever thread libVLC is on at the time, sometimes synchronously inside an engine call
(libVLC fires `TimeChanged` inside `set_time`, `Stopped` inside `stop`). That is the one
hand-off: a sink must be thread-safe, must not block, and must not call back into the engine
(libVLC deadlocks). The UI's sink emits a queued Qt signal; tests use `queue.Queue.put`.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable


class EngineEventKind(enum.StrEnum):
    """What happened inside the engine. Values are stable strings for logs and tests."""

    OPENING = "opening"
    BUFFERING = "buffering"  # value: fill level in percent (100.0 = full)
    PLAYING = "playing"  # comes *before* the first frame with libVLC
    PAUSED = "paused"
    STOPPED = "stopped"
    ENDED = "ended"
    ERROR = "error"  # value: the engine's own words (libVLC's log), may be ""
    TIME_CHANGED = "time_changed"  # value: playhead in ms
    LENGTH_CHANGED = "length_changed"  # value: duration in ms
    VIDEO_OUTPUT = "video_output"  # value: number of video outputs (1 once a picture is shown)
    TRACK_ADDED = "track_added"  # value: "video", "audio" or "text"
    SEEKABLE_CHANGED = "seekable_changed"  # value: 1 or 0


EventValue = float | int | str | None


@dataclass(frozen=True, slots=True)
class EngineEvent:
    """One engine event, copied out of the backend's callback.

    `mono_ms` is `time.monotonic()` in ms when the backend called us: durations computed from
    it do not include the time the event spent queued on its way to the GUI thread.
    """

    kind: EngineEventKind
    mono_ms: float
    value: EventValue = None


EventSink = Callable[[EngineEvent], None]


class PlaybackState(enum.StrEnum):
    """The engine's state as last reported by the backend."""

    IDLE = "idle"
    OPENING = "opening"
    BUFFERING = "buffering"
    PLAYING = "playing"
    PAUSED = "paused"
    STOPPED = "stopped"
    ENDED = "ended"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class MediaStats:
    """Cumulative decoder and input counters for the current media (approximate in libVLC)."""

    demux_bitrate_bps: float = 0.0
    input_bitrate_bps: float = 0.0
    read_bytes: int = 0
    demux_read_bytes: int = 0
    decoded_video: int = 0
    displayed_pictures: int = 0
    lost_pictures: int = 0
    decoded_audio: int = 0
    played_audio_buffers: int = 0
    lost_audio_buffers: int = 0


@dataclass(frozen=True, slots=True)
class VideoInfo:
    """What the current video track is: codec fourcc, size in pixels, frame rate."""

    codec: str = ""
    width: int = 0
    height: int = 0
    fps: float = 0.0


class PlaybackEngine(Protocol):
    """A player backend. All methods are called from the owning thread (see module docstring)."""

    def open(self, source: str, *, start_ms: int = 0) -> None:
        """Load a local path or a URL and start playing it (replacing any current media)."""

    def play(self) -> None:
        """Start or resume playback."""

    def pause(self) -> None:
        """Pause; a no-op when not playing."""

    def toggle_pause(self) -> None:
        """Pause when playing, resume otherwise."""

    def stop(self) -> None:
        """Stop and unload nothing: `play()` starts the same media again from the start."""

    def seek(self, position_ms: int) -> None:
        """Move the playhead; clamped to the media's length when it is known."""

    def set_rate(self, rate: float) -> None:
        """Playback speed, 1.0 being normal."""

    def set_volume(self, volume: int) -> None:
        """Volume in percent, 0 to 200."""

    def set_muted(self, muted: bool) -> None:
        """Mute or unmute without changing the volume."""

    def set_video_window(self, handle: int) -> None:
        """Draw into this native window (an X11 window id, HWND or NSView)."""

    @property
    def state(self) -> PlaybackState:
        """The backend's current state."""

    @property
    def position_ms(self) -> int:
        """Playhead in ms, or 0 when nothing is loaded."""

    @property
    def duration_ms(self) -> int:
        """Media length in ms, or 0 while unknown."""

    @property
    def rate(self) -> float:
        """Current playback speed."""

    @property
    def volume(self) -> int:
        """Current volume in percent."""

    @property
    def muted(self) -> bool:
        """Whether audio is muted."""

    @property
    def source(self) -> str | None:
        """What `open` was last given."""

    def media_stats(self) -> MediaStats:
        """Counters for the current media (zeros when nothing is loaded)."""

    def video_info(self) -> VideoInfo:
        """The current video track's codec, size and frame rate (empty until known)."""

    @property
    def backend_version(self) -> str:
        """The backend's name and version, e.g. "libVLC 3.0.24"."""

    def release(self) -> None:
        """Free the backend; the engine is unusable afterwards."""


@dataclass(frozen=True, slots=True)
class MediaTrack:
    """An audio or subtitle track the viewer can pick: the backend's id and its label.

    `language` is the language name the backend read from the file ("English"), or "" when
    the track has none; `name` is the full label shown in menus ("Track 1 - [English]").
    """

    id: int
    name: str
    language: str = ""


@dataclass(frozen=True, slots=True)
class Chapter:
    """One chapter of the current media: where it starts, how long it is, its title."""

    start_ms: int
    duration_ms: int
    title: str


@runtime_checkable
class TrackEngine(Protocol):
    """What an engine offers beyond `PlaybackEngine` for an evening's watching: audio and
    subtitle tracks, external subtitle files, subtitle delay, chapters and snapshots.
    Called from the owning thread like `PlaybackEngine`; `VlcEngine` implements both."""

    def audio_tracks(self) -> tuple[MediaTrack, ...]:
        """The current media's audio tracks (no "disabled" entry)."""

    @property
    def audio_track(self) -> int:
        """Id of the audio track playing, -1 for none."""

    def set_audio_track(self, track_id: int) -> bool:
        """Switch audio track; False when the backend refused."""

    def subtitle_tracks(self) -> tuple[MediaTrack, ...]:
        """Embedded and loaded subtitle tracks (no "disabled" entry)."""

    @property
    def subtitle_track(self) -> int:
        """Id of the subtitle track shown, -1 when subtitles are off."""

    def set_subtitle_track(self, track_id: int) -> bool:
        """Show this subtitle track (-1: subtitles off); False when the backend refused."""

    def add_subtitle_file(self, path: str) -> bool:
        """Load an external subtitle file (.srt, .ass, .vtt …) and show it."""

    @property
    def subtitle_delay_ms(self) -> int:
        """How late subtitles are shown relative to the picture (negative: earlier)."""

    def set_subtitle_delay(self, delay_ms: int) -> None:
        """Shift subtitles by `delay_ms` (positive: later)."""

    def chapters(self) -> tuple[Chapter, ...]:
        """The current media's chapters in order (empty when it has none or is not parsed)."""

    @property
    def chapter(self) -> int:
        """Index of the chapter playing, -1 when there are none."""

    def set_chapter(self, index: int) -> None:
        """Jump to the start of chapter `index`."""

    def take_snapshot(self, path: str) -> bool:
        """Save the picture on screen as a PNG at `path`; False when there is no picture."""
