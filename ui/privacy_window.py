""" "What Reelscope knows about you": the events recorded on this device, live, with a filter
by type and each event's status (waiting to be sent, sent, refused by the server); counts per
type; export of all local telemetry data as JSON; deleting it; and deleting this device's
events from the server.

The list is fed by polling the outbox once a second while the window is visible. The outbox
keeps events waiting to be sent and a bounded history of those the collector answered for (the
newest 2 000, for 7 days by default), so the list shows what was recorded and sent recently, not
only what waits; events trimmed from the history or deleted leave the list. Deleting from the
server first purges the local outbox, so nothing pending is sent afterwards, then calls the
collector's authenticated `DELETE /v1/devices/{device_id}/events`.

No file or database work happens on the GUI thread: each poll's read (skipped when the outbox
files have not changed since the last one, so an idle outbox is not counted again every
second), the export, the wait for a purge (the writer thread purges and VACUUMs) and the server
call run through `BackgroundCall`, and their results update the window when they are back.

GUI thread only, except the work handed to `BackgroundCall`.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
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

from telemetry.client.client import TelemetryClient
from telemetry.client.disclosure import DESCRIPTIONS
from telemetry.client.outbox_reader import PENDING, REFUSED, SENT, LocalEvent
from telemetry.client.outbox_schema import DELIVERED, DUPLICATE
from telemetry.client.server_data import delete_device_data
from telemetry.client.writer import PurgeBarrier
from telemetry.contracts.events import SPECS
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
    """Write every local telemetry record (pending events, the history of sent and refused
    events, dead letters, drop counts) with the device id and the current choice to `path` as
    JSON; returns what was written."""
    document: dict[str, Any] = {
        "exported_at": datetime.now().astimezone().isoformat(timespec="seconds"),
        "device_id": client.device_id,
        "sharing_enabled": client.consent,
        **client.outbox.export(),
    }
    path.write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2))
    return document


@dataclass(frozen=True, slots=True)
class OutboxView:
    """One read of the outbox for the window: its newest events, counts and size on disk."""

    events: list[LocalEvent]
    counts: dict[str, int]
    statuses: dict[str, int]
    size: int
    # The outbox files' (mtime, size): the next poll reads again only if they changed.
    stamp: tuple[tuple[int, int], ...]


def read_outbox(
    client: TelemetryClient, unless: tuple[tuple[int, int], ...] = ()
) -> OutboxView | None:
    """What the window shows (blocking: a worker thread's job). None when the outbox files are
    still as `unless` says, or when the outbox cannot be read now (the writer is creating it,
    or holds it a moment): the window keeps its last view."""
    stamp = _stamp(client.outbox_path)
    if unless and stamp == unless:
        return None
    outbox = client.outbox
    try:
        events = outbox.local_events(MAX_ROWS)
        counts = outbox.counts_by_type()
        statuses = outbox.counts_by_status()
    except sqlite3.Error as exc:
        log.debug("outbox not readable yet: %s", exc)
        return None
    return OutboxView(events, counts, statuses, sum(size for _, size in stamp), stamp)


_STATUS_TEXT: Final = {PENDING: "waiting to send", SENT: "sent", REFUSED: "refused"}
_OUTCOME_TEXT: Final = {
    DUPLICATE: "the collector already had it (a retry)",
    DELIVERED: "stored by the collector (new or a retry)",
}


class EventTableModel(QAbstractTableModel):
    """Events on this device, newest first: time, type, main properties, status."""

    HEADERS: Final = ("Time", "Type", "Details", "Status")
    TYPE_COLUMN: Final = 1
    STATUS_COLUMN: Final = 3

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._rows: list[LocalEvent] = []

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
        local = self._rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(local, index.column())
        if role == Qt.ItemDataRole.ToolTipRole:
            if index.column() == self.TYPE_COLUMN:
                return DESCRIPTIONS.get(str(local.event.get("type", "")), "")
            if index.column() == self.STATUS_COLUMN:
                return _status_tip(local)
        return None

    def _display(self, local: LocalEvent, column: int) -> str:
        event = local.event
        if column == 0:
            wall = event.get("time")
            return _clock(wall) if isinstance(wall, int) else ""
        if column == 1:
            return str(event.get("type", ""))
        if column == 2:
            return summary(event.get("properties"))
        return _STATUS_TEXT.get(local.status, local.status)

    def event_at(self, row: int) -> dict[str, object]:
        return self._rows[row].event

    def status_at(self, row: int) -> str:
        return self._rows[row].status

    def update(self, newest_first: Sequence[LocalEvent]) -> None:
        """Show a fresh read of the outbox: rows gone are removed, new ones inserted where
        they belong, status changes announced, so views keep their selection and scroll."""
        wanted = {local.event_id for local in newest_first}
        row = len(self._rows)
        while row > 0:
            row -= 1
            if self._rows[row].event_id in wanted:
                continue
            first = row  # remove the whole run of gone rows ending here in one step
            while first > 0 and self._rows[first - 1].event_id not in wanted:
                first -= 1
            self.beginRemoveRows(QModelIndex(), first, row)
            del self._rows[first : row + 1]
            self.endRemoveRows()
            row = first
        if not _in_order(self._rows, newest_first):
            # Only after the outbox file was replaced: a fresh file restarts its seqs.
            self.beginResetModel()
            self._rows = list(newest_first)
            self.endResetModel()
            return
        changed: list[int] = []
        for position, local in enumerate(newest_first):
            shown = self._rows[position] if position < len(self._rows) else None
            if shown is None or shown.event_id != local.event_id:
                self.beginInsertRows(QModelIndex(), position, position)
                self._rows.insert(position, local)
                self.endInsertRows()
            elif (shown.status, shown.outcome) != (local.status, local.outcome):
                self._rows[position] = local
                changed.append(position)
        if changed:
            self.dataChanged.emit(
                self.index(changed[0], self.STATUS_COLUMN),
                self.index(changed[-1], self.STATUS_COLUMN),
                [Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole],
            )

    def clear(self) -> None:
        self.beginResetModel()
        self._rows = []
        self.endResetModel()


def _in_order(kept: Sequence[LocalEvent], newest_first: Sequence[LocalEvent]) -> bool:
    """Whether `kept` is a subsequence of `newest_first`, so inserting fills it in."""
    fresh = iter(local.event_id for local in newest_first)
    return all(any(event_id == local.event_id for event_id in fresh) for local in kept)


def _clock(wall_ms: int) -> str:
    return datetime.fromtimestamp(wall_ms / 1000).strftime("%H:%M:%S.%f")[:-3]


def _status_tip(local: LocalEvent) -> str:
    if local.status == PENDING:
        return "Recorded on this device, not sent yet."
    answered = "" if local.acked_ms is None else f" at {_clock(local.acked_ms)}"
    if local.status == REFUSED:
        return f"Refused by the collector{answered}; kept on this device, never resent."
    detail = _OUTCOME_TEXT.get(local.outcome or "", "stored by the collector")
    return f"Sent: {detail}{answered}."


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
        self._read_call = BackgroundCall(self)
        self._read_call.finished.connect(self._on_read_call_finished)
        self._read_again = False  # a refresh asked for while a read was running
        # Bumped when the local data is deleted: a read started before it is stale.
        self._generation = 0
        self._stamp: tuple[tuple[int, int], ...] = ()
        self._export_call = BackgroundCall(self)
        self._export_call.finished.connect(self._on_export_call_finished)
        self._export_path: Path | None = None
        self._purge: PurgeBarrier | None = None  # the last purge asked of the writer
        self._purge_call = BackgroundCall(self)
        self._purge_call.finished.connect(self._on_purge_call_finished)
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
        self.outbox_size.setWordWrap(True)
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
        side_layout.addWidget(QLabel("On this device (waiting and recently sent), by type:"))
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
        """Re-read the outbox on a worker thread; the window shows it when it is back."""
        sharing = "on" if self._client.consent else "off"
        self.identity.setText(
            f"This installation's random id: {self._client.device_id}\nSharing: {sharing}"
        )
        if self._read_call.running:
            self._read_again = True
            return
        generation, client, stamp = self._generation, self._client, self._stamp
        self._read_call.start(lambda: (generation, read_outbox(client, stamp)))

    @property
    def read_call(self) -> BackgroundCall:
        return self._read_call

    def _on_read_call_finished(self, result: object) -> None:
        generation, view = result if isinstance(result, tuple) else (None, result)
        if isinstance(view, OutboxView) and generation == self._generation:
            self._show(view)
        elif isinstance(view, Exception):
            log.error("could not read the outbox for the privacy window: %s", view)
        if self._read_again:
            self._read_again = False
            self.refresh()

    def _show(self, view: OutboxView) -> None:
        self._stamp = view.stamp
        self.model.update(view.events)
        self.counts.clear()
        self.counts.addItems(
            [f"{name}: {n}" for name, n in sorted(view.counts.items(), key=lambda c: -c[1])]
        )
        statuses = view.statuses
        self.outbox_size.setText(
            f"On this device: {statuses[PENDING]} events waiting to be sent, "
            f"{statuses[SENT]} recently sent, {statuses[REFUSED]} recently refused by the server; "
            f"{view.size / 1024:.0f} KiB on disk"
        )

    def _forget_shown_data(self) -> None:
        """The local data is gone: clear the list and read afresh, ignoring reads in flight."""
        self._generation += 1
        self._stamp = ()
        self.model.clear()
        self.refresh()

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
        """Export all local data to `path` on a worker thread (`export_call` tells when done)."""
        if self._export_call.running:
            return
        self._export_path = path
        self.export_button.setEnabled(False)
        self.result.setText(f"Exporting to {path}…")
        self._export_call.start(partial(export_local_data, self._client, path))

    @property
    def export_call(self) -> BackgroundCall:
        return self._export_call

    def _on_export_call_finished(self, result: object) -> None:
        self.export_button.setEnabled(True)
        path = self._export_path
        if isinstance(result, dict):
            waiting, answered = len(result["events"]), len(result["history"])
            self.result.setText(
                f"Exported {waiting + answered} events ({waiting} waiting, {answered} sent or "
                f"refused) to {path}."
            )
            return
        log.warning("could not export local telemetry data to %s: %s", path, result)
        self.result.setText(f"Could not export to {path}: {result}")

    def _on_export_button_clicked(self) -> None:
        name, _ = QFileDialog.getSaveFileName(
            self, "Export local data", "reelscope-data.json", "JSON (*.json)"
        )
        if name:
            self.export_to(Path(name))

    def delete_local_data(self, timeout: float = PURGE_TIMEOUT_S) -> None:
        """Purge the outbox: the writer thread does it (with a VACUUM), a worker waits for it at
        most `timeout` s; `purge_call` delivers whether it finished."""
        if self._purge_call.running:
            return
        self._purge = self._client.delete_local_data()
        self.delete_local_button.setEnabled(False)
        self.result.setText("Deleting local data…")
        self._purge_call.start(partial(self._purge.wait, timeout))

    @property
    def purge_call(self) -> BackgroundCall:
        return self._purge_call

    def _on_purge_call_finished(self, result: object) -> None:
        self.delete_local_button.setEnabled(True)
        self._forget_shown_data()
        if result is True:
            self.result.setText("Local data deleted.")
        elif self._purge is not None and self._purge.done.is_set():
            self.result.setText("Local data could not be deleted (the log says why); try again.")
        else:
            self.result.setText("Deleting local data is taking long; try again.")

    def _on_delete_local_button_clicked(self) -> None:
        self._confirm(
            "Delete every event on this device, waiting or already sent? Those waiting will "
            "never be sent.",
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
            return delete_device_data(url, key, client.device_id, client.device_secret)

        self._server_call.start(work)

    def _on_delete_server_button_clicked(self) -> None:
        self._confirm(
            "Delete every event of this installation from the server, and every event on this "
            "device? Reelscope keeps recording afterwards if sharing stays on.",
            self.delete_server_data,
        )

    def _on_server_call_finished(self, result: object) -> None:
        self.delete_server_button.setEnabled(True)
        self._forget_shown_data()
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


def _stamp(path: Path) -> tuple[tuple[int, int], ...]:
    """(mtime ns, size) of the outbox and its WAL: every commit changes one of them."""
    stamp = []
    for suffix in ("", "-wal"):
        try:
            stat = path.with_name(path.name + suffix).stat()
        except FileNotFoundError:
            stamp.append((0, 0))
            continue
        stamp.append((stat.st_mtime_ns, stat.st_size))
    return tuple(stamp)
