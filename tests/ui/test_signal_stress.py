"""PySide6 6.12.0 on Python 3.11 aborts ("bool_dealloc") after a few hundred signal emissions
from Python. This runs 20 000 emissions (direct and queued, bool and object payloads, the way
the engine bridge emits) in a child process, so a crash fails this test instead of pytest."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import threading
from PySide6.QtCore import QCoreApplication, QObject, Qt, Signal, QTimer

class Source(QObject):
    flag = Signal(bool)
    item = Signal(object)

app = QCoreApplication([])
source = Source()
received = {"flag": 0, "item": 0}
source.flag.connect(lambda value: received.__setitem__("flag", received["flag"] + 1))
source.item.connect(
    lambda value: received.__setitem__("item", received["item"] + 1), Qt.QueuedConnection
)

def emit_from_thread():
    for i in range(10_000):
        source.item.emit({"i": i, "ok": True})

for i in range(10_000):
    source.flag.emit(i % 2 == 0)
worker = threading.Thread(target=emit_from_thread)
worker.start()
worker.join()

def check():
    if received["item"] == 10_000:
        app.quit()
timer = QTimer()
timer.timeout.connect(check)
timer.start(10)
QTimer.singleShot(20_000, app.quit)
app.exec()
print(received["flag"], received["item"])
"""


def test_twenty_thousand_signal_emissions_do_not_crash() -> None:
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["10000", "10000"]
