"""The dashboard's figures per time window: computed on a worker thread, kept for the refresh
interval, and never computed twice at once for the same window, so any number of open
dashboards costs one computation per window and interval.

`FigureCache.get` runs on the event loop (asyncio); the computation itself runs in Starlette's
thread pool (`run_in_threadpool`), never on the loop. Figures are kept for the refresh interval
or for as long as their computation took, whichever is longer: a window is never computed more
than half the time, however slow its store. When the kept figures are older than that, `get`
starts (or joins) a computation and waits for it at most `wait_s`; past that it answers the
kept figures, whose age (since their computation finished) the caller shows. The first request
of a window has nothing to fall back on and waits for the computation.
"""

from __future__ import annotations

import asyncio
import gzip
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from starlette.concurrency import run_in_threadpool

log = logging.getLogger("reelscope.host.dashboard")


# Fast and still ~10x smaller for the report's JSON.
GZIP_LEVEL = 1


def _gzipped(compute: Callable[[], bytes]) -> bytes:
    return gzip.compress(compute(), GZIP_LEVEL, mtime=0)


@dataclass(frozen=True, slots=True)
class Figures:
    """One computation's answer: the report's JSON, kept gzipped (as most clients take it),
    when it finished (on `clock`), how long it took, and its number (1, 2, ... in the order
    computations start)."""

    gzipped: bytes
    computed_at: float
    took_s: float
    number: int


class FigureCache:
    """Figures by window name; `clock` is monotonic seconds (injected by tests)."""

    def __init__(
        self,
        *,
        refresh_s: float,
        wait_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.refresh_s = refresh_s
        self._wait_s = wait_s
        self._clock = clock
        self._latest: dict[str, Figures] = {}
        self._running: dict[str, asyncio.Task[Figures]] = {}
        self.computations = 0

    async def get(self, window: str, compute: Callable[[], bytes]) -> Figures:
        """Fresh figures, or the kept ones when a computation outlasts `wait_s`. `compute`
        (run on a worker thread when no computation of the window is under way) returns the
        JSON document. Raises what the computation raised (the kept figures stay)."""
        latest = self._latest.get(window)
        if latest is not None and self.age_s(latest) < max(self.refresh_s, latest.took_s):
            return latest
        task = self._running.get(window)
        if task is None:
            task = asyncio.ensure_future(self._run(compute))
            self._running[window] = task
            task.add_done_callback(lambda done: self._finished(window, done))
        if latest is None:
            # shield: a client that goes away must not cancel what the others wait for.
            return await asyncio.shield(task)
        done, _ = await asyncio.wait({task}, timeout=self._wait_s)
        return task.result() if done else latest

    async def _run(self, compute: Callable[[], bytes]) -> Figures:
        self.computations += 1
        number = self.computations
        began = self._clock()
        gzipped = await run_in_threadpool(_gzipped, compute)
        ended = self._clock()
        return Figures(gzipped, ended, ended - began, number)

    def _finished(self, window: str, task: asyncio.Task[Figures]) -> None:
        del self._running[window]
        if task.cancelled():
            return
        error = task.exception()  # retrieved here, so a failure nobody awaited is still logged
        if error is not None:
            log.warning("dashboard figures for %s failed: %s", window, error)
            return
        self._latest[window] = task.result()

    def age_s(self, figures: Figures) -> float:
        return self._clock() - figures.computed_at
