"""`BackgroundCall`: run one blocking call (an HTTP request to the collector) off the GUI thread
and deliver its result, or the exception it raised, back on the GUI thread.

Each call gets its own short-lived daemon thread: these calls are rare (a button press) and
must never queue behind the thumbnail pool. Create and connect on the GUI thread; `finished`
is emitted from the worker thread and reaches GUI-thread slots through a queued connection.
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

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, function: Callable[[], object]) -> None:
        if self.running:
            raise RuntimeError("a background call is already running")
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
