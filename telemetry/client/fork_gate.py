"""The fork gate: keeps `os.fork()` out of this process's SQLite calls, so a forked child never
inherits a SQLite mutex or lock that one of the parent's threads held at the fork.

SQLite is not fork-safe while a thread is inside it: its process-wide mutexes (the static main
and VFS mutexes, taken when a connection opens or closes) and the unix VFS's per-file ones
(the inode's lock mutex and the WAL index's mutex, shared by every connection of the process
to that file) are copied into the child held, by a thread that does not exist there, and the
child's first SQLite call on the file waits on them for good. A new connection does not avoid
them: the child's connections to the outbox share the inherited per-file state. A fork inside
a transaction copies the transaction's lock state the same way. Only the parent can prevent
it, by not forking while any of its threads is inside SQLite.

The rule, for every SQLite call of the telemetry client: it runs inside `gated()` (or a method
decorated with `@gated_call`), around a whole transaction or a whole call that opens, steps and
finishes its statements, never around a wait on anything else (the network, a sleep, a user
callback). Connections are closed explicitly, inside the gate, never by the garbage collector.

At a fork (`os.register_at_fork`, registered when this module is imported, before any client
exists): `before` stops new entries and waits, at most `FORK_WAIT_S`, for those under way to
leave; the parent's threads wait at the gate's entry, outside SQLite, until `after_in_parent`
reopens it; `after_in_child` gives the child an open gate with nobody inside (the parent's
threads are not copied). If the wait times out (a stuck disk), the fork goes ahead with a
warning: the parent is never blocked longer than that. Code outside the client that uses
SQLite in a process that forks is not covered.

Threads: any thread. Entries nest (a gated call may make others on the same thread).
"""

from __future__ import annotations

import functools
import logging
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Final, ParamSpec, TypeVar

_log = logging.getLogger("reelscope.telemetry.client")

# How long a fork waits for SQLite calls under way (one commit is milliseconds).
FORK_WAIT_S: Final = 2.0

_P = ParamSpec("_P")
_T = TypeVar("_T")


class ForkGate:
    """Counts the threads inside SQLite; `hold()` waits for none and keeps new ones out."""

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._inside = 0  # threads inside a gated call
        self._held = False
        self._depth = threading.local()  # this thread's nesting

    @contextmanager
    def gated(self) -> Iterator[None]:
        depth: int = getattr(self._depth, "n", 0)
        if depth == 0:
            with self._cond:
                while self._held:
                    self._cond.wait()
                self._inside += 1
        self._depth.n = depth + 1
        try:
            yield
        finally:
            self._depth.n = depth
            if depth == 0:
                with self._cond:
                    self._inside -= 1
                    if self._inside == 0:
                        self._cond.notify_all()

    def hold(self, timeout: float) -> bool:
        """Keep new entries out and wait up to `timeout` s for those under way; False if some
        are still inside (they are kept out all the same until `release()`)."""
        # A fork from inside a gated call (on this thread) waits for the others only.
        own = 1 if getattr(self._depth, "n", 0) else 0
        with self._cond:
            self._held = True
            return self._cond.wait_for(lambda: self._inside <= own, timeout)

    def release(self) -> None:
        with self._cond:
            self._held = False
            self._cond.notify_all()

    def reset_in_child(self) -> None:
        """In a forked child: only the forking thread exists (inside if it forked from a
        gated call); the lock may have been copied held by a thread of the parent."""
        depth = self._depth
        self._reset()
        self._depth = depth  # the forking thread's own nesting, the only one left
        self._inside = 1 if getattr(depth, "n", 0) else 0


GATE: Final = ForkGate()
gated = GATE.gated


def gated_call(method: Callable[_P, _T]) -> Callable[_P, _T]:
    """`method` runs inside the gate: it must finish its SQLite work before it returns."""

    @functools.wraps(method)
    def call(*args: _P.args, **kwargs: _P.kwargs) -> _T:
        with GATE.gated():
            return method(*args, **kwargs)

    return call


def _before_fork() -> None:
    if not GATE.hold(FORK_WAIT_S):
        _log.warning(
            "forking while a telemetry thread is inside SQLite for over %.0f s:"
            " the child may not be able to record",
            FORK_WAIT_S,
        )


os.register_at_fork(
    before=_before_fork, after_in_parent=GATE.release, after_in_child=GATE.reset_in_child
)
