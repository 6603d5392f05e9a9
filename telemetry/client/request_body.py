"""The request the sender posts: the HTTP Basic `Authorization` of a write key, and a batch's
gzip body (`RequestBody`), compressed ahead of time except for `sent_at`.

Pure code; a `RequestBody` belongs to the thread that made it (the sender thread).
"""

from __future__ import annotations

import base64
import zlib
from typing import TYPE_CHECKING

import orjson

from telemetry.client.outbox import Batch

if TYPE_CHECKING:
    pass

_GZIP_WBITS = 31  # zlib's gzip container; mtime stays 0
_FAST = 1


def basic_auth(write_key: str) -> str:
    token = base64.b64encode(f"{write_key}:".encode()).decode("ascii")
    return f"Basic {token}"


class RequestBody:
    """A batch's gzip request body, compressed ahead of time (the stored event bodies are
    joined as they are) except for `sent_at`, which `at()` appends when the request goes out:
    the collector corrects device clock skew with it, so it must be the time of the attempt
    even when the body was prepared while the previous request was in flight."""

    __slots__ = ("_compressor", "_head")

    def __init__(self, batch: Batch) -> None:
        compressor = zlib.compressobj(_FAST, zlib.DEFLATED, _GZIP_WBITS)
        head = [compressor.compress(b'{"context":'), compressor.compress(batch.context)]
        if batch.drops:
            head.append(compressor.compress(b',"drops":' + orjson.dumps(dict(batch.drops))))
        head += [
            compressor.compress(b',"batch":['),
            compressor.compress(b",".join(batch.bodies)),
            # A sync flush emits everything compressed so far, so at() only adds a few bytes.
            compressor.compress(b"]") + compressor.flush(zlib.Z_SYNC_FLUSH),
        ]
        self._head = b"".join(head)
        self._compressor = compressor

    def at(self, sent_at_ms: int) -> bytes:
        """The complete body; call once."""
        tail = self._compressor.compress(b',"sent_at":%d}' % sent_at_ms)
        return self._head + tail + self._compressor.flush()
