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
"""

from __future__ import annotations

import asyncio
import gc
import logging

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from telemetry.collector.app import create_app
from telemetry.collector.config import CollectorConfig
from telemetry.collector.store import open_sink

log = logging.getLogger("reelscope.collector.server")


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """httptools with a deadline for every stretch in which no request is being served."""

    header_timeout_s = 10.0
    _guard: asyncio.TimerHandle | None = None

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

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def on_headers_complete(self) -> None:
        cycle = self.cycle
        super().on_headers_complete()
        if self.cycle is not cycle:
            self._disarm()

    def on_response_complete(self) -> None:
        # Armed before the parent runs: it may start a pipelined request, which disarms again.
        self._arm()
        super().on_response_complete()


def build_server(config: CollectorConfig) -> uvicorn.Server:
    protocol = type(
        "ConfiguredHttpToolsProtocol",
        (GuardedHttpToolsProtocol,),
        {"header_timeout_s": config.header_timeout_s},
    )
    uvicorn_config = uvicorn.Config(
        create_app(config, open_sink(config)),
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
    )
    return uvicorn.Server(uvicorn_config)


def serve(config: CollectorConfig) -> None:
    log.info(
        "collector listening", extra={"host": config.host, "port": config.port, "db": config.db}
    )
    server = build_server(config)
    # Every request allocates a few hundred containers, so collections run often; frozen, the
    # long-lived objects of the imported libraries are no longer walked by each full one.
    gc.freeze()
    server.run()
