"""What the UI shows about telemetry sync: a frozen snapshot and the listeners told of changes.

Threads: `snapshot()` and `add_listener()` from any thread. `update()` is called by the
telemetry writer and sender threads and by whichever thread calls `set_consent` or
`set_endpoint`; listeners run on that thread, outside the board's lock, so they must be quick
and must hand off to the GUI thread themselves (a queued Qt signal).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import StrEnum

_log = logging.getLogger("reelscope.telemetry.status")


class SyncState(StrEnum):
    OK = "ok"
    OFFLINE = "offline"  # the collector could not be reached; retrying at `retry_at`
    BACKING_OFF = "backing_off"  # the collector asked us to wait, or failed; until `retry_at`
    AUTH_FAILED = "auth_failed"  # 401/403: sending stopped, data kept, needs a new key
    DISABLED = "disabled"  # the user switched telemetry off


@dataclass(frozen=True, slots=True)
class SyncStatus:
    """Times are wall-clock seconds since the epoch."""

    state: SyncState = SyncState.OK
    pending: int = 0
    dead_letter: int = 0
    last_success: float | None = None
    last_error: str | None = None
    retry_at: float | None = None


StatusListener = Callable[[SyncStatus], None]


class StatusBoard:
    def __init__(self, initial: SyncStatus) -> None:
        self._lock = threading.Lock()
        self._status = initial
        self._listeners: list[StatusListener] = []

    def snapshot(self) -> SyncStatus:
        return self._status

    def add_listener(self, listener: StatusListener) -> None:
        with self._lock:
            self._listeners.append(listener)

    def update(self, **changes: object) -> SyncStatus:
        with self._lock:
            new = replace(self._status, **changes)  # type: ignore[arg-type]
            if new == self._status:
                return new
            self._status = new
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(new)
            except Exception:
                _log.exception("telemetry status listener failed")
        return new
