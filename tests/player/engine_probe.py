"""A thread-safe recorder of engine events for tests: waits on conditions with a deadline."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from player.engine import EngineEvent, EngineEventKind


class EngineProbe:
    """Collects every `EngineEvent` (the engine's sink) and lets a test wait for one."""

    def __init__(self) -> None:
        self.events: list[EngineEvent] = []
        self._changed = threading.Condition()

    def __call__(self, event: EngineEvent) -> None:
        with self._changed:
            self.events.append(event)
            self._changed.notify_all()

    def clear(self) -> None:
        with self._changed:
            self.events.clear()

    def kinds(self) -> list[EngineEventKind]:
        with self._changed:
            return [event.kind for event in self.events]

    def wait_for(
        self,
        kind: EngineEventKind,
        timeout: float = 10.0,
        where: Callable[[EngineEvent], bool] = lambda _event: True,
    ) -> EngineEvent:
        """The first recorded event of `kind` matching `where`; waits up to `timeout` s."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for event in self.events:
                    if event.kind == kind and where(event):
                        return event
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    seen = [e.kind.value for e in self.events]
                    raise AssertionError(f"no {kind.value} event within {timeout} s; saw {seen}")
                self._changed.wait(remaining)
