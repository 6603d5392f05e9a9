"""The one way `ui/` hands work off the GUI thread: run a function on a pool, deliver what came
of it (its return value, or the exception it raised) to a callback on the GUI thread.

`TaskPool` is the idiom: catalog loads, poster decodes and the windows' blocking calls all go
through one. Each owner has its own pool, sized for its work, so a slow HTTP call never queues
behind poster decodes; `shutdown` drops queued work and joins the running tasks before the app
quits. `BackgroundCall` is a `TaskPool` of one for the windows' single calls (a button press,
the privacy window's read of the outbox): one call at a time, with `running` true until its
result has been delivered, so the receiving slot may start the next one.

Threads: create, `run` and `shutdown` on the GUI thread. The function runs on a pool thread and
must not touch widgets; the callback runs on the GUI thread (the pool's signal reaches it
through a queued connection, the pool object living on the GUI thread).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import QObject, QThreadPool, Signal

log = logging.getLogger("reelscope.ui.background")

Outcome = Callable[[object], None]


class TaskPool(QObject):
    """`run(function, done)`: `done(result)` later on the GUI thread, result being the return
    value or the exception `function` raised."""

    _delivered = Signal(object, object)  # done, result

    def __init__(self, parent: QObject | None = None, *, threads: int = 1) -> None:
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(threads)
        self._delivered.connect(self._on_delivered)

    def run(self, function: Callable[[], object], done: Outcome) -> None:
        self._pool.start(lambda: self._run(function, done))

    def wait(self, timeout_ms: int) -> bool:
        """Waits for every queued and running task; True once none is left."""
        return bool(self._pool.waitForDone(timeout_ms))

    def shutdown(self, timeout_ms: int = 5000) -> bool:
        """Drops queued tasks, waits for running ones; True once none is left running."""
        self._pool.clear()
        return self.wait(timeout_ms)

    def _run(self, function: Callable[[], object], done: Outcome) -> None:
        result: object
        try:
            result = function()
        except Exception as exc:  # delivered to the GUI thread, whose callback reports it
            result = exc
        try:
            self._delivered.emit(done, result)
        except RuntimeError:
            # The owner was deleted meanwhile: nobody is left to tell.
            log.debug("background task finished after its owner was deleted")

    @staticmethod
    def _on_delivered(done: Outcome, result: object) -> None:
        done(result)


class BackgroundCall(QObject):
    """`start(function)`; `finished(result)` where result is the return value or the exception."""

    finished = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._tasks = TaskPool(self)
        self._running = False

    @property
    def running(self) -> bool:
        """From `start` until `finished` has reached the GUI thread."""
        return self._running

    def start(self, function: Callable[[], object]) -> None:
        if self._running:
            raise RuntimeError("a background call is already running")
        self._running = True
        self._tasks.run(function, self._on_done)

    def wait(self, timeout: float) -> bool:
        """Join the running call (at shutdown and in tests); True once it has finished."""
        return self._tasks.wait(int(timeout * 1000))

    def _on_done(self, result: object) -> None:
        self._running = False
        self.finished.emit(result)
