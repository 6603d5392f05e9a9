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
  exponential backoff, Retry-After as a floor (see `telemetry.client.backoff`).

Pipelining: exactly one request is in flight, but while it is, the sender thread acknowledges
the batch answered before it and reads and compresses the next one, so a backlog costs one
request per batch rather than read + compress + request + acknowledgement. The next batch is
posted only after the current one was answered with a 2xx; any other answer discards it.
`sent_at` is appended to the compressed body when the request goes out, not when it was
prepared.

The cross-process `SenderLock` is taken before the first send, so a second app instance
sharing the outbox records but does not send until the first one exits. A locked-out instance
tries the lock again once per `flush_interval`, whatever is pending or flushed (it never spins
on it). Commits of the other instance are not notified here: an idle sender looks at the
outbox's totals once per `flush_interval` and sends what it finds at once, so another
instance's rows wait at most about two flush intervals.

Threads: public methods from any thread (they only touch state under `_cv`); `_run` and
everything it calls is the sender thread, which owns its own outbox connection. The HTTP
session belongs to the `Courier` thread (`telemetry.client.courier`), which only carries
requests the sender thread hands it, one at a time; the body is `request_body.RequestBody`.
"""

from __future__ import annotations

import enum
import logging
import sqlite3
import threading
import time
from concurrent.futures import Future
from typing import TYPE_CHECKING

from telemetry.client.backoff import RETRYABLE_STATUSES, backoff_delay, parse_retry_after
from telemetry.client.config import TelemetryConfig, insecure_refusal
from telemetry.client.courier import Answer, Courier, answer_of, rejected_entries
from telemetry.client.outbox import Batch, Outbox
from telemetry.client.outbox_file import OutboxFile, is_corruption
from telemetry.client.request_body import RequestBody, basic_auth
from telemetry.client.sender_lock import SenderLock
from telemetry.client.status import StatusBoard, SyncState

if TYPE_CHECKING:
    import requests

_log = logging.getLogger("reelscope.telemetry.sender")


class _Work(enum.Enum):
    STOP = enum.auto()
    SEND = enum.auto()
    POLL = enum.auto()  # idle: look for rows committed by another instance


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
        self._lock_retry_at = 0.0  # monotonic; while locked out, when to try the lock again
        self._poll_at: float | None = None  # monotonic; while idle, when to look at the outbox
        self._force = False
        self._sync_pending = False  # the next commit goes at once (sync_now before it)
        self._stopping = False
        # Sender thread only.
        self._failures = 0
        self._limit = config.batch_max_events
        self._dead_letters = 0
        # 2xx answers the outbox could not record (disk full, locked), oldest first: recorded
        # before anything else is sent, so their batches are not sent again.
        self._unrecorded: list[tuple[Batch, Answer]] = []

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

        courier = Courier(requests.Session())
        outbox: Outbox | None = None
        try:
            outbox = self._open_and_count()
            while (work := self._wait_for_work()) is not _Work.STOP:
                try:
                    outbox = self._file.fresh(outbox) if outbox else self._file.connect()
                    if work is _Work.POLL:
                        self._poll(outbox)
                    else:
                        self._send(outbox, courier)
                except sqlite3.Error as exc:
                    if outbox is not None and is_corruption(exc):
                        # The collector has the unrecorded batch: not lost with the file.
                        delivered = sum(len(batch) for batch, _ in self._unrecorded)
                        self._unrecorded = []
                        outbox = self._file.recover(outbox, exc, delivered=delivered)
                    else:
                        _log.exception("telemetry outbox error in the sender")
                    self._back_off(SyncState.BACKING_OFF, f"outbox error: {exc}", None)
                except Exception as exc:
                    _log.exception("telemetry sender failed")
                    self._back_off(SyncState.BACKING_OFF, f"internal error: {exc}", None)
        finally:
            courier.close()
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

    def _wait_for_work(self) -> _Work:
        with self._cv:
            while True:
                if self._stopping:
                    return _Work.STOP
                if self._force:
                    self._force = False
                    return _Work.SEND
                step = self._next_step(time.monotonic())
                if isinstance(step, _Work):
                    return step
                self._cv.wait(step)

    def _next_step(self, now: float) -> _Work | float | None:
        """What to do now, or how long to wait for it (None: until notified). Under `_cv`."""
        if self._disabled or self._auth_failed:
            return None
        if self._retry_at is not None:
            return _at(self._retry_at, now, _Work.SEND)
        if self._locked_out:
            # Another instance sends these rows; a flush or a critical event here must not
            # turn into a loop of lock attempts. Try again once per interval, to take over
            # when the other instance exits.
            return _at(self._lock_retry_at, now, _Work.SEND)
        if self._pending_rows > 0 or self._sent_through < self._flush_target:
            self._poll_at = None
            if self._sent_through < self._flush_target or self._batch_ready():
                return _Work.SEND
            return None if self._due is None else _at(self._due, now, _Work.SEND)
        # Idle. Only this process's writer notifies commits: rows another instance commits to
        # the shared outbox are found by looking once per interval.
        if self._poll_at is None:
            self._poll_at = now + self._config.flush_interval
        step = _at(self._poll_at, now, _Work.POLL)
        if step is _Work.POLL:
            self._poll_at = None
        return step

    def _poll(self, outbox: Outbox) -> None:
        """Schedule rows that appeared in the outbox without a notification (committed by
        another instance) for now: they may have waited a whole interval already."""
        with self._cv:
            rows, size = outbox.totals()
            if rows and self._pending_rows == 0:
                self._pending_rows, self._pending_bytes = rows, size
                self._due = time.monotonic()

    def _send(self, outbox: Outbox, courier: Courier) -> None:
        """Send the oldest batch, then, while each answer is a 2xx and more is due, the next
        ones, each prepared while the one before it was in flight."""
        if not self._lock.try_acquire():
            with self._cv:
                self._locked_out = True
                self._lock_retry_at = time.monotonic() + self._config.flush_interval
                self._cv.notify_all()
            self._board.update(last_error="another Reelscope instance is sending telemetry")
            return
        with self._cv:
            self._locked_out = False
            refusal = insecure_refusal(self._endpoint, self._config.allow_insecure_http)
            self._auth_failed |= refusal is not None
        if refusal is not None:  # like a refused key: stopped until a new endpoint is set
            _log.error("telemetry not sent: %s", refusal)
            self._board.update(state=SyncState.AUTH_FAILED, last_error=refusal)
            return
        while self._unrecorded:
            self._handle(outbox, *self._unrecorded[0])  # raises again while the disk is full
            del self._unrecorded[0]
        batch, last_seq = outbox.read_batch(self._limit, self._config.batch_max_bytes)
        if batch is None:
            self._settle(outbox, last_seq, delivered=False)
            return
        with self._cv:
            self._sent_through = max(self._sent_through, batch.first_seq - 1)
        body = RequestBody(batch)
        answered: tuple[Batch, Answer] | None = None
        while True:
            request = self._post(courier, body)
            try:
                if answered is not None:
                    self._handle(outbox, *answered)
                    with self._cv:
                        self._sent_through = max(self._sent_through, batch.first_seq - 1)
                upcoming = self._read_ahead(outbox, batch)
                response = request.result()
            except OSError as exc:  # requests' errors derive from IOError (= OSError)
                self._back_off(SyncState.OFFLINE, f"collector unreachable: {exc}", None)
                return
            except sqlite3.Error:
                self._keep_in_flight_answer(request, batch)
                raise
            finally:
                # Whatever failed on this thread, the next attempt must not overlap this one.
                request.exception()
            with self._cv:
                if self._disabled:
                    return  # opted out meanwhile: the outbox has been (or is being) purged
                stopping = self._stopping
            answer = answer_of(response)
            if upcoming is None or stopping or not 200 <= answer.status < 300:
                self._handle(outbox, batch, answer)
                return
            answered = (batch, answer)
            batch, body = upcoming

    def _keep_in_flight_answer(self, request: Future[requests.Response], batch: Batch) -> None:
        """The outbox failed while `batch` was in flight: a 2xx for it is kept to be recorded
        with the others, so it is not sent again either."""
        try:
            answer = answer_of(request.result())
        except OSError:
            return
        if 200 <= answer.status < 300:
            self._unrecorded.append((batch, answer))

    def _post(self, courier: Courier, body: RequestBody) -> Future[requests.Response]:
        with self._cv:
            endpoint, authorization = self._endpoint, self._authorization
        return courier.post(
            endpoint,
            body.at(self._config.wall_clock_ns() // 1_000_000),
            {
                "Authorization": authorization,
                "Content-Type": "application/json",
                "Content-Encoding": "gzip",
            },
            (self._config.connect_timeout, self._config.read_timeout),
        )

    def _read_ahead(self, outbox: Outbox, in_flight: Batch) -> tuple[Batch, RequestBody] | None:
        """The batch after `in_flight`, compressed, if it is due now (by the rules of
        `_wait_for_work`, not counting the rows in flight); else None."""
        in_flight_bytes = sum(map(len, in_flight.bodies))
        with self._cv:
            rows = self._pending_rows - len(in_flight)
            size = self._pending_bytes - in_flight_bytes
            due = rows > 0 and (
                in_flight.last_seq < self._flush_target
                or rows >= self._config.batch_max_events
                or size >= self._config.batch_max_bytes
                or (self._due is not None and time.monotonic() >= self._due)
            )
        if not due:
            return None
        batch, _ = outbox.read_batch(
            self._limit,
            self._config.batch_max_bytes,
            after_seq=in_flight.last_seq,
            in_flight_drops=in_flight.drops,
        )
        return None if batch is None else (batch, RequestBody(batch))

    def _handle(self, outbox: Outbox, batch: Batch, answer: Answer) -> None:
        status = answer.status
        if 200 <= status < 300:
            rejected = rejected_entries(answer.body.get("rejected"))
            duplicates = answer.body.get("duplicates")
            try:
                outbox.acknowledge(
                    batch,
                    rejected,
                    duplicates if isinstance(duplicates, int) else 0,
                    history_rows=self._config.history_max_rows,
                )
            except sqlite3.Error:
                if not any(kept is batch for kept, _ in self._unrecorded):
                    self._unrecorded.append((batch, answer))
                raise
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
        if delivered and not rows:
            self._shrink(outbox)
        changes: dict[str, object] = {"pending": rows, "dead_letter": self._dead_letters}
        if delivered:
            changes |= {"state": SyncState.OK, "last_success": time.time(), "retry_at": None}
            changes["last_error"] = None
        self._board.update(**changes)

    @staticmethod
    def _shrink(outbox: Outbox) -> None:
        """The outbox just emptied: the moment to give back the space a backlog took."""
        try:
            outbox.shrink_if_sparse()
        except sqlite3.Error as exc:  # e.g. no room for the copy: the file stays as it is
            _log.warning("could not compact the telemetry outbox: %s", exc)

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


def _at(deadline: float, now: float, work: _Work) -> _Work | float:
    """`work` once `deadline` has come, else the time left until then."""
    return work if now >= deadline else deadline - now
