"""`ui.background.TaskPool`, the one hand-off off the GUI thread: the function runs on a pool
thread, its result or its exception comes back on the GUI thread, and shutdown drops what is
still queued."""

from __future__ import annotations

import threading

from PySide6.QtCore import QThread
from pytestqt.qtbot import QtBot

from ui.background import BackgroundCall, TaskPool


def test_results_and_errors_come_back_on_the_gui_thread(qtbot: QtBot) -> None:
    pool = TaskPool()
    gui = QThread.currentThread()
    ran_on: list[threading.Thread] = []
    got: list[tuple[object, bool]] = []

    def work() -> int:
        ran_on.append(threading.current_thread())
        return 42

    def fail() -> int:
        raise OSError("disk gone")

    for function in (work, fail):
        pool.run(function, lambda result: got.append((result, QThread.currentThread() is gui)))
    qtbot.waitUntil(lambda: len(got) == 2)
    assert ran_on[0] is not threading.main_thread()
    assert got[0] == (42, True)
    error, on_gui = got[1]
    assert isinstance(error, OSError)
    assert str(error) == "disk gone"
    assert on_gui


def test_shutdown_drops_queued_tasks_and_joins_the_running_one(qtbot: QtBot) -> None:
    pool = TaskPool(threads=1)
    release = threading.Event()
    started = threading.Event()
    ran: list[str] = []

    def first() -> None:
        started.set()
        release.wait(10)
        ran.append("first")

    pool.run(first, lambda _result: None)
    pool.run(lambda: ran.append("queued"), lambda _result: None)
    assert started.wait(10)
    assert not pool.shutdown(0)  # the first is still running; the queued one is dropped
    release.set()
    assert pool.wait(10_000)
    assert ran == ["first"]


def test_a_background_call_is_running_until_its_result_is_delivered(qtbot: QtBot) -> None:
    call = BackgroundCall()
    seen: list[bool] = []
    call.finished.connect(lambda _result: seen.append(call.running))
    with qtbot.waitSignal(call.finished, timeout=10_000) as finished:
        call.start(lambda: "done")
        assert call.running
    assert finished.args == ["done"]
    assert seen == [False]
    assert not call.running
