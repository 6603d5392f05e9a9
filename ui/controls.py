"""The player's control bar: play/pause, seek slider with times, volume, mute, speed, fullscreen.

Owns only widgets: it knows nothing of the engine. It emits `*_requested` signals upward and is
driven by `show_*` methods from `ui.player_view`. GUI thread only.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QSignalBlocker, QSize, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QCursor,
    QHideEvent,
    QIcon,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPen,
)
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QSlider,
    QStyle,
    QStyleOptionSlider,
    QToolButton,
    QWidget,
)

from ui import icons

RATES = (0.5, 0.75, 1.0, 1.25, 1.5, 2.0)


def format_ms(ms: int) -> str:
    """`m:ss`, or `h:mm:ss` from an hour on."""
    seconds = max(0, ms) // 1000
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


class SeekSlider(QSlider):
    """A horizontal slider in ms: press anywhere to grab the handle there, drag, release to seek.

    While the button is down, `preview_changed` reports the position under the pointer so the
    time label can follow; only the release asks for the seek, so a click or a drag is one seek.
    With the button up, `hovered` reports it (for the preview picture) until `hover_ended`.
    """

    seek_requested = Signal(int)
    preview_changed = Signal(int)
    hovered = Signal(int)
    hover_ended = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(Qt.Orientation.Horizontal, parent)
        self._marks: tuple[int, ...] = ()
        self.setRange(0, 0)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setMouseTracking(True)

    def _value_at(self, x: float) -> int:
        option = QStyleOptionSlider()
        self.initStyleOption(option)
        groove = self.style().subControlRect(
            QStyle.ComplexControl.CC_Slider, option, QStyle.SubControl.SC_SliderGroove, self
        )
        handle = self.style().subControlRect(
            QStyle.ComplexControl.CC_Slider, option, QStyle.SubControl.SC_SliderHandle, self
        )
        span = max(1, groove.width() - handle.width())
        offset = int(x) - groove.x() - handle.width() // 2
        return QStyle.sliderValueFromPosition(self.minimum(), self.maximum(), offset, span)

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        if event.button() == Qt.MouseButton.LeftButton and self.maximum() > 0:
            self.setSliderDown(True)
            value = self._value_at(event.position().x())
            self.setSliderPosition(value)
            self.preview_changed.emit(value)
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        if self.isSliderDown():
            value = self._value_at(event.position().x())
            self.setSliderPosition(value)
            self.preview_changed.emit(value)
            event.accept()
            return
        if self.maximum() > 0:
            self.hovered.emit(self._value_at(event.position().x()))
        super().mouseMoveEvent(event)

    def leaveEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt override
        # Showing the preview window above sends a leave (and an enter) under X11 with the
        # pointer still here: only a pointer that has gone ends the hover.
        if not self.rect().contains(self.mapFromGlobal(QCursor.pos())):
            self.hover_ended.emit()
        super().leaveEvent(event)

    def hideEvent(self, event: QHideEvent) -> None:  # noqa: N802 - Qt override
        # Hidden under the pointer (the controls hide in fullscreen): no leave event comes.
        self.hover_ended.emit()
        super().hideEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        if self.isSliderDown() and event.button() == Qt.MouseButton.LeftButton:
            self.setSliderDown(False)
            value = self._value_at(event.position().x())
            self.setValue(value)
            self.seek_requested.emit(value)
            event.accept()
            return
        super().mouseReleaseEvent(event)

    def value_at(self, x: float) -> int:
        """The position in ms under x (for previews while hovering)."""
        return self._value_at(x)

    # -- chapter marks -----------------------------------------------------------------------

    @property
    def marks(self) -> tuple[int, ...]:
        return self._marks

    def set_marks(self, marks: tuple[int, ...]) -> None:
        """Positions in ms drawn as ticks on the groove (chapter starts); () for none."""
        self._marks = tuple(m for m in marks if m > 0)
        self.update()

    def mark_x(self, position_ms: int) -> int:
        """The x coordinate of `position_ms` on the groove (where its tick is drawn)."""
        option = QStyleOptionSlider()
        self.initStyleOption(option)
        groove = self.style().subControlRect(
            QStyle.ComplexControl.CC_Slider, option, QStyle.SubControl.SC_SliderGroove, self
        )
        handle = self.style().subControlRect(
            QStyle.ComplexControl.CC_Slider, option, QStyle.SubControl.SC_SliderHandle, self
        )
        span = max(1, groove.width() - handle.width())
        offset = QStyle.sliderPositionFromValue(self.minimum(), self.maximum(), position_ms, span)
        return groove.x() + handle.width() // 2 + offset

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt override
        super().paintEvent(event)
        if not self.marks or self.maximum() <= 0:
            return
        painter = QPainter(self)
        painter.setPen(QPen(QColor(255, 255, 255, 200), 2))
        middle = self.height() // 2
        for mark in self.marks:
            x = self.mark_x(mark)
            painter.drawLine(x, middle - 5, x, middle + 5)
        painter.end()


class ControlBar(QWidget):
    """The row of playback controls under the video."""

    play_pause_requested = Signal()
    seek_requested = Signal(int)
    volume_requested = Signal(int)
    mute_requested = Signal(bool)
    rate_requested = Signal(float)
    fullscreen_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("ControlBar")
        self._play_icon = icons.play()
        self._pause_icon = icons.pause()
        self._volume_icon = icons.volume()
        self._muted_icon = icons.muted()

        self.play_button = self._tool_button(self._play_icon, "Play (Space)")
        self.play_button.clicked.connect(self.play_pause_requested)
        self.elapsed = QLabel(format_ms(0))
        self.seek_slider = SeekSlider()
        self.seek_slider.seek_requested.connect(self.seek_requested)
        self.seek_slider.preview_changed.connect(self._on_seek_slider_preview_changed)
        self.total = QLabel(format_ms(0))
        self.mute_button = self._tool_button(self._volume_icon, "Mute (M)")
        self.mute_button.setCheckable(True)
        self.mute_button.toggled.connect(self.mute_requested)
        self.volume_slider = QSlider(Qt.Orientation.Horizontal)
        self.volume_slider.setRange(0, 200)
        self.volume_slider.setValue(100)
        self.volume_slider.setFixedWidth(100)
        self.volume_slider.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.volume_slider.setToolTip("Volume (Up/Down)")
        self.volume_slider.valueChanged.connect(self.volume_requested)
        self.rate_box = QComboBox()
        self.rate_box.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.rate_box.setToolTip("Playback speed")
        for rate in RATES:
            self.rate_box.addItem(f"{rate:g}×", rate)
        self.rate_box.setCurrentIndex(RATES.index(1.0))
        self.rate_box.activated.connect(self._on_rate_box_activated)
        self.fullscreen_button = self._tool_button(icons.fullscreen(), "Fullscreen (F)")
        self.fullscreen_button.clicked.connect(self.fullscreen_requested)

        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 6)
        layout.addWidget(self.play_button)
        layout.addWidget(self.elapsed)
        layout.addWidget(self.seek_slider, 1)
        layout.addWidget(self.total)
        layout.addWidget(self.mute_button)
        layout.addWidget(self.volume_slider)
        layout.addWidget(self.rate_box)
        layout.addWidget(self.fullscreen_button)

    @staticmethod
    def _tool_button(icon: QIcon, tip: str) -> QToolButton:
        button = QToolButton()
        button.setIcon(icon)
        button.setIconSize(QSize(20, 20))
        button.setToolTip(tip)
        button.setAutoRaise(True)
        button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        return button

    def show_playing(self, playing: bool) -> None:
        self.play_button.setIcon(self._pause_icon if playing else self._play_icon)
        self.play_button.setToolTip("Pause (Space)" if playing else "Play (Space)")

    def show_position(self, position_ms: int, duration_ms: int) -> None:
        if duration_ms != self.seek_slider.maximum():
            self.seek_slider.setMaximum(max(0, duration_ms))
            self.total.setText(format_ms(duration_ms))
        if not self.seek_slider.isSliderDown():
            self.seek_slider.setValue(position_ms)
            self.elapsed.setText(format_ms(position_ms))

    def show_volume(self, volume: int, muted: bool) -> None:
        with QSignalBlocker(self.volume_slider), QSignalBlocker(self.mute_button):
            self.volume_slider.setValue(volume)
            self.mute_button.setChecked(muted)
        self.mute_button.setIcon(self._muted_icon if muted or volume == 0 else self._volume_icon)

    def show_rate(self, rate: float) -> None:
        index = self.rate_box.findData(rate)
        if index >= 0:
            self.rate_box.setCurrentIndex(index)

    def _on_seek_slider_preview_changed(self, value: int) -> None:
        self.elapsed.setText(format_ms(value))

    def _on_rate_box_activated(self, index: int) -> None:
        self.rate_requested.emit(float(self.rate_box.itemData(index)))
