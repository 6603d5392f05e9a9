"""`TelemetryClient`: the one object the app uses to record telemetry. Every event reaches the
collector exactly once (the collector dedupes on `event_id`), or is counted as lost with a
reason, through crashes, offline days and a misbehaving server, without slowing the caller.

Public API (any thread unless noted):
- `TelemetryClient(config)`: reads the consent/device-id file; spawns no thread.
- `start()`: starts the writer and sender threads (events tracked before are kept).
- `track(event_type, properties, *, critical=False) -> str | None`: validates against
  `telemetry.contracts.events`, builds the envelope, serialises once and queues for the writer;
  never blocks on disk or network (~5 µs). Returns the event id; None when consent is off, after
  `close()`, when the in-memory queue is full (counted as `queue_full`) or, in production,
  when the event is invalid (counted as `invalid`/`too_large`, logged, never sent). In strict
  mode (`REELSCOPE_ENV` test/dev) an invalid event raises `InvalidEventError`. Critical types
  (`session_end`, `error`, `app_exit`) and `critical=True` are committed and sent at once.
- `set_context(**fields)`: batch context (`app`, `os`, `libvlc_version`, `locale`,
  `screen`), sent once per batch with the events recorded under it.
- `set_consent(enabled)` / `consent` / `consent_decided`: switching off stops recording at
  once and purges all local telemetry data; the choice is stored in the config dir. Before
  any choice, `consent` is `TelemetryConfig.consent_before_choice` (off in the app).
- `flush(timeout) -> bool`: commit what was tracked so far and send it; True if it all left
  the outbox (delivered or dead-lettered) in time.
- `close(timeout=2.0)`: flush within the timeout, then stop the threads; what is unsent stays
  on disk for the next launch. Also registered with `atexit` by `start()`.
- `status() -> SyncStatus`, `add_status_listener(callback)`: the callback runs on a telemetry
  thread (writer or sender) or on the thread calling `set_consent`/`set_endpoint`: hand off
  to the GUI thread with a queued signal, never touch widgets in it.
- `add_commit_listener(callback)`: `callback(event_ids)` runs on the writer thread after each
  group commit with the ids it made durable in the outbox (the fleet simulation keeps its
  ledger with it); it delays the next commit, so it must be quick.
- `sync_now()`: send now, overriding a backoff or an auth failure.
- `set_endpoint(url, write_key)`: new collector or key; clears an auth failure.
- `device_id`, `app_session_id`: the pseudonymous install id and this launch's id.
- `outbox`: an `OutboxReader` (read-only) for the privacy window: `recent_events()`
  (pending), `local_events()` (pending and the bounded history of sent and refused events,
  with their status), `counts_by_type()`, `counts_by_status()`, `dead_letters()`, `drops()`,
  `export()`; `delete_local_data()` purges all of it (returns a `PurgeBarrier`: `wait(timeout)` is
  True once the data is gone, False on timeout or failure).

Threads: see above. After `os.fork()` the child gets a fresh app session, fresh threads (if
the parent had started them) and does not inherit the parent's sender lock. A fork waits (up to
`fork_gate.FORK_WAIT_S`, 2 s) for every SQLite call of the client under way on any thread
(writer, sender, privacy reader) and keeps new ones waiting until it is done, so no SQLite
mutex, lock or transaction of the parent is ever copied into the child (see
`telemetry.client.fork_gate`). The child never closes what it inherited of the parent's outbox.
"""

from __future__ import annotations

import atexit
import itertools
import locale
import logging
import os
import platform
import random
import threading
import time
import uuid
import weakref
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Final

import orjson

from telemetry.client.config import APP_NAME, TelemetryConfig
from telemetry.client.consent import ConsentStore
from telemetry.client.outbox import QueuedEvent
from telemetry.client.outbox_file import OutboxFile
from telemetry.client.outbox_reader import OutboxReader
from telemetry.client.sender import Sender
from telemetry.client.sender_lock import SenderLock
from telemetry.client.status import StatusBoard, StatusListener, SyncState, SyncStatus
from telemetry.client.writer import (
    Barrier,
    DropCounter,
    OutboxWriter,
    PurgeBarrier,
    QueuedBytes,
    QueueItem,
)
from telemetry.contracts.events import (
    FEED_SERVED,
    SCHEMA,
    SPECS,
    InvalidEventError,
    feed_served_parts,
)

_log = logging.getLogger("reelscope.telemetry.client")

_CONTEXT_FIELDS: Final[Mapping[str, type]] = {
    "app": dict,
    "os": dict,
    "libvlc_version": str,
    "locale": str,
    "screen": dict,
}
# `,"seq":<up to 20 digits>`, appended to the body once an event is queued.
_SEQ_BYTES: Final = 28
# An event's envelope around its properties, with room to spare: what a feed split into
# parts leaves for each part's properties.
_ENVELOPE_BYTES: Final = 512
# In a forked child: the parent's outbox objects, kept from being collected (see
# `_restart_after_fork`) for as long as the child lives.
_INHERITED: list[object] = []
_monotonic_ns = time.monotonic_ns
_dumps = orjson.dumps


class _EventIds:
    """UUIDv7 event ids (RFC 9562, method 1: a counter in the random bits). Time-ordered, so
    the outbox's and the collector's unique indexes append; unique within a process by the
    30-bit counter, across processes by 44 random bits drawn per process (again after a
    fork). Formatting the time part once per millisecond keeps an id under 1 µs."""

    def __init__(self) -> None:
        self.reseed()

    def reseed(self) -> None:
        self.counter = itertools.count(random.getrandbits(30))
        self.version_and_rand_a = f"7{random.getrandbits(12):03x}"
        self.tail = random.getrandbits(32)
        self.prefix = (-1, "")

    def new(self, wall_ms: int) -> str:
        n = next(self.counter) & 0x3FFFFFFF
        cached = self.prefix
        if cached[0] != wall_ms:
            text = f"{wall_ms >> 16:08x}-{wall_ms & 0xFFFF:04x}-{self.version_and_rand_a}-"
            cached = self.prefix = (wall_ms, text)
        return f"{cached[1]}{0x8000 | (n >> 16):04x}-{((n & 0xFFFF) << 32) | self.tail:012x}"


_ids = _EventIds()
new_event_id = _ids.new
os.register_at_fork(after_in_child=_ids.reseed)


def default_context(app_version: str) -> dict[str, object]:
    context: dict[str, object] = {
        "app": {"name": APP_NAME, "version": app_version},
        "os": {"name": platform.system(), "version": platform.release()},
    }
    language = locale.getlocale()[0]
    if language:
        context["locale"] = language
    return context


class TelemetryClient:
    def __init__(self, config: TelemetryConfig) -> None:
        self._config = config
        self._endpoint = (config.endpoint, config.write_key)
        self._strict = config.strict
        self._max_queue = config.max_queue
        self._max_event_bytes = config.max_event_bytes
        self._wall_clock_ns = config.wall_clock_ns
        self._commit_max = config.commit_max_events
        self._consent = ConsentStore(config.settings_path, undecided=config.consent_before_choice)
        self._device_id = self._consent.device_id
        self._context_fields = default_context(config.app_version)
        self._context = _dumps(self._context_fields)
        self.outbox = OutboxReader(config.outbox_path)
        initial = SyncState.OK if self._consent.enabled else SyncState.DISABLED
        self._board = StatusBoard(SyncStatus(state=initial))
        self._warned: set[tuple[str, str]] = set()
        # Replaced, never mutated: the writer thread iterates it without a lock.
        self._commit_listeners: tuple[Callable[[list[str]], None], ...] = ()
        self._started = False
        self._closed = False
        self._fresh_process_state()
        ref = weakref.ref(self)
        os.register_at_fork(after_in_child=lambda: _after_fork(ref))

    def _fresh_process_state(self) -> None:
        """Everything that belongs to one process: ids, queue, locks, workers."""
        self._app_session_id = str(uuid.uuid4())
        self._seq = itertools.count(1)
        self._accepting = self._consent.enabled and not self._closed
        self._lock = threading.Lock()
        self._queue: deque[QueueItem] = deque()
        self._queued = QueuedBytes(self._config.max_queue_bytes)
        self._wake = threading.Event()
        self._drops = DropCounter()
        self._file = OutboxFile(self._config.outbox_path)
        self._sender_lock = SenderLock(
            self._config.outbox_path.with_name(self._config.outbox_path.name + ".lock")
        )
        self._writer = OutboxWriter(
            self._file,
            queue=self._queue,
            queued=self._queued,
            wake=self._wake,
            drops=self._drops,
            config=self._config,
            on_committed=self._on_committed,
            on_purged=self._on_purged,
        )
        self._sender = Sender(
            self._file,
            self._writer.ready,
            self._config,
            self._board,
            self._sender_lock,
            disabled=not self._consent.enabled,
        )

    # Identity

    @property
    def device_id(self) -> str:
        return self._device_id

    @property
    def device_secret(self) -> str:
        """Proves `device_id` is this device's when asking the collector to delete its data."""
        return self._consent.device_secret

    @property
    def app_session_id(self) -> str:
        return self._app_session_id

    @property
    def consent(self) -> bool:
        return self._consent.enabled

    @property
    def consent_decided(self) -> bool:
        """Whether the viewer has chosen; until then `consent` is the config's default."""
        return self._consent.decided

    @property
    def outbox_path(self) -> Path:
        return self._config.outbox_path

    # Life cycle

    def start(self) -> None:
        with self._lock:
            if self._started or self._closed:
                return
            self._started = True
            if not self._consent.enabled:
                # Data left by a run that ended before its opt-out purge finished.
                self._queue.append(PurgeBarrier())
            self._writer.start()
            self._sender.start()
        atexit.register(self._close_at_exit)

    def close(self, timeout: float | None = None) -> None:
        """Flush for at most `timeout` seconds (default `exit_timeout`, 2 s), then stop."""
        deadline = time.monotonic() + (self._config.exit_timeout if timeout is None else timeout)
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._accepting = False
            started = self._started
        atexit.unregister(self._close_at_exit)
        if not started:
            return
        self._flush_until(deadline)
        self._writer.stop()
        self._sender.stop()
        # The writer has committed everything by now unless the disk is stuck; the sender
        # may still be inside a request: its rows stay in the outbox for the next launch.
        if not self._writer.join(max(0.05, deadline - time.monotonic())):
            _log.error("telemetry writer did not finish in time; uncommitted events lost")
        self._sender.join(max(0.0, deadline - time.monotonic()))

    def _close_at_exit(self) -> None:
        self.close()

    # Recording (caller's thread: must stay cheap)

    def track(
        self,
        event_type: str,
        properties: Mapping[str, object],
        *,
        critical: bool = False,
    ) -> str | None:
        if not self._accepting:
            return None
        try:
            priority, critical_type, event_id, wall_ms, head = self._encode(event_type, properties)
        except InvalidEventError as exc:
            if exc.reason == "too_large" and event_type == FEED_SERVED:
                return self._track_parts(properties, critical=critical)
            if self._strict:
                raise
            self._drops.add(exc.reason)
            self._warn_once(event_type, exc.reason, str(exc))
            return None
        queue = self._queue
        if len(queue) >= self._max_queue or self._queued.full():
            self._drops.add("queue_full")
            self._warn_once(event_type, "queue_full", "the outbox writer is not keeping up")
            return None
        # The seq is given only to an event that is queued, so a refused one leaves no gap
        # (the report reads gaps as events lost on the way).
        body = head[:-1] + b',"seq":%d}' % next(self._seq)
        self._queued.add(len(body))
        critical = critical or critical_type
        queue.append((event_id, event_type, priority, wall_ms, body, self._context, critical))
        if critical:
            self._writer.urgent()
        else:
            waiting = len(queue)
            if waiting in (1, self._commit_max):
                self._wake.set()
        return event_id

    def _track_parts(self, properties: Mapping[str, object], *, critical: bool) -> str | None:
        """A feed too large for one event, recorded as consecutive `feed_served` parts (see
        `feed_served_parts`); the id of the first part."""
        ids = [
            self.track(FEED_SERVED, part, critical=critical)
            for part in feed_served_parts(properties, self._max_event_bytes - _ENVELOPE_BYTES)
        ]
        return ids[0] if ids else None

    def _encode(
        self, event_type: str, properties: Mapping[str, object]
    ) -> tuple[int, bool, str, int, bytes]:
        """Validate and serialise one event: (priority, critical, event id, wall ms, body
        without its `seq`, which `track()` adds once the event is accepted)."""
        spec = SPECS.get(event_type)
        if spec is None:
            raise InvalidEventError(event_type, "invalid", "unknown event type")
        problem = spec.problem(properties)
        if problem is not None:
            raise InvalidEventError(event_type, "invalid", problem)
        wall_ms = self._wall_clock_ns() // 1_000_000
        event_id = new_event_id(wall_ms)
        try:
            body = _dumps(
                {
                    "event_id": event_id,
                    "type": event_type,
                    "schema": SCHEMA,
                    "time": wall_ms,
                    "mono_ms": _monotonic_ns() // 1_000_000,
                    "app_session_id": self._app_session_id,
                    "device_id": self._device_id,
                    "properties": properties if type(properties) is dict else dict(properties),
                }
            )
        except TypeError as exc:
            raise InvalidEventError(event_type, "invalid", f"not serialisable: {exc}") from exc
        if len(body) + _SEQ_BYTES > self._max_event_bytes:
            raise InvalidEventError(event_type, "too_large", f"{len(body)} bytes")
        return spec.priority, spec.critical, event_id, wall_ms, body

    def _warn_once(self, event_type: str, reason: str, detail: str) -> None:
        key = (event_type, reason)
        level = logging.DEBUG if key in self._warned else logging.WARNING
        self._warned.add(key)
        _log.log(level, "telemetry event %s dropped (%s): %s", event_type, reason, detail)

    def set_context(self, **fields: object) -> None:
        """Replace parts of the batch context; later events are sent with the new one."""
        for name, value in fields.items():
            expected = _CONTEXT_FIELDS.get(name)
            if expected is None:
                raise ValueError(f"unknown context field {name!r}")
            if not isinstance(value, expected):
                raise TypeError(f"context field {name!r} must be {expected.__name__}")
        with self._lock:
            self._context_fields = {**self._context_fields, **fields}
            self._context = _dumps(self._context_fields)

    # Consent and local data

    def set_consent(self, enabled: bool) -> None:
        with self._lock:
            self._consent.set_enabled(enabled)
            self._accepting = enabled and not self._closed
            self._sender.set_disabled(not enabled)
            if enabled:
                self._board.update(state=SyncState.OK, last_error=None)
                return
            self._queue.clear()
            self._queued.clear()
            self._drops.clear()
            self._queue.append(PurgeBarrier())
            self._writer.urgent()
        self._board.update(
            state=SyncState.DISABLED, pending=0, dead_letter=0, retry_at=None, last_error=None
        )

    def delete_local_data(self) -> PurgeBarrier:
        """Purge every local event (pending and history), dead letter and drop count
        (telemetry stays on if it was). The writer thread does the work; the barrier's
        `wait(timeout)` is True once the data is gone, False on timeout or failure."""
        barrier = PurgeBarrier()
        self._queue.append(barrier)
        self._writer.urgent()
        return barrier

    # Sending

    def flush(self, timeout: float) -> bool:
        return self._flush_until(time.monotonic() + timeout)

    def _flush_until(self, deadline: float) -> bool:
        if not self._started:
            return False
        if not self._consent.enabled:
            return True
        barrier = Barrier()
        self._queue.append(barrier)
        self._writer.urgent()
        if not barrier.done.wait(max(0.0, deadline - time.monotonic())) or barrier.seq is None:
            return False
        self._sender.request_flush(barrier.seq)
        return self._sender.wait_sent(barrier.seq, deadline)

    def sync_now(self) -> None:
        """Commit what is queued and send it now, overriding a backoff or an auth failure."""
        self._sender.sync_now()
        self._writer.urgent()

    def set_endpoint(self, url: str, write_key: str) -> None:
        self._endpoint = (url, write_key)
        self._sender.set_endpoint(url, write_key)

    @property
    def endpoint(self) -> tuple[str, str]:
        """The collector's URL and the write key in use (for `telemetry.client.feed_client`)."""
        return self._endpoint

    @property
    def allows_insecure_http(self) -> bool:
        return self._config.allow_insecure_http

    # Status

    def status(self) -> SyncStatus:
        return self._board.snapshot()

    def add_status_listener(self, callback: StatusListener) -> None:
        self._board.add_listener(callback)

    def add_commit_listener(self, callback: Callable[[list[str]], None]) -> None:
        with self._lock:
            self._commit_listeners = (*self._commit_listeners, callback)

    def _restart_after_fork(self) -> None:
        # The parent's threads do not exist here and its locks may have been held at the fork.
        self._sender_lock.release()
        # Their SQLite connections are the parent's: closing one here (when the objects are
        # collected) would drop locks this process's new connections hold on the same file.
        _INHERITED.append((self._file, self._writer, self._sender))
        self._fresh_process_state()
        if self._started and not self._closed:
            self._writer.start()
            self._sender.start()

    # Worker callbacks (writer thread)

    def _on_committed(
        self, events: Sequence[QueuedEvent], rows: int, size: int, last_seq: int
    ) -> None:
        self._sender.notify_committed(any(e[6] for e in events), rows, size, last_seq)
        if self._consent.enabled:
            self._board.update(pending=rows)
        if events and self._commit_listeners:
            event_ids = [e[0] for e in events]
            for listener in self._commit_listeners:
                listener(event_ids)

    def _on_purged(self) -> None:
        self._board.update(pending=0, dead_letter=0)


def _after_fork(ref: Callable[[], TelemetryClient | None]) -> None:
    client = ref()
    if client is not None:
        client._restart_after_fork()
