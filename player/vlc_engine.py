"""The libVLC playback engine: the only module in Reelscope that imports `vlc`.

Owns the libVLC instance, its media player, the event dispatcher and the log ring that
error messages are read from, plus the start-up check that libVLC and its plugins load.

Threads: construct and call `VlcEngine` from one owning thread; `stop` hands libVLC's stop to a
worker thread (it can block for seconds), and the next call that needs the player waits for it.
libVLC calls `_dispatch` and `_on_log` on its own threads, sometimes synchronously inside our
own calls; both only copy plain values (into an `EngineEvent` handed to the sink, or into the
log ring under a lock) and never call libVLC, which would deadlock. python-vlc keeps one
callback per event type, so one dispatcher is attached for every type we use.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import sys
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any, Final

import vlc

from player.engine import (
    Chapter,
    EngineEvent,
    EngineEventKind,
    EventSink,
    MediaStats,
    MediaTrack,
    PlaybackState,
    VideoInfo,
)
from player.errors import LIBVLC_INSTALL_HINT
from player.sources import is_url

log = logging.getLogger("reelscope.player.vlc")


_BYTES_PER_US_TO_BPS: Final = 8e6  # libVLC reports bitrates in bytes per microsecond
_LOG_ERROR: Final = 4
_LOG_WARNING: Final = 3
_LOG_RING_SIZE: Final = 64

_STATE_MAP: Final = {
    vlc.State.NothingSpecial: PlaybackState.IDLE,
    vlc.State.Opening: PlaybackState.OPENING,
    vlc.State.Buffering: PlaybackState.BUFFERING,
    vlc.State.Playing: PlaybackState.PLAYING,
    vlc.State.Paused: PlaybackState.PAUSED,
    vlc.State.Stopped: PlaybackState.STOPPED,
    vlc.State.Ended: PlaybackState.ENDED,
    vlc.State.Error: PlaybackState.ERROR,
}

_TRACK_TYPES: Final = {0: "audio", 1: "video", 2: "text"}
# An end this far (ms of media, times the rate) before the known length is not the end of the
# media but of its data: a truncated or damaged file. Time reports come every 250-500 ms (about
# 1 s for MPEG-TS and HLS), so a real end is always much closer than this.
_EARLY_END_MS: Final = 2000


class LibVlcUnavailableError(RuntimeError):
    """libVLC or its plugins cannot be loaded; the message says what to install."""


def check_video_output_plugins() -> str | None:
    """None when libVLC can draw into a window, else a message naming the package to install.

    Cheap (no libVLC instance): looks for the xcb output beside the loaded libvlccore. Whether
    libVLC starts at all is known when `VlcEngine` is built (`LibVlcUnavailableError`).
    """
    plugins = _plugin_dir()
    if (
        sys.platform.startswith("linux")
        and plugins is not None
        and not any((plugins / "video_output").glob("libxcb_x11_plugin.*"))
    ):
        return (
            "libVLC is installed but cannot draw into a window: its video output plugins "
            "are missing.\nOn Debian or Ubuntu install them with:\n"
            "  sudo apt-get install vlc-plugin-video-output"
        )
    return None


def libvlc_version() -> str:
    """libVLC's version string, e.g. "3.0.24 Vetinari"."""
    return str(vlc.libvlc_get_version().decode(errors="replace"))


def _plugin_dir() -> Path | None:
    """Where the loaded libvlccore looks for plugins (Linux only; None when unknown)."""
    override = os.environ.get("VLC_PLUGIN_PATH")
    if override:
        return Path(override)
    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:
        return None
    for line in maps.splitlines():
        if "libvlccore.so" in line:
            return Path(line.split()[-1]).parent / "vlc" / "plugins"
    return None


class _LogRing:
    """The last warnings and errors libVLC logged, for error messages. Any thread."""

    def __init__(self) -> None:
        self._lines: deque[tuple[float, int, str]] = deque(maxlen=_LOG_RING_SIZE)
        self._lock = threading.Lock()

    def append(self, level: int, text: str) -> None:
        with self._lock:
            self._lines.append((time.monotonic(), level, text))

    def errors_since(self, since: float) -> list[str]:
        with self._lock:
            return [text for at, level, text in self._lines if at >= since and level >= 3]

    def clear(self) -> None:
        with self._lock:
            self._lines.clear()


def _make_vsnprintf() -> Any:
    libc = ctypes.CDLL(ctypes.util.find_library("c") or None)
    function = libc.vsnprintf
    function.restype = ctypes.c_int
    function.argtypes = (ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p, ctypes.c_void_p)
    return function


class VlcEngine:
    """A `player.engine.PlaybackEngine` backed by one libVLC instance and media player."""

    def __init__(
        self,
        sink: EventSink,
        *,
        video_output: str | None = None,
        audio_output: str | None = None,
        network_caching_ms: int | None = None,
        hardware_decoding: bool = True,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        args = ["--no-video-title-show", "--no-snapshot-preview"]
        if video_output:
            args.append(f"--vout={video_output}")
        if audio_output:
            args.append(f"--aout={audio_output}")
        if not hardware_decoding:
            args.append("--avcodec-hw=none")
        if video_output == "dummy":
            # Without a window system there is nothing to keep awake, and asking D-Bus fails.
            args.append("--no-disable-screensaver")
        args.extend(extra_args)
        try:
            instance = vlc.Instance(args)
        except (OSError, AttributeError, NotImplementedError, NameError) as exc:
            # python-vlc imports without libVLC and fails only at the first real call.
            raise LibVlcUnavailableError(LIBVLC_INSTALL_HINT) from exc
        if instance is None:  # libVLC without its plugins
            raise LibVlcUnavailableError(LIBVLC_INSTALL_HINT)
        self._instance: Any = instance
        self._sink = sink
        self._network_caching_ms = network_caching_ms
        self._headless = video_output == "dummy"
        self._log_ring = _LogRing()
        self._opened_at = time.monotonic()
        self._saw_picture = False
        self._saw_progress = False
        self._last_time_ms = 0  # the furthest playhead since the open or the last seek
        self._length_ms = 0
        self._vsnprintf = _make_vsnprintf()
        self._log_callback = vlc.CallbackDecorators.LogCb(self._on_log)
        self._instance.log_set(self._log_callback, None)
        self._player: Any = self._instance.media_player_new()
        # Keyboard and mouse go to the Qt widget, not to libVLC's own window handling.
        self._player.video_set_mouse_input(False)
        self._player.video_set_key_input(False)
        self._media: Any = None
        self._source: str | None = None
        self._volume = 100
        self._muted = False
        self._rate = 1.0
        self._stopper: threading.Thread | None = None
        self._event_callback = self._dispatch
        manager = self._player.event_manager()
        for event_type in _EVENT_KINDS:
            manager.event_attach(event_type, self._event_callback)

    # -- callbacks: libVLC threads; copy values, never call libVLC ---------------------------

    def _on_log(self, _data: Any, level: int, _ctx: Any, fmt: bytes, args: Any) -> None:
        if level < _LOG_WARNING:
            return
        buffer = ctypes.create_string_buffer(1024)
        self._vsnprintf(buffer, len(buffer), fmt, args)
        text = buffer.value.decode(errors="replace")
        self._log_ring.append(level, text)
        if level >= _LOG_ERROR:
            log.debug("libVLC: %s", text)

    def _dispatch(self, event: Any) -> None:
        now = time.monotonic() * 1000.0
        event_type = event.type
        kind = _EVENT_KINDS[event_type]
        value: float | int | str | None = None
        if event_type == vlc.EventType.MediaPlayerBuffering:
            value = float(event.u.new_cache)
        elif event_type == vlc.EventType.MediaPlayerTimeChanged:
            value = int(event.u.new_time)
            self._saw_progress = self._saw_progress or value > 0
            # The furthest the playhead got since the open or the last seek: after a seek libVLC
            # may report the keyframe before the target, seconds short of where it really is.
            self._last_time_ms = max(self._last_time_ms, value)
        elif event_type == vlc.EventType.MediaPlayerLengthChanged:
            value = int(event.u.new_length)
            self._length_ms = value
        elif event_type == vlc.EventType.MediaPlayerVout:
            value = _c_int(event.u.new_count)
            self._saw_picture = self._saw_picture or value > 0
        elif event_type == vlc.EventType.MediaPlayerESAdded:
            # python-vlc's union lacks `es_changed`; its first member, `i_type`, sits at offset 0.
            value = _TRACK_TYPES.get(int(event.u.meta_type), "other")
        elif event_type == vlc.EventType.MediaPlayerSeekableChanged:
            value = _c_int(event.u.new_seekable)
        elif event_type == vlc.EventType.MediaPlayerEncounteredError:
            value = self._error_detail()
        elif event_type == vlc.EventType.MediaPlayerEndReached and not (
            self._saw_picture or self._saw_progress
        ):
            # A file libVLC cannot demux "plays" and ends at once without an error event:
            # an end with no picture and no progress is reported as the failure it is.
            kind, value = EngineEventKind.ERROR, self._error_detail() or "no playable stream"
        elif event_type == vlc.EventType.MediaPlayerEndReached and self._ended_early():
            # libVLC ends a file whose data stops short (a broken download) as if it were
            # complete: the picture goes black with the bar at the end and no error.
            kind = EngineEventKind.ERROR
            value = (
                f"truncated: the media ended at {self._last_time_ms} ms of its "
                f"{self._length_ms} ms\n{self._error_detail()}"
            ).strip()
        self._sink(EngineEvent(kind, now, value))

    def _ended_early(self) -> bool:
        margin = _EARLY_END_MS * max(1.0, self._rate)
        return self._length_ms > 0 and self._last_time_ms < self._length_ms - margin

    def _error_detail(self) -> str:
        return "\n".join(self._log_ring.errors_since(self._opened_at))

    # -- commands: owning thread -------------------------------------------------------------

    def open(self, source: str, *, start_ms: int = 0) -> None:
        self._finish_stop()
        self._source = source
        self._log_ring.clear()
        self._opened_at = time.monotonic()
        if self._media is not None:
            self._media.release()
        if is_url(source):
            media = self._instance.media_new(source)
        else:
            media = self._instance.media_new_path(str(Path(source).expanduser().resolve()))
        if self._network_caching_ms is not None:
            media.add_option(f":network-caching={self._network_caching_ms}")
        if start_ms > 0:
            media.add_option(f":start-time={start_ms / 1000.0:.3f}")
        self._media = media
        self._player.set_media(media)
        # Reset only now: set_media stops the previous media, whose last events (its time, its
        # picture) arrive during that stop and would otherwise count for this one, making a
        # file that cannot be demuxed look like one that played and ended.
        self._saw_picture = False
        self._saw_progress = False
        self._last_time_ms = self._length_ms = 0
        self._player.play()
        self._apply_audio()

    def play(self) -> None:
        self._finish_stop()
        self._player.play()

    def pause(self) -> None:
        if self._player.get_state() == vlc.State.Playing:
            self._player.set_pause(1)

    def toggle_pause(self) -> None:
        state = self._player.get_state()
        if state == vlc.State.Playing:
            self._player.set_pause(1)
        elif state == vlc.State.Paused:
            self._player.set_pause(0)
        else:
            self._finish_stop()
            self._player.play()

    def stop(self) -> None:
        # libVLC's stop joins its input thread, which can sit in a network read for many
        # seconds (12-14 s seen leaving a throttled HLS stream): a worker thread owns it, so
        # the owning (GUI) thread never waits. The next command that needs the player waits.
        self._finish_stop()
        self._stopper = threading.Thread(target=self._player.stop, name="vlc-stop", daemon=True)
        self._stopper.start()

    def _finish_stop(self) -> None:
        """Waits for a stop still running on its worker thread (before touching the player)."""
        stopper, self._stopper = self._stopper, None
        if stopper is not None:
            stopper.join()

    def seek(self, position_ms: int) -> None:
        length = self.duration_ms
        target = max(0, position_ms if length <= 0 else min(position_ms, length - 1))
        # A seek close to the end may end the media before any time report from the new
        # position: the end is then judged from where the viewer sent the playhead.
        self._last_time_ms = int(target)
        self._player.set_time(int(target))

    def set_rate(self, rate: float) -> None:
        self._rate = rate
        self._player.set_rate(rate)

    def set_volume(self, volume: int) -> None:
        self._volume = max(0, min(200, volume))
        self._apply_audio()

    def set_muted(self, muted: bool) -> None:
        self._muted = muted
        self._apply_audio()

    def _apply_audio(self) -> None:
        # libVLC forgets volume and mute while no audio output exists; re-applied after open.
        self._player.audio_set_volume(self._volume)
        self._player.audio_set_mute(self._muted)

    def set_video_window(self, handle: int) -> None:
        if self._headless:
            # libVLC's set_xwindow resets the player's "vout" to automatic, which would undo
            # --vout=dummy and pick an ASCII-art output that crashes without a terminal.
            return
        if sys.platform.startswith("linux"):
            self._player.set_xwindow(handle)
        elif sys.platform == "win32":
            self._player.set_hwnd(handle)
        elif sys.platform == "darwin":
            self._player.set_nsobject(handle)

    @property
    def state(self) -> PlaybackState:
        return _STATE_MAP.get(self._player.get_state(), PlaybackState.IDLE)

    @property
    def position_ms(self) -> int:
        return max(0, int(self._player.get_time()))

    @property
    def duration_ms(self) -> int:
        return max(0, int(self._player.get_length()))

    @property
    def rate(self) -> float:
        return self._rate

    @property
    def volume(self) -> int:
        return self._volume

    @property
    def muted(self) -> bool:
        return self._muted

    @property
    def source(self) -> str | None:
        return self._source

    def media_stats(self) -> MediaStats:
        if self._media is None:
            return MediaStats()
        stats = vlc.MediaStats()
        if not self._media.get_stats(stats):
            return MediaStats()
        return MediaStats(
            demux_bitrate_bps=float(stats.demux_bitrate) * _BYTES_PER_US_TO_BPS,
            input_bitrate_bps=float(stats.input_bitrate) * _BYTES_PER_US_TO_BPS,
            read_bytes=int(stats.read_bytes),
            demux_read_bytes=int(stats.demux_read_bytes),
            decoded_video=int(stats.decoded_video),
            displayed_pictures=int(stats.displayed_pictures),
            lost_pictures=int(stats.lost_pictures),
            decoded_audio=int(stats.decoded_audio),
            played_audio_buffers=int(stats.played_abuffers),
            lost_audio_buffers=int(stats.lost_abuffers),
        )

    def video_info(self) -> VideoInfo:
        if self._media is None:
            return VideoInfo()
        # The media's track list keeps every stream ever seen (each HLS rendition, each size
        # change), oldest first. The streams alive now are the player's video track list (same
        # ids). The video output's size is the picture's when it was made, but an HLS rendition
        # switch reuses the output, which then still says the first rendition's size: it is
        # believed only when a live stream has that size; else the newest live stream is.
        live = {int(d[0]) for d in self._player.video_get_track_description() or () if d[0] >= 0}
        shown = self._player.video_get_size(0) if self._player.has_vout() else None
        shown_size = (int(shown[0]), int(shown[1])) if shown is not None else (0, 0)
        found: VideoInfo | None = None
        newest_live: VideoInfo | None = None
        for track in self._media.tracks_get() or ():
            if track.type != vlc.TrackType.video:
                continue
            # libVLC's track struct holds one pointer in a union; python-vlc declares three
            # fields, so the video pointer is the one it calls `audio`.
            video = ctypes.cast(track.audio, ctypes.POINTER(vlc.VideoTrack)).contents
            fps = video.frame_rate_num / video.frame_rate_den if video.frame_rate_den else 0.0
            info = VideoInfo(_fourcc(int(track.codec)), video.width, video.height, round(fps, 3))
            found = info
            if not live or int(track.id) in live:
                newest_live = info
                if (info.width, info.height) == shown_size:
                    return info
        if shown_size[0] > 0 and shown_size[1] > 0 and not live:
            codec = found or VideoInfo()
            return VideoInfo(codec.codec, shown_size[0], shown_size[1], codec.fps)
        return newest_live or found or VideoInfo()

    @property
    def backend_version(self) -> str:
        return f"libVLC {libvlc_version()}"

    def release(self) -> None:
        self._finish_stop()
        manager = self._player.event_manager()
        for event_type in _EVENT_KINDS:
            manager.event_detach(event_type)
        self._player.stop()
        self._player.release()
        if self._media is not None:
            self._media.release()
        self._instance.log_unset()
        self._instance.release()

    # -- tracks, subtitles, chapters, snapshots (`player.engine.TrackEngine`) ----------------

    def audio_tracks(self) -> tuple[MediaTrack, ...]:
        return _tracks(self._player.audio_get_track_description())

    @property
    def audio_track(self) -> int:
        return int(self._player.audio_get_track())

    def set_audio_track(self, track_id: int) -> bool:
        return bool(self._player.audio_set_track(track_id) == 0)

    def subtitle_tracks(self) -> tuple[MediaTrack, ...]:
        return _tracks(self._player.video_get_spu_description())

    @property
    def subtitle_track(self) -> int:
        return int(self._player.video_get_spu())

    def set_subtitle_track(self, track_id: int) -> bool:
        return bool(self._player.video_set_spu(track_id) == 0)

    def add_subtitle_file(self, path: str) -> bool:
        uri = Path(path).expanduser().resolve().as_uri()
        return bool(self._player.add_slave(vlc.MediaSlaveType.subtitle, uri, True) == 0)

    @property
    def subtitle_delay_ms(self) -> int:
        return int(self._player.video_get_spu_delay()) // 1000  # libVLC counts microseconds

    def set_subtitle_delay(self, delay_ms: int) -> None:
        self._player.video_set_spu_delay(int(delay_ms) * 1000)

    def chapters(self) -> tuple[Chapter, ...]:
        # python-vlc declares the out-parameter one pointer level short (and its generator
        # crashes), so libVLC's function is called with the right types here.
        descriptions = _ChapterArray()
        count = _GET_CHAPTERS(self._player._as_parameter_, -1, ctypes.byref(descriptions))
        if count <= 0:
            return ()
        try:
            return tuple(
                Chapter(
                    start_ms=int(item.time_offset),
                    duration_ms=int(item.duration),
                    title=(item.name or b"").decode(errors="replace").strip()
                    or f"Chapter {index + 1}",
                )
                for index, item in ((i, descriptions[i].contents) for i in range(count))
            )
        finally:
            _RELEASE_CHAPTERS(descriptions, count)

    @property
    def chapter(self) -> int:
        return int(self._player.get_chapter())

    def set_chapter(self, index: int) -> None:
        self._player.set_chapter(index)

    def take_snapshot(self, path: str) -> bool:
        if not self._player.has_vout():
            return False
        return bool(self._player.video_take_snapshot(0, path, 0, 0) == 0)


def _c_int(raw: int) -> int:
    """python-vlc declares some C `int` union members as 64-bit: keep the low 32 bits."""
    return ctypes.c_int32(raw & 0xFFFFFFFF).value


def _fourcc(code: int) -> str:
    return code.to_bytes(4, "little").decode("ascii", errors="replace").strip()


_EVENT_KINDS: Final = {
    vlc.EventType.MediaPlayerOpening: EngineEventKind.OPENING,
    vlc.EventType.MediaPlayerBuffering: EngineEventKind.BUFFERING,
    vlc.EventType.MediaPlayerPlaying: EngineEventKind.PLAYING,
    vlc.EventType.MediaPlayerPaused: EngineEventKind.PAUSED,
    vlc.EventType.MediaPlayerStopped: EngineEventKind.STOPPED,
    vlc.EventType.MediaPlayerEndReached: EngineEventKind.ENDED,
    vlc.EventType.MediaPlayerEncounteredError: EngineEventKind.ERROR,
    vlc.EventType.MediaPlayerTimeChanged: EngineEventKind.TIME_CHANGED,
    vlc.EventType.MediaPlayerLengthChanged: EngineEventKind.LENGTH_CHANGED,
    vlc.EventType.MediaPlayerVout: EngineEventKind.VIDEO_OUTPUT,
    vlc.EventType.MediaPlayerESAdded: EngineEventKind.TRACK_ADDED,
    vlc.EventType.MediaPlayerSeekableChanged: EngineEventKind.SEEKABLE_CHANGED,
}


_ChapterArray = ctypes.POINTER(ctypes.POINTER(vlc.ChapterDescription))
_GET_CHAPTERS: Final = vlc.dll["libvlc_media_player_get_full_chapter_descriptions"]
_GET_CHAPTERS.argtypes = (ctypes.c_void_p, ctypes.c_int, ctypes.POINTER(_ChapterArray))
_GET_CHAPTERS.restype = ctypes.c_int
_RELEASE_CHAPTERS: Final = vlc.dll["libvlc_chapter_descriptions_release"]
_RELEASE_CHAPTERS.argtypes = (_ChapterArray, ctypes.c_uint)
_RELEASE_CHAPTERS.restype = None


def _tracks(descriptions: Any) -> tuple[MediaTrack, ...]:
    """libVLC's (id, label) pairs without the "Disable" entry; the language is the part of
    the label in brackets ("Track 1 - [English]")."""
    tracks = []
    for track_id, raw in descriptions or ():
        if track_id < 0:
            continue
        name = raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)
        language = ""
        if name.endswith("]") and "[" in name:
            language = name[name.rindex("[") + 1 : -1]
        tracks.append(MediaTrack(int(track_id), name, language))
    return tuple(tracks)


def probe_media(
    path: Path, poster: Path, *, timeout_s: float = 10.0, at_fraction: float = 0.1
) -> tuple[int, Path | None]:
    """Duration (ms) and a poster frame (PNG at `poster`, or None if no frame was taken) of a
    local video, for `player.library_scan`. Raises `ProbeError` when it is not a video.

    Uses its own short-lived libVLC instance with dummy outputs, so it never touches the
    playing engine; blocks up to about twice `timeout_s`: call it off the GUI thread.
    """
    from player.library_scan import ProbeError

    instance = vlc.Instance(
        ["--quiet", "--vout=dummy", "--aout=dummy", "--no-audio", "--no-disable-screensaver"]
    )
    if instance is None:
        raise LibVlcUnavailableError(LIBVLC_INSTALL_HINT)
    player: Any = None
    try:
        media = instance.media_new_path(str(path))
        media.parse_with_options(vlc.MediaParseFlag.local, round(timeout_s * 1000))
        deadline = time.monotonic() + timeout_s
        while media.get_parsed_status() == 0 and time.monotonic() < deadline:
            time.sleep(0.02)  # libVLC's parser runs on its own thread; there is no wait call
        if media.get_parsed_status() != vlc.MediaParsedStatus.done:
            raise ProbeError("libVLC could not parse it")
        if not any(track.type == vlc.TrackType.video for track in media.tracks_get() or ()):
            raise ProbeError("no video track")
        duration_ms = max(0, int(media.get_duration()))
        player = instance.media_player_new()
        player.set_media(media)
        player.play()
        deadline = time.monotonic() + timeout_s
        while not player.has_vout() and time.monotonic() < deadline:
            time.sleep(0.02)
        if duration_ms > 0:
            player.set_time(round(duration_ms * at_fraction))
        poster.unlink(missing_ok=True)
        while time.monotonic() < deadline:
            if player.video_take_snapshot(0, str(poster), 0, 0) == 0 and poster.exists():
                return duration_ms, poster
            time.sleep(0.05)
        return duration_ms, None
    finally:
        if player is not None:
            player.stop()
            player.release()
        instance.release()


_THUMBNAIL_LEAD_MS: Final = 100


class VlcThumbnailer:
    """Small pictures of one local video at chosen positions, for seek-bar previews.

    Its own libVLC instance and player (dummy outputs, no audio), so it never touches the
    playing engine. Blocks for up to `timeout_s` per picture: construct, call and release it
    on one worker thread, never the GUI thread.
    """

    def __init__(self, source: str, *, timeout_s: float = 3.0) -> None:
        instance = vlc.Instance(
            # Pictures only: no sound, no subtitles drawn over the preview.
            [
                "--quiet",
                "--vout=dummy",
                "--aout=dummy",
                "--no-audio",
                "--no-spu",
                "--no-disable-screensaver",
            ]
        )
        if instance is None:
            raise LibVlcUnavailableError(LIBVLC_INSTALL_HINT)
        self._instance: Any = instance
        self._timeout_s = timeout_s
        self._player: Any = instance.media_player_new()
        self._media: Any = instance.media_new_path(str(Path(source).expanduser().resolve()))
        self._player.set_media(self._media)
        self._player.audio_set_mute(True)
        self._player.play()

    def thumbnail(self, position_ms: int, path: Path, width: int) -> bool:
        """Write a PNG `width` pixels wide of the picture at `position_ms` to `path`."""
        deadline = time.monotonic() + self._timeout_s
        target = max(0, int(position_ms))
        # A snapshot right after a seek can still hold the picture from before it: play on
        # from the target until the clock has passed it, so the picture is from there.
        self._player.set_pause(0)
        self._player.set_time(target)
        while time.monotonic() < deadline:
            if self._player.has_vout() and self._player.get_time() >= target + _THUMBNAIL_LEAD_MS:
                break
            time.sleep(0.01)  # libVLC has no call that waits for a picture
        path.unlink(missing_ok=True)
        try:
            while time.monotonic() < deadline:
                if self._player.video_take_snapshot(0, str(path), width, 0) == 0 and path.exists():
                    return True
                time.sleep(0.02)
            return False
        finally:
            self._player.set_pause(1)

    def release(self) -> None:
        self._player.stop()
        self._player.release()
        self._media.release()
        self._instance.release()
