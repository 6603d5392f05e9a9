"""The outbox's file: opening it (WAL, integrity check, migration), the generation that every
connection checks, and recovery: a corrupt file or one from a newer schema is moved aside and a
fresh outbox started, counting what was lost as drops; a little disk space is kept in reserve
for the last transaction on a full disk.

Corruption (`SQLITE_CORRUPT`, `SQLITE_NOTADB`) or a file from a newer schema is moved aside as
`<name>.corrupt-<time>` (with its -wal and -shm) and a fresh outbox started, with a log line:
never a crash loop. `OutboxFile` coordinates that between the threads holding connections.

Threads: an `OutboxFile` may be used from any thread (its own lock guards the generation).
Opening, checking and moving the file aside run inside the fork gate
(`telemetry.client.fork_gate`), like every other SQLite call of the client.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from contextlib import closing
from pathlib import Path
from typing import Final

from telemetry.client.fork_gate import gated_call
from telemetry.client.outbox import Outbox, PendingSeen
from telemetry.client.outbox_schema import UnusableOutboxError, migrate
from telemetry.client.wal_check import wal_check

_log = logging.getLogger("reelscope.telemetry.outbox")

# Disk space kept back for the last transaction at exit when the disk is full.
_RESERVE_BYTES: Final = 256 * 1024
_CORRUPTION_CODES: Final = frozenset({sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB})
CORRUPT: Final = "corrupt"  # drop reason: pending events lost with a damaged file


def is_corruption(exc: BaseException) -> bool:
    """A damaged file, by its primary result code: the extended ones (`SQLITE_CORRUPT_INDEX`,
    `_SEQUENCE`, `_VTAB`...) mean the same."""
    if isinstance(exc, UnusableOutboxError):
        return True
    code = getattr(exc, "sqlite_errorcode", None)
    return (
        isinstance(exc, sqlite3.DatabaseError)
        and isinstance(code, int)
        and (code & 0xFF) in _CORRUPTION_CODES
    )


def is_disk_full(exc: BaseException) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    return isinstance(code, int) and code & 0xFF == sqlite3.SQLITE_FULL


class OutboxFile:
    """The outbox's path and generation. Recovery from corruption bumps the generation; every
    connection opened under an older one must reconnect (`fresh()`).

    Pending events lost with a damaged file are counted as drops (reason `corrupt`) in the
    fresh one, with the drop counts the old file still had to report: a file moved aside is
    counted from its own `stats` if that still reads, else from the pending total this
    process last read; a damaged WAL from a repaired copy of it (`wal_check`)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._generation = 0
        # Serialises this process's write transactions (writer and sender threads). SQLite's
        # own busy handler polls with sleeps of 1, 2, 5, 10... ms, so a thread finding the
        # file locked by the other one lost several ms per transaction; a lock hands over
        # at once. Another process sharing the file still waits in the busy handler.
        self._write_lock = threading.Lock()
        self._seen = PendingSeen()
        self._lost: dict[str, int] = {}  # to record in the fresh file
        self._wal_checked = False

    @gated_call
    def connect(self) -> Outbox:
        with self._lock:
            if not self._wal_checked:
                self._wal_checked = True
                self._check_files()
            try:
                outbox = Outbox(self._open(), self._generation, self._write_lock, self._seen)
            except sqlite3.DatabaseError as exc:
                if not is_corruption(exc):
                    raise
                self._move_aside(exc)
                outbox = Outbox(self._open(), self._generation, self._write_lock, self._seen)
            if self._lost:
                try:
                    outbox.record_drops(self._lost)
                    self._lost = {}
                except sqlite3.Error as exc:  # kept for the next connection
                    _log.error("could not count the events lost with the old outbox: %s", exc)
            return outbox

    def fresh(self, outbox: Outbox) -> Outbox:
        """`outbox` itself, or a new connection if the file was replaced since it was opened."""
        if outbox.generation == self._generation:
            return outbox
        outbox.close()
        return self.connect()

    @gated_call
    def recover(self, outbox: Outbox, exc: BaseException, *, delivered: int = 0) -> Outbox:
        """Move the corrupt file aside (once, whichever thread noticed first) and reconnect.
        `delivered`: pending rows the collector is known to have (not counted as lost)."""
        outbox.close()
        with self._lock:
            if outbox.generation == self._generation:
                self._move_aside(exc, delivered)
        return self.connect()

    def keep_reserve(self) -> None:
        """Set aside a little disk space (`<name>.reserve`, 256 KiB of zeros, written for real
        so the blocks are allocated) for `release_reserve`. Best effort."""
        reserve = self._reserve_path()
        if reserve.exists():
            return
        try:
            with open(reserve, "wb") as file:
                file.write(bytes(_RESERVE_BYTES))
        except OSError:
            reserve.unlink(missing_ok=True)

    def release_reserve(self) -> bool:
        """Free the reserved space so a last small transaction fits on a full disk (the drop
        counts of events lost at exit). True if there was a reserve to free."""
        try:
            self._reserve_path().unlink()
        except FileNotFoundError:
            return False
        return True

    def _reserve_path(self) -> Path:
        return self.path.with_name(self.path.name + ".reserve")

    def remove_moved_aside(self) -> None:
        """Delete copies moved aside after corruption: they hold the user's data too."""
        for path in self.path.parent.glob(f"{self.path.name}.corrupt-*"):
            path.unlink(missing_ok=True)

    def _check_files(self) -> None:
        """Before this process first opens the file: say so when a file that is already
        there lost data SQLite will not report (it opens both cases without an error)."""
        try:
            if self.path.exists() and self.path.stat().st_size == 0:
                # SQLite writes the header when it creates the file, so an empty one was
                # truncated (or a start-up was killed within its first milliseconds).
                _log.warning(
                    "telemetry outbox %s is empty (0 bytes): truncated? Whatever it held is "
                    "lost, and how much is not known",
                    self.path,
                )
                return
            lost = wal_check(self.path)
        except (OSError, sqlite3.Error) as exc:
            _log.error("could not check the telemetry outbox %s: %s", self.path, exc)
            return
        if lost:
            self._lost[CORRUPT] = self._lost.get(CORRUPT, 0) + lost

    def _open(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # A migration is a write transaction: serialised with the others.
        with self._write_lock:
            conn = sqlite3.connect(self.path, timeout=5.0, isolation_level=None)
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
                check = conn.execute("PRAGMA quick_check").fetchall()
                if check != [("ok",)]:
                    raise UnusableOutboxError(f"integrity check failed: {check[:3]}")
                migrate(conn)
            except BaseException:
                conn.close()
                raise
        return conn

    def _move_aside(self, exc: BaseException, delivered: int = 0) -> None:
        stamp = time.strftime("%Y%m%dT%H%M%S")
        target = self.path.with_name(f"{self.path.name}.corrupt-{stamp}-{os.getpid()}")
        for suffix in ("", "-wal", "-shm"):
            source = Path(f"{self.path}{suffix}")
            try:
                source.replace(Path(f"{target}{suffix}"))
            except FileNotFoundError:
                continue
        self._generation += 1
        lost = _still_pending(target)
        if lost is None:
            lost = {CORRUPT: self._seen.rows} if self._seen.rows else {}
            how = "as last seen by this process"
        else:
            how = "as read from the damaged file"
        if CORRUPT in lost:
            lost[CORRUPT] = max(0, lost[CORRUPT] - delivered)
        for reason, count in lost.items():
            self._lost[reason] = self._lost.get(reason, 0) + count
        _log.warning(
            "telemetry outbox %s unusable (%s); moved aside to %s and started a fresh one;"
            " %d pending events lost (%s), counted as dropped",
            self.path,
            exc,
            target,
            lost.get(CORRUPT, 0),
            how,
        )


def _still_pending(path: Path) -> dict[str, int] | None:
    """What a file moved aside held that is now lost: its pending events (reason `corrupt`)
    and its unreported drop counts; None if it cannot be read."""
    try:
        with closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as conn:
            (rows,) = conn.execute("SELECT rows FROM stats WHERE id = 0").fetchone()
            drops = dict(conn.execute("SELECT reason, count FROM drops WHERE count > 0"))
    except (sqlite3.Error, TypeError):  # TypeError: no stats row
        return None
    lost = {str(reason): int(count) for reason, count in drops.items()}
    if rows:
        lost[CORRUPT] = lost.get(CORRUPT, 0) + int(rows)
    return lost
