"""What the benchmarks do with the child processes they measure: run one to its end sampling
the resident memory of its process tree, and wait for a started server to answer /healthz.
Called from a benchmark's main thread (the sampler is a thread of its own).
"""

from __future__ import annotations

import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Finished:
    """A child process run to its end: its output, exit code, wall time and peak memory."""

    out: bytes
    err: bytes
    returncode: int
    wall_s: float
    peak_rss_mb: float


def tree_rss_kb(pid: int) -> int:
    """Resident memory of a process and all its descendants, from /proc."""
    total, stack = 0, [pid]
    while stack:
        current = stack.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            total += next(int(line.split()[1]) for line in status.splitlines()
                          if line.startswith("VmRSS:"))  # fmt: skip
            for task in Path(f"/proc/{current}/task").iterdir():
                stack += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, StopIteration, ValueError):
            continue
    return total


def run_measured(command: list[str], cwd: Path = REPO) -> Finished:
    """Run `command` from `cwd` (the repository), sampling its tree's RSS every 50 ms."""
    started = time.perf_counter()
    child = subprocess.Popen(command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, tree_rss_kb(child.pid))
            done.wait(0.05)

    sampler = threading.Thread(target=sample)
    sampler.start()
    out, err = child.communicate()
    done.set()
    sampler.join()
    wall = time.perf_counter() - started
    return Finished(out, err, child.returncode, round(wall, 2), round(peak / 1024, 1))


def wait_healthy(url: str, process: subprocess.Popen[bytes], timeout_s: float) -> None:
    """Poll `url`/healthz until it answers (a benchmark's set-up, not a measurement)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if requests.get(f"{url}/healthz", timeout=1).ok:
                return
        except requests.ConnectionError:
            if time.monotonic() > deadline or process.poll() is not None:
                raise
        time.sleep(0.05)
