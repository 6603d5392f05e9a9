"""Retry timing: full-jitter exponential backoff with Retry-After as a floor, and which HTTP
statuses are worth retrying (Segment's split, which the collector follows).

`delay = max(uniform(0, min(cap, base * 2**failures)), retry_after)`: full jitter spreads many
clients coming back after an outage; the server's Retry-After is never undercut.

Pure functions; any thread.
"""

from __future__ import annotations

import email.utils
from collections.abc import Callable
from datetime import UTC

RETRYABLE_STATUSES = frozenset({408, 410, 429, 460}) | (frozenset(range(500, 600)) - {501, 505})


def backoff_delay(
    failures: int,
    *,
    base: float,
    cap: float,
    jitter: Callable[[], float],
    retry_after: float | None = None,
) -> float:
    """Seconds to wait after the `failures`-th consecutive failure (counted from 0)."""
    ceiling = min(cap, base * 2.0 ** min(failures, 62))
    delay = jitter() * ceiling
    if retry_after is not None:
        delay = max(delay, retry_after)
    return delay


def parse_retry_after(value: str | None, *, now: float, limit: float) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date), clamped to
    [0, limit]; None when absent or unreadable. `now` is wall-clock seconds since the epoch."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        seconds = float(value)
    else:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = when.timestamp() - now
    return min(max(seconds, 0.0), limit)
