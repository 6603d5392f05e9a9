"""The crash journal: one small file per live play session, so that a session the app never
closed (a crash, a kill, a power cut of the process) still gets its `session_end`.

A `PlaySession` rewrites its file on every state change, every heartbeat and at least every
couple of seconds while playing (`player.play_session.JOURNAL_EVERY_MS`). When it ends, the file
goes only once its `session_end` is durable: `SessionJournals` is the telemetry client's commit
listener and removes the file after the writer has committed that event to the outbox (at once
when the end was not recorded: no consent, or dropped). A kill before the commit leaves the file,
so the end is never lost; a kill between the commit and the unlink (microseconds) is the one
moment a session could get two ends. At the next launch `SessionJournals.recover` turns each file
left behind into a `session_end` with reason `crash_recovered`, the last known position and the
totals, and removes it the same way.

Each file names the process that wrote it: its pid and a random id drawn once per process (again
after a fork), since pids repeat across launches (in a sandbox the app may get the same pid every
time). Recovery leaves alone the files of this process (its live sessions) and those of another
running process (another Reelscope window); a dead process's file is first claimed by renaming
it to a name that carries the recovering process, so two windows starting together cannot both
recover it, and a claim whose process died is taken over at the next launch.

Writes are atomic (`player.atomic_file`): a crash leaves the previous snapshot or the new one,
never a torn file. There is no fsync: the journal is for the app dying, not the machine,
and the kernel keeps a dead process's writes; fsync would cost the GUI thread milliseconds.

Threads: a `SessionJournal` belongs to its session's thread; `SessionJournals.recover` runs once
at start-up, on the thread that owns the telemetry client; the commit listener runs on the
telemetry writer thread. A lock keeps the three consistent.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from player.atomic_file import replace_file
from player.paths import state_dir
from player.play_session import Emit, EndReason

_log = logging.getLogger(__name__)

_SUFFIX = ".session.json"
_CLAIM = ".recovering-"  # <session id>.recovering-<pid>-<run id>.session.json

CommitListener = Callable[[Sequence[str]], None]
# `TelemetryClient.add_commit_listener`: the listener gets the ids of each committed group.
AddCommitListener = Callable[[CommitListener], None]


class _Run:
    """This process's id in journal files; a forked child is another process."""

    id = uuid.uuid4().hex

    @classmethod
    def renew(cls) -> None:
        cls.id = uuid.uuid4().hex


os.register_at_fork(after_in_child=_Run.renew)


def default_journal_dir() -> Path:
    """`sessions/` in Reelscope's user state dir (like the outbox, it cannot be recreated)."""
    return state_dir() / "sessions"


@dataclass(frozen=True, slots=True)
class RecoveredSession:
    """A session found unfinished at start-up, as its journal last saw it."""

    play_session_id: str
    video_id: str
    position_ms: int
    duration_ms: int | None


class SessionJournals:
    """The journal files of one directory, as this process keeps and recovers them.

    With `add_commit_listener` (the app passes `TelemetryClient.add_commit_listener`), the file
    of an ended session is removed once its `session_end` is committed; without, at once (for
    an `emit` that is not a telemetry client).
    """

    def __init__(
        self, directory: Path, add_commit_listener: AddCommitListener | None = None
    ) -> None:
        self.directory = directory
        self._lock = threading.Lock()
        self._durable = add_commit_listener is not None
        self._awaiting: dict[str, Path] = {}  # session_end event id -> the file to remove
        if add_commit_listener is not None:
            add_commit_listener(self._on_committed)

    def journal(self, play_session_id: str) -> SessionJournal:
        """The journal of a new session of this process."""
        return SessionJournal(self, play_session_id)

    def recover(self, emit: Emit) -> list[RecoveredSession]:
        """Sends `session_end` (crash_recovered) for every unfinished session of a process that
        is gone. Unreadable journals are deleted: without an id there is nothing to send."""
        recovered: list[RecoveredSession] = []
        for path in sorted(self.directory.glob(f"*{_SUFFIX}")):
            claimed = self._claim(path)
            if claimed is None:
                continue
            try:
                snapshot = json.loads(claimed.read_text(encoding="utf-8"))
                session_id = str(snapshot["play_session_id"])
                video_id = str(snapshot["video_id"])
                totals = dict(snapshot["totals"])
            except (OSError, ValueError, KeyError, TypeError) as exc:
                _log.warning("unreadable session journal %s (%s): deleted", claimed, exc)
                _remove(claimed)
                continue
            properties = {
                "play_session_id": session_id,
                "reason": EndReason.CRASH_RECOVERED.value,
                **totals,
            }
            self.send_then_remove(claimed, partial(emit, "session_end", properties, critical=True))
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

    def send_then_remove(self, path: Path, send: Callable[[], object]) -> None:
        """Calls `send` (it records a `session_end` and returns its event id, or None when it
        was not recorded), then removes `path` once that event is committed."""
        # Held across `send`: the writer may commit the event before `send` has returned, and
        # its listener must then find the id already registered.
        with self._lock:
            receipt = send()
            if self._durable and isinstance(receipt, str):
                self._awaiting[receipt] = path
                return
        _remove(path)

    def _on_committed(self, event_ids: Sequence[str]) -> None:
        """The commit listener (telemetry writer thread): must stay quick."""
        with self._lock:
            if not self._awaiting:
                return
            done = [self._awaiting.pop(i) for i in event_ids if i in self._awaiting]
        for path in done:
            _remove(path)

    def _claim(self, path: Path) -> Path | None:
        """`path` renamed to this process's claim, or None when it is not ours to recover."""
        stem = path.name.removesuffix(_SUFFIX)
        session_id, _, claimer = stem.partition(_CLAIM)
        if claimer:
            pid_text, _, run = claimer.partition("-")
            owner: tuple[int, str] | None = (int(pid_text), run) if pid_text.isdigit() else None
        else:
            owner = _writer(path)
        if owner is not None and not _gone(*owner):
            return None
        claimed = path.with_name(f"{session_id}{_CLAIM}{os.getpid()}-{_Run.id}{_SUFFIX}")
        try:
            os.rename(path, claimed)
        except FileNotFoundError:
            return None  # another window claimed it first
        except OSError as exc:
            _log.warning("could not claim the session journal %s: %s", path, exc)
            return None
        return claimed


class SessionJournal:
    """The journal file of one play session (a `player.play_session.Journal`)."""

    def __init__(self, journals: SessionJournals, play_session_id: str) -> None:
        self._journals = journals
        self._path = journals.directory / f"{play_session_id}{_SUFFIX}"

    @property
    def path(self) -> Path:
        return self._path

    def save(self, snapshot: Mapping[str, object]) -> None:
        document = {**snapshot, "pid": os.getpid(), "run": _Run.id}
        try:
            replace_file(self._path, json.dumps(document).encode())
        except OSError as exc:
            # Losing crash recovery must not stop playback.
            _log.warning("could not write the session journal %s: %s", self._path, exc)

    def end(self, send_end: Callable[[], object]) -> None:
        self._journals.send_then_remove(self._path, send_end)


def _writer(path: Path) -> tuple[int, str] | None:
    """The process that wrote a journal (pid, run id), or None when the file does not say."""
    try:
        snapshot = json.loads(path.read_text(encoding="utf-8"))
        return int(snapshot["pid"]), str(snapshot.get("run", ""))
    except (OSError, ValueError, KeyError, TypeError):
        return None  # unreadable: recovered (and so deleted) by whoever reads it


def _gone(pid: int, run: str) -> bool:
    """Whether the process that wrote (or claimed) a journal has ended."""
    if run == _Run.id:
        return False  # this process: a live session, or an end not committed yet
    if pid == os.getpid():
        return True  # an earlier process that had the same pid
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return True  # another user's process has the id now: ours is gone
    return False


def _remove(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
    except OSError as exc:
        _log.warning("could not remove the session journal %s: %s", path, exc)
