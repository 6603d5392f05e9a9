"""Running the app under uvicorn: protocol, event loop, timeouts, graceful SIGTERM.

`serve` is called by the CLI on the main thread and blocks until the server stops. uvicorn
handles SIGTERM/SIGINT: it stops accepting, lets in-flight requests finish (each one awaits its
commit), then runs the app's lifespan shutdown, which commits whatever is still queued.

HTTP is parsed by httptools (llhttp, in C) and the loop is uvloop where it is installed (not on
Windows). Against h11 and asyncio they measured within the benchmark's noise (docs/collector.md):
per-request CPU is mostly Starlette, validation and the hand-off to the writer, not parsing.

uvicorn only times out idle keep-alive connections; `GuardedHttpToolsProtocol` also closes a
connection that has not delivered a complete request's headers within `header_timeout_s`
(slowloris), and one still trickling a body nobody will read after its answer went out.
httptools puts no limit on a request head (it gathers a header of any length in memory), so
the protocol counts the head's bytes as they arrive and its headers as they are parsed, and
answers 431 past `max_header_bytes` or `max_headers`. A connection closed while the client is
still sending a refused body (a 413 to a `Connection: close` request) is half-closed and
drained for up to `body_timeout_s` first, so the client can read the answer instead of a reset.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import Sequence

import orjson
import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from telemetry.collector.app import Service, create_app
from telemetry.collector.config import CollectorConfig
from telemetry.collector.sinks import open_sink

log = logging.getLogger("reelscope.collector.server")

_HEAD_END = b"\r\n\r\n"


class HeadTooLargeError(Exception):
    """Raised from a parser callback: the request has too many headers."""


def _head_refusal(limit_bytes: int, limit_count: int) -> bytes:
    body = orjson.dumps(
        {
            "code": "headers_too_large",
            "message": f"request headers exceed {limit_bytes} bytes or {limit_count} fields",
        }
    )
    return (
        b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: application/json\r\n"
        b"connection: close\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body)
    )


class _LingeringTransport:
    """What a request's cycle writes through: closing it while the client is still sending a
    body half-closes the connection and drains it (see the module docstring)."""

    def __init__(self, protocol: GuardedHttpToolsProtocol, transport: asyncio.Transport) -> None:
        self._protocol = protocol
        self._transport = transport

    def write(self, data: bytes) -> None:
        self._transport.write(data)

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def get_extra_info(self, name: str, default: object = None) -> object:
        return self._transport.get_extra_info(name, default)

    def close(self) -> None:
        self._protocol.close_after_body()


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """httptools with a deadline for every stretch in which no request is being served, and
    a cap on each request head."""

    header_timeout_s = 10.0
    body_timeout_s = 10.0
    max_header_bytes = 16 * 1024
    max_headers = 100
    _guard: asyncio.TimerHandle | None = None
    # Bytes of the current request head so far; None while a body (not a head) is expected.
    _head_bytes: int | None = 0
    _header_count = 0
    _lingering = False

    def _arm(self) -> None:
        self._disarm()
        self._guard = self.loop.call_later(self.header_timeout_s, self._expire)

    def _disarm(self) -> None:
        if self._guard is not None:
            self._guard.cancel()
            self._guard = None

    def _expire(self) -> None:
        self._guard = None
        if (self.cycle is None or self.cycle.response_complete) and not self.transport.is_closing():
            self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        if self._lingering:
            return  # the rest of a refused body: nobody reads it
        if self._head_bytes is not None:
            end = data.find(_HEAD_END)
            self._head_bytes += len(data) if end < 0 else end
            if self._head_bytes > self.max_header_bytes:
                self._refuse_head()
                return
        super().data_received(data)

    def send_400_response(self, msg: str) -> None:
        # The parent answers 400 to any parser error, also the one `on_header` raises.
        if self._header_count > self.max_headers:
            self._refuse_head()
        else:
            super().send_400_response(msg)

    def _refuse_head(self) -> None:
        log.warning("request head over the limit from %s: 431", self.client and self.client[0])
        if not self.transport.is_closing():
            self.transport.write(_head_refusal(self.max_header_bytes, self.max_headers))
            self.transport.close()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._header_count = 0
        if self._head_bytes is None:
            self._head_bytes = 0

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_count += 1
        if self._header_count > self.max_headers:
            raise HeadTooLargeError
        super().on_header(name, value)

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._head_bytes = 0

    def eof_received(self) -> None:
        if self._lingering:
            self.transport.close()

    def close_after_body(self) -> None:
        """Close now, unless the request's body is still arriving: then send EOF, discard what
        comes, and close once the client is done or `body_timeout_s` has passed."""
        transport = self.transport
        if (
            self.cycle is None
            or not self.cycle.more_body
            or transport.is_closing()
            or not transport.can_write_eof()
        ):
            transport.close()
            return
        self._lingering = True
        self._disarm()
        transport.write_eof()
        self.flow.resume_reading()
        self.loop.call_later(self.body_timeout_s, transport.close)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def on_headers_complete(self) -> None:
        cycle = self.cycle
        self._head_bytes = None
        super().on_headers_complete()
        if self.cycle is not cycle:
            self.cycle.transport = _LingeringTransport(self, self.transport)  # type: ignore[assignment]
            self._disarm()

    def on_response_complete(self) -> None:
        if self._lingering:
            self.server_state.total_requests += 1
            return  # no keep-alive: the connection closes when the drain ends
        # Armed before the parent runs: it may start a pipelined request, which disarms again.
        self._arm()
        super().on_response_complete()


def build_server(config: CollectorConfig, services: Sequence[Service] = ()) -> uvicorn.Server:
    protocol = type(
        "ConfiguredHttpToolsProtocol",
        (GuardedHttpToolsProtocol,),
        {
            "header_timeout_s": config.header_timeout_s,
            "body_timeout_s": config.body_timeout_s,
            "max_header_bytes": config.max_header_bytes,
            "max_headers": config.max_headers,
        },
    )
    tls = (
        {"ssl_certfile": config.ssl_certfile, "ssl_keyfile": config.ssl_keyfile}
        if config.ssl_certfile
        else {}
    )
    uvicorn_config = uvicorn.Config(
        create_app(config, open_sink(config), services),
        host=config.host,
        port=config.port,
        http=protocol,
        loop="auto",
        lifespan="on",
        access_log=False,
        log_config=None,
        server_header=False,
        timeout_keep_alive=max(1, round(config.keep_alive_s)),
        timeout_graceful_shutdown=max(1, round(config.shutdown_timeout_s)),
        **tls,  # type: ignore[arg-type]
    )
    return uvicorn.Server(uvicorn_config)


def serve(config: CollectorConfig, services: Sequence[Service] = ()) -> None:
    log.info(
        "collector listening", extra={"host": config.host, "port": config.port, "db": config.db}
    )
    server = build_server(config, services)
    # Every request allocates a few hundred containers, so collections run often; frozen, the
    # long-lived objects of the imported libraries are no longer walked by each full one.
    gc.freeze()
    server.run()
    if not server.started:
        # uvicorn has logged why (a lifespan start-up failure); exit non-zero for the manager.
        raise SystemExit(3)
