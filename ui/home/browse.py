"""The browse-to-play loop: loads the catalog (off the GUI thread), lays out a fresh feed on the
home page, and when a tile is activated announces the play (`play_starting`, with the tile's
feed source and impression id, for the play session that sends `play_request`), records the
play in the watch history, and asks the window to play the title from its resume point. When
the window comes back home it saves where playback stopped and lays out a new feed, so Continue
Watching is current; the home page keeps its scroll positions. Each feed is laid out from the
local rules at once; given a `ServerFeed`, the collector's feed then replaces it if it comes in
time (see `ui.home.server_feed`).

GUI thread only; catalog loaders run on a `ui.background.TaskPool`, which hands the merged
catalog back on the GUI thread.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from PySide6.QtCore import QObject, Signal

from player.catalog import Catalog, CatalogError, CatalogItem, CatalogProblem, merge_catalogs
from player.engine import EngineEvent, EngineEventKind
from player.feed import Feed, build_feed
from player.history import WatchHistory
from ui.background import TaskPool
from ui.home.home_view import HomeView
from ui.home.server_feed import ServerFeed
from ui.main_window import MainWindow
from ui.up_next import Candidate

log = logging.getLogger("reelscope.ui.browse")

CatalogLoader = Callable[[], Catalog]
# Progress is saved this often while playing, so a crash loses at most this much of it.
SAVE_EVERY_MS = 10_000


def _load(loaders: Sequence[tuple[str, CatalogLoader]]) -> Catalog:
    """Every named source loaded and merged (on a pool thread)."""
    catalogs: list[Catalog] = []
    for name, loader in loaders:
        try:
            catalogs.append(loader())
        except CatalogError as exc:
            catalogs.append(Catalog((), (CatalogProblem(name, -1, str(exc)),), name))
        except Exception as exc:
            # Whatever one source raises (a folder whose scan hit an OSError, libVLC gone
            # for probing) costs that source only: the others, the bundled samples first,
            # still make the home screen.
            log.exception("catalog source %s failed", name)
            problem = CatalogProblem(name, -1, f"{name} could not be loaded: {exc}")
            catalogs.append(Catalog((), (problem,), name))
    return merge_catalogs(catalogs)


class BrowseController(QObject):
    """Connects a `HomeView` to a `MainWindow` through the catalog, feed and history."""

    catalog_loaded = Signal(object)  # Catalog, once laid out
    play_starting = Signal(str, str, object)  # video id, media, `play_request.source` dict

    def __init__(
        self,
        home: HomeView,
        window: MainWindow,
        history: WatchHistory,
        *,
        seed: int | None = None,
        server: ServerFeed | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._home = home
        self._server = server
        self._window = window
        self._history = history
        self._seed = seed
        self._feeds = 0
        self._catalog = Catalog(())
        self._playing: CatalogItem | None = None
        # The last title played from a tile and its `play_request.source`, for up next.
        self._played: tuple[CatalogItem, dict[str, object]] | None = None
        self._feed: Feed | None = None
        self._position_ms = 0
        self._duration_ms = 0
        self._saved_at_ms = 0
        self._tasks = TaskPool(self)
        if server is not None:
            server.status_changed.connect(home.details.show_source)
        home.play_requested.connect(self._on_home_play_requested)
        window.home_shown.connect(self._on_window_home_shown)
        window.player.engine_event.connect(self._on_player_engine_event)

    @property
    def catalog(self) -> Catalog:
        return self._catalog

    def load_in_background(self, loaders: Sequence[tuple[str, CatalogLoader]]) -> None:
        """Runs each named loader off the GUI thread, merges, then lays out the result."""
        self._tasks.run(lambda: _load(list(loaders)), self._on_catalog_loaded)

    def _on_catalog_loaded(self, result: object) -> None:
        if isinstance(result, Catalog):
            self.set_catalog(result)
        else:
            log.error("the catalog could not be merged: %s", result)
            self.set_catalog(Catalog((), (CatalogProblem("catalog", -1, str(result)),)))

    def set_catalog(self, catalog: Catalog) -> None:
        for problem in catalog.problems:
            log.warning("catalog entry skipped: %s", problem)
        self._catalog = catalog
        self._home.show_problems(catalog.problems)
        self.refresh()
        self.catalog_loaded.emit(catalog)

    def refresh(self) -> None:
        """Lays out a new feed from the current catalog and history."""
        entries = self._history.entries()
        seed = None if self._seed is None else self._seed + self._feeds
        self._feeds += 1
        self._show(build_feed(self._catalog, entries, seed=seed))
        self.ask_server()

    def ask_server(self) -> None:
        """Asks the collector for a feed to replace the one on screen (after each new feed,
        and when the viewer opts in); nothing without a `ServerFeed`."""
        if self._server is not None and self._feed is not None:
            self._server.ask(self._catalog.by_id().keys(), self._show)

    def _show(self, feed: Feed) -> None:
        self._feed = feed
        progress = {e.video_id: e.progress for e in self._history.entries() if e.resumable}
        self._home.show_feed(feed, self._catalog.by_id(), progress)

    def shutdown(self, timeout_ms: int = 5000) -> None:
        self._save_progress()
        self._tasks.shutdown(timeout_ms)
        if self._server is not None:
            self._server.shutdown(timeout_ms)
        self._home.shutdown()

    def _on_home_play_requested(self, item: CatalogItem, source: dict[str, object]) -> None:
        if self._server is not None:
            self._server.cancel()
        self._save_progress()
        start_ms = self._history.resume_position(item.id) or 0
        self.play_starting.emit(item.id, item.media, source)
        self._history.record_play(item.id)
        self._playing = item
        self._played = (item, source)
        self._position_ms, self._duration_ms, self._saved_at_ms = start_ms, item.duration_ms, 0
        self._window.play(item.media, start_ms=start_ms)

    def next_in_row(self, source: str) -> Candidate | None:
        """The tile after the one `source` was played from, in the same row of the feed it
        was laid out in; None when it was not played from a tile or was the row's last."""
        if self._played is None or self._feed is None or self._played[0].media != source:
            return None
        _item, played_from = self._played
        rank = played_from.get("rank")
        row = next((r for r in self._feed.rows if r.row_id == played_from.get("row_id")), None)
        if row is None or not isinstance(rank, int) or rank + 1 >= len(row.items):
            return None
        following = self._catalog.by_id().get(row.items[rank + 1].video_id)
        if following is None:
            return None
        origin: dict[str, object] = {
            "location": "postplay",
            "request_id": played_from.get("request_id"),
            "row_id": row.row_id,
            "rank": rank + 1,
        }
        return Candidate(
            following.id,
            following.title,
            "feed",
            lambda: self._on_home_play_requested(following, origin),
        )

    def _on_player_engine_event(self, event: EngineEvent) -> None:
        if self._playing is None:
            return
        if event.kind is EngineEventKind.TIME_CHANGED and isinstance(event.value, int | float):
            self._position_ms = int(event.value)
            if abs(self._position_ms - self._saved_at_ms) >= SAVE_EVERY_MS:
                self._save_progress()
        elif event.kind is EngineEventKind.LENGTH_CHANGED and isinstance(event.value, int | float):
            self._duration_ms = int(event.value) or self._duration_ms
        elif event.kind is EngineEventKind.ENDED:
            self._history.mark_completed(self._playing.id)
            self._playing = None

    def _on_window_home_shown(self) -> None:
        self._save_progress()
        self._playing = None
        self.refresh()

    def _save_progress(self) -> None:
        if self._playing is not None and self._position_ms > 0:
            self._history.record_progress(self._playing.id, self._position_ms, self._duration_ms)
            self._saved_at_ms = self._position_ms
