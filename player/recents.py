"""The recently opened files and URLs, newest first, kept in a small JSON file.

Owns `recent.json` in the user config dir, rewritten atomically (`player.atomic_file`) on every
change. Not thread-safe: the GUI thread owns it. A file that cannot be read (missing, corrupt)
starts an empty list, and one that cannot be written is logged, rather than failing the app.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from player.atomic_file import replace_file

log = logging.getLogger("reelscope.player.recents")


class RecentSources:
    """At most `limit` sources, newest first, without duplicates; saved on every change."""

    def __init__(self, path: Path, limit: int = 10) -> None:
        self._path = path
        self._limit = limit
        self._items: list[str] = self._load()

    def _load(self) -> list[str]:
        try:
            data = json.loads(self._path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return []
        except (OSError, ValueError) as exc:
            log.warning("ignoring unreadable recent-files list %s: %s", self._path, exc)
            return []
        if not isinstance(data, list):
            return []
        return [item for item in data if isinstance(item, str)][: self._limit]

    @property
    def items(self) -> list[str]:
        return list(self._items)

    def add(self, source: str) -> None:
        self._items = [source, *(item for item in self._items if item != source)][: self._limit]
        self._save()

    def clear(self) -> None:
        self._items = []
        self._save()

    def _save(self) -> None:
        try:
            replace_file(self._path, json.dumps(self._items, indent=1).encode())
        except OSError as exc:
            log.warning("could not save recent files to %s: %s", self._path, exc)
