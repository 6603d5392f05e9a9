"""A Qt-free owner loop for a play session: drains engine events from a queue on the owning
thread and polls the session's watchdog on a fixed interval.

The app does the same with a queued Qt signal and a QTimer (`ui.playback_telemetry`); this
loop serves tests, scripts and the crash-recovery child process.

Threads: `EventQueue.__call__` is the engine's sink and may be called on any thread (it only
enqueues). `SessionLoop.run_until` runs on the owning thread, the only one that touches the
session and the engine.
"""

from __future__ import annotations

import queue
import time
from collections.abc import Callable

from player.engine import EngineEvent
from player.play_session import PlaySession

POLL_INTERVAL_S = 0.1


class EventQueue:
    """An engine sink that hands events to the owning thread, in order."""

    def __init__(self, also: Callable[[EngineEvent], None] | None = None) -> None:
        self._queue: queue.SimpleQueue[EngineEvent] = queue.SimpleQueue()
        self._also = also

    def __call__(self, event: EngineEvent) -> None:
        self._queue.put(event)
        if self._also is not None:
            self._also(event)

    def get(self, timeout: float) -> EngineEvent | None:
        try:
            return self._queue.get(timeout=max(0.0, timeout))
        except queue.Empty:
            return None


class SessionLoop:
    """Feeds `session` (replaceable between runs) from `events` and polls it."""

    def __init__(self, events: EventQueue, *, poll_interval_s: float = POLL_INTERVAL_S) -> None:
        self._events = events
        self._interval = poll_interval_s
        self.session: PlaySession | None = None

    def run_until(self, done: Callable[[], bool], timeout_s: float) -> bool:
        """Runs until `done()` holds (True) or `timeout_s` passes (False)."""
        deadline = time.monotonic() + timeout_s
        next_poll = time.monotonic()
        while not done():
            now = time.monotonic()
            if now >= deadline:
                return False
            # Pending events first: a poll must not see a playhead its event has not told yet.
            wait = 0.0 if now >= next_poll else min(next_poll, deadline) - now
            event = self._events.get(wait)
            if event is not None:
                if self.session is not None:
                    self.session.on_engine_event(event)
            elif time.monotonic() >= next_poll:
                next_poll = time.monotonic() + self._interval
                if self.session is not None:
                    self.session.on_poll()
        return True
