"""The outbox writer: the one thread that turns recorded events into committed outbox rows.

`track()` appends serialised events to an in-memory deque and, at most, sets an Event; this
thread drains the deque in group commits. A group is committed once its first event is
`commit_interval` old (100 ms) or it holds `commit_max_events` (100), and at once when a
critical event, a flush barrier or shutdown arrives; a backlog is committed in groups of
`commit_max_events` so the sender can start on it early. Loss bound on a crash (the process
killed; SQLite WAL with synchronous=NORMAL keeps every committed transaction through a
process crash): only events not yet committed, i.e. those recorded in the last
`commit_interval` plus the duration of the commit in progress (a few ms), and - while the
writer keeps up - no more than two groups (one being committed, one filling).

Queue items are either `QueuedEvent` tuples or `Barrier` objects; a barrier is released once
everything queued before it is committed, which is how `flush()` and consent purges keep FIFO
order with the events around them.

Threads: `OutboxWriter` methods are called from the client (any thread); `_run` is the writer
thread. `DropCounter` is shared by every recording thread and the writer.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Sequence

from telemetry.client.config import TelemetryConfig
from telemetry.client.outbox import Outbox, QueuedEvent
from telemetry.client.outbox_file import OutboxFile, is_corruption, is_disk_full

_log = logging.getLogger("reelscope.telemetry.writer")

_EXPIRE_EVERY = 3600.0
_RETRY_AFTER_DISK_ERROR = 1.0


class Barrier:
    """Released (`done` set) when every item queued before it has been handled. `seq` is
    then the highest outbox seq committed so far, or None if the commit failed."""

    __slots__ = ("done", "seq")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.seq: int | None = None


class PurgeBarrier(Barrier):
    """Deletes all local telemetry data once the items before it are handled; `purged` says
    whether it did (a locked or unwritable outbox is released with False)."""

    __slots__ = ("purged",)

    def __init__(self) -> None:
        super().__init__()
        self.purged = False

    def wait(self, timeout: float) -> bool:
        """True once the data is gone; False on timeout or when the purge failed."""
        return self.done.wait(timeout) and self.purged


QueueItem = QueuedEvent | Barrier
# the events just committed, rows and bytes now pending in the outbox, highest seq committed
CommitListener = Callable[[Sequence[QueuedEvent], int, int, int], None]


class DropCounter:
    """Events dropped before reaching the outbox, by reason; the writer persists them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def add(self, reason: str, count: int = 1) -> None:
        with self._lock:
            self._counts[reason] += count

    def take(self) -> dict[str, int]:
        with self._lock:
            counts, self._counts = dict(self._counts), Counter()
        return counts

    def restore(self, counts: dict[str, int]) -> None:
        with self._lock:
            self._counts.update(counts)

    def clear(self) -> None:
        with self._lock:
            self._counts.clear()


class QueuedBytes:
    """Bytes of serialised events waiting in the in-memory queue. `track()` refuses events
    once the bound is reached (reason `queue_full`); the writer gives bytes back as it takes
    events off the queue and takes them again for events it puts back after a disk error.
    The check and the addition are not atomic together: concurrent callers may overshoot
    the bound by one event each."""

    def __init__(self, limit: int) -> None:
        self._lock = threading.Lock()
        self._limit = limit
        self._bytes = 0

    def full(self) -> bool:
        return self._bytes >= self._limit

    def add(self, size: int) -> None:
        with self._lock:
            self._bytes += size

    def remove(self, size: int) -> None:
        with self._lock:
            # Never below zero: a consent purge clears the count while the writer drains.
            self._bytes = max(0, self._bytes - size)

    def clear(self) -> None:
        with self._lock:
            self._bytes = 0

    @property
    def size(self) -> int:
        return self._bytes


def _event_bytes(items: Sequence[QueueItem]) -> int:
    return sum(len(item[4]) for item in items if not isinstance(item, Barrier))


class OutboxWriter:
    def __init__(
        self,
        file: OutboxFile,
        *,
        queue: deque[QueueItem],
        queued: QueuedBytes,
        wake: threading.Event,
        drops: DropCounter,
        config: TelemetryConfig,
        on_committed: CommitListener,
        on_purged: Callable[[], None],
    ) -> None:
        self._file = file
        self._queue = queue
        self._queued = queued
        self._wake = wake
        self._drops = drops
        self._config = config
        self._on_committed = on_committed
        self._on_purged = on_purged
        self._urgent = False
        self._stopping = False
        self._stopped = threading.Event()  # interrupts the pause after a disk error
        self.ready = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name="reelscope-telemetry-writer", daemon=True
        )
        self._outbox: Outbox | None = None

    def start(self) -> None:
        self._thread.start()

    def urgent(self) -> None:
        """Commit what is queued now instead of waiting for the group to fill."""
        self._urgent = True
        self._wake.set()

    def stop(self) -> None:
        """Commit everything queued, then end the thread."""
        self._stopping = True
        self._stopped.set()
        self._wake.set()

    def join(self, timeout: float) -> bool:
        if self._thread.is_alive():
            self._thread.join(timeout)
        return not self._thread.is_alive()

    def _run(self) -> None:
        try:
            self._outbox = self._file.connect()
            self._outbox = self._expire(self._outbox)
            self._shrink(self._outbox)
        except (sqlite3.Error, OSError):
            _log.exception("cannot open the telemetry outbox %s", self._file.path)
        self._file.keep_reserve()
        self.ready.set()
        last_expiry = time.monotonic()
        queue, wake = self._queue, self._wake
        while True:
            wake.clear()
            if not queue:
                if self._stopping:
                    break
                wake.wait(_EXPIRE_EVERY)
                if time.monotonic() - last_expiry >= _EXPIRE_EVERY and self._outbox is not None:
                    self._outbox = self._expire(self._outbox)
                    self._shrink(self._outbox)
                    last_expiry = time.monotonic()
                continue
            deadline = time.monotonic() + self._config.commit_interval
            while not (self._stopping or self._urgent) and len(queue) < (
                self._config.commit_max_events
            ):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                wake.wait(remaining)
                wake.clear()
            # Cleared before draining: an urgent item queued from here on is either drained
            # now or sets the flag again for the next group.
            self._urgent = False
            # A backlog is committed in groups of commit_max_events, so the sender can start
            # on the first ones while the rest are still being written.
            items: list[QueueItem] = []
            while queue and len(items) < self._config.commit_max_events:
                items.append(queue.popleft())
            self._queued.remove(_event_bytes(items))
            self._handle(items)
            if queue:
                self._urgent = True
        self._commit([], [])  # drop counts recorded since the last group
        if self._outbox is not None:
            self._outbox.close()

    def _handle(self, items: list[QueueItem]) -> None:
        start = 0
        for index, item in enumerate(items):
            if isinstance(item, Barrier):
                if not self._commit(items[start:index], items[index:]):
                    return
                if isinstance(item, PurgeBarrier):
                    item.purged = self._purge()
                else:
                    item.seq = self._last_seq()
                item.done.set()
                start = index + 1
        self._commit(items[start:], [])

    def _commit(self, events: Sequence[QueueItem], rest: Sequence[QueueItem]) -> bool:
        """Commit `events`; on a disk error put them and `rest` back at the head of the queue
        and pause. Returns False when the items were put back."""
        drops = self._drops.take()
        if not events and not drops:
            return True
        batch = [e for e in events if not isinstance(e, Barrier)]
        for attempt in (1, 2):
            try:
                outbox = self._connected()
                evicted = outbox.append(
                    batch, drops, max_rows=self._config.max_rows, max_bytes=self._config.max_bytes
                )
                rows, size = outbox.totals()
                last_seq = outbox.last_seq()
                break
            except sqlite3.Error as exc:
                if attempt == 1 and is_corruption(exc) and self._outbox is not None:
                    self._outbox = self._file.recover(self._outbox, exc)
                    continue
                if (
                    attempt == 1
                    and self._stopping
                    and not batch
                    and is_disk_full(exc)
                    and self._file.release_reserve()
                ):
                    continue  # the last drop counts, in the space kept for them
                return self._put_back(batch, rest, drops, exc)
        if evicted:
            _log.warning("telemetry outbox full: dropped %d oldest low-priority events", evicted)
        self._on_committed(batch, rows, size, last_seq)
        return True

    def _put_back(
        self,
        events: list[QueuedEvent],
        rest: Sequence[QueueItem],
        drops: dict[str, int],
        exc: BaseException,
    ) -> bool:
        self._drops.restore(drops)
        if self._stopping:
            # Accepted by track() and now lost: counted, so the loss is reported (the last
            # commit at exit has disk space kept back for the counts).
            lost = len(events) + sum(1 for item in rest if not isinstance(item, Barrier))
            if lost:
                self._drops.add("disk_full" if is_disk_full(exc) else "write_failed", lost)
            _log.error("telemetry outbox write failed at exit (%s): %d events lost", exc, lost)
            for item in rest:
                if isinstance(item, Barrier):
                    item.done.set()
            return False
        _log.error("telemetry outbox write failed (%s); retrying", exc)
        self._queued.add(_event_bytes([*events, *rest]))
        self._queue.extendleft(reversed([*events, *rest]))
        self._stopped.wait(_RETRY_AFTER_DISK_ERROR)
        return False

    def _last_seq(self) -> int | None:
        try:
            return self._connected().last_seq()
        except sqlite3.Error as exc:
            _log.error("could not read the telemetry outbox: %s", exc)
            return None

    def _connected(self) -> Outbox:
        if self._outbox is None:
            self._outbox = self._file.connect()
        self._outbox = self._file.fresh(self._outbox)
        return self._outbox

    def _shrink(self, outbox: Outbox) -> None:
        try:
            outbox.shrink_if_sparse()
        except sqlite3.Error as exc:  # e.g. no room for the copy: the file stays as it is
            _log.warning("could not compact the telemetry outbox: %s", exc)

    def _expire(self, outbox: Outbox) -> Outbox:
        try:
            expired = outbox.expire(self._config.max_age, self._config.history_max_age)
        except sqlite3.Error as exc:
            if not is_corruption(exc):
                _log.error("could not expire old telemetry events: %s", exc)
                return outbox
            return self._file.recover(outbox, exc)
        if expired:
            _log.warning("telemetry outbox: dropped %d events older than the age bound", expired)
        return outbox

    def _purge(self) -> bool:
        try:
            self._connected().purge()
        except sqlite3.Error as exc:
            if not is_corruption(exc) or self._outbox is None:
                _log.error("could not purge the telemetry outbox: %s", exc)
                return False
            # A corrupt file is moved aside and replaced by an empty one: purged as well.
            self._outbox = self._file.recover(self._outbox, exc)
        self._file.remove_moved_aside()
        self._on_purged()
        return True
