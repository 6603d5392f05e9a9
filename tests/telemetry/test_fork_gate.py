"""The fork gate on its own: a hold waits for the SQLite calls under way and keeps new ones out
until it is released, gives up after its timeout, and never waits on the holding thread's own
call or on a call nested in one under way. The forks themselves are in test_client.py."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from telemetry.client.fork_gate import ForkGate


class _Caller:
    """A thread that enters the gate, stays inside until `leave` is set, then ends."""

    def __init__(self, gate: ForkGate, *, nested: threading.Event | None = None) -> None:
        self.inside = threading.Event()
        self.leave = threading.Event()
        self.nested_done = threading.Event()
        self._gate = gate
        self._nested = nested
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        with self._gate.gated():
            self.inside.set()
            if self._nested is not None:
                self._nested.wait(10.0)
                with self._gate.gated():
                    self.nested_done.set()
            self.leave.wait(10.0)

    def join(self) -> None:
        self.leave.set()
        self._thread.join(10.0)
        assert not self._thread.is_alive()


@pytest.fixture
def gate() -> Iterator[ForkGate]:
    gate = ForkGate()
    yield gate
    gate.release()


def _hold_in_thread(gate: ForkGate, timeout: float) -> tuple[threading.Thread, list[bool]]:
    result: list[bool] = []
    thread = threading.Thread(target=lambda: result.append(gate.hold(timeout)), daemon=True)
    thread.start()
    return thread, result


def test_a_hold_waits_for_the_call_under_way_and_keeps_new_ones_out(gate: ForkGate) -> None:
    under_way = _Caller(gate)
    assert under_way.inside.wait(10.0)
    holder, held = _hold_in_thread(gate, timeout=10.0)
    holder.join(0.05)
    assert holder.is_alive()  # still waiting for the call under way
    under_way.join()
    holder.join(10.0)
    assert held == [True]
    late = _Caller(gate)
    assert not late.inside.wait(0.05)  # kept out while held
    gate.release()
    assert late.inside.wait(10.0)
    late.join()


def test_a_hold_gives_up_after_its_timeout_and_still_keeps_new_calls_out(gate: ForkGate) -> None:
    stuck = _Caller(gate)
    assert stuck.inside.wait(10.0)
    assert gate.hold(0.01) is False
    late = _Caller(gate)
    assert not late.inside.wait(0.05)
    gate.release()
    assert late.inside.wait(10.0)
    stuck.join()
    late.join()


def test_a_call_nested_in_one_under_way_is_not_kept_out(gate: ForkGate) -> None:
    go_nested = threading.Event()
    caller = _Caller(gate, nested=go_nested)
    assert caller.inside.wait(10.0)
    holder, held = _hold_in_thread(gate, timeout=10.0)
    go_nested.set()
    assert caller.nested_done.wait(10.0)
    caller.join()
    holder.join(10.0)
    assert held == [True]


def test_a_fork_from_inside_a_call_waits_only_for_the_others(gate: ForkGate) -> None:
    with gate.gated():
        assert gate.hold(10.0)
        gate.release()
        # The child's view: the forking thread is the only one inside, and it may carry on.
        gate.reset_in_child()
        with gate.gated():
            pass
    assert gate.hold(0.0)
