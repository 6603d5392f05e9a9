"""Finds committed transactions a damaged write-ahead log would lose without a word, and counts
the pending events they held.

SQLite replays a WAL frame by frame and stops at the first frame whose checksum fails: what
follows, committed transactions included, is dropped silently and the file opens as if they
never happened. `wal_check` reads the log itself before the outbox is first opened (holding
SQLite's write lock, so no other instance is appending to it meanwhile) and looks for a frame of
the current round of the log (its salts match the header) that fails, or a frame whose salts
were damaged, while a commit frame of the same round comes after it or is itself the damaged
one. It then counts the pending events those commits
held by replaying a copy of the files whose checksums are recomputed (the damaged page is
taken as it is) and counting the events with a seq above the highest one the real file kept.
The count is None when that copy cannot be read (the damage hit the tables it needs).

A torn last write after a power cut looks the same and is reported the same way: it is a loss
too. Costs one pass over the log (a few MB at most, ~0.1 ms per page) when a log is left over,
i.e. after a crash or while another instance runs; nothing otherwise.

Threads: whichever thread opens the outbox first (the writer's).
"""

from __future__ import annotations

import logging
import shutil
import sqlite3
import struct
import tempfile
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Final

_log = logging.getLogger("reelscope.telemetry.outbox")

_HEADER: Final = struct.Struct(">8I")
_FRAME: Final = struct.Struct(">6I")
_HEADER_SIZE: Final = 32
_FRAME_HEADER_SIZE: Final = 24
# The magic number says in which byte order the checksums read the 32-bit words.
_ORDERS: Final = {0x377F0682: "<", 0x377F0683: ">"}
_MASK: Final = 0xFFFFFFFF


@dataclass(frozen=True, slots=True)
class _Damage:
    page_size: int
    order: str
    salts: tuple[int, int]
    first_bad: int  # frame index; -1 for the header
    lost_commits: int
    frames: int  # up to the last commit of this round: what a repaired log replays


def _checksum(data: bytes, s0: int, s1: int, order: str) -> tuple[int, int]:
    words = struct.unpack(f"{order}{len(data) // 4}I", data)
    for i in range(0, len(words), 2):
        s0 = (s0 + words[i] + s1) & _MASK
        s1 = (s1 + words[i + 1] + s0) & _MASK
    return s0, s1


def _frame_payload(data: bytes, offset: int, page_size: int) -> bytes:
    """What a frame's checksum covers: the first 8 bytes of its header and the page."""
    start = offset + _FRAME_HEADER_SIZE
    return data[offset : offset + 8] + data[start : start + page_size]


def _find_damage(data: bytes) -> _Damage | None:
    if len(data) < _HEADER_SIZE:
        return None
    magic, _, page_size, _, salt1, salt2, h1, h2 = _HEADER.unpack_from(data)
    order = _ORDERS.get(magic)
    if order is None or page_size < 512 or page_size & (page_size - 1):
        return None  # not a log whose frames can be told apart
    # The log SQLite replays ends at the first frame that is not of this round (its salts) or
    # fails its checksum. Frames of this round further on, commits among them, mean damage:
    # a round is written from the start of the file, frame after frame.
    end = None if _checksum(data[:24], 0, 0, order) == (h1, h2) else -1
    lost_commits = frames = 0
    previous = (h1, h2)
    frame_size = _FRAME_HEADER_SIZE + page_size
    for index, offset in enumerate(range(_HEADER_SIZE, len(data) - frame_size + 1, frame_size)):
        _, commit, s1, s2, c1, c2 = _FRAME.unpack_from(data, offset)
        current = (s1, s2) == (salt1, salt2)
        if end is None and not (
            current
            and _checksum(_frame_payload(data, offset, page_size), *previous, order) == (c1, c2)
        ):
            end = index
        previous = (c1, c2)
        if current and commit:
            frames = index + 1
            if end is not None:
                lost_commits += 1
    if end is None or not lost_commits:
        return None
    return _Damage(page_size, order, (salt1, salt2), end, lost_commits, frames)


def _repaired(data: bytes, damage: _Damage) -> bytes:
    """This round of the log up to its last commit, salts and checksums rewritten, so SQLite
    replays all of it (damaged pages as they are)."""
    order, page_size = damage.order, damage.page_size
    frame_size = _FRAME_HEADER_SIZE + page_size
    out = bytearray(data[: _HEADER_SIZE + damage.frames * frame_size])
    previous = _checksum(bytes(out[:24]), 0, 0, order)
    struct.pack_into(">2I", out, 24, *previous)
    for offset in range(_HEADER_SIZE, len(out), frame_size):
        struct.pack_into(">2I", out, offset + 8, *damage.salts)
        previous = _checksum(_frame_payload(bytes(out), offset, page_size), *previous, order)
        struct.pack_into(">2I", out, offset + 16, *previous)
    return bytes(out)


def _pending_after(path: Path, wal: bytes, last_seq: int) -> int | None:
    """Pending events above `last_seq` in a replay of `path` with the log `wal`."""
    try:
        with tempfile.TemporaryDirectory(prefix="outbox-wal-", dir=path.parent) as scratch:
            copy = Path(scratch) / "outbox.sqlite3"
            shutil.copyfile(path, copy)
            Path(f"{copy}-wal").write_bytes(wal)
            with closing(sqlite3.connect(copy, isolation_level=None)) as conn:
                (count,) = conn.execute(
                    "SELECT COUNT(*) FROM events WHERE seq > ?", (last_seq,)
                ).fetchone()
                return int(count)
    except (OSError, sqlite3.Error):
        return None


def wal_check(path: Path) -> int:
    """Events lost with a damaged log of the outbox at `path` (0 if none or not known); logs a
    warning when a log is damaged."""
    wal_path = Path(f"{path}-wal")
    if not path.exists() or not wal_path.exists() or wal_path.stat().st_size <= _HEADER_SIZE:
        return 0
    with closing(sqlite3.connect(path, timeout=5.0, isolation_level=None)) as conn:
        # The write lock: nobody appends to the log while it is read. Opening replays the
        # log up to the damage, as every later connection will.
        conn.execute("BEGIN IMMEDIATE")
        try:
            damage = _find_damage(wal_path.read_bytes())
            if damage is None:
                return 0
            wal = _repaired(wal_path.read_bytes(), damage)
            row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'events'").fetchone()
            lost = _pending_after(path, wal, 0 if row is None else int(row[0]))
        finally:
            conn.execute("ROLLBACK")
    where = "its header" if damage.first_bad < 0 else f"frame {damage.first_bad}"
    _log.warning(
        "telemetry outbox %s: its write-ahead log is damaged at %s; SQLite drops the %d"
        " transactions committed from there on: %s pending events lost, counted as dropped",
        path,
        where,
        damage.lost_commits,
        "an unknown number of" if lost is None else lost,
    )
    return lost or 0
