"""Training on a schedule inside the collector (`train_every_s`, `serve --train-every`): every
`every_s` seconds, and whenever `run_now()` asks, `reelscope-train` runs as a child process on
the collector's store and writes the model file the feed service serves from. The trainer
writes it atomically (temp file, fsync, rename: `model.save_model`), and the feed service loads
the new file on its next request (its mtime and size changed), so no request ever sees half a
model and none waits for training.

A child process, not a thread: training is seconds to minutes of CPU-bound Python and numpy,
which in the server's process would hold the GIL against the request handlers, and a child
gives its memory back when it ends. One training at a time; a failed one (an empty store, a
store it cannot read) is logged with the trainer's own message and tried again at the next tick,
leaving the last good model (or the rules' fallback) in service.

Threads: `start`, `run_now`, `poke` and `stop` from any thread; the schedule's own daemon thread
waits for the next tick and runs the child. `clock` (monotonic seconds) is injectable: a test
moves it and calls `poke()` instead of waiting.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from telemetry.recommend.service import FeedService

log = logging.getLogger("reelscope.recommend.schedule")


def trainer_command(store_url: str, model: Path, explore_depth: int) -> list[str]:
    """`reelscope-train` for the collector's store, run by this Python."""
    return [
        sys.executable,
        "-m",
        "telemetry.recommend.train_cli",
        "--store",
        store_url,
        "--model",
        str(model),
        "--explore-depth",
        str(explore_depth),
    ]


def collector_schedule(
    train_every_s: float, feeds: FeedService | None, store_url: str | None
) -> TrainingSchedule | None:
    """The schedule the collector's settings ask for, not started; None when off (the
    default, `train_every_s` 0) or impossible, saying why."""
    if train_every_s <= 0:
        return None
    if feeds is None or not feeds.experiment.model:
        log.warning("train_every_s is set but the experiment names no model file: not training")
        return None
    if store_url is None:
        log.warning("train_every_s is set but the store is not SQLite: not training")
        return None
    model = Path(feeds.experiment.model)
    command = trainer_command(store_url, model, feeds.experiment.explore_depth)
    log.info("training %s every %g s", model, train_every_s)
    return TrainingSchedule(command, train_every_s)


class TrainingSchedule:
    """Runs `command` every `every_s` seconds (first one `every_s` after `start`) and on
    `run_now()`. `runs` counts finished trainings, `last_outcome` says how the last one went."""

    def __init__(
        self,
        command: Sequence[str],
        every_s: float,
        *,
        timeout_s: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if every_s <= 0:
            raise ValueError("the training interval must be positive")
        self._command = list(command)
        self._every_s = every_s
        self._timeout_s = timeout_s
        self._clock = clock
        self._cv = threading.Condition()
        self._requested = False
        self._stopped = False
        self._child: subprocess.Popen[str] | None = None
        self._thread: threading.Thread | None = None
        self.runs = 0
        self.last_outcome = "not trained yet"

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="reelscope-training", daemon=True)
        self._thread.start()

    def run_now(self) -> None:
        """Train as soon as the training in progress (if any) has finished."""
        with self._cv:
            self._requested = True
            self._cv.notify_all()

    def poke(self) -> None:
        """Look at the clock again (after a test moved it)."""
        with self._cv:
            self._cv.notify_all()

    def wait_for_runs(self, runs: int, timeout_s: float) -> bool:
        """True once `runs` trainings have finished (tests, shutdown)."""
        deadline = time.monotonic() + timeout_s
        with self._cv:
            while self.runs < runs:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cv.wait(left)
            return True

    def stop(self, timeout_s: float = 10.0) -> None:
        """Ends the schedule; a training in progress is terminated (its temp file is left
        behind, never the model file half-written)."""
        with self._cv:
            self._stopped = True
            child = self._child
            self._cv.notify_all()
        if child is not None and child.poll() is None:
            child.terminate()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def _loop(self) -> None:
        due = self._clock() + self._every_s
        while True:
            with self._cv:
                while not self._stopped and not self._requested and self._clock() < due:
                    self._cv.wait(max(0.0, due - self._clock()))
                if self._stopped:
                    return
                self._requested = False
            self._train()
            due = self._clock() + self._every_s

    def _train(self) -> None:
        started = time.monotonic()
        try:
            with self._cv:
                if self._stopped:
                    return
                child = subprocess.Popen(
                    self._command,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    stdin=subprocess.DEVNULL,
                    text=True,
                )
                self._child = child
            out, err = child.communicate(timeout=self._timeout_s)
            trained, outcome = _outcome(child.returncode, out, err)
        except subprocess.TimeoutExpired:
            child.kill()
            child.communicate()
            trained, outcome = False, f"training took over {self._timeout_s:g} s and was stopped"
        except OSError as exc:
            trained, outcome = False, f"the trainer could not be started: {exc}"
        elapsed = time.monotonic() - started
        if trained:
            log.info("scheduled training after %.1f s: %s", elapsed, outcome)
        else:
            log.warning("scheduled training wrote no model: %s", outcome)
        with self._cv:
            self._child = None
            self.runs += 1
            self.last_outcome = outcome
            self._cv.notify_all()


def _outcome(status: int, out: str, err: str) -> tuple[bool, str]:
    """Whether a model was written, and the trainer's own last word on it."""
    if status == 0:
        lines = [line for line in out.splitlines() if line.strip()]
        return True, lines[-1] if lines else "model written"
    if status < 0:
        return False, f"the trainer was ended by signal {-status}"
    said = [line for line in err.splitlines() if line.startswith("reelscope-train: ")]
    return False, said[-1].removeprefix("reelscope-train: ") if said else f"exit status {status}"
