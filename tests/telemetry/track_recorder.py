"""Test doubles for code that records telemetry: a settable monotonic clock, and a `track`
callable that checks every event against the vocabulary and keeps it."""

from __future__ import annotations

from collections.abc import Mapping

from telemetry.contracts.events import SPECS


class Clock:
    """A monotonic clock in ms that moves only when a test sets `now`."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Recorder:
    """A `track` that fails the test on an event the vocabulary rejects, and keeps the rest."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, object]]] = []

    def __call__(
        self, event_type: str, properties: Mapping[str, object], *, critical: bool = False
    ) -> str | None:
        problem = SPECS[event_type].problem(properties)
        assert problem is None, f"{event_type}: {problem}"
        self.events.append((event_type, dict(properties)))
        return None

    def of(self, event_type: str) -> list[dict[str, object]]:
        return [p for t, p in self.events if t == event_type]

    def impressed(self) -> set[tuple[object, object]]:
        """(row id, rank) of every tile that got an impression."""
        return {(p["row_id"], p["rank"]) for p in self.of("impression")}
