"""The crash journal: one small file per live play session, so that a session the app never
closed (a crash, a kill, a power cut of the process) still gets its `session_end`.

A `PlaySession` rewrites its file on every state change, every heartbeat and at least every
couple of seconds while playing (`player.play_session.JOURNAL_EVERY_MS`), and deletes it when
it ends. At the next launch `recover_crashed_sessions` turns each file left behind into a
`session_end` with reason `crash_recovered`, the last known position and the totals.

Writes are atomic (temp file + `os.replace`): a crash leaves the previous snapshot or the new
one, never a torn file. There is no fsync: the journal is for the app dying, not the machine,
and the kernel keeps a dead process's writes; fsync would cost the GUI thread milliseconds.

Threads: a `SessionJournal` belongs to its session's thread; recovery runs once at start-up,
on the thread that owns the telemetry client.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from player.paths import state_dir
from player.play_session import Emit, EndReason

_log = logging.getLogger(__name__)

_SUFFIX = ".session.json"


def default_journal_dir() -> Path:
    """`sessions/` in Reelscope's user state dir (like the outbox, it cannot be recreated)."""
    return state_dir() / "sessions"


class SessionJournal:
    """The journal file of one play session (a `player.play_session.Journal`)."""

    def __init__(self, directory: Path, play_session_id: str) -> None:
        self._path = directory / f"{play_session_id}{_SUFFIX}"
        self._tmp = directory / f"{play_session_id}{_SUFFIX}.tmp"

    @property
    def path(self) -> Path:
        return self._path

    def save(self, snapshot: Mapping[str, object]) -> None:
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            self._tmp.write_text(json.dumps(snapshot), encoding="utf-8")
            os.replace(self._tmp, self._path)
        except OSError as exc:
            # Losing crash recovery must not stop playback.
            _log.warning("could not write the session journal %s: %s", self._path, exc)

    def discard(self) -> None:
        for path in (self._path, self._tmp):
            path.unlink(missing_ok=True)


@dataclass(frozen=True, slots=True)
class RecoveredSession:
    """A session found unfinished at start-up, as its journal last saw it."""

    play_session_id: str
    video_id: str
    position_ms: int
    duration_ms: int | None


def recover_crashed_sessions(directory: Path, emit: Emit) -> list[RecoveredSession]:
    """Sends `session_end` (crash_recovered) for every unfinished session in `directory`.

    A journal whose process is still running belongs to another Reelscope window and is left
    alone. Unreadable journals are deleted: without an id there is nothing to send.
    """
    recovered: list[RecoveredSession] = []
    for path in sorted(directory.glob(f"*{_SUFFIX}")):
        try:
            snapshot = json.loads(path.read_text(encoding="utf-8"))
            pid = int(snapshot["pid"])
            session_id = str(snapshot["play_session_id"])
            video_id = str(snapshot["video_id"])
            totals = dict(snapshot["totals"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            _log.warning("unreadable session journal %s (%s): deleted", path, exc)
            path.unlink(missing_ok=True)
            continue
        if pid != os.getpid() and _running(pid):
            continue
        emit(
            "session_end",
            {"play_session_id": session_id, "reason": EndReason.CRASH_RECOVERED.value, **totals},
            critical=True,
        )
        path.unlink(missing_ok=True)
        duration = totals.get("duration_ms")
        recovered.append(
            RecoveredSession(
                session_id,
                video_id,
                int(totals.get("position_ms") or 0),
                int(duration) if isinstance(duration, int) else None,
            )
        )
    return recovered


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False  # another user's process has the id now: ours is gone
    return True
