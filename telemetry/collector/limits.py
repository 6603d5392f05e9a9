"""Per-key request rate limit (a token bucket per key id, checked before the body is read) and
admission (in-flight requests, uploads per key, inflated bytes held).

Used by request handlers on the event loop only (no locking). Buckets and upload counts exist
only for keys that authenticated, so their number is bounded by the keys file, not by what
attackers send.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable


class RateLimiter:
    """`rate_per_s` requests per second per key, bursts up to `burst`; rate 0 disables it."""

    def __init__(
        self, rate_per_s: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._rate = rate_per_s
        self._burst = float(max(burst, 1))
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}

    def retry_after(self, key_id: str) -> int | None:
        """Take one token; None if allowed, else whole seconds until a token is available."""
        if self._rate <= 0:
            return None
        now = self._clock()
        tokens, last = self._buckets.get(key_id, (self._burst, now))
        tokens = min(self._burst, tokens + (now - last) * self._rate)
        if tokens >= 1.0:
            self._buckets[key_id] = (tokens - 1.0, now)
            return None
        self._buckets[key_id] = (tokens, now)
        return max(1, math.ceil((1.0 - tokens) / self._rate))


class OverloadedError(Exception):
    """A request refused to keep the collector's memory and fairness bounds (503)."""


class Admission:
    """Which requests may proceed, so that memory stays bounded and one key cannot crowd out
    the others: at most `max_in_flight` batch requests at once; of them at most
    `max_uploads_per_key` of one key whose bodies are still arriving (a slow uploader holds a
    slot for up to body_timeout_s); and at most `max_bytes` of inflated bodies held by those
    past reading, from inflation until their answer.

    Event loop only: the handler calls `enter`, then `uploaded`, `hold` and finally `leave`.
    """

    def __init__(self, max_in_flight: int, max_uploads_per_key: int, max_bytes: int) -> None:
        self._max_in_flight = max_in_flight
        self._max_uploads = max_uploads_per_key
        self._max_bytes = max_bytes
        self.in_flight = 0
        self.held_bytes = 0
        self._uploads: dict[str, int] = {}

    def enter(self, key_id: str) -> None:
        if self.in_flight >= self._max_in_flight:
            raise OverloadedError("the collector is handling too many requests")
        uploads = self._uploads.get(key_id, 0)
        if uploads >= self._max_uploads:
            raise OverloadedError("too many uploads in progress for this key")
        self._uploads[key_id] = uploads + 1
        self.in_flight += 1

    def uploaded(self, key_id: str) -> None:
        """The body has arrived (or never will): the key's upload slot is free again."""
        left = self._uploads[key_id] - 1
        if left:
            self._uploads[key_id] = left
        else:
            del self._uploads[key_id]

    def hold(self, size: int) -> None:
        # One request alone is always let through: the inflate cap already bounds it.
        if self.held_bytes and self.held_bytes + size > self._max_bytes:
            raise OverloadedError("the collector holds too many bodies in memory")
        self.held_bytes += size

    def leave(self, held: int) -> None:
        self.held_bytes -= held
        self.in_flight -= 1
