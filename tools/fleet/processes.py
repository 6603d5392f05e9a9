"""The fleet's child processes: the real collector (restartable, its memory sampled) and the
simulated clients (one process per launch, driven over stdin/stdout).

Every child is started with the interpreter running the fleet, from the repository root, and
is ended by its own PID: SIGKILL for the injected crashes and for stragglers, SIGTERM for the
collector's orderly stop. Nothing here waits without a deadline.

Threads: `CollectorProcess` and `ClientProcess` are driven by the orchestrator's threads (one
fault at a time per process, serialised by `ClientProcess.lock`); each client process has a
reader thread for its stdout, and the collector a memory-sampling thread.
"""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO

REPO = Path(__file__).resolve().parents[2]
_MEMORY_SAMPLE_S = 0.2


def _child_env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REELSCOPE_")}
    env["PYTHONPATH"] = str(REPO)
    env.update(extra)
    return env


def _status_kib(pid: int, field: str) -> int:
    """A `VmHWM`/`VmRSS` figure of /proc/<pid>/status in KiB; 0 once the process is gone."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


class CollectorProcess:
    """`reelscope-collector serve` on a fixed port of 127.0.0.1, with a size-limited store."""

    def __init__(self, directory: Path, port: int, keys: Path, max_db_bytes: int) -> None:
        self.port = port
        self.db = directory / "events.db"
        self._keys = keys
        self._log = directory / "collector.log"
        self._max_db_bytes = max_db_bytes
        self._process: subprocess.Popen[bytes] | None = None
        self.starts = 0
        # Highest VmHWM (peak resident set) of any collector process so far, in KiB.
        self.peak_kib = 0
        self._closing = threading.Event()
        self._sampler = threading.Thread(target=self._sample, name="fleet-memory", daemon=True)

    def start(self, timeout: float = 30.0) -> None:
        """Start a collector and return once it answers /healthz."""
        command = [
            sys.executable, "-m", "telemetry.host.cli", "serve",
            "--host", "127.0.0.1", "--port", str(self.port),
            "--db", f"sqlite:///{self.db}", "--keys", str(self._keys),
            "--log-level", "WARNING",
        ]  # fmt: skip
        env = _child_env({"REELSCOPE_COLLECTOR_MAX_DB_BYTES": str(self._max_db_bytes)})
        with self._log.open("ab") as log:
            self._process = subprocess.Popen(
                command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT
            )
        self.starts += 1
        if not self._sampler.is_alive():
            self._sampler.start()
        deadline = time.monotonic() + timeout
        while not self._healthy():
            if self._process.poll() is not None:
                raise RuntimeError(f"the collector exited; see {self._log}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the collector did not answer in {timeout} s")
            time.sleep(0.05)

    def _healthy(self) -> bool:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=1.0)
        try:
            connection.request("GET", "/healthz")
            return connection.getresponse().status == 200
        except OSError:
            return False
        finally:
            connection.close()

    def kill(self) -> None:
        """SIGKILL, as a crash would."""
        self._end(signal.SIGKILL, 10.0)

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM (the collector commits what it accepted), SIGKILL after `timeout`."""
        self._end(signal.SIGTERM, timeout)
        self._closing.set()
        if self._sampler.is_alive():
            self._sampler.join(5.0)

    def _end(self, number: int, timeout: float) -> None:
        process = self._process
        if process is None or process.poll() is not None:
            return
        self._record_peak(process.pid)
        process.send_signal(number)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10.0)

    def _record_peak(self, pid: int) -> None:
        self.peak_kib = max(self.peak_kib, _status_kib(pid, "VmHWM"))

    def _sample(self) -> None:
        while not self._closing.wait(_MEMORY_SAMPLE_S):
            process = self._process
            if process is not None and process.poll() is None:
                self._record_peak(process.pid)


class ClientProcess:
    """One simulated client: its directory (outbox, books) outlives its launches."""

    def __init__(
        self,
        index: int,
        directory: Path,
        *,
        endpoint: str,
        write_key: str,
        seed: int,
        clock_offset_ms: int,
        lifetime_s: float,
    ) -> None:
        self.index = index
        self.directory = directory
        self._arguments = [endpoint, write_key, str(seed), str(clock_offset_ms)]
        self._lifetime_s = lifetime_s
        self.launch = 0
        self.lock = threading.Lock()  # one injected fault at a time
        self.burst = threading.Event()
        self.drained = threading.Event()
        self._ready = threading.Event()
        self._process: subprocess.Popen[bytes] | None = None
        self._reader: threading.Thread | None = None

    def start(self, timeout: float = 30.0) -> None:
        """Start the next launch and return once it records."""
        self.launch += 1
        self._ready.clear()
        self.burst.clear()
        self.drained.clear()
        command = [
            sys.executable, "-m", "tools.fleet.client_process", str(self.directory),
            *self._arguments, str(self.launch), str(self._lifetime_s),
        ]  # fmt: skip
        with (self.directory / "client.log").open("ab") as log:
            self._process = subprocess.Popen(
                command,
                cwd=REPO,
                env=_child_env({}),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
            )
        assert self._process.stdout is not None
        self._reader = threading.Thread(
            target=self._read, args=(self._process.stdout,), name=f"fleet-client-{self.index}"
        )
        self._reader.start()
        if not self._ready.wait(timeout):
            raise RuntimeError(f"client {self.index} did not start; see its client.log")

    def _read(self, stdout: IO[bytes]) -> None:
        for line in stdout:
            word = line.split(maxsplit=1)[0] if line.strip() else b""
            if word == b"ready":
                self._ready.set()
            elif word == b"burst":
                self.burst.set()
            elif word == b"drained":
                self.drained.set()
        stdout.close()

    def kill_now(self) -> int:
        """SIGKILL without waiting (safe on any thread); returns CLOCK_MONOTONIC ns."""
        assert self._process is not None
        killed = time.monotonic_ns()
        self._process.send_signal(signal.SIGKILL)
        return killed

    def reap(self, timeout: float) -> int | None:
        """Wait for the launch to end (SIGKILL after `timeout`) and its stdout to be read;
        its exit status."""
        process = self._process
        if process is None:
            return None
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10.0)
        if process.stdin is not None:
            process.stdin.close()
        if self._reader is not None:
            self._reader.join(10.0)
        return process.returncode

    def tell(self, command: str) -> None:
        """`stop` (record the exit event, then drain) or `quit`; a dead launch is ignored."""
        process = self._process
        if process is None or process.stdin is None or process.poll() is not None:
            return
        try:
            process.stdin.write(f"{command}\n".encode())
            process.stdin.flush()
        except OSError:
            pass  # it died meanwhile: nothing left to tell

    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None
