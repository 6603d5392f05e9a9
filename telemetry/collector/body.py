"""Request bodies: read with a byte cap and a deadline, then inflated with an output cap.

Called by the batch handler on the event loop. Both caps hold while bytes arrive, so neither a
chunked upload without Content-Length nor a gzip bomb can grow memory past its limit: the
inflater is asked for at most `limit + 1` bytes at a time and stops there.
"""

from __future__ import annotations

import asyncio
import logging
import zlib

from starlette.types import Receive

from telemetry.collector.errors import ApiError

log = logging.getLogger("reelscope.collector.body")


class ClientGoneError(Exception):
    """The client disconnected before its body arrived; there is no one left to answer."""


def too_large(limit: int) -> ApiError:
    return ApiError(413, "body_too_large", f"the request body exceeds {limit} bytes")


async def read_body(receive: Receive, limit: int, timeout_s: float) -> bytes:
    """The whole body; 413 as soon as it passes `limit`, 408 if it misses the deadline."""
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(timeout_s):
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    raise ClientGoneError
                chunk: bytes = message.get("body", b"")
                size += len(chunk)
                if size > limit:
                    raise too_large(limit)
                chunks.append(chunk)
                if not message.get("more_body", False):
                    return b"".join(chunks)
    except TimeoutError as exc:
        # The connection is closed after this answer: a stalled client must not hold it.
        raise ApiError(
            408,
            "request_timeout",
            f"the body did not arrive within {timeout_s:g} s",
            {"Connection": "close"},
        ) from exc


def gunzip(data: bytes, limit: int) -> bytes:
    """Inflate one or more gzip members, refusing output beyond `limit` (413) or bad data (400)."""
    parts: list[bytes] = []
    produced = 0
    remaining = data
    try:
        while True:
            inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
            part = inflater.decompress(remaining, limit - produced + 1)
            produced += len(part)
            if produced > limit:
                log.warning(
                    "gzip body inflates past %d bytes from %d compressed: refused as a bomb",
                    limit,
                    len(data),
                )
                raise ApiError(
                    413, "decompressed_too_large", f"the body inflates to more than {limit} bytes"
                )
            parts.append(part)
            if not inflater.eof:
                raise ApiError(400, "invalid_gzip", "the gzip stream is truncated")
            remaining = inflater.unused_data
            if not remaining:
                return b"".join(parts)
    except zlib.error as exc:
        raise ApiError(400, "invalid_gzip", "the body is not valid gzip") from exc
