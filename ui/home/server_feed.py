"""Where the home feed comes from: the collector's `GET /v1/feed` when the viewer has opted in
and the server answers in time, else the app's local rules (`player.feed.build_feed`).

The local feed is always laid out at once, so the home screen never waits on a network. The
server is then asked off the GUI thread (`telemetry.client.feed_client` on this object's own
`TaskPool`, so a slow server never queues behind catalog loads). Its feed replaces the local
one only if it arrives within `budget_s` of the local one being shown (the app's requests
time out after as long, `telemetry.client.feed_client.DEFAULT_TIMEOUT_S`) and the viewer has not
started a play meanwhile: within about a second and a half the page reads as still loading
and the viewer has rarely picked a tile, while a later swap would move tiles under their hand.
A late answer is dropped (the next feed, when the viewer comes home, asks again). Not opted
in: no request at all, nothing leaves the machine. `status` says which source the feed on
screen came from and why, for the details panel; each change is also emitted.

GUI thread only; the HTTP call runs on the pool.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection

from PySide6.QtCore import QObject, Signal

from player.feed import Feed
from telemetry.client.feed_client import FeedRequest, FeedUnavailableError, fetch_server_feed
from ui.background import TaskPool

log = logging.getLogger("reelscope.ui.server_feed")

DEFAULT_BUDGET_S = 1.5
FROM_SERVER = "Recommendations from your server"
NOT_OPTED_IN = "Local rules: not opted in to telemetry, so the server is not asked"
ASKING = "Local rules, while asking your server"

# None when the viewer has not opted in; else what to ask.
RequestFactory = Callable[[], FeedRequest | None]


class ServerFeed(QObject):
    """`ask(known, show)` after a local feed is laid out; `show(feed)` gets the server's."""

    status_changed = Signal(str)

    def __init__(
        self,
        request: RequestFactory,
        *,
        budget_s: float = DEFAULT_BUDGET_S,
        clock: Callable[[], float] = time.monotonic,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._request = request
        self._budget_s = budget_s
        self._clock = clock
        self._tasks = TaskPool(self)
        self._asked = 0  # which ask an answer belongs to; older answers are dropped
        self.status = NOT_OPTED_IN

    def ask(self, known: Collection[str], show: Callable[[Feed], None]) -> None:
        """Asks for a feed to replace the local one just laid out (if opted in)."""
        self._asked += 1
        request = self._request()
        if request is None:
            self._set_status(NOT_OPTED_IN)
            return
        self._set_status(ASKING)
        asked, started = self._asked, self._clock()
        titles = frozenset(known)
        self._tasks.run(
            lambda: fetch_server_feed(request, titles),
            lambda result: self._on_answer(result, asked, started, show),
        )

    def cancel(self) -> None:
        """The viewer acted on the feed on screen (a play): an answer still coming is dropped."""
        if self.status == ASKING:
            self._set_status("Local rules: you chose a title before your server answered")
        self._asked += 1

    def wait(self, timeout_ms: int) -> bool:
        """Joins the request in flight (tests); True once none is left."""
        return self._tasks.wait(timeout_ms)

    def shutdown(self, timeout_ms: int = 5000) -> None:
        self._asked += 1
        self._tasks.shutdown(timeout_ms)

    def _on_answer(
        self, result: object, asked: int, started: float, show: Callable[[Feed], None]
    ) -> None:
        if asked != self._asked:
            log.debug("a server feed arrived after the feed it was to replace")
            return
        if isinstance(result, FeedUnavailableError):
            log.warning("home feed from the local rules: %s", result)
            self._set_status(f"Local rules: {result}")
        elif not isinstance(result, Feed):
            log.error("home feed from the local rules: the server feed failed: %r", result)
            self._set_status("Local rules: the server's feed could not be read")
        elif self._clock() - started > self._budget_s:
            log.info("the server feed arrived after %.1f s: kept the local one", self._budget_s)
            self._set_status("Local rules: your server answered too late")
        else:
            show(result)
            self._set_status(FROM_SERVER)

    def _set_status(self, status: str) -> None:
        self.status = status
        self.status_changed.emit(status)
