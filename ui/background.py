"""`BackgroundCall`: run one blocking call (an HTTP request to the collector, a read, purge or
export of the outbox) off the GUI thread and deliver its result, or the exception it raised,
back on the GUI thread. The windows' one way of handing work off the GUI thread.

Each call gets its own short-lived daemon thread: these calls are few (a button press, the
privacy window's read of the outbox once a second while it is shown) and must never queue
behind the thumbnail pool. One call at a time per instance: `running` stays true until its
result has been delivered, so the receiving slot may start the next one. Create and connect on
the GUI thread; `finished` is emitted from the worker thread and reaches GUI-thread slots
through a queued connection.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from PySide6.QtCore import QObject, Signal

log = logging.getLogger("reelscope.ui.background")


class BackgroundCall(QObject):
    """`start(function)`; `finished(result)` where result is the return value or the exception."""

    finished = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._thread: threading.Thread | None = None
        self._running = False
        # Connected first, so it runs before the owner's slots (Qt calls them in order).
        self.finished.connect(self._on_finished)

    @property
    def running(self) -> bool:
        """From `start` until `finished` has reached the GUI thread."""
        return self._running

    def start(self, function: Callable[[], object]) -> None:
        if self._running:
            raise RuntimeError("a background call is already running")
        self._running = True
        self._thread = threading.Thread(
            target=self._run, args=(function,), name="reelscope-ui-call", daemon=True
        )
        self._thread.start()

    def wait(self, timeout: float) -> bool:
        """Join the worker (at shutdown and in tests); True once it has finished."""
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _on_finished(self, _result: object) -> None:
        self._running = False

    def _run(self, function: Callable[[], object]) -> None:
        result: object
        try:
            result = function()
        except Exception as exc:  # handed to the GUI thread, which shows it
            result = exc
        try:
            self.finished.emit(result)
        except RuntimeError:
            # The window that asked was closed meanwhile: nobody is left to tell.
            log.debug("background call finished after its owner was deleted")
