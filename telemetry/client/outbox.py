"""The writer's store: `Outbox`, a read-write connection to the outbox file that appends
events, evicts and expires them within their bounds, reads batches for the sender and records
the collector's answers (history, dead letters, drop counts). The file's schema is
`outbox_schema`; opening, corruption recovery and the disk reserve are `outbox_file`; the
privacy window's read-only views are `outbox_reader`.

Threads: an `Outbox` belongs to the one thread that opened it: the writer thread and the sender
thread each hold their own, and serialise their write transactions on the lock they share.
Every public method that touches the connection runs inside the fork gate
(`telemetry.client.fork_gate`) and finishes its statements and transaction before returning,
so a fork never copies a SQLite call or transaction of this process into the child.
"""

from __future__ import annotations

import functools
import logging
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Final

import orjson

from telemetry.client.fork_gate import gated_call
from telemetry.client.outbox_schema import ACCEPTED, DEAD_LETTER, DELIVERED, DUPLICATE
from telemetry.contracts.events import Priority

_log = logging.getLogger("reelscope.telemetry.outbox")

# event_id, type, priority, created_ms (wall), body, context body, critical
QueuedEvent = tuple[str, str, int, int, bytes, bytes, bool]

# Rows per INSERT statement: a writer group (100) fits in one; a backlog committed after a
# disk error may be larger, and SQLite caps the variables per statement (999 before 3.32).
_ROWS_PER_INSERT: Final = 128
# The file is compacted (VACUUM) when at least this much of it, and half of it, is free pages:
# after a long offline stretch has been delivered, not after every batch.
_SHRINK_MIN_FREE: Final = 4 * 1024 * 1024


@functools.cache
def _insert_rows(count: int) -> tuple[str, str]:
    """Statements adding `count` events and their bodies, one row of values per event.

    One multi-row INSERT rather than `executemany`: the sqlite3 module releases the GIL around
    every step, once per row with `executemany`, and while the app's thread is busy each
    release costs the writer up to the interpreter's switch interval (5 ms) to get it back."""
    events = ",".join(["(?,?,?,?,?,?,?)"] * count)
    bodies = ",".join(["(?,?)"] * count)
    return (
        "INSERT OR IGNORE INTO events"  # noqa: S608 - placeholders only
        f" (seq, event_id, type, priority, created_ms, size, ctx_id) VALUES {events}",
        f"INSERT INTO bodies (seq, body) VALUES {bodies}",  # noqa: S608 - placeholders only
    )


_TO_DEAD_LETTER: Final = (
    "INSERT OR IGNORE INTO dead_letter"
    " SELECT seq, event_id, type, created_ms, body, ?, ?, ?, ? FROM events JOIN bodies USING (seq)"
)
_TO_HISTORY: Final = (
    "INSERT OR IGNORE INTO history SELECT seq, event_id, type, created_ms, ?, ?"
    " FROM events WHERE seq BETWEEN ? AND ?"
)
# The newest `max_rows` are kept: the subquery walks the primary key back `max_rows` entries
# and is NULL (nothing deleted) while the history is smaller.
_HISTORY_CUTOFF: Final = "SELECT seq FROM history ORDER BY seq DESC LIMIT 1 OFFSET ?"


def now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True, slots=True)
class Batch:
    """Consecutive outbox rows sharing one context, ready to send."""

    first_seq: int
    last_seq: int
    event_ids: tuple[str, ...]
    bodies: tuple[bytes, ...]
    context: bytes
    drops: Mapping[str, int]

    def __len__(self) -> int:
        return len(self.bodies)


class PendingSeen:
    """The pending row count this process last read from the outbox: how many events a file
    that can no longer be read held, at least roughly."""

    __slots__ = ("rows",)

    def __init__(self) -> None:
        self.rows = 0


class Outbox:
    """A read-write connection to the outbox, for the one thread that opened it."""

    def __init__(
        self,
        conn: sqlite3.Connection,
        generation: int,
        write_lock: threading.Lock,
        seen: PendingSeen | None = None,
    ) -> None:
        self._conn = conn
        self.generation = generation
        self._write_lock = write_lock
        self._seen = seen or PendingSeen()
        self._context_ids: dict[bytes, int] = {}

    @gated_call
    def close(self) -> None:
        self._conn.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        conn = self._conn
        with self._write_lock:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                # Context ids handed out inside the rolled-back transaction no longer exist.
                self._context_ids.clear()
                raise
            conn.execute("COMMIT")

    # Writer side

    @gated_call
    def append(
        self,
        events: Sequence[QueuedEvent],
        drops: Mapping[str, int],
        *,
        max_rows: int,
        max_bytes: int,
    ) -> int:
        """Store `events` and `drops` in one transaction, then evict down to the bounds.
        Returns how many events the bounds evicted."""
        with self._transaction() as conn:
            # Seqs are given here (the transaction holds the write lock) so each body can be
            # stored under its event's seq; an event id already stored leaves a gap.
            base = self.last_seq()
            for start in range(0, len(events), _ROWS_PER_INSERT):
                self._insert(base + start, events[start : start + _ROWS_PER_INSERT])
            rows, size = conn.execute(
                "SELECT COUNT(*), TOTAL(size) FROM events WHERE seq > ?", (base,)
            ).fetchone()
            if rows < len(events):
                conn.execute(
                    "DELETE FROM bodies WHERE seq > ? AND seq NOT IN"
                    " (SELECT seq FROM events WHERE seq > ?)",
                    (base, base),
                )
            self._count(rows, int(size))
            evicted = self._evict(max_rows, max_bytes)
            self._add_drops({**drops, "outbox_full": drops.get("outbox_full", 0) + evicted})
        return evicted

    @gated_call
    def record_drops(self, drops: Mapping[str, int]) -> None:
        """Count events lost outside a commit of events (a damaged file)."""
        with self._transaction():
            self._add_drops(drops)

    def _insert(self, base: int, events: Sequence[QueuedEvent]) -> None:
        """Add `events` with seqs from `base + 1` (an event id already stored is skipped)."""
        insert_events, insert_bodies = _insert_rows(len(events))
        values: list[object] = []
        bodies: list[object] = []
        for n, (event_id, type_, priority, created, body, ctx, _) in enumerate(events, base + 1):
            values += (n, event_id, type_, priority, created, len(body), self._context_id(ctx))
            bodies += (n, body)
        self._conn.execute(insert_events, values)
        self._conn.execute(insert_bodies, bodies)

    @gated_call
    def expire(self, max_age: float, history_max_age: float) -> int:
        """Drop events older than `max_age` seconds (reason `expired`) and forget history rows
        acknowledged more than `history_max_age` seconds ago. Returns the events dropped."""
        with self._transaction() as conn:
            now = now_ms()
            cutoff = now - int(max_age * 1000)
            conn.execute(
                "DELETE FROM bodies WHERE seq IN (SELECT seq FROM events WHERE created_ms < ?)",
                (cutoff,),
            )
            expired = self._remove("created_ms < ?", (cutoff,))
            self._add_drops({"expired": expired})
            # Scans, but of a table bounded to a few thousand rows, and only at the writer's
            # expiry cadence (start-up, then hourly).
            history_cutoff = now - int(history_max_age * 1000)
            conn.execute(
                "DELETE FROM bodies WHERE seq IN (SELECT seq FROM history WHERE acked_ms < ?)",
                (history_cutoff,),
            )
            conn.execute("DELETE FROM history WHERE acked_ms < ?", (history_cutoff,))
        return expired

    @gated_call
    def purge(self) -> None:
        """Delete every local event (pending and history), dead letter and drop count, and
        shrink the files so the deleted data does not linger in free pages or the WAL."""
        with self._transaction() as conn:
            for table in ("events", "bodies", "history", "dead_letter", "drops", "contexts"):
                conn.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed table names
            conn.execute("UPDATE stats SET rows = 0, bytes = 0 WHERE id = 0")
        self._context_ids.clear()
        with self._write_lock:
            self._conn.execute("VACUUM")
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    @gated_call
    def shrink_if_sparse(self) -> bool:
        """Compact the file (and truncate the WAL) when most of it is free pages, as after a
        long offline backlog was delivered: deleted pages are reused but never returned.
        True if it did."""
        conn = self._conn
        (page_size,) = conn.execute("PRAGMA page_size").fetchone()
        (pages,) = conn.execute("PRAGMA page_count").fetchone()
        (free,) = conn.execute("PRAGMA freelist_count").fetchone()
        if free * page_size < _SHRINK_MIN_FREE or free * 2 < pages:
            return False
        with self._write_lock:
            conn.execute("VACUUM")
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        _log.info("telemetry outbox compacted: %d of %d pages were free", free, pages)
        return True

    def _context_id(self, body: bytes) -> int:
        found = self._context_ids.get(body)
        if found is not None:
            return found
        self._conn.execute("INSERT OR IGNORE INTO contexts (body) VALUES (?)", (body,))
        (found,) = self._conn.execute("SELECT id FROM contexts WHERE body = ?", (body,)).fetchone()
        self._context_ids[body] = found
        return int(found)

    def _evict(self, max_rows: int, max_bytes: int) -> int:
        rows, size = self.totals()
        excess_rows, excess_bytes = rows - max_rows, size - max_bytes
        if excess_rows <= 0 and excess_bytes <= 0:
            return 0
        victims: list[tuple[int]] = []
        removed_bytes = 0
        for priority in Priority:
            cursor = self._conn.execute(
                "SELECT seq, size FROM events WHERE priority = ? ORDER BY seq", (int(priority),)
            )
            for seq, event_size in cursor:
                if excess_rows <= 0 and excess_bytes <= 0:
                    break
                victims.append((seq,))
                removed_bytes += event_size
                excess_rows -= 1
                excess_bytes -= event_size
            cursor.close()
            if excess_rows <= 0 and excess_bytes <= 0:
                break
        self._conn.executemany("DELETE FROM events WHERE seq = ?", victims)
        self._conn.executemany("DELETE FROM bodies WHERE seq = ?", victims)
        self._count(-len(victims), -removed_bytes)
        return len(victims)

    def _count(self, rows: int, size: int) -> None:
        """Add to the pending totals (once per transaction: per-row triggers cost ~1 µs a row)."""
        if rows:
            self._conn.execute(
                "UPDATE stats SET rows = rows + ?, bytes = bytes + ? WHERE id = 0", (rows, size)
            )

    def _remove(self, where: str, params: Sequence[object]) -> int:
        """Delete the pending rows matching `where` (not their bodies) and count them out."""
        rows, size = self._conn.execute(
            f"SELECT COUNT(*), TOTAL(size) FROM events WHERE {where}",  # noqa: S608 - callers' SQL
            params,
        ).fetchone()
        if rows:
            self._conn.execute(f"DELETE FROM events WHERE {where}", params)  # noqa: S608
            self._count(-rows, -int(size))
        return int(rows)

    def _trim_history(self, max_rows: int) -> None:
        (cutoff,) = self._conn.execute(f"SELECT ({_HISTORY_CUTOFF})", (max_rows,)).fetchone()
        if cutoff is not None:
            self._conn.execute(
                "DELETE FROM bodies WHERE seq IN (SELECT seq FROM history WHERE seq <= ?)",
                (cutoff,),
            )
            self._conn.execute("DELETE FROM history WHERE seq <= ?", (cutoff,))

    def _add_drops(self, drops: Mapping[str, int]) -> None:
        self._conn.executemany(
            "INSERT INTO drops (reason, count) VALUES (?, ?)"
            " ON CONFLICT (reason) DO UPDATE SET count = count + excluded.count",
            [(reason, count) for reason, count in drops.items() if count > 0],
        )

    # Sender side

    @gated_call
    def totals(self) -> tuple[int, int]:
        """(rows, bytes) of events waiting to be sent."""
        rows, size = self._conn.execute("SELECT rows, bytes FROM stats WHERE id = 0").fetchone()
        self._seen.rows = int(rows)
        return int(rows), int(size)

    @gated_call
    def last_seq(self) -> int:
        """The highest seq ever given to an event (0 for a new outbox)."""
        row = self._conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'events'").fetchone()
        return 0 if row is None else int(row[0])

    @gated_call
    def dead_letter_count(self) -> int:
        return int(self._conn.execute("SELECT COUNT(*) FROM dead_letter").fetchone()[0])

    @gated_call
    def read_batch(
        self,
        max_events: int,
        max_bytes: int,
        *,
        after_seq: int = 0,
        in_flight_drops: Mapping[str, int] | None = None,
    ) -> tuple[Batch | None, int]:
        """The oldest events after `after_seq`, up to the limits (checked before adding each
        event), all with the same context, and the highest seq committed; both from one
        snapshot. The batch is None when there are no such events.

        The sender reads the next batch while the previous one is in flight: `after_seq` is
        that batch's last seq, and `in_flight_drops` the drop counts it carries, which are
        still in the table until it is acknowledged and must not be reported twice."""
        conn = self._conn
        conn.execute("BEGIN")
        try:
            # CROSS JOIN keeps `events` the outer loop: walked in seq order, bodies looked up.
            rows = conn.execute(
                "SELECT seq, ctx_id, size, event_id, body FROM events CROSS JOIN bodies"
                " USING (seq) WHERE seq > ? ORDER BY seq LIMIT ?",
                (after_seq, max_events),
            ).fetchall()
            last_seq = self.last_seq()
            if not rows:
                return None, last_seq
            ctx_id = rows[0][1]
            (context,) = conn.execute(
                "SELECT body FROM contexts WHERE id = ?", (ctx_id,)
            ).fetchone()
            drops = dict(conn.execute("SELECT reason, count FROM drops WHERE count > 0"))
        finally:
            conn.execute("COMMIT")
        if in_flight_drops:
            drops = {
                reason: count - in_flight_drops.get(reason, 0)
                for reason, count in drops.items()
                if count > in_flight_drops.get(reason, 0)
            }
        # The envelope around the events: sent_at, context, drops, punctuation.
        budget = max_bytes - len(context) - len(orjson.dumps(drops)) - 64
        taken = 0
        total = 0
        for _, row_ctx, size, _, _ in rows:
            if row_ctx != ctx_id or (taken and total + size + 1 > budget):
                break
            total += size + 1
            taken += 1
        chosen = rows[:taken]
        batch = Batch(
            first_seq=chosen[0][0],
            last_seq=chosen[-1][0],
            event_ids=tuple(row[3] for row in chosen),
            bodies=tuple(row[4] for row in chosen),
            context=bytes(context),
            drops=drops,
        )
        return batch, last_seq

    @gated_call
    def acknowledge(
        self,
        batch: Batch,
        rejected: Sequence[tuple[int, str, str]],
        duplicates: int,
        *,
        history_rows: int,
    ) -> None:
        """The collector stored `batch` except `rejected` (index, code, message), which go to
        the dead-letter table; `duplicates` of the stored ones it already had. The batch moves
        to the history (trimmed to `history_rows`). The drop counts it carried are reported."""
        with self._transaction() as conn:
            acked = now_ms()
            refused = [entry for entry in rejected if 0 <= entry[0] < len(batch)]
            stored = len(batch) - len(refused)
            # The collector answers duplicates with a count, not per event: only an all-new or
            # all-duplicate batch says which each event was.
            if duplicates <= 0:
                outcome = ACCEPTED
            elif duplicates >= stored:
                outcome = DUPLICATE
            else:
                outcome = DELIVERED
            conn.execute(_TO_HISTORY, (acked, outcome, batch.first_seq, batch.last_seq))
            for index, code, message in refused:
                event_id = batch.event_ids[index]
                conn.execute(
                    _TO_DEAD_LETTER + " WHERE event_id = ?", (200, code, message, acked, event_id)
                )
                conn.execute(
                    "UPDATE history SET outcome = ? WHERE seq BETWEEN ? AND ? AND event_id = ?",
                    (DEAD_LETTER, batch.first_seq, batch.last_seq, event_id),
                )
            self._remove("seq BETWEEN ? AND ?", (batch.first_seq, batch.last_seq))
            self._trim_history(history_rows)
            conn.executemany(
                "UPDATE drops SET count = count - ? WHERE reason = ?",
                [(count, reason) for reason, count in batch.drops.items()],
            )
            conn.execute("DELETE FROM drops WHERE count <= 0")

    @gated_call
    def dead_letter(
        self, batch: Batch, status: int, code: str, message: str, *, history_rows: int
    ) -> None:
        """The collector refused the whole `batch` for good: keep it aside with the reason
        (and in the history, trimmed to `history_rows`)."""
        with self._transaction() as conn:
            failed = now_ms()
            conn.execute(
                _TO_DEAD_LETTER + " WHERE seq BETWEEN ? AND ?",
                (status, code, message, failed, batch.first_seq, batch.last_seq),
            )
            conn.execute(_TO_HISTORY, (failed, DEAD_LETTER, batch.first_seq, batch.last_seq))
            self._remove("seq BETWEEN ? AND ?", (batch.first_seq, batch.last_seq))
            self._trim_history(history_rows)
