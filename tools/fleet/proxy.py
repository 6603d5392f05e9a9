"""The fault injector: an HTTP/1.1 proxy on 127.0.0.1 between the simulated clients and the real
collector, which the orchestrator switches between behaviours.

- normal: each request is forwarded on a fresh connection to the collector and its answer
  relayed; if the collector cannot be reached or dies mid-request, the client's connection is
  closed, as the collector's own death would close it.
- `unavailable(retry_after)` / `too_many(retry_after)`: the proxy answers 503 or 429 itself,
  with a Retry-After when one is given, and the collector sees nothing.
- `close_port()` / `open_port()`: the listening socket is closed (new connections are refused)
  and every open connection is cut; later it listens again on the same port.
- `intercept(authorization, decide)`: the next request carrying that Authorization header is
  held once fully received and `decide()` is called on the proxy's thread (the orchestrator
  kills the client there: a kill mid-flush); if it returns True the request is still
  forwarded, so the collector stores a batch whose answer nobody reads.

The proxy is also the witness of acknowledgements: for every 200 the collector gives to a
batch, the event ids it accepted (all but the rejected ones) go into `acknowledged`, so the
ledger can prove nothing the collector acknowledged was lost by a later SIGKILL.

Only Content-Length bodies are understood (the telemetry client and the collector send nothing
else); headers are capped at 64 KiB and bodies at 8 MiB, so memory stays bounded.

Threads: the proxy runs an asyncio loop on its own thread; the public methods may be called
from any thread. `statuses` and `requests` only grow and may be read at any time;
`acknowledged` is read after `stop()`.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import threading
import zlib
from collections import Counter
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import orjson

_log = logging.getLogger("reelscope.fleet.proxy")

MAX_BODY = 8 * 1024 * 1024
# Longer than the collector's own store timeout (10 s, then it answers 503 itself).
UPSTREAM_TIMEOUT_S = 30.0
_REASONS = {429: "Too Many Requests", 503: "Service Unavailable"}


class Mode(enum.Enum):
    NORMAL = "normal"
    UNAVAILABLE = "unavailable"
    TOO_MANY = "too_many"


class _ProtocolError(Exception):
    pass


@dataclass(frozen=True, slots=True)
class _Message:
    head: bytes
    headers: dict[bytes, bytes]
    body: bytes

    @property
    def status(self) -> int:
        parts = self.head.split(b" ", 2)
        return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0


async def _read_message(reader: asyncio.StreamReader) -> _Message | None:
    """One request or response; None on a clean end of stream before it."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if exc.partial:
            raise _ProtocolError("connection closed inside the headers") from exc
        return None
    except asyncio.LimitOverrunError as exc:
        raise _ProtocolError("headers too long") from exc
    headers: dict[bytes, bytes] = {}
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name:
            headers[name.strip().lower()] = value.strip()
    if b"transfer-encoding" in headers:
        raise _ProtocolError("only Content-Length bodies are supported")
    length = headers.get(b"content-length", b"0")
    if not length.isdigit() or int(length) > MAX_BODY:
        raise _ProtocolError(f"bad Content-Length {length!r}")
    body = await reader.readexactly(int(length))
    return _Message(head, headers, body)


def _canned(status: int, retry_after: int | None) -> bytes:
    body = orjson.dumps({"code": f"fleet_{status}", "message": "injected by the fleet proxy"})
    lines = [
        f"HTTP/1.1 {status} {_REASONS[status]}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
    ]
    if retry_after is not None:
        lines.append(f"Retry-After: {retry_after}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def _accepted_ids(request: _Message, response: _Message) -> list[str]:
    """The event ids a 200 answer to a batch acknowledged (sent, and not rejected)."""
    try:
        body = request.body
        if request.headers.get(b"content-encoding", b"").lower() == b"gzip":
            body = zlib.decompress(body, wbits=31)
        batch = orjson.loads(body).get("batch", [])
        rejected = {r["index"] for r in orjson.loads(response.body).get("rejected", [])}
    except (zlib.error, orjson.JSONDecodeError, AttributeError, KeyError, TypeError):
        _log.warning("could not read an acknowledged batch")
        return []
    return [
        str(event["event_id"])
        for index, event in enumerate(batch)
        if index not in rejected and isinstance(event, dict) and "event_id" in event
    ]


class FaultProxy:
    def __init__(self, upstream_port: int) -> None:
        self._upstream_port = upstream_port
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fleet-proxy")
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._mode = Mode.NORMAL
        self._retry_after: int | None = None
        self._intercepts: dict[bytes, Callable[[], bool]] = {}
        self._lock = threading.Lock()
        self.requests = 0
        self.statuses: Counter[str] = Counter()
        self.acknowledged: set[str] = set()

    # Any thread

    def start(self) -> int:
        """Listen on a free port of 127.0.0.1; returns it."""
        self._thread.start()
        self._call(self._listen())
        return self.port

    def stop(self) -> None:
        """Close every connection and end the thread; again is a no-op."""
        if self._loop.is_closed():
            return
        if self._thread.is_alive():
            self._call(self._close_all())
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
        self._loop.close()

    def normal(self) -> None:
        self._set(Mode.NORMAL, None)

    def unavailable(self, retry_after: int | None) -> None:
        self._set(Mode.UNAVAILABLE, retry_after)

    def too_many(self, retry_after: int | None) -> None:
        self._set(Mode.TOO_MANY, retry_after)

    def close_port(self) -> None:
        self._call(self._close_all())

    def open_port(self) -> None:
        self._call(self._listen())

    def intercept(self, authorization: str, decide: Callable[[], bool]) -> None:
        with self._lock:
            self._intercepts[authorization.encode()] = decide

    def cancel_intercept(self, authorization: str) -> bool:
        """Disarm an intercept; False if it has already fired."""
        with self._lock:
            return self._intercepts.pop(authorization.encode(), None) is not None

    def _set(self, mode: Mode, retry_after: int | None) -> None:
        with self._lock:
            self._mode, self._retry_after = mode, retry_after

    def _call(self, coroutine: Coroutine[Any, Any, None]) -> None:
        asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=10)

    # Proxy thread

    async def _listen(self) -> None:
        if self._server is None:
            self._server = await asyncio.start_server(
                self._serve, "127.0.0.1", self.port, reuse_address=True
            )
            self.port = self._server.sockets[0].getsockname()[1]

    async def _close_all(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while await self._one_request(reader, writer):
                pass
        except (OSError, _ProtocolError, asyncio.IncompleteReadError) as exc:
            _log.debug("client connection ended: %s", exc)
        finally:
            self._writers.discard(writer)
            writer.transport.abort()

    async def _one_request(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        """Serve one request; False when the client connection is finished."""
        request = await _read_message(reader)
        if request is None:
            return False
        authorization = request.headers.get(b"authorization", b"")
        with self._lock:
            self.requests += 1
            mode, retry_after = self._mode, self._retry_after
            decide = self._intercepts.pop(authorization, None)
        if mode is not Mode.NORMAL and decide is None:
            status = 503 if mode is Mode.UNAVAILABLE else 429
            self.statuses[f"{status} (proxy)"] += 1
            writer.write(_canned(status, retry_after))
            await writer.drain()
            return True
        if decide is not None and not decide():
            self.statuses["held, dropped"] += 1
            return False
        response = await self._forward(request)
        held = "held, forwarded: " if decide is not None else ""
        if response is None:
            self.statuses[f"{held}collector unreachable"] += 1
            return False
        self.statuses[f"{held}{response.status}"] += 1
        if response.status == 200 and request.head.startswith(b"POST /v1/batch "):
            self.acknowledged.update(_accepted_ids(request, response))
        if decide is not None:
            return False  # the client was killed while its request was held
        writer.write(response.head + response.body)
        await writer.drain()
        return True

    async def _forward(self, request: _Message) -> _Message | None:
        try:
            upstream_reader, upstream = await asyncio.open_connection(
                "127.0.0.1", self._upstream_port
            )
        except OSError:
            return None
        try:
            upstream.write(request.head + request.body)
            await upstream.drain()
            return await asyncio.wait_for(_read_message(upstream_reader), UPSTREAM_TIMEOUT_S)
        except (OSError, _ProtocolError, asyncio.IncompleteReadError, TimeoutError):
            return None
        finally:
            upstream.transport.abort()
