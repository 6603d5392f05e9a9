"""A stand-in for the desktop's org.freedesktop.ScreenSaver on a test's private session bus,
run as its own process (`python fake_screensaver.py ADDRESS`): it prints each call, one per
line ("Inhibit <app> <cookie>", "UnInhibit <cookie>"), so the test can wait for them."""

from __future__ import annotations

import sys

from PySide6.QtCore import ClassInfo, QCoreApplication, QObject, Slot
from PySide6.QtDBus import QDBusAbstractAdaptor, QDBusConnection


@ClassInfo({"D-Bus Interface": "org.freedesktop.ScreenSaver"})
class _ScreenSaver(QDBusAbstractAdaptor):
    def __init__(self, parent: QObject) -> None:
        super().__init__(parent)
        self._next_cookie = 41

    @Slot(str, str, result="uint")
    def Inhibit(self, application: str, _reason: str) -> int:
        self._next_cookie += 1
        print(f"Inhibit {application} {self._next_cookie}", flush=True)
        return self._next_cookie

    @Slot("uint")
    def UnInhibit(self, cookie: int) -> None:
        print(f"UnInhibit {cookie}", flush=True)


def main() -> None:
    app = QCoreApplication([])
    bus = QDBusConnection.connectToBus(sys.argv[1], "fake-screensaver")
    root = QObject()
    _ScreenSaver(root)
    if not (
        bus.registerObject("/org/freedesktop/ScreenSaver", root)
        and bus.registerService("org.freedesktop.ScreenSaver")
    ):
        sys.exit("cannot register the fake screen saver")
    print("ready", flush=True)
    app.exec()


if __name__ == "__main__":
    main()
