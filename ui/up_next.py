"""Up next: when a title ends, a post-play card names the next title, counts down and plays it
(unless autoplay is off), or is dismissed.

The next title is, in order: the next of the files opened together (the queue), the next tile
of the home-screen row the title was played from, or the next video file in the title's folder.
The card is browse data like a tile: `postplay_served` when it is laid out, `postplay_seen` when
it is on screen, `postplay_action` when the viewer plays it, lets it autoplay or dismisses it.

Owns the card, the countdown and the queue; playing goes through a `Candidate`'s own `play`
(the home screen's, so a feed title resumes and is announced like a tile), or `MainWindow.play`.
GUI thread only.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from player.engine import EngineEvent, EngineEventKind
from player.play_session import Emit
from player.sources import display_name, is_url
from ui.main_window import MainWindow
from ui.playback_telemetry import PlaybackTelemetry, direct_video_id

COUNTDOWN_S: Final = 10
VIDEO_SUFFIXES: Final = frozenset(
    {".mp4", ".m4v", ".mkv", ".webm", ".mov", ".avi", ".ogv", ".ts", ".m2ts", ".mpg", ".mpeg"}
    | {".flv", ".wmv", ".3gp"}
)


@dataclass(frozen=True, slots=True)
class Candidate:
    """What could play next, where it was found ("queue", "feed" or "folder"), and how."""

    video_id: str
    title: str
    origin: str
    play: Callable[[], None] = field(compare=False)


FeedNext = Callable[[str], Candidate | None]  # source that ended -> the next tile of its row


def next_in_folder(source: str) -> str | None:
    """The video file after `source` in its folder, by name; None for the last or for URLs."""
    if is_url(source):
        return None
    path = Path(source)
    try:
        names = sorted(p.name for p in path.parent.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES)
    except OSError:
        return None
    if path.name not in names:
        return None
    index = names.index(path.name)
    return str(path.parent / names[index + 1]) if index + 1 < len(names) else None


class PostPlayCard(QFrame):
    """The card: "Up next", the title, a countdown, Play now and Cancel."""

    play_clicked = Signal()
    dismissed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("PostPlayCard")
        # Native, so that it stacks above libVLC's native video window.
        self.setAttribute(Qt.WidgetAttribute.WA_NativeWindow)
        self.setStyleSheet(
            "#PostPlayCard { background: rgba(20, 20, 24, 235); border-radius: 8px; }"
            "QLabel { color: white; }"
        )
        self.heading = QLabel("Up next")
        self.title = QLabel()
        self.title.setStyleSheet("font-size: 15pt; font-weight: bold;")
        self.countdown = QLabel()
        self.play_button = QPushButton("Play now")
        self.play_button.clicked.connect(self.play_clicked)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.dismissed)
        buttons = QHBoxLayout()
        buttons.addWidget(self.play_button)
        buttons.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.heading)
        layout.addWidget(self.title)
        layout.addWidget(self.countdown)
        layout.addLayout(buttons)
        self.hide()


class UpNext(QObject):
    """Offers the next title when one ends; see the module docstring."""

    def __init__(
        self,
        window: MainWindow,
        track: Emit,
        *,
        playback: PlaybackTelemetry | None = None,
        feed_next: FeedNext | None = None,
        autoplay: bool = True,
        countdown_s: int = COUNTDOWN_S,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._window = window
        self._track = track
        self._playback = playback
        self.feed_next = feed_next
        self.autoplay = autoplay
        self.countdown_s = countdown_s
        self._queue: list[str] = []
        self._candidate: Candidate | None = None
        self._postplay_id = ""
        self._shown_at = 0.0
        self._remaining = 0
        self.card = PostPlayCard(window.player)
        self.card.play_clicked.connect(lambda: self._act("play"))
        self.card.dismissed.connect(lambda: self._act("dismiss"))
        self._tick = QTimer(self)
        self._tick.setInterval(1000)
        self._tick.timeout.connect(self._on_tick_timeout)
        window.player.engine_event.connect(self._on_player_engine_event)
        window.player.opening.connect(self._on_player_opening)
        window.player.back_requested.connect(self._on_player_back_requested)

    @property
    def candidate(self) -> Candidate | None:
        """What the card offers while it is shown."""
        return self._candidate

    def set_queue(self, sources: Sequence[str]) -> None:
        """Files opened together play one after the other."""
        self._queue = list(dict.fromkeys(sources)) if len(sources) > 1 else []

    def next_candidate(self, source: str) -> Candidate | None:
        if source in self._queue:
            index = self._queue.index(source)
            if index + 1 < len(self._queue):
                return self._file_candidate(self._queue[index + 1], "queue")
            return None
        feed = self.feed_next(source) if self.feed_next is not None else None
        if feed is not None:
            return feed
        following = next_in_folder(source)
        return self._file_candidate(following, "folder") if following else None

    def _file_candidate(self, source: str, origin: str) -> Candidate:
        video_id = direct_video_id(source)

        def play() -> None:
            if self._playback is not None:
                self._playback.prepare(video_id, source, {"location": "postplay"})
            self._window.play(source)

        return Candidate(video_id, display_name(source), origin, play)

    # -- the card ------------------------------------------------------------------------------

    def _on_player_engine_event(self, event: EngineEvent) -> None:
        source = self._window.player.source
        if event.kind is EngineEventKind.ENDED and source is not None:
            candidate = self.next_candidate(source)
            if candidate is not None:
                self._offer(source, candidate)

    def _offer(self, source: str, candidate: Candidate) -> None:
        self._candidate = candidate
        self._postplay_id = str(uuid.uuid4())
        self._remaining = self.countdown_s
        self.card.title.setText(candidate.title)
        self._show_countdown()
        player = self._window.player
        self.card.adjustSize()
        self.card.move(
            max(0, player.width() - self.card.width() - 24),
            max(0, player.height() - self.card.height() - 80),
        )
        self.card.show()
        self.card.raise_()
        self._shown_at = time.monotonic()
        session = self._playback.session if self._playback is not None else None
        self._track(
            "postplay_served",
            {
                "postplay_id": self._postplay_id,
                "video_id": session.video_id if session is not None else direct_video_id(source),
                "next_video_id": candidate.video_id,
                "origin": candidate.origin,
                "autoplay": self.autoplay,
                "countdown_ms": self.countdown_s * 1000 if self.autoplay else 0,
            },
        )
        if self._window.isVisible() and not self._window.isMinimized():
            # On screen at once: the player page is showing the title that just ended.
            self._track("postplay_seen", {"postplay_id": self._postplay_id})
        if self.autoplay:
            self._tick.start()

    def _show_countdown(self) -> None:
        self.card.countdown.setText(
            f"Plays in {self._remaining} s" if self.autoplay else "Autoplay is off"
        )

    def _on_tick_timeout(self) -> None:
        self._remaining -= 1
        self._show_countdown()
        if self._remaining <= 0:
            self._act("autoplay")

    def _act(self, action: str) -> None:
        candidate = self._candidate
        if candidate is None:
            return
        self._close()
        self._track(
            "postplay_action",
            {
                "postplay_id": self._postplay_id,
                "action": action,
                "dwell_ms": round((time.monotonic() - self._shown_at) * 1000),
            },
        )
        if action != "dismiss":
            candidate.play()

    def _close(self) -> None:
        self._tick.stop()
        self._candidate = None
        self.card.hide()

    def _on_player_opening(self, _source: str, _start_ms: int) -> None:
        if self._candidate is not None:
            self._act("dismiss")  # something else was opened instead

    def _on_player_back_requested(self) -> None:
        if self._candidate is not None:
            self._act("dismiss")
