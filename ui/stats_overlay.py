"""Stats for nerds: a small tool window beside the player (toggled with `I`) showing the
engine's own figures once a second: codec, resolution, frame rate, bitrate with a live graph,
buffer state, dropped frames, and the play session's startup time, stalls and id.

A separate top-level tool window, because a plain Qt widget cannot be drawn over the native
window libVLC renders into. Figures come straight from `PlaybackEngine.media_stats()` and
`video_info()`; buffering from the engine's events; startup, stalls and the session id from the
current `PlaySession` (given as a callable, None when nothing plays). GUI thread only.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any, Final

from PySide6.QtCore import QPointF, Qt, QTimer
from PySide6.QtGui import QColor, QKeySequence, QPainter, QPen, QPolygonF, QShortcut
from PySide6.QtWidgets import QFormLayout, QLabel, QVBoxLayout, QWidget

from player.engine import EngineEvent, EngineEventKind, MediaStats, PlaybackEngine, VideoInfo
from player.play_session import PlaySession

SessionSource = Callable[[], PlaySession | None]

REFRESH_MS = 1000
GRAPH_SAMPLES: Final = 60
FIELDS: Final = (
    "codec",
    "resolution",
    "frame_rate",
    "bitrate",
    "input_bitrate",
    "buffer",
    "dropped_frames",
    "startup",
    "stalls",
    "play_session",
)
_TITLES: Final = {
    "codec": "Codec",
    "resolution": "Resolution",
    "frame_rate": "Frame rate",
    "bitrate": "Bitrate (demux)",
    "input_bitrate": "Bitrate (input)",
    "buffer": "Buffer",
    "dropped_frames": "Dropped frames",
    "startup": "Startup time",
    "stalls": "Stalls",
    "play_session": "Play session",
}


def kbps(bits_per_second: float) -> str:
    return f"{bits_per_second / 1000:.0f} kb/s"


def format_figures(
    stats: MediaStats,
    video: VideoInfo,
    buffer: str,
    session: PlaySession | None,
) -> dict[str, str]:
    """The text of every field, from the engine's figures as they are now."""
    dropped = stats.lost_pictures
    shown = stats.displayed_pictures
    share = f" ({100 * dropped / (dropped + shown):.1f} %)" if dropped + shown else ""
    values = {
        "codec": video.codec or "—",
        "resolution": f"{video.width}×{video.height}" if video.width else "—",
        "frame_rate": f"{video.fps:g} fps" if video.fps else "—",
        "bitrate": kbps(stats.demux_bitrate_bps),
        "input_bitrate": kbps(stats.input_bitrate_bps),
        "buffer": buffer,
        "dropped_frames": f"{dropped} of {dropped + shown}{share}",
        "startup": "—",
        "stalls": "—",
        "play_session": "—",
    }
    if session is not None:
        totals = session.totals()
        startup = totals["startup_ms"]
        values["startup"] = f"{startup} ms" if isinstance(startup, int) else "—"
        values["stalls"] = f"{totals['rebuffer_count']} ({totals['rebuffer_ms']} ms)"
        values["play_session"] = session.play_session_id
    return values


class BitrateGraph(QWidget):
    """The last minute of demux bitrate as a line, scaled to its own maximum."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.samples: deque[float] = deque(maxlen=GRAPH_SAMPLES)
        self.setMinimumSize(240, 70)

    def add(self, bits_per_second: float) -> None:
        self.samples.append(bits_per_second)
        self.update()

    def clear(self) -> None:
        self.samples.clear()
        self.update()

    def paintEvent(self, event: Any) -> None:  # noqa: N802 - Qt override
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(20, 20, 24))
        if len(self.samples) >= 2:
            top = max(self.samples) or 1.0
            width, height = self.width() - 1, self.height() - 4
            step = width / (GRAPH_SAMPLES - 1)
            start = GRAPH_SAMPLES - len(self.samples)
            line = QPolygonF(
                [
                    QPointF((start + i) * step, 2 + height * (1 - value / top))
                    for i, value in enumerate(self.samples)
                ]
            )
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            painter.setPen(QPen(QColor(90, 200, 120), 1.5))
            painter.drawPolyline(line)
            painter.setPen(QColor(160, 160, 160))
            painter.drawText(4, 12, f"max {kbps(top)}")
        painter.end()


class StatsOverlay(QWidget):
    """The tool window. `toggle()` shows or hides it; `refresh()` reads the engine now."""

    def __init__(
        self,
        engine: Callable[[], PlaybackEngine],
        session: SessionSource,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent, Qt.WindowType.Tool)
        self.setObjectName("StatsOverlay")
        self.setWindowTitle("Stats for nerds")
        # The player keeps the keyboard, so `I` hides the window again and playback keys work.
        self.setAttribute(Qt.WidgetAttribute.WA_ShowWithoutActivating)
        self.setWindowFlag(Qt.WindowType.WindowDoesNotAcceptFocus)
        self._engine = engine
        self._session = session
        self._buffer = "—"
        self.values = {name: QLabel("—") for name in FIELDS}
        for label in self.values.values():
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.graph = BitrateGraph()
        form = QFormLayout()
        for name in FIELDS:
            form.addRow(f"{_TITLES[name]}:", self.values[name])
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.graph)
        self._timer = QTimer(self)
        self._timer.setInterval(REFRESH_MS)
        self._timer.timeout.connect(self._on_timer_timeout)
        # Should the window get the keyboard anyway (a click to copy a figure), `I` still hides it.
        for key in (Qt.Key.Key_I, Qt.Key.Key_Escape):
            QShortcut(QKeySequence(key), self).activated.connect(self.toggle)

    def toggle(self) -> None:
        if self.isVisible():
            self.hide()
            self._timer.stop()
            return
        self.refresh()
        self.show()
        self._timer.start()
        # Some platforms activate a new tool window regardless: hand the keyboard back.
        owner = self.parentWidget()
        if owner is not None:
            owner.window().activateWindow()

    def on_engine_event(self, event: EngineEvent) -> None:
        """Connected to `PlayerView.engine_event`: keeps the buffer state and resets the graph
        when a new media opens."""
        if event.kind is EngineEventKind.OPENING:
            self.graph.clear()
            self._buffer = "opening"
        elif event.kind is EngineEventKind.BUFFERING:
            level = float(event.value or 0.0)
            self._buffer = "full" if level >= 100.0 else f"filling ({level:.0f} %)"

    def refresh(self) -> dict[str, str]:
        """Read the engine and show its figures; returns the texts shown."""
        engine = self._engine()
        stats = engine.media_stats()
        figures = format_figures(
            stats, engine.video_info(), f"{self._buffer}, {engine.state.value}", self._session()
        )
        for name, text in figures.items():
            self.values[name].setText(text)
        self.graph.add(stats.demux_bitrate_bps)
        return figures

    def _on_timer_timeout(self) -> None:
        self.refresh()

    def hideEvent(self, event: Any) -> None:  # noqa: N802 - Qt override
        self._timer.stop()
        super().hideEvent(event)
