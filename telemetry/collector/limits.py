"""Per-key request rate limit: a token bucket per key id, checked before the body is read.

Used by request handlers on the event loop only (no locking). Buckets exist only for keys that
authenticated, so their number is bounded by the keys file, not by what attackers send.
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
