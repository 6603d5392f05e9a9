"""One carousel row's tiles as a Qt list model: the catalog item, its place in the served feed
(`TileRef`), its watch progress, and its poster once decoded.

GUI thread only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum

from PySide6.QtCore import QAbstractListModel, QModelIndex, QObject, QPersistentModelIndex, Qt

from player.catalog import CatalogItem
from telemetry.client.visibility import TileRef
from ui.home.posters import PosterCache

ModelIndex = QModelIndex | QPersistentModelIndex


class TileRole(IntEnum):
    TILE = Qt.ItemDataRole.UserRole + 1  # the whole `Tile`
    POSTER = Qt.ItemDataRole.UserRole + 2  # QPixmap, or None until decoded


@dataclass(frozen=True, slots=True)
class Tile:
    ref: TileRef
    item: CatalogItem
    progress: float = 0.0  # fraction watched, 0 when not started


class TileModel(QAbstractListModel):
    """Read-only tiles of one row; a decoded poster repaints the tiles that show it."""

    def __init__(
        self, tiles: Sequence[Tile], posters: PosterCache, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self._tiles = list(tiles)
        self._posters = posters
        self._rows_by_poster: dict[str, list[int]] = {}
        for row, tile in enumerate(self._tiles):
            if tile.item.poster:
                self._rows_by_poster.setdefault(tile.item.poster, []).append(row)
        posters.poster_ready.connect(self._on_posters_poster_ready)

    def tile(self, row: int) -> Tile:
        return self._tiles[row]

    def tiles(self) -> list[Tile]:
        return list(self._tiles)

    def rowCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008, N802 - Qt
        return 0 if parent.isValid() else len(self._tiles)

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if not index.isValid() or not 0 <= index.row() < len(self._tiles):
            return None
        tile = self._tiles[index.row()]
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.AccessibleTextRole):
            return tile.item.title
        if role == Qt.ItemDataRole.ToolTipRole:
            return tile.item.description or None
        if role == TileRole.TILE:
            return tile
        if role == TileRole.POSTER:
            return self._posters.pixmap(tile.item.poster) if tile.item.poster else None
        return None

    def flags(self, index: ModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable

    def _on_posters_poster_ready(self, path: str) -> None:
        for row in self._rows_by_poster.get(path, ()):
            index = self.index(row)
            self.dataChanged.emit(index, index, [TileRole.POSTER])
