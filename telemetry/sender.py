"""The sender: one background thread that moves outbox rows to the collector, one request at a
time, and deletes them only once the collector has answered for them.

When it sends: when `flush_interval` (5 s) has passed since events became pending, when the
pending rows reach a batch (`batch_max_events` or `batch_max_bytes`), at once for a critical
event or a `flush()`, and on `sync_now()`. Leftovers from an earlier launch go at start-up.
While backing off it is never woken by new events: only `sync_now()`, `set_endpoint()`,
consent changes and shutdown interrupt the wait.

Answers (the collector's wire contract):
- 2xx: rows moved to the outbox's bounded history; per-event `rejected` entries go to the
  dead-letter table with their message; duplicates count as delivered; the drop counts the
  batch carried are cleared.
- 413, 400, 422: the batch is halved until the single offending event is found, which goes to
  the dead-letter table with the server's reason (the limit grows back after each success).
- 401, 403: sending stops, the data stays, the state says `auth_failed` until a new key
  (`set_endpoint`) or `sync_now()`.
- network errors, 408, 410, 429, 460, 5xx except 501/505 (and anything unexpected): full-jitter
  exponential backoff, Retry-After as a floor (see `telemetry.backoff`).

The cross-process `SenderLock` is taken before the first send, so a second app instance
sharing the outbox records but does not send until the first one exits.

Threads: public methods from any thread (they only touch state under `_cv`); `_run` and
everything it calls is the sender thread, which owns the HTTP session and its own outbox
connection.
"""

from __future__ import annotations

import base64
import logging
import sqlite3
import threading
import time
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import orjson

from telemetry.backoff import RETRYABLE_STATUSES, backoff_delay, parse_retry_after
from telemetry.config import TelemetryConfig
from telemetry.outbox import Batch, Outbox, OutboxFile, is_corruption
from telemetry.sender_lock import SenderLock
from telemetry.status import StatusBoard, SyncState

if TYPE_CHECKING:
    import requests

_log = logging.getLogger("reelscope.telemetry.sender")

_GZIP_WBITS = 31  # zlib's gzip container; mtime stays 0
_FAST = 1


def basic_auth(write_key: str) -> str:
    token = base64.b64encode(f"{write_key}:".encode()).decode("ascii")
    return f"Basic {token}"


def encode_batch(batch: Batch, sent_at_ms: int) -> bytes:
    """The request body (uncompressed): the stored event bodies are joined as they are."""
    parts = [b'{"sent_at":%d,"context":' % sent_at_ms, batch.context]
    if batch.drops:
        parts += [b',"drops":', orjson.dumps(dict(batch.drops))]
    parts += [b',"batch":[', b",".join(batch.bodies), b"]}"]
    return b"".join(parts)


@dataclass(frozen=True, slots=True)
class _Answer:
    status: int
    body: Mapping[str, object]
    retry_after: str | None

    def reason(self) -> tuple[str, str]:
        code = self.body.get("code")
        message = self.body.get("message")
        return (
            code if isinstance(code, str) else f"http_{self.status}",
            message if isinstance(message, str) else f"HTTP {self.status}",
        )


class Sender:
    def __init__(
        self,
        file: OutboxFile,
        writer_ready: threading.Event,
        config: TelemetryConfig,
        board: StatusBoard,
        lock: SenderLock,
        *,
        disabled: bool,
    ) -> None:
        self._file = file
        self._writer_ready = writer_ready
        self._config = config
        self._board = board
        self._lock = lock
        self._thread = threading.Thread(
            target=self._run, name="reelscope-telemetry-sender", daemon=True
        )
        self._cv = threading.Condition()
        # Everything below is guarded by _cv.
        self._endpoint = config.endpoint.rstrip("/") + "/v1/batch"
        self._authorization = basic_auth(config.write_key)
        self._pending_rows = 0
        self._pending_bytes = 0
        self._due: float | None = None  # monotonic time of the next timed flush
        self._flush_target = 0  # send at once until every seq up to this one is gone
        self._sent_through = 0  # every seq up to this one has left the outbox
        self._retry_at: float | None = None  # monotonic; set while backing off
        self._auth_failed = False
        self._disabled = disabled
        self._locked_out = False  # another instance holds the sender lock
        self._force = False
        self._sync_pending = False  # the next commit goes at once (sync_now before it)
        self._stopping = False
        # Sender thread only.
        self._failures = 0
        self._limit = config.batch_max_events
        self._dead_letters = 0

    # Called from any thread

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        with self._cv:
            self._stopping = True
            self._cv.notify_all()

    def join(self, timeout: float) -> bool:
        if self._thread.is_alive():
            self._thread.join(timeout)
        return not self._thread.is_alive()

    def notify_committed(
        self, critical: bool, pending_rows: int, pending_bytes: int, last_seq: int
    ) -> None:
        """The writer committed events. Never wakes the sender while it backs off."""
        with self._cv:
            self._pending_rows, self._pending_bytes = pending_rows, pending_bytes
            if critical or self._sync_pending:
                self._flush_target = max(self._flush_target, last_seq)
                self._sync_pending = False
            new_timer = self._due is None
            if new_timer:
                self._due = time.monotonic() + self._config.flush_interval
            urgent = self._sent_through < self._flush_target
            if self._idle_waiting() and (urgent or new_timer or self._batch_ready()):
                self._cv.notify_all()

    def request_flush(self, through_seq: int) -> None:
        with self._cv:
            self._flush_target = max(self._flush_target, through_seq)
            if self._idle_waiting():
                self._cv.notify_all()

    def wait_sent(self, through_seq: int, deadline: float) -> bool:
        """Wait until every event up to `through_seq` has left the outbox (delivered or
        dead-lettered). Gives up early when sending cannot happen before `deadline`."""
        with self._cv:
            while self._sent_through < through_seq:
                if self._stopping or self._auth_failed or self._disabled or self._locked_out:
                    return False
                if self._retry_at is not None and self._retry_at > deadline:
                    return False
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cv.wait(remaining)
            return True

    def sync_now(self) -> None:
        """Send now, even while backing off or after an auth failure (a user's request),
        and send the writer's next commit at once too (it holds what was just tracked)."""
        with self._cv:
            self._force = True
            self._sync_pending = True
            self._cv.notify_all()

    def set_endpoint(self, endpoint: str, write_key: str) -> None:
        with self._cv:
            self._endpoint = endpoint.rstrip("/") + "/v1/batch"
            self._authorization = basic_auth(write_key)
            self._auth_failed = False
            self._retry_at = None
            self._cv.notify_all()
        if not self._disabled:
            self._board.update(state=SyncState.OK, last_error=None, retry_at=None)

    def set_disabled(self, disabled: bool) -> None:
        with self._cv:
            self._disabled = disabled
            self._pending_rows = self._pending_bytes = 0
            self._cv.notify_all()

    def _idle_waiting(self) -> bool:
        return self._retry_at is None and not self._auth_failed

    def _batch_ready(self) -> bool:
        return (
            self._pending_rows >= self._config.batch_max_events
            or self._pending_bytes >= self._config.batch_max_bytes
        )

    # Sender thread

    def _run(self) -> None:
        self._writer_ready.wait()
        import requests  # ~100 ms to import: paid here, on the sender thread, not at start-up

        session = requests.Session()
        outbox: Outbox | None = None
        try:
            outbox = self._open_and_count()
            while self._wait_for_work():
                try:
                    outbox = self._file.fresh(outbox) if outbox else self._file.connect()
                    self._send_once(outbox, session)
                except sqlite3.Error as exc:
                    if outbox is not None and is_corruption(exc):
                        outbox = self._file.recover(outbox, exc)
                    else:
                        _log.exception("telemetry outbox error in the sender")
                    self._back_off(SyncState.BACKING_OFF, f"outbox error: {exc}", None)
                except Exception as exc:
                    _log.exception("telemetry sender failed")
                    self._back_off(SyncState.BACKING_OFF, f"internal error: {exc}", None)
        finally:
            session.close()
            if outbox is not None:
                outbox.close()
            self._lock.release()

    def _open_and_count(self) -> Outbox | None:
        """Open the outbox and schedule events left over from an earlier launch at once."""
        try:
            outbox = self._file.connect()
            self._dead_letters = outbox.dead_letter_count()
            with self._cv:
                rows, size = outbox.totals()
                self._pending_rows, self._pending_bytes = rows, size
                if rows and self._due is None:
                    self._due = time.monotonic()
        except sqlite3.Error:
            _log.exception("cannot open the telemetry outbox %s", self._file.path)
            return None
        self._board.update(pending=rows, dead_letter=self._dead_letters)
        return outbox

    def _wait_for_work(self) -> bool:
        with self._cv:
            while True:
                if self._stopping:
                    return False
                if self._force:
                    self._force = False
                    return True
                now = time.monotonic()
                if self._disabled or self._auth_failed:
                    self._cv.wait()
                elif self._retry_at is not None:
                    if now >= self._retry_at:
                        return True
                    self._cv.wait(self._retry_at - now)
                elif self._pending_rows > 0 or self._sent_through < self._flush_target:
                    if (
                        self._sent_through < self._flush_target
                        or self._batch_ready()
                        or (self._due is not None and now >= self._due)
                    ):
                        return True
                    self._cv.wait(None if self._due is None else self._due - now)
                else:
                    self._cv.wait()

    def _send_once(self, outbox: Outbox, session: requests.Session) -> None:
        if not self._lock.try_acquire():
            with self._cv:
                self._locked_out = True
                self._due = time.monotonic() + self._config.flush_interval
                self._cv.notify_all()
            self._board.update(last_error="another Reelscope instance is sending telemetry")
            return
        with self._cv:
            self._locked_out = False
            endpoint, authorization = self._endpoint, self._authorization
        batch, last_seq = outbox.read_batch(self._limit, self._config.batch_max_bytes)
        if batch is None:
            self._settle(outbox, last_seq, delivered=False)
            return
        with self._cv:
            self._sent_through = max(self._sent_through, batch.first_seq - 1)
        body = encode_batch(batch, self._config.wall_clock_ns() // 1_000_000)
        try:
            response = session.post(
                endpoint,
                data=zlib.compress(body, _FAST, wbits=_GZIP_WBITS),
                headers={
                    "Authorization": authorization,
                    "Content-Type": "application/json",
                    "Content-Encoding": "gzip",
                },
                timeout=(self._config.connect_timeout, self._config.read_timeout),
            )
        except OSError as exc:  # requests' errors derive from IOError (= OSError)
            self._back_off(SyncState.OFFLINE, f"collector unreachable: {exc}", None)
            return
        with self._cv:
            if self._disabled:
                return  # opted out meanwhile: the outbox has been (or is being) purged
        answer = _Answer(
            response.status_code,
            _json_object(response.content),
            response.headers.get("Retry-After"),
        )
        self._handle(outbox, batch, answer)

    def _handle(self, outbox: Outbox, batch: Batch, answer: _Answer) -> None:
        status = answer.status
        if 200 <= status < 300:
            rejected = _rejected(answer.body.get("rejected"))
            duplicates = answer.body.get("duplicates")
            outbox.acknowledge(
                batch,
                rejected,
                duplicates if isinstance(duplicates, int) else 0,
                history_rows=self._config.history_max_rows,
            )
            if rejected:
                _log.warning("collector rejected %d events: %s", len(rejected), rejected[0][2])
                self._dead_letters = outbox.dead_letter_count()
            self._failures = 0
            self._limit = min(self._config.batch_max_events, self._limit * 2)
            self._settle(outbox, batch.last_seq, delivered=True)
        elif status in {400, 413, 422}:
            code, message = answer.reason()
            if len(batch) > 1:
                self._limit = max(1, len(batch) // 2)
                _log.info("collector answered %d to %d events; halving", status, len(batch))
                with self._cv:
                    self._force = True  # the halves go at once, not at the next timer
            else:
                _log.warning("collector refused event %s: %s", batch.event_ids[0], message)
                outbox.dead_letter(
                    batch, status, code, message, history_rows=self._config.history_max_rows
                )
                self._dead_letters = outbox.dead_letter_count()
                self._settle(outbox, batch.last_seq, delivered=False)
        elif status in {401, 403}:
            _, message = answer.reason()
            with self._cv:
                self._auth_failed = True
                self._cv.notify_all()
            _log.error("collector refused the write key (%d): sending stopped", status)
            self._board.update(state=SyncState.AUTH_FAILED, last_error=f"{status}: {message}")
        else:
            _, message = answer.reason()
            retry_after = parse_retry_after(
                answer.retry_after, now=time.time(), limit=self._config.retry_after_max
            )
            if status not in RETRYABLE_STATUSES:
                _log.error("collector answered %d (%s); retrying later", status, message)
            self._back_off(SyncState.BACKING_OFF, f"{status}: {message}", retry_after)

    def _settle(self, outbox: Outbox, through_seq: int, *, delivered: bool) -> None:
        """Every seq up to `through_seq` has left the outbox: update the bookkeeping."""
        with self._cv:
            # Totals are read under the lock so a commit's notification cannot be overwritten
            # by an older reading (which could leave new events without a timer).
            rows, size = outbox.totals()
            self._sent_through = max(self._sent_through, through_seq)
            self._pending_rows, self._pending_bytes = rows, size
            self._retry_at = None
            self._due = time.monotonic() + self._config.flush_interval if rows else None
            self._cv.notify_all()
        changes: dict[str, object] = {"pending": rows, "dead_letter": self._dead_letters}
        if delivered:
            changes |= {"state": SyncState.OK, "last_success": time.time(), "retry_at": None}
            changes["last_error"] = None
        self._board.update(**changes)

    def _back_off(self, state: SyncState, error: str, retry_after: float | None) -> None:
        config = self._config
        delay = backoff_delay(
            self._failures,
            base=config.backoff_base,
            cap=config.backoff_cap,
            jitter=config.jitter,
            retry_after=retry_after,
        )
        self._failures += 1
        with self._cv:
            self._retry_at = time.monotonic() + delay
            self._cv.notify_all()
        _log.info("telemetry send failed (%s); next attempt in %.1f s", error, delay)
        self._board.update(state=state, last_error=error, retry_at=time.time() + delay)


def _json_object(content: bytes) -> Mapping[str, object]:
    try:
        value = orjson.loads(content) if content else {}
    except orjson.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def _rejected(value: object) -> list[tuple[int, str, str]]:
    if not isinstance(value, list):
        return []
    rejected = []
    for entry in value:
        if isinstance(entry, dict) and isinstance(entry.get("index"), int):
            rejected.append(
                (
                    entry["index"],
                    str(entry.get("code", "rejected")),
                    str(entry.get("message", "")),
                )
            )
    return rejected
