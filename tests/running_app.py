"""`RunningApp`: a started Reelscope process whose log lines (stderr) are read up to deadlines,
for the tests that run the app (or its bundle) as a user would."""

from __future__ import annotations

import os
import re
import selectors
import signal
import subprocess
import time
from pathlib import Path

import pytest


class RunningApp:
    """A started Reelscope whose log lines (stderr) are read up to deadlines."""

    def __init__(self, command: list[str], env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        assert self.process.stderr is not None
        self._stderr = self.process.stderr
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._stderr, selectors.EVENT_READ)
        self._pending = b""
        self.lines: list[str] = []

    def wait_for(self, pattern: re.Pattern[str], timeout_s: float) -> str:
        """The first log line matching `pattern`; fails at the deadline or if the app exits."""
        deadline = time.monotonic() + timeout_s
        while True:
            for line in self.lines:
                if pattern.search(line):
                    return line
            left = deadline - time.monotonic()
            if left <= 0:
                pytest.fail(f"no {pattern.pattern!r} within {timeout_s} s:\n{self.log()}")
            if not self._read(left):
                code = self.process.wait()
                pytest.fail(f"exited ({code}) before {pattern.pattern!r}:\n{self.log()}")

    def _read(self, timeout_s: float) -> bool:
        """Reads what is there within `timeout_s`; False once stderr is closed."""
        if not self._selector.select(timeout_s):
            return True
        chunk = os.read(self._stderr.fileno(), 65536)
        if not chunk:
            return False
        *complete, self._pending = (self._pending + chunk).split(b"\n")
        self.lines.extend(line.decode(errors="replace") for line in complete)
        return True

    def mapped_files(self) -> set[str]:
        """Files mapped by the app and every process it started (PyInstaller's bootloader runs
        the app in a child process)."""
        files: set[str] = set()
        for pid in _descendants(self.process.pid):
            for line in Path(f"/proc/{pid}/maps").read_text().splitlines():
                fields = line.split(maxsplit=5)
                if len(fields) == 6 and fields[5].startswith("/"):
                    files.add(fields[5])
        return files

    def finish(self, timeout_s: float = 20.0) -> str:
        """Stops the app if it still runs; its whole log."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and self._read(deadline - time.monotonic()):
            pass
        try:
            self.process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._selector.close()
        self._stderr.close()
        return self.log()

    def log(self) -> str:
        return "\n".join([*self.lines, self._pending.decode(errors="replace")])


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, queue = [], [pid]
    while queue:
        current = queue.pop()
        found.append(current)
        queue.extend(children.get(current, ()))
    return found
