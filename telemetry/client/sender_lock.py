"""The cross-process lock that makes one app instance at a time the sender of a shared outbox,
so two instances never send the same rows. Both still record into the outbox (SQLite
serialises their writes); only the holder reads batches and sends them.

An OS file lock (`flock`, or `msvcrt.locking` on Windows) on `<outbox>.lock`: the kernel
releases it when the holder exits or is killed, so a crash never leaves it stale.

Threads: the sender thread (and the client's fork handler in a child process).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


class SenderLock:
    def __init__(self, path: Path) -> None:
        self._path = path
        self._fd: int | None = None

    def try_acquire(self) -> bool:
        """Take the lock without waiting; True if this process now holds it."""
        if self._fd is not None:
            return True
        self._path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            _lock(fd)
        except OSError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self) -> None:
        """Unlock. In a forked child this only closes the inherited duplicate descriptor: the
        parent's lock stays held, as `flock` locks belong to the shared open file."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)


if sys.platform == "win32":
    import msvcrt

    def _lock(fd: int) -> None:
        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)

else:
    import fcntl

    def _lock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
