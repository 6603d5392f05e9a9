"""A plain list of the bundled sample titles: the home page until the carousel replaces it.

Reads `resources/catalog.json` once at construction. GUI thread only.
"""

from __future__ import annotations

import json
import logging

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import QLabel, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from player.paths import resources_dir

log = logging.getLogger("reelscope.ui.samples")


class SampleList(QWidget):
    """Lists the sample catalog; activating an entry asks for it to be played."""

    play_requested = Signal(str)  # a media path

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        heading = QLabel("<h2>Samples</h2><p>Double-click or press Enter to play.</p>")
        self.list = QListWidget()
        self.list.setIconSize(QSize(160, 90))
        self.list.setSpacing(4)
        self.list.itemActivated.connect(self._on_list_item_activated)
        layout = QVBoxLayout(self)
        layout.addWidget(heading)
        layout.addWidget(self.list, 1)
        self.setFocusProxy(self.list)
        self._load()

    def _load(self) -> None:
        root = resources_dir()
        try:
            catalog = json.loads((root / "catalog.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            log.warning("cannot read the sample catalog: %s", exc)
            return
        for entry in catalog.get("items", []):
            item = QListWidgetItem(QIcon(QPixmap(str(root / entry["poster"]))), entry["title"])
            item.setData(Qt.ItemDataRole.UserRole, str(root / entry["media"]))
            item.setToolTip(entry.get("description", ""))
            self.list.addItem(item)
        self.list.setCurrentRow(0)

    def _on_list_item_activated(self, item: QListWidgetItem) -> None:
        self.play_requested.emit(item.data(Qt.ItemDataRole.UserRole))
