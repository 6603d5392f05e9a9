"""The storage interface: what a sink accepts and what it answers.

Request handlers (event loop) build `BatchWrite`s and await `Sink.write`; a sink may do its work
on its own thread but must resolve the await only after the data is durable. The rows are the
shared contract (`telemetry.contracts.stored`); `telemetry.collector.sinks` picks a sink by URL.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple, Protocol

from telemetry.contracts.stored import ContextRow, DropRow, EventRow


@dataclass
class BatchWrite:
    """Everything one accepted request stores, committed together."""

    key_id: str
    rows: list[EventRow] = field(default_factory=list)
    contexts: dict[bytes, ContextRow] = field(default_factory=dict)
    drops: list[DropRow] = field(default_factory=list)

    def empty(self) -> bool:
        return not self.rows and not self.drops


class WriteResult(NamedTuple):
    accepted: int
    duplicates: int


class Sink(Protocol):
    """A durable destination for batches. Methods are awaited from the event loop."""

    def start(self) -> None: ...

    async def write(self, batch: BatchWrite) -> WriteResult:
        """Store the batch; resolves after commit. Raises StorageUnavailableError when it cannot."""
        ...

    async def delete_device(self, key_id: str, device_id: str) -> int:
        """Delete every event, context and drop report of one device stored under one key;
        the number of events deleted."""
        ...

    async def check_ready(self) -> None:
        """Return if a write could be committed now; raise StorageUnavailableError otherwise."""
        ...

    def close(self) -> None:
        """Commit everything already accepted, then release the storage."""
        ...
