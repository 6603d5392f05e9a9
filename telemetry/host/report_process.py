"""The dashboard's figures computed by `reelscope-report --json` in a child process: the
document is the CLI's by construction, the collector's interpreter lock stays free for
ingestion while the report folds (measured in-process, a computation halved the collector's
batch rate), a big store uses the report's own worker processes, and the computation's memory
goes back to the system when the child exits.

The child runs this interpreter with this checkout's code first on its path, so it computes
with the same code as the collector that serves it. `report_json` blocks: call it on a worker
thread, never on the event loop. The child is killed past its time limit, and when the
collector exits (the interpreter would otherwise wait for this thread, and the child, to end).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

# The directory holding the `telemetry` package the collector runs (telemetry/host/this file).
CODE_ROOT: Final = str(Path(__file__).resolve().parents[2])
TIMEOUT_S: Final = 300.0
# The page shows neither play sessions nor titles: their lists were 98 % of the document on a
# 200,000-event store, and the sessions' grows with the store (docs/collector.md).
REPORT_ARGUMENTS: Final = ("--json", "--sessions", "0", "--titles", "0")
POLL_S: Final = 0.5


class ReportFailedError(Exception):
    """The report could not be computed; the message says why (the CLI's own one-line error)."""


def iso_moment(epoch_ms: int) -> str:
    """Milliseconds since the epoch as the CLI's `--since` reads them back, to the ms."""
    return datetime.fromtimestamp(epoch_ms / 1000, UTC).isoformat(timespec="milliseconds")


def _interpreter_stopping() -> bool:
    # The main thread is marked stopped before the interpreter joins the other threads.
    return not threading.main_thread().is_alive()


def report_json(
    store: str,
    since: int | None,
    *,
    timeout_s: float = TIMEOUT_S,
    stopping: Callable[[], bool] = _interpreter_stopping,
) -> bytes:
    """`reelscope-report --store STORE REPORT_ARGUMENTS [--since SINCE]`'s output. Raises
    ReportFailedError: its error line, or the time limit passed, or `stopping()` (checked every
    POLL_S: the collector is exiting and will not wait for the figures); the child is killed."""
    command = [sys.executable, "-m", "telemetry.report.cli", "--store", store, *REPORT_ARGUMENTS]
    if since is not None:
        command += ["--since", iso_moment(since)]
    path = os.environ.get("PYTHONPATH")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([CODE_ROOT, path] if path else [CODE_ROOT])}
    deadline = time.monotonic() + timeout_s
    with subprocess.Popen(
        command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    ) as child:
        while True:
            try:
                out, err = child.communicate(timeout=min(POLL_S, timeout_s))
                break
            except subprocess.TimeoutExpired:
                if stopping():
                    reason = "the collector is stopping"
                elif time.monotonic() >= deadline:
                    reason = f"the report took longer than {timeout_s:g} s"
                else:
                    continue
                child.kill()
                child.communicate()
                raise ReportFailedError(reason) from None
    if child.returncode != 0:
        lines = err.decode(errors="replace").strip().splitlines()
        raise ReportFailedError(lines[-1] if lines else f"exit status {child.returncode}")
    return out
