"""Playback telemetry in the app: owns the current `PlaySession` and feeds it from the player.

A session starts when the player view is about to open a source (`PlayerView.opening`, before
libVLC is asked, so startup is timed from the request); it is fed the engine's events as they
reach the GUI thread, the viewer's seeks, the volume and the window's state, and it is polled
on a timer (the stall watchdog). It ends when the media ends or fails, when another source is
opened, when the viewer goes back home, and when the window closes. Each session keeps a crash
journal (`player.session_journal`); `SessionJournals.recover` at start-up sends what a killed run
could not.

Where a play came from (the tile's feed, row, rank and impression) is announced beforehand by
whoever asked for it (`prepare`); a source opened any other way is a "direct" play whose
video id is a hash of the source, so no local path leaves the machine.

GUI thread only.
"""

from __future__ import annotations

import hashlib
import uuid

from PySide6.QtCore import QEvent, QObject, QTimer

from player.engine import EngineEvent, EngineEventKind
from player.errors import PlaybackProblem
from player.play_session import Emit, EndReason, PlaySession, SourceContext, WindowState
from player.session_journal import SessionJournals, default_journal_dir
from ui.main_window import MainWindow

POLL_INTERVAL_MS = 200
_WINDOW_EVENTS = frozenset(
    {
        QEvent.Type.WindowStateChange,
        QEvent.Type.ActivationChange,
        QEvent.Type.Show,
        QEvent.Type.Hide,
        QEvent.Type.Expose,
        QEvent.Type.Resize,
    }
)


def direct_video_id(source: str) -> str:
    """A stable id for a source that is not in the catalog, without revealing the source."""
    return "media:" + hashlib.sha256(source.encode()).hexdigest()[:16]


class PlaybackTelemetry(QObject):
    """Turns what the player view does into play sessions sent through `track`."""

    def __init__(
        self,
        window: MainWindow,
        track: Emit,
        *,
        journals: SessionJournals | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        player = window.player
        self._player = player
        self._window = window
        self._track = track
        self._journals = journals or SessionJournals(default_journal_dir())
        self._session: PlaySession | None = None
        self._pending: tuple[str, str, SourceContext] | None = None  # media, video id, context
        self._current: tuple[str, str] | None = None  # source, video id: for a replay
        self._watching_handle = False
        self._poll = QTimer(self)
        self._poll.setInterval(POLL_INTERVAL_MS)
        self._poll.timeout.connect(self._on_poll_timeout)
        player.opening.connect(self._on_player_opening)
        player.seeking.connect(self._on_player_seeking)
        player.engine_event.connect(self._on_player_engine_event)
        player.playback_failed.connect(self._on_player_playback_failed)
        window.watch.viewer_action.connect(self.record_viewer_action)
        window.home_shown.connect(self._on_window_home_shown)
        window.installEventFilter(self)
        player.surface.installEventFilter(self)  # its resizes: the video area's size

    @property
    def session(self) -> PlaySession | None:
        """The current (or last) session."""
        return self._session

    def prepare(self, video_id: str, media: str, source: object) -> None:
        """The next play of `media` is `video_id`, asked for from `source` (a tile's
        `play_request.source` dict)."""
        fields = source if isinstance(source, dict) else {}
        rank = fields.get("rank")
        context = SourceContext(
            location=str(fields.get("location") or "home"),
            request_id=_text(fields.get("request_id")),
            row_id=_text(fields.get("row_id")),
            rank=rank if isinstance(rank, int) else None,
            impression_id=_text(fields.get("impression_id")),
        )
        self._pending = (media, video_id, context)

    def end(self, reason: EndReason) -> None:
        """Ends the live session, if any, for `reason`."""
        self._poll.stop()
        if self._session is not None:
            self._session.end(reason)

    # -- player ------------------------------------------------------------------------------

    def _on_player_opening(self, source: str, start_ms: int) -> None:
        live = self._session is not None and not self._session.closed
        self.end(EndReason.NEXT_ITEM if live else EndReason.NAVIGATED)
        pending, self._pending = self._pending, None
        if pending is not None and pending[0] == source:
            video_id, context = pending[1], pending[2]
        else:
            video_id, context = direct_video_id(source), SourceContext("direct")
        self._begin(source, video_id, context, start_ms, at=None)

    def _begin(
        self,
        source: str,
        video_id: str,
        context: SourceContext,
        start_ms: int,
        *,
        at: float | None,
    ) -> None:
        session_id = str(uuid.uuid4())
        engine = self._player.engine
        self._session = PlaySession(
            video_id=video_id,
            source=source,
            context=context,
            readout=engine,
            emit=self._track,
            start_position_ms=start_ms,
            journal=self._journals.journal(session_id),
            session_id=session_id,
        )
        self._current = (source, video_id)
        self._session.start(at=at)
        self._session.set_volume(engine.volume, engine.muted)
        self._watch_window_handle()
        self._session.window_changed(self._window_state())
        self._poll.start()

    def _on_player_engine_event(self, event: EngineEvent) -> None:
        session = self._session
        if session is not None and not session.closed:
            session.on_engine_event(event)
            if session.closed:
                self._poll.stop()
        elif (
            event.kind is EngineEventKind.OPENING
            and self._current is not None
            and self._player.source == self._current[0]
        ):
            # Play after the end starts the same media again without opening it: a replay.
            source, video_id = self._current
            self._begin(source, video_id, SourceContext("replay"), 0, at=event.mono_ms)

    def _on_player_seeking(self, target_ms: int, method: str) -> None:
        if self._session is not None:
            self._session.seek(target_ms, method)

    def _on_player_playback_failed(self, problem: PlaybackProblem) -> None:
        # The engine's own errors reach the session first (and end it); this catches what the
        # player view found before asking the engine, such as a missing file.
        if self._session is not None:
            self._session.report_problem(problem, fatal=True)

    def _on_poll_timeout(self) -> None:
        session = self._session
        if session is None or session.closed:
            self._poll.stop()
            return
        engine = self._player.engine
        session.set_volume(engine.volume, engine.muted)
        session.on_poll()

    def record_viewer_action(self, event_type: str, properties: dict[str, object]) -> None:
        """Tracks, subtitles, screenshots, loops and media-control commands, recorded in the
        live session they happened in (and not at all without one)."""
        session = self._session
        if session is not None and not session.closed:
            self._track(event_type, {"play_session_id": session.play_session_id, **properties})

    # -- window ------------------------------------------------------------------------------

    def _on_window_home_shown(self) -> None:
        self.end(EndReason.NAVIGATED)

    def _watch_window_handle(self) -> None:
        # Being covered or uncovered is told to the native window (Expose), not the widget.
        handle = self._window.windowHandle()
        if handle is not None and not self._watching_handle:
            handle.installEventFilter(self)
            self._watching_handle = True

    def _window_state(self) -> WindowState:
        handle = self._window.windowHandle()
        minimised = self._window.isMinimized()
        exposed = handle.isExposed() if handle is not None else self._window.isVisible()
        surface = self._player.surface  # where libVLC draws, in device pixels
        ratio = surface.devicePixelRatioF()
        return WindowState(
            fullscreen=self._window.isFullScreen(),
            minimised=minimised,
            covered=not exposed and not minimised,
            active=self._window.isActiveWindow(),
            width=round(surface.width() * ratio),
            height=round(surface.height() * ratio),
        )

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        kind = event.type()
        if kind == QEvent.Type.Close and watched is self._window:
            self.end(EndReason.APP_EXIT)
        elif kind in _WINDOW_EVENTS and self._session is not None:
            self._session.window_changed(self._window_state())
        return False


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None
