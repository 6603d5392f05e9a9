"""A small real collector on 127.0.0.1 for the client tests: a threaded `http.server` that
answers scripted statuses, records every request, and stores each event id once (like the
real collector), so tests can tell "delivered", "stored once" and "sent how often" apart.

Replies come from a queue of scripted `Reply`s (or functions of the request), then from
`default` (accept everything). `stop()` closes the socket, so the client sees a refused
connection; `start()` listens on the same port again.
"""

from __future__ import annotations

import base64
import gzip
import json
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Received:
    at: float  # time.monotonic()
    path: str
    headers: dict[str, str]
    document: dict[str, Any]
    status: int = 0

    @property
    def events(self) -> list[dict[str, Any]]:
        batch: list[dict[str, Any]] = self.document.get("batch", [])
        return batch

    @property
    def write_key(self) -> str:
        scheme, _, token = self.headers.get("Authorization", "").partition(" ")
        assert scheme == "Basic"
        return base64.b64decode(token).decode().removesuffix(":")


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: dict[str, Any] | None = None  # None: the collector's normal 200 answer
    headers: dict[str, str] = field(default_factory=dict)
    reject: Callable[[dict[str, Any]], str | None] | None = None  # event -> message or None


Responder = Callable[[Received], Reply]


def accept(_: Received) -> Reply:
    return Reply()


class ScriptedCollector:
    def __init__(self) -> None:
        self.port = 0
        self.requests: list[Received] = []
        self.stored: dict[str, dict[str, Any]] = {}
        self.copies: Counter[str] = Counter()  # event id -> times sent in accepted requests
        self.drops: Counter[str] = Counter()  # drop counts from accepted batches
        self.default: Responder = accept
        self._script: deque[Reply | Responder] = deque()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def script(self, *replies: Reply | Responder) -> None:
        with self._lock:
            self._script.extend(replies)

    def start(self) -> ScriptedCollector:
        server = ThreadingHTTPServer(("127.0.0.1", self.port), _handler(self))
        server.daemon_threads = True
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(5)

    def stored_count(self) -> int:
        with self._lock:
            return len(self.stored)

    def request_count(self) -> int:
        with self._lock:
            return len(self.requests)

    def _answer(self, received: Received) -> tuple[int, dict[str, str], bytes]:
        with self._lock:
            scripted = self._script.popleft() if self._script else self.default
            reply = scripted if isinstance(scripted, Reply) else scripted(received)
            body = reply.body
            if reply.status == 200 and body is None:
                body = self._store(received, reply)
            self.requests.append(
                Received(
                    received.at, received.path, received.headers, received.document, reply.status
                )
            )
        if body is None:
            body = {"code": f"status_{reply.status}", "message": f"scripted {reply.status}"}
        return reply.status, reply.headers, json.dumps(body).encode()

    def _store(self, received: Received, reply: Reply) -> dict[str, Any]:
        accepted = duplicates = 0
        rejected = []
        for index, event in enumerate(received.events):
            message = reply.reject(event) if reply.reject else None
            if message is not None:
                rejected.append(
                    {
                        "index": index,
                        "event_id": event["event_id"],
                        "code": "invalid_event",
                        "message": message,
                    }
                )
                continue
            self.copies[event["event_id"]] += 1
            if event["event_id"] in self.stored:
                duplicates += 1
            else:
                self.stored[event["event_id"]] = event
                accepted += 1
        self.drops.update(received.document.get("drops", {}))
        return {"accepted": accepted, "duplicates": duplicates, "rejected": rejected}


def _handler(collector: ScriptedCollector) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in two writes: without this, Nagle's algorithm holds the
        # body until the client's delayed ACK (40 ms per request on Linux loopback).
        disable_nagle_algorithm = True

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if self.headers.get("Content-Encoding") == "gzip":
                raw = gzip.decompress(raw)
            received = Received(time.monotonic(), self.path, dict(self.headers), json.loads(raw))
            status, headers, body = collector._answer(received)
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler
