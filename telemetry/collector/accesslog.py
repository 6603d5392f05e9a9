"""Structured logging: one JSON access-log line per request, and the JSON formatter for all logs.

`AccessLog` wraps the app and runs on the event loop. It records method, path, status, bytes
out, duration, the key's *id*, event counts and the client's network (IPv4 /24, IPv6 /48):
never the key, never a header value, never a body. `configure_logging` is called once by the
CLI on the main thread before the server starts.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from telemetry.collector.privacy import truncate_ip

access_log = logging.getLogger("reelscope.collector.access")

# Attributes every LogRecord has; anything else was passed with `extra=` and is logged as a field.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "color_message",  # uvicorn's ANSI-coloured copy of the message
}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, then any `extra=` fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        entry.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(level: str, as_json: bool) -> None:
    # No format here shows the caller's file and line, thread or process: not looking them up
    # for every record is a good part of what an access-log line costs.
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    handler = logging.StreamHandler(sys.stderr)
    if as_json:
        formatter: logging.Formatter = JsonFormatter()
        formatter.converter = time.gmtime
    else:
        formatter = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    handler.setFormatter(formatter)
    for name in ("reelscope.collector", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(level.upper())
        logger.propagate = False


class AccessLog:
    """ASGI middleware writing the access log after each HTTP response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 0
        sent = 0

        async def logged_send(message: Message) -> None:
            nonlocal status, sent
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                sent += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, logged_send)
        finally:
            state = scope.get("state", {})
            client = scope.get("client")
            path = scope["path"]
            # Path parameters (a device id) are ids of people's devices: log the route instead.
            for name, value in scope.get("path_params", {}).items():
                path = path.replace(f"/{value}/", f"/{{{name}}}/")
            fields: dict[str, Any] = {
                "method": scope["method"],
                "path": path,
                "status": status or 500,
                "bytes_out": sent,
                "ms": round((time.perf_counter() - started) * 1000, 2),
                "key_id": state.get("key_id"),
                "client_net": truncate_ip(client[0]) if client else None,
            }
            events = state.get("events")
            if events is not None:
                fields["accepted"], fields["duplicates"], fields["rejected"] = events
            access_log.info("request", extra=fields)
