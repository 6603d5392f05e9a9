"""The home feed from the collector's GET /v1/feed, with real home widgets offscreen, a real
`MainWindow`, a real `TelemetryClient` deciding consent and the real collector on 127.0.0.1:
opted in, the server's feed replaces the local one and `feed_served` says source server with
the server's request id, track ids and propensities; not opted in, no request reaches the
server; a dead, broken, slow or late server leaves the local feed, and the app keeps going.
The details panel says which source the feed on screen came from and why."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QCoreApplication
from pytestqt.qtbot import QtBot

from player.catalog import load_sample_catalog
from player.history import WatchHistory
from player.recents import RecentSources
from telemetry.client.client import TelemetryClient
from telemetry.client.config import TelemetryConfig
from telemetry.client.feed_client import FeedRequest
from tests.collector.harness import KEY, free_port, thread_collector
from ui.app import _feed_request
from ui.home.browse import BrowseController
from ui.home.home_view import HomeView
from ui.home.server_feed import FROM_SERVER, NOT_OPTED_IN, ServerFeed
from ui.main_window import MainWindow

from ..telemetry.track_recorder import Clock, Recorder
from .conftest import engine_factory

WAIT_MS = 20_000  # generous: the machine is shared


class FeedRequests(logging.Handler):
    """The collector's access log, kept: which GET /v1/feed requests reached the server."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.statuses: list[int] = []

    def emit(self, record: logging.LogRecord) -> None:
        if getattr(record, "path", None) == "/v1/feed":
            self.statuses.append(int(getattr(record, "status", 0)))


@pytest.fixture
def feed_requests() -> Iterator[FeedRequests]:
    handler = FeedRequests()
    logger = logging.getLogger("reelscope.collector.access")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(level)


class App:
    def __init__(self, qtbot: QtBot, tmp_path: Path) -> None:
        self.qtbot, self.tmp_path = qtbot, tmp_path
        self.events = Recorder()
        self.clients: list[TelemetryClient] = []
        self.home = HomeView(self.events, clock=Clock())
        self.window = MainWindow(
            engine_factory, self.home, recents=RecentSources(tmp_path / "recent.json")
        )
        qtbot.addWidget(self.window)
        self.controller: BrowseController | None = None

    def client(self, endpoint: str, *, opted_in: bool) -> TelemetryClient:
        # Undecided, consent is `consent_before_choice`: the viewer's answer without a dialog.
        client = TelemetryClient(
            TelemetryConfig(
                endpoint=endpoint,
                write_key=KEY,
                outbox_path=self.tmp_path / "state" / "outbox.sqlite3",
                settings_path=self.tmp_path / "config" / "telemetry.json",
                consent_before_choice=opted_in,
            )
        )
        self.clients.append(client)
        return client

    def start(
        self,
        request: Callable[[], FeedRequest | None],
        *,
        budget_s: float = 30.0,
        clock: Callable[[], float] | None = None,
    ) -> ServerFeed:
        server = ServerFeed(request, budget_s=budget_s, clock=clock or (lambda: 0.0))
        self.controller = BrowseController(
            self.home, self.window, WatchHistory(self.tmp_path / "history.json"), server=server
        )
        self.controller.set_catalog(load_sample_catalog())
        return server

    def served(self) -> list[dict[str, object]]:
        return self.events.of("feed_served")

    def close(self) -> None:
        if self.controller is not None:
            self.controller.shutdown()
        for client in self.clients:
            client.close(2.0)
        self.window.close()


@pytest.fixture
def app(qtbot: QtBot, tmp_path: Path) -> Iterator[App]:
    running = App(qtbot, tmp_path)
    yield running
    running.close()


def _patient(client: TelemetryClient) -> Callable[[], FeedRequest | None]:
    """The app's request for `client`, with a timeout for a shared, loaded machine."""

    def request() -> FeedRequest | None:
        made = _feed_request(client)
        return None if made is None else replace(made, timeout_s=20.0)

    return request


@contextmanager
def _collector(
    app: App, tmp_path: Path, *, opted_in: bool, **start: Any
) -> Iterator[tuple[TelemetryClient, ServerFeed]]:
    """A real collector, a client opted in or not, and the app asking it for feeds."""
    with thread_collector(tmp_path / "collector") as collector:
        client = app.client(collector.url, opted_in=opted_in)
        yield client, app.start(_patient(client), **start)


def _settled(server: ServerFeed) -> Callable[[], bool]:
    return lambda: not server.status.startswith("Local rules, while")


def test_opted_in_gets_the_server_feed_and_logs_source_server(
    qtbot: QtBot, app: App, tmp_path: Path, feed_requests: FeedRequests
) -> None:
    with _collector(app, tmp_path, opted_in=True) as (_client, server):
        [local] = app.served()
        assert local["source"] == "local"
        qtbot.waitUntil(lambda: len(app.served()) == 2, timeout=WAIT_MS)
    assert feed_requests.statuses == [200]
    served = app.served()[1]
    assert served["source"] == "server"
    assert served["variant"] == "control"
    assert served["explored"] in (True, False)
    assert served["request_id"] == app.home.feed.request_id != local["request_id"]
    rows = served["rows"]
    assert isinstance(rows, list)
    assert rows
    for row in rows:
        assert row["track_id"].startswith("rules/1/")
        assert all(0 < item["propensity"] <= 1 for item in row["items"])
    assert app.home.rows[0].tile_model.tile(0).ref.request_id == served["request_id"]
    assert server.status == FROM_SERVER
    assert app.home.details.source.text() == FROM_SERVER


def test_not_opted_in_sends_nothing_and_keeps_the_local_feed(
    qtbot: QtBot, app: App, tmp_path: Path, feed_requests: FeedRequests
) -> None:
    with _collector(app, tmp_path, opted_in=False) as (_client, server):
        assert server.status == NOT_OPTED_IN
        app.controller.refresh()  # type: ignore[union-attr]
        # Had a request been queued, the pool would be running it: wait for it to be idle.
        assert server.wait(WAIT_MS)
    assert feed_requests.statuses == []
    assert [feed["source"] for feed in app.served()] == ["local", "local"]
    assert app.home.details.source.text() == NOT_OPTED_IN


def test_dead_server_leaves_the_local_feed_and_says_why(
    qtbot: QtBot, app: App, tmp_path: Path
) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    server = app.start(lambda: FeedRequest(dead, KEY, "device-1", timeout_s=5.0))
    qtbot.waitUntil(_settled(server), timeout=WAIT_MS)
    assert server.status == "Local rules: server unreachable: ConnectionError"
    assert app.home.details.source.text() == server.status
    assert [feed["source"] for feed in app.served()] == ["local"]
    app.controller.refresh()  # type: ignore[union-attr]
    assert len(app.home.rows) > 0


class Misbehaving(BaseHTTPRequestHandler):
    """A server that answers GET with `self.server.body`, or stalls until released."""

    def do_GET(self) -> None:
        stall: threading.Event = self.server.stall  # type: ignore[attr-defined]
        stall.wait(60)
        body: bytes = self.server.body  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def misbehaving() -> Iterator[ThreadingHTTPServer]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Misbehaving)
    httpd.daemon_threads = True
    httpd.stall = threading.Event()  # type: ignore[attr-defined]
    httpd.stall.set()  # type: ignore[attr-defined]
    httpd.body = b"{}"  # type: ignore[attr-defined]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.stall.set()  # type: ignore[attr-defined]
    httpd.shutdown()
    httpd.server_close()
    thread.join(10)


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b"<html>not json", "the server's answer is not JSON"),
        (b'{"request_id": "r", "location": "home", "rows": 3}', "the answer has no list of rows"),
        (
            b'{"request_id": "r", "location": "home", "rows": [{"row_id": "x", "row_index": 0,'
            b' "track_id": "t", "title": "T", "items": [{"video_id": "ocean-drift",'
            b' "rank": 0, "propensity": 7}]}]}',
            "row 0 item 0 has no propensity in (0, 1]",
        ),
    ],
)
def test_malformed_answer_leaves_the_local_feed(
    qtbot: QtBot, app: App, misbehaving: ThreadingHTTPServer, body: bytes, why: str
) -> None:
    misbehaving.body = body  # type: ignore[attr-defined]
    url = f"http://127.0.0.1:{misbehaving.server_address[1]}"
    server = app.start(lambda: FeedRequest(url, KEY, "device-1"))
    qtbot.waitUntil(_settled(server), timeout=WAIT_MS)
    assert server.status == f"Local rules: {why}"
    assert [feed["source"] for feed in app.served()] == ["local"]


def test_slow_server_past_the_timeout_leaves_the_local_feed(
    qtbot: QtBot, app: App, misbehaving: ThreadingHTTPServer
) -> None:
    misbehaving.stall.clear()  # type: ignore[attr-defined]
    url = f"http://127.0.0.1:{misbehaving.server_address[1]}"
    server = app.start(lambda: FeedRequest(url, KEY, "device-1", timeout_s=0.3))
    qtbot.waitUntil(_settled(server), timeout=WAIT_MS)
    assert server.status == "Local rules: the server did not answer within 0.3 s"
    assert [feed["source"] for feed in app.served()] == ["local"]
    assert app.home.feed is not None
    assert app.home.feed.source == "local"


def test_an_answer_after_the_budget_is_dropped(qtbot: QtBot, app: App, tmp_path: Path) -> None:
    clock = Clock(0.0)
    with _collector(app, tmp_path, opted_in=True, budget_s=1.5, clock=clock) as (_client, server):
        # The answer is delivered on this (GUI) thread, so it cannot have arrived yet.
        clock.now = 1.6
        qtbot.waitUntil(_settled(server), timeout=WAIT_MS)
    assert server.status == "Local rules: your server answered too late"
    assert [feed["source"] for feed in app.served()] == ["local"]


def test_a_play_before_the_answer_keeps_the_local_feed(
    qtbot: QtBot, app: App, tmp_path: Path, feed_requests: FeedRequests
) -> None:
    with _collector(app, tmp_path, opted_in=True) as (_client, server):
        server.cancel()  # what activating a tile does (BrowseController)
        qtbot.waitUntil(lambda: feed_requests.statuses == [200], timeout=WAIT_MS)
        assert server.wait(WAIT_MS)
        QCoreApplication.processEvents()  # the dropped answer's delivery, already queued
    assert server.status == "Local rules: you chose a title before your server answered"
    assert [feed["source"] for feed in app.served()] == ["local"]


def test_opting_in_asks_the_server_for_the_feed_on_screen(
    qtbot: QtBot, app: App, tmp_path: Path, feed_requests: FeedRequests
) -> None:
    with _collector(app, tmp_path, opted_in=False) as (client, server):
        assert server.status == NOT_OPTED_IN
        client.set_consent(True)
        app.controller.ask_server()  # type: ignore[union-attr] - what recording_started does
        qtbot.waitUntil(lambda: server.status == FROM_SERVER, timeout=WAIT_MS)
    assert feed_requests.statuses == [200]
    assert [feed["source"] for feed in app.served()] == ["local", "server"]
