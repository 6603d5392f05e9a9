""" "What Reelscope knows about you": the events recorded on this device, live, with a filter
by type; the outbox's size and its counts per type; export of all local telemetry data as JSON;
deleting it; and deleting this device's events from the server.

The list is fed by polling the outbox once a second while the window is visible (the outbox
is the only record of what was tracked; reading it is a few ms with WAL). Events that leave
the outbox (sent, or removed) stay listed, marked so, until the window is closed. Deleting from
the server first purges the local outbox, so nothing pending is sent afterwards, then calls the
collector's authenticated `DELETE /v1/devices/{device_id}/events` on a worker thread.

GUI thread only, except the work handed to `BackgroundCall`.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Final

import orjson
from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    QRegularExpression,
    QSortFilterProxyModel,
    Qt,
    QTimer,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QMessageBox,
    QPushButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from telemetry.client import TelemetryClient
from telemetry.disclosure import DESCRIPTIONS
from telemetry.events import SPECS
from telemetry.server_data import delete_device_data
from ui.background import BackgroundCall

log = logging.getLogger("reelscope.ui.privacy")

ServerAccess = Callable[[], tuple[str, str]]  # the collector URL and write key now
Index = QModelIndex | QPersistentModelIndex

POLL_INTERVAL_MS = 1000
MAX_ROWS: Final = 1000
PURGE_TIMEOUT_S = 10.0
_DETAIL_KEYS_SKIPPED = frozenset({"play_session_id"})


def summary(properties: object) -> str:
    """The main properties of an event in one line (scalars only; nested values elided)."""
    if not isinstance(properties, dict):
        return ""
    parts = []
    for name, value in properties.items():
        if name in _DETAIL_KEYS_SKIPPED:
            continue
        shown = "…" if isinstance(value, dict | list | tuple) else value
        parts.append(f"{name}={shown}")
    return ", ".join(parts)


def export_local_data(client: TelemetryClient, path: Path) -> dict[str, Any]:
    """Write every local telemetry record (pending events, refused events, drop counts) with
    the device id and the current choice to `path` as JSON; returns what was written."""
    document: dict[str, Any] = {
        "exported_at": datetime.now().astimezone().isoformat(timespec="seconds"),
        "device_id": client.device_id,
        "sharing_enabled": client.consent,
        **client.outbox.export(),
    }
    path.write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2))
    return document


class EventTableModel(QAbstractTableModel):
    """Recorded events, newest first: time, type, main properties, whether still on the device."""

    HEADERS: Final = ("Time", "Type", "Details", "Status")
    TYPE_COLUMN: Final = 1

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._rows: list[dict[str, Any]] = []
        self._pending: set[str] = set()

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802, B008 - Qt API
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802, B008 - Qt API
        return 0 if parent.isValid() else len(self.HEADERS)

    def headerData(  # noqa: N802 - Qt API
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> object:
        if (
            orientation is Qt.Orientation.Horizontal
            and role == Qt.ItemDataRole.DisplayRole
            and 0 <= section < len(self.HEADERS)
        ):
            return self.HEADERS[section]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        event = self._rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(event, index.column())
        if role == Qt.ItemDataRole.ToolTipRole and index.column() == self.TYPE_COLUMN:
            return DESCRIPTIONS.get(str(event.get("type", "")), "")
        return None

    def _display(self, event: dict[str, Any], column: int) -> str:
        if column == 0:
            wall = event.get("time")
            if not isinstance(wall, int):
                return ""
            return datetime.fromtimestamp(wall / 1000).strftime("%H:%M:%S.%f")[:-3]
        if column == 1:
            return str(event.get("type", ""))
        if column == 2:
            return summary(event.get("properties"))
        return "waiting to send" if event["event_id"] in self._pending else "sent or deleted"

    def event_at(self, row: int) -> dict[str, Any]:
        return self._rows[row]

    def update(self, pending_newest_first: Sequence[dict[str, Any]]) -> None:
        """Merge a fresh read of the outbox: new events go on top, those gone are marked."""
        known = {event["event_id"] for event in self._rows}
        fresh = [e for e in pending_newest_first if e.get("event_id") not in known]
        self._pending = {str(e.get("event_id")) for e in pending_newest_first}
        if fresh:
            self.beginInsertRows(QModelIndex(), 0, len(fresh) - 1)
            self._rows[:0] = fresh
            self.endInsertRows()
        if len(self._rows) > MAX_ROWS:
            self.beginRemoveRows(QModelIndex(), MAX_ROWS, len(self._rows) - 1)
            del self._rows[MAX_ROWS:]
            self.endRemoveRows()
        if self._rows:
            self.dataChanged.emit(
                self.index(0, 3), self.index(len(self._rows) - 1, 3), [Qt.ItemDataRole.DisplayRole]
            )

    def clear(self) -> None:
        self.beginResetModel()
        self._rows = []
        self._pending = set()
        self.endResetModel()


class PrivacyWindow(QWidget):
    """The window; `refresh()` re-reads the outbox (the timer calls it while visible)."""

    def __init__(
        self,
        client: TelemetryClient,
        server: ServerAccess,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.setObjectName("PrivacyWindow")
        self.setWindowTitle("What Reelscope knows about you")
        self.resize(980, 620)
        self._client = client
        self._server = server
        self._build_event_list()
        self._build_side_panel()
        splitter = QSplitter()
        splitter.addWidget(self._events_pane())
        splitter.addWidget(self._side_pane())
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(splitter)

        self._poll = QTimer(self)
        self._poll.setInterval(POLL_INTERVAL_MS)
        self._poll.timeout.connect(self._on_poll_timeout)
        self._server_call = BackgroundCall(self)
        self._server_call.finished.connect(self._on_server_call_finished)

    def _build_event_list(self) -> None:
        self.model = EventTableModel(self)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setFilterKeyColumn(EventTableModel.TYPE_COLUMN)
        self.type_filter = QComboBox()
        self.type_filter.addItem("All types", "")
        for name in sorted(SPECS):
            self.type_filter.addItem(name, name)
        self.type_filter.currentIndexChanged.connect(self._on_type_filter_current_index_changed)
        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)

    def _build_side_panel(self) -> None:
        self.identity = QLabel()
        self.identity.setWordWrap(True)
        self.identity.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.outbox_size = QLabel()
        self.counts = QListWidget()
        self.export_button = QPushButton("Export all local data…")
        self.export_button.clicked.connect(self._on_export_button_clicked)
        self.delete_local_button = QPushButton("Delete local data")
        self.delete_local_button.clicked.connect(self._on_delete_local_button_clicked)
        self.delete_server_button = QPushButton("Delete my data from the server")
        self.delete_server_button.clicked.connect(self._on_delete_server_button_clicked)
        self.result = QLabel()
        self.result.setWordWrap(True)

    def _events_pane(self) -> QWidget:
        filter_row = QHBoxLayout()
        filter_row.addWidget(QLabel("Show:"))
        filter_row.addWidget(self.type_filter)
        filter_row.addStretch(1)
        events_pane = QWidget()
        events_layout = QVBoxLayout(events_pane)
        events_layout.setContentsMargins(0, 0, 0, 0)
        events_layout.addLayout(filter_row)
        events_layout.addWidget(self.table, 1)
        return events_pane

    def _side_pane(self) -> QWidget:
        side = QWidget()
        side_layout = QVBoxLayout(side)
        side_layout.setContentsMargins(0, 0, 0, 0)
        side_layout.addWidget(self.identity)
        side_layout.addWidget(self.outbox_size)
        side_layout.addWidget(QLabel("Waiting on this device, by type:"))
        side_layout.addWidget(self.counts, 1)
        side_layout.addWidget(self.export_button)
        side_layout.addWidget(self.delete_local_button)
        side_layout.addWidget(self.delete_server_button)
        side_layout.addWidget(self.result)
        return side

    # -- live view ---------------------------------------------------------------------------

    def showEvent(self, event: Any) -> None:  # noqa: N802 - Qt override
        self.refresh()
        self._poll.start()
        super().showEvent(event)

    def hideEvent(self, event: Any) -> None:  # noqa: N802 - Qt override
        self._poll.stop()
        super().hideEvent(event)

    def refresh(self) -> None:
        outbox = self._client.outbox
        try:
            events = outbox.recent_events(MAX_ROWS)
            counts = outbox.counts_by_type()
            dead = len(outbox.dead_letters(-1))
        except sqlite3.Error as exc:
            # The writer is creating the file, or holds it a moment: keep the last view.
            log.debug("outbox not readable yet: %s", exc)
            return
        self.model.update(events)
        self.counts.clear()
        self.counts.addItems(
            [f"{name}: {count}" for name, count in sorted(counts.items(), key=lambda c: -c[1])]
        )
        size = _file_size(self._client.outbox_path)
        self.outbox_size.setText(
            f"Outbox: {sum(counts.values())} events waiting, {dead} refused by the server, "
            f"{size / 1024:.0f} KiB on disk"
        )
        sharing = "on" if self._client.consent else "off"
        self.identity.setText(
            f"This installation's random id: {self._client.device_id}\nSharing: {sharing}"
        )

    def _on_poll_timeout(self) -> None:
        self.refresh()

    def filter_type(self, event_type: str) -> None:
        """Show only events of this type ("" for all)."""
        pattern = f"^{QRegularExpression.escape(event_type)}$" if event_type else ""
        self.proxy.setFilterRegularExpression(pattern)

    def _on_type_filter_current_index_changed(self, _index: int) -> None:
        self.filter_type(str(self.type_filter.currentData()))

    # -- export and deletion -----------------------------------------------------------------

    def export_to(self, path: Path) -> None:
        document = export_local_data(self._client, path)
        self.result.setText(f"Exported {len(document['events'])} events to {path}.")

    def _on_export_button_clicked(self) -> None:
        name, _ = QFileDialog.getSaveFileName(
            self, "Export local data", "reelscope-data.json", "JSON (*.json)"
        )
        if name:
            self.export_to(Path(name))

    def delete_local_data(self, timeout: float = PURGE_TIMEOUT_S) -> bool:
        """Purge the outbox (waits for the writer thread, at most `timeout` s)."""
        done = self._client.delete_local_data().wait(timeout)
        self.model.clear()
        self.refresh()
        self.result.setText(
            "Local data deleted." if done else "Deleting local data is taking long; try again."
        )
        return done

    def _on_delete_local_button_clicked(self) -> None:
        self._confirm(
            "Delete every event waiting on this device? They will never be sent.",
            self.delete_local_data,
        )

    def delete_server_data(self) -> None:
        """Purge locally, then delete this device's events on the server (worker thread)."""
        if self._server_call.running:
            return
        url, key = self._server()
        client = self._client
        self.delete_server_button.setEnabled(False)
        self.result.setText("Deleting your data from the server…")

        def work() -> int:
            if not client.delete_local_data().wait(PURGE_TIMEOUT_S):
                raise TimeoutError("the local data could not be deleted in time")
            return delete_device_data(url, key, client.device_id)

        self._server_call.start(work)

    def _on_delete_server_button_clicked(self) -> None:
        self._confirm(
            "Delete every event of this installation from the server, and those waiting on "
            "this device? Reelscope keeps recording afterwards if sharing stays on.",
            self.delete_server_data,
        )

    def _on_server_call_finished(self, result: object) -> None:
        self.delete_server_button.setEnabled(True)
        self.model.clear()
        self.refresh()
        if isinstance(result, int):
            self.result.setText(f"Deleted {result} events from the server and this device.")
        else:
            self.result.setText(f"Could not delete your data from the server: {result}")

    @property
    def server_call(self) -> BackgroundCall:
        return self._server_call

    def _confirm(self, question: str, action: Callable[[], object]) -> None:
        box = QMessageBox(
            QMessageBox.Icon.Question,
            "Reelscope",
            question,
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            self,
        )
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)

        def on_finished(answer: int) -> None:
            if answer == QMessageBox.StandardButton.Yes:
                action()

        box.finished.connect(on_finished)
        box.open()

    def closeEvent(self, event: Any) -> None:  # noqa: N802 - Qt override
        self._poll.stop()
        super().closeEvent(event)


def _file_size(path: Path) -> int:
    total = 0
    for suffix in ("", "-wal"):
        with contextlib.suppress(FileNotFoundError):
            total += path.with_name(path.name + suffix).stat().st_size
    return total
