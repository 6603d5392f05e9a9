"""The one hand-off from libVLC's threads to the GUI thread.

`EngineBridge.sink` is given to the engine as its event sink. libVLC calls it on its own
threads (and sometimes synchronously inside an engine call); it only emits a Qt signal, which
reaches slots connected with `Qt.QueuedConnection` on the GUI thread, where it is safe to call
libVLC and Qt again. Create the bridge on the GUI thread.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from player.engine import EngineEvent


class EngineBridge(QObject):
    """Re-emits engine events as a Qt signal; connect to it with a queued connection."""

    event_received = Signal(object)  # EngineEvent

    def sink(self, event: EngineEvent) -> None:
        """The engine's sink: any thread; never blocks, never calls back into the engine."""
        self.event_received.emit(event)
