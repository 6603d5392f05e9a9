"""The sync status in the status bar: a button saying where telemetry stands (synced, N
pending, offline with the next retry, auth failed, disabled) and, when clicked, a popup with
the last sync, the last error, the dead-letter count and a "Sync now" button.

`post(status)` may be called from any thread (it is the `TelemetryClient` status listener, run
on the telemetry threads): it only emits a signal, which reaches the widget on the GUI thread
through a queued connection. Everything else is GUI thread only.
"""

from __future__ import annotations

import time
from datetime import datetime

from PySide6.QtCore import QPoint, Qt, QTimer, Signal
from PySide6.QtWidgets import QFormLayout, QFrame, QLabel, QPushButton, QToolButton, QWidget

from telemetry.client.status import SyncState, SyncStatus


def _remaining(status: SyncStatus, now: float) -> int:
    return max(0, round((status.retry_at or now) - now))


def status_text(status: SyncStatus, now: float) -> str:
    """The short label for the status bar."""
    state = status.state
    if state is SyncState.DISABLED:
        return "Sync: disabled"
    if state is SyncState.AUTH_FAILED:
        return "Sync: auth failed"
    if state is SyncState.OFFLINE:
        return f"Sync: offline (next retry in {_remaining(status, now)} s)"
    if state is SyncState.BACKING_OFF:
        return f"Sync: server busy (next retry in {_remaining(status, now)} s)"
    if status.pending:
        return f"Sync: {status.pending} pending"
    return "Sync: synced"


def _when(seconds: float | None) -> str:
    if seconds is None:
        return "never"
    return datetime.fromtimestamp(seconds).strftime("%Y-%m-%d %H:%M:%S")


class SyncDetails(QFrame):
    """The popup: what the status bar cannot say in a few words."""

    sync_now_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Popup)
        self.setObjectName("SyncDetails")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.state = QLabel()
        self.pending = QLabel()
        self.last_sync = QLabel()
        self.last_error = QLabel()
        self.last_error.setWordWrap(True)
        self.last_error.setMaximumWidth(420)
        self.dead_letter = QLabel()
        self.sync_now = QPushButton("Sync now")
        self.sync_now.clicked.connect(self.sync_now_requested)
        layout = QFormLayout(self)
        layout.addRow("State:", self.state)
        layout.addRow("Waiting to send:", self.pending)
        layout.addRow("Last sync:", self.last_sync)
        layout.addRow("Last error:", self.last_error)
        layout.addRow("Refused by the server:", self.dead_letter)
        layout.addRow(self.sync_now)

    def show_status(self, status: SyncStatus, now: float) -> None:
        self.state.setText(status_text(status, now).removeprefix("Sync: "))
        self.pending.setText(f"{status.pending} events")
        self.last_sync.setText(_when(status.last_success))
        self.last_error.setText(status.last_error or "none")
        self.dead_letter.setText(f"{status.dead_letter} events (kept on this device)")
        self.sync_now.setEnabled(status.state is not SyncState.DISABLED)


class SyncStatusButton(QToolButton):
    """The status-bar widget; `sync_now_requested` when the viewer asks to send now."""

    sync_now_requested = Signal()
    _status_posted = Signal(object)  # SyncStatus, from any thread

    def __init__(self, initial: SyncStatus, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("SyncStatus")
        self.setAutoRaise(True)
        self.setToolTip("Telemetry sync: click for details")
        self._status = initial
        self.details = SyncDetails(self)
        self.details.sync_now_requested.connect(self._on_details_sync_now_requested)
        self._status_posted.connect(self._on_status_posted, Qt.ConnectionType.QueuedConnection)
        self.clicked.connect(self._on_clicked)
        # Counts the retry down once a second while one is scheduled.
        self._tick = QTimer(self)
        self._tick.setInterval(1000)
        self._tick.timeout.connect(self._on_tick_timeout)
        self._render()

    @property
    def status(self) -> SyncStatus:
        return self._status

    def post(self, status: SyncStatus) -> None:
        """Any thread: the client's status listener."""
        self._status_posted.emit(status)

    def _on_status_posted(self, status: SyncStatus) -> None:
        self._status = status
        self._render()

    def _render(self) -> None:
        now = time.time()
        self.setText(status_text(self._status, now))
        if self._status.retry_at is not None:
            self._tick.start()
        else:
            self._tick.stop()
        if self.details.isVisible():
            self.details.show_status(self._status, now)

    def _on_tick_timeout(self) -> None:
        self._render()

    def _on_clicked(self) -> None:
        self.details.show_status(self._status, time.time())
        self.details.adjustSize()
        below = self.mapToGlobal(QPoint(0, 0))
        self.details.move(below.x(), below.y() - self.details.sizeHint().height())
        self.details.show()

    def _on_details_sync_now_requested(self) -> None:
        self.details.hide()
        self.sync_now_requested.emit()
