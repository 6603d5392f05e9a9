"""The figure cache on a real event loop and Starlette's real thread pool, its clock injected:
figures are kept for the refresh interval, concurrent requests of a window share one
computation, a computation outlasting `wait_s` leaves the kept figures in place (with their
age), and a failure keeps them too. Computations are held on events, never on sleeps."""

from __future__ import annotations

import asyncio
import gzip
import threading

import pytest

from telemetry.host.figure_cache import FigureCache, Figures


def document(figures: Figures) -> bytes:
    return gzip.decompress(figures.gzipped)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Computation:
    """A computation the test lets finish: `release()` ends the current one."""

    def __init__(self) -> None:
        self.calls = 0
        self.threads: set[str] = set()
        self.gate = threading.Event()
        self.fail = False

    def __call__(self) -> bytes:
        self.calls += 1
        self.threads.add(threading.current_thread().name)
        assert self.gate.wait(30), "the test never released the computation"
        if self.fail:
            raise RuntimeError("store gone")
        return f"figures {self.calls}".encode()


def test_concurrent_requests_share_one_computation_then_the_figures_are_kept() -> None:
    clock, compute = Clock(), Computation()
    cache = FigureCache(refresh_s=5, wait_s=5, clock=clock)

    async def scenario() -> None:
        waiting = [asyncio.ensure_future(cache.get("1h", compute)) for _ in range(20)]
        await asyncio.sleep(0)  # let every request reach the shared computation
        assert not any(task.done() for task in waiting)
        compute.gate.set()
        answers = await asyncio.gather(*waiting)
        assert {document(a) for a in answers} == {b"figures 1"}
        clock.now += 4.9
        assert (await cache.get("1h", compute)).number == 1  # within the refresh interval
        assert document(await cache.get("24h", compute)) == b"figures 2"  # its own window
        clock.now += 0.2
        assert document(await cache.get("1h", compute)) == b"figures 3"

    asyncio.run(scenario())
    assert compute.calls == 3
    assert threading.main_thread().name not in compute.threads


def test_a_slow_computation_leaves_the_kept_figures_and_their_age() -> None:
    clock, compute = Clock(), Computation()
    cache = FigureCache(refresh_s=5, wait_s=0.05, clock=clock)

    async def scenario() -> None:
        compute.gate.set()
        first = await cache.get("1h", compute)
        compute.gate.clear()
        clock.now += 12
        stale = await cache.get("1h", compute)  # waits wait_s, then answers the kept ones
        assert stale is first
        assert cache.age_s(stale) == 12
        again = await cache.get("1h", compute)  # joins the computation under way
        assert again is first
        assert cache.computations == 2
        compute.gate.set()
        while cache.age_s(await cache.get("1h", compute)) != 0:
            await asyncio.sleep(0.01)  # the worker thread finishing: a condition, polled
        assert document(await cache.get("1h", compute)) == b"figures 2"

    asyncio.run(scenario())
    assert compute.calls == 2


def test_figures_that_took_longer_than_the_interval_are_kept_as_long_as_they_took() -> None:
    clock, compute = Clock(), Computation()
    cache = FigureCache(refresh_s=5, wait_s=5, clock=clock)

    def slow() -> bytes:
        clock.now += 12  # the computation takes 12 s of the injected clock
        return compute()

    async def scenario() -> None:
        compute.gate.set()
        first = await cache.get("all", slow)
        assert first.took_s == 12
        clock.now += 11.9
        assert await cache.get("all", slow) is first
        clock.now += 0.2
        assert document(await cache.get("all", slow)) == b"figures 2"

    asyncio.run(scenario())


def test_a_failed_computation_raises_and_keeps_the_last_figures() -> None:
    clock, compute = Clock(), Computation()
    cache = FigureCache(refresh_s=5, wait_s=5, clock=clock)

    async def scenario() -> None:
        compute.gate.set()
        first = await cache.get("all", compute)
        clock.now += 6
        compute.fail = True
        with pytest.raises(RuntimeError, match="store gone"):
            await cache.get("all", compute)
        compute.fail = False
        assert document(await cache.get("all", compute)) == b"figures 3"
        assert document(first) == b"figures 1"

    asyncio.run(scenario())


def test_a_first_request_that_goes_away_does_not_cancel_the_computation() -> None:
    clock, compute = Clock(), Computation()
    cache = FigureCache(refresh_s=5, wait_s=5, clock=clock)

    async def scenario() -> None:
        gone = asyncio.ensure_future(cache.get("7d", compute))
        await asyncio.sleep(0)
        gone.cancel()
        staying = asyncio.ensure_future(cache.get("7d", compute))
        await asyncio.sleep(0)
        compute.gate.set()
        assert document(await staying) == b"figures 1"
        assert gone.cancelled()

    asyncio.run(scenario())
    assert compute.calls == 1
