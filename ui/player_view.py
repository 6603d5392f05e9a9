"""The player page: the native video surface libVLC draws into, the control bar, and the
message shown in place of the picture when something cannot be played.

Owns one `PlaybackEngine` and drives it from the GUI thread, and the seek-bar previews
(`ui.seek_preview`), opened and closed with each title. Engine events arrive through
`ui.engine_bridge.EngineBridge` (a queued connection), are re-emitted as `engine_event` for
whoever measures playback, and update the controls. The playhead is polled on a timer while a
media is loaded, because libVLC reports time only every 250-500 ms. GUI thread only.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QMouseEvent, QShortcut
from PySide6.QtWidgets import QFrame, QLabel, QStackedLayout, QVBoxLayout, QWidget

from player.engine import EngineEvent, EngineEventKind, EventSink, PlaybackEngine, PlaybackState
from player.errors import PlaybackProblem, classify, missing_local_file
from player.paths import cache_dir
from player.sources import display_name
from player.thumbnail_cache import ThumbnailCache
from ui.controls import ControlBar
from ui.engine_bridge import EngineBridge
from ui.seek_preview import SeekPreview

log = logging.getLogger("reelscope.ui.player")

SEEK_STEP_MS = 10_000
VOLUME_STEP = 5
POLL_INTERVAL_MS = 200
CONTROLS_HIDE_MS = 2500
# "Buffering" shows once libVLC has said its buffer ran low this long ago without refilling,
# or the playhead has stood still this long while playing (a starved input may say nothing;
# 1.6 s is longer than libVLC's ~1 s time steps for MPEG-TS and HLS).
BUFFERING_GRACE_MS = 600
FROZEN_GRACE_MS = 1600

_NOT_PLAYING = frozenset(
    {EngineEventKind.PAUSED, EngineEventKind.STOPPED, EngineEventKind.ENDED, EngineEventKind.ERROR}
)

EngineFactory = Callable[[EventSink], PlaybackEngine]


class VideoSurface(QFrame):
    """A black native window for libVLC to draw into; reports double clicks upward."""

    double_clicked = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("VideoSurface")
        self.setAttribute(Qt.WidgetAttribute.WA_NativeWindow)
        self.setAttribute(Qt.WidgetAttribute.WA_DontCreateNativeAncestors)
        self.setAutoFillBackground(True)
        self.setStyleSheet("background: black;")
        self.setMouseTracking(True)
        self.setMinimumSize(320, 180)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        self.double_clicked.emit()
        event.accept()


class PlayerView(QWidget):
    """Plays one source at a time; signals what happened, never decides what to play next."""

    engine_event = Signal(object)  # EngineEvent, on the GUI thread, in engine order
    # Before the engine is asked, so that whoever measures playback starts the clock first.
    opening = Signal(str, int)  # source, start position in ms
    seeking = Signal(int, str)  # target in ms, method ("mouse" or "key")
    playback_failed = Signal(object)  # PlaybackProblem
    fullscreen_requested = Signal()
    back_requested = Signal()
    stats_requested = Signal()  # the `I` key: show or hide the stats for nerds
    status_message = Signal(str)

    def __init__(
        self,
        engine_factory: EngineFactory,
        parent: QWidget | None = None,
        *,
        thumbnails: ThumbnailCache | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("PlayerView")
        self._bridge = EngineBridge(self)
        self._bridge.event_received.connect(
            self._on_bridge_event_received, Qt.ConnectionType.QueuedConnection
        )
        self._engine_factory = engine_factory
        self._engine: PlaybackEngine | None = None
        self._source: str | None = None
        self._fullscreen = False

        self.surface = VideoSurface()
        self.surface.double_clicked.connect(self.fullscreen_requested)
        self.message = QLabel()
        self.message.setObjectName("PlayerMessage")
        self.message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.message.setWordWrap(True)
        self.buffering = QLabel("Buffering…")
        self.buffering.setObjectName("PlayerBuffering")
        self.buffering.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.buffering.hide()
        self._low_since: float | None = None  # libVLC said its buffer is not full, since then
        self._still: tuple[int, float] = (-1, 0.0)  # the playhead and since when it stood there
        self._screen = QStackedLayout()
        self._screen.addWidget(self.surface)
        self._screen.addWidget(self.message)
        self.controls = ControlBar()
        self.controls.play_pause_requested.connect(self.toggle_pause)
        self.controls.seek_requested.connect(self.seek)
        self.controls.volume_requested.connect(self.set_volume)
        self.controls.mute_requested.connect(self.set_muted)
        self.controls.rate_requested.connect(self.set_rate)
        self.controls.fullscreen_requested.connect(self.fullscreen_requested)
        self.seek_preview = SeekPreview(
            self.controls.seek_slider,
            thumbnails or ThumbnailCache(cache_dir() / "thumbnails"),
            parent=self,
        )

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addLayout(self._screen, 1)
        layout.addWidget(self.buffering)
        layout.addWidget(self.controls)

        self._poll = QTimer(self)
        self._poll.setInterval(POLL_INTERVAL_MS)
        self._poll.timeout.connect(self._on_poll_timeout)
        self._hide_controls = QTimer(self)
        self._hide_controls.setSingleShot(True)
        self._hide_controls.setInterval(CONTROLS_HIDE_MS)
        self._hide_controls.timeout.connect(self._on_hide_controls_timeout)
        self._install_shortcuts()

    @property
    def engine(self) -> PlaybackEngine:
        """The engine, created on first use so that the window can show before libVLC loads.

        Raises `player.vlc_engine.LibVlcUnavailableError` when libVLC cannot start.
        """
        if self._engine is None:
            self._engine = self._engine_factory(self._bridge.sink)
        return self._engine

    # -- keyboard --------------------------------------------------------------------------

    def _install_shortcuts(self) -> None:
        bindings: list[tuple[Qt.Key | QKeySequence.StandardKey, Callable[[], None]]] = [
            (Qt.Key.Key_Space, self.toggle_pause),
            (Qt.Key.Key_Left, lambda: self.seek_relative(-SEEK_STEP_MS)),
            (Qt.Key.Key_Right, lambda: self.seek_relative(SEEK_STEP_MS)),
            (Qt.Key.Key_Up, lambda: self.change_volume(VOLUME_STEP)),
            (Qt.Key.Key_Down, lambda: self.change_volume(-VOLUME_STEP)),
            (Qt.Key.Key_M, lambda: self.set_muted(not self.engine.muted)),
            (Qt.Key.Key_F, self.fullscreen_requested.emit),
            (Qt.Key.Key_I, self.stats_requested.emit),
            (Qt.Key.Key_Escape, self._on_escape),
            (Qt.Key.Key_Home, self.start_over),
            (Qt.Key.Key_Backspace, self.back_requested.emit),
            (QKeySequence.StandardKey.Back, self.back_requested.emit),
        ]
        for key, action in bindings:
            shortcut = QShortcut(QKeySequence(key), self)
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            shortcut.activated.connect(action)

    def _on_escape(self) -> None:
        if self._fullscreen:
            self.fullscreen_requested.emit()
        else:
            self.back_requested.emit()

    # -- commands ----------------------------------------------------------------------------

    @property
    def source(self) -> str | None:
        return self._source

    def open(self, source: str, *, start_ms: int = 0) -> bool:
        """Play `source`; False (and a message in place of the picture) when it is missing."""
        self._source = source
        self.seek_preview.open_title(source)
        self._low_since, self._still = None, (-1, time.monotonic() * 1000.0)
        self._show_buffering(False)
        self.opening.emit(source, start_ms)
        self.controls.show_position(0, 0)
        missing = missing_local_file(source)
        if missing is not None:
            self.engine.stop()
            self._show_problem(missing)
            return False
        self._screen.setCurrentWidget(self.surface)
        # The native window must exist before libVLC is told about it.
        self.engine.set_video_window(int(self.surface.winId()))
        self.engine.open(source, start_ms=start_ms)
        self._poll.start()
        if start_ms > 0:
            # Resuming where the title was left: say so, and how to start over instead.
            minutes, seconds = divmod(start_ms // 1000, 60)
            self.status_message.emit(
                f"Resuming {display_name(source)} at {minutes}:{seconds:02d}. "
                "Press Home to start over."
            )
        else:
            self.status_message.emit(f"Playing {display_name(source)}")
        return True

    def start_over(self) -> None:
        """Back to the beginning: the choice offered when a title resumes where it was left."""
        self.seek(0, "key")

    def stop(self) -> None:
        self.seek_preview.close_title()
        self._poll.stop()
        self._show_buffering(False)
        self.engine.stop()
        self.controls.show_playing(False)

    def toggle_pause(self) -> None:
        if self._source is None:
            return
        if self.engine.state in (PlaybackState.ENDED, PlaybackState.STOPPED):
            self.engine.stop()
            self.engine.play()
            self._poll.start()
        else:
            self.engine.toggle_pause()

    def seek(self, position_ms: int, method: str = "mouse") -> None:
        if self._source is not None:
            self.seeking.emit(position_ms, method)
            self.engine.seek(position_ms)
            self.controls.show_position(self.engine.position_ms, self.engine.duration_ms)

    def seek_relative(self, delta_ms: int) -> None:
        self.seek(self.engine.position_ms + delta_ms, "key")

    def set_volume(self, volume: int) -> None:
        self.engine.set_volume(volume)
        self.controls.show_volume(self.engine.volume, self.engine.muted)

    def change_volume(self, delta: int) -> None:
        self.set_volume(self.engine.volume + delta)
        self.status_message.emit(f"Volume {self.engine.volume} %")

    def set_muted(self, muted: bool) -> None:
        self.engine.set_muted(muted)
        self.controls.show_volume(self.engine.volume, muted)
        self.status_message.emit("Muted" if muted else f"Volume {self.engine.volume} %")

    def set_rate(self, rate: float) -> None:
        self.engine.set_rate(rate)
        self.controls.show_rate(rate)
        self.status_message.emit(f"Speed {rate:g}×")

    def set_fullscreen(self, fullscreen: bool) -> None:
        """Told by the window; in fullscreen the controls hide after a while without input."""
        self._fullscreen = fullscreen
        self.controls.setVisible(True)
        self.unsetCursor()
        if fullscreen:
            self._hide_controls.start()
        else:
            self._hide_controls.stop()

    def shutdown(self) -> None:
        self.seek_preview.shutdown()
        self._poll.stop()
        self._hide_controls.stop()
        if self._engine is not None:
            self._engine.release()
            self._engine = None

    # -- events --------------------------------------------------------------------------------

    def _on_bridge_event_received(self, event: EngineEvent) -> None:
        kind = event.kind
        if kind is EngineEventKind.BUFFERING:
            full = float(event.value or 0.0) >= 100.0
            if full:
                self._low_since = None
            elif self._low_since is None:
                self._low_since = event.mono_ms
        elif kind is EngineEventKind.PAUSED or (
            kind is EngineEventKind.TIME_CHANGED and int(event.value or 0) != self._still[0]
        ):
            self._low_since = None  # moving again (or paused): not starved any more
        if kind in _NOT_PLAYING:
            self._show_buffering(False)
        if kind is EngineEventKind.PLAYING:
            self.controls.show_playing(True)
        elif kind in (EngineEventKind.PAUSED, EngineEventKind.STOPPED):
            self.controls.show_playing(False)
        elif kind is EngineEventKind.ENDED:
            log.info("played %s to its end", self._source)
            self.controls.show_playing(False)
            self.controls.show_position(self.engine.duration_ms, self.engine.duration_ms)
            self._poll.stop()
        elif kind is EngineEventKind.LENGTH_CHANGED:
            self.controls.show_position(self.engine.position_ms, int(event.value or 0))
        elif kind is EngineEventKind.ERROR and self._source is not None:
            self._poll.stop()
            self._show_problem(classify(self._source, str(event.value or "")))
        self.engine_event.emit(event)

    def _show_problem(self, problem: PlaybackProblem) -> None:
        log.info("cannot play: %s (%s)", problem.user_message, problem.category.value)
        self.controls.show_playing(False)
        self.message.setText(
            f"<p style='font-size:15pt'>{problem.user_message}</p>"
            "<p>Open another file with Ctrl+O, or go back with Esc.</p>"
        )
        self._screen.setCurrentWidget(self.message)
        self.playback_failed.emit(problem)

    def _on_poll_timeout(self) -> None:
        position = self.engine.position_ms
        self.controls.show_position(position, self.engine.duration_ms)
        now = time.monotonic() * 1000.0
        if position != self._still[0]:
            self._still = (position, now)
        playing = self.engine.state is PlaybackState.PLAYING and position > 0
        starved = self._low_since is not None and now - self._low_since >= BUFFERING_GRACE_MS
        frozen = now - self._still[1] >= FROZEN_GRACE_MS
        self._show_buffering(playing and (starved or frozen))

    def _show_buffering(self, shown: bool) -> None:
        if shown != self.buffering.isVisible():
            self.buffering.setVisible(shown)

    def _on_hide_controls_timeout(self) -> None:
        if self._fullscreen:
            self.controls.setVisible(False)
            self.setCursor(Qt.CursorShape.BlankCursor)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        """Installed on the application: any mouse move brings the controls back."""
        if self._fullscreen and event.type() == QEvent.Type.MouseMove:
            if not self.controls.isVisible():
                self.controls.setVisible(True)
                self.unsetCursor()
            self._hide_controls.start()
        return super().eventFilter(watched, event)
