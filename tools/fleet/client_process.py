"""One simulated client: a headless `TelemetryClient` fed by a seeded `Viewer`, keeping its
books (see `tools.fleet.ledger`). The orchestrator runs one process per launch:

    python -m tools.fleet.client_process DIR ENDPOINT KEY SEED CLOCK_OFFSET_MS LAUNCH LIFETIME_S

DIR holds the outbox and the consent/device-id file (shared by the client's launches, as an
installed app's are) and the two logs. CLOCK_OFFSET_MS skews the client's wall clock (event
`time` and batch `sent_at`), as on a device whose clock is wrong.

The client is configured as the app is, except for a short backoff cap (10 s instead of 5 min):
the fleet's goal is a drain within 60 s of the last fault, which a 5-minute cap, by design,
would not meet. Flush interval, group commits and batch limits are the defaults.

stdout, one line each: `ready <app_session_id>` once recording, `burst` just before the first
event of a burst, `drained` once stopped and every committed event has left the outbox.
stdin: `stop` ends the recording (the app's exit event is recorded last), then the client
drains; `quit` or the end of stdin closes it. After LIFETIME_S it stops and quits by itself.

Threads: the main thread records; a daemon thread reads stdin; the client's writer thread runs
the commit listener, which appends to the ledger.
"""

from __future__ import annotations

import os
import random
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from telemetry.client.client import TelemetryClient
from telemetry.client.config import TelemetryConfig
from tools.fleet.generator import Step, Viewer
from tools.fleet.ledger import ATTEMPTS, LEDGER, AppendLog

OUTBOX = "outbox.sqlite3"
BACKOFF_BASE_S = 1.0
BACKOFF_CAP_S = 10.0
_DRAIN_ATTEMPT_S = 2.0
_DRAIN_PAUSE_S = 0.5


class _Commands:
    """What the orchestrator asked for on stdin."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.quit = threading.Event()

    def read(self) -> None:
        for line in sys.stdin:
            command = line.strip()
            if command == "stop":
                self.stop.set()
            elif command == "quit":
                break
        self.stop.set()
        self.quit.set()


def client_config(
    directory: Path, endpoint: str, write_key: str, clock_offset_ms: int
) -> TelemetryConfig:
    offset_ns = clock_offset_ms * 1_000_000
    return TelemetryConfig(
        consent_before_choice=True,  # a viewer who opted in
        endpoint=endpoint,
        write_key=write_key,
        outbox_path=directory / OUTBOX,
        settings_path=directory / "telemetry.json",
        strict=True,
        backoff_base=BACKOFF_BASE_S,
        backoff_cap=BACKOFF_CAP_S,
        wall_clock_ns=lambda: time.time_ns() + offset_ns,
    )


def _say(line: str) -> None:
    print(line, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if len(arguments) != 7:
        print(__doc__, file=sys.stderr)
        return 2
    directory = Path(arguments[0])
    endpoint, write_key = arguments[1], arguments[2]
    seed, offset_ms, launch = int(arguments[3]), int(arguments[4]), int(arguments[5])
    lifetime = float(arguments[6])
    client = TelemetryClient(client_config(directory, endpoint, write_key, offset_ms))
    attempts = AppendLog(directory / ATTEMPTS)
    ledger = AppendLog(directory / LEDGER)
    attempts.append(f"L {launch} {client.app_session_id} {os.getpid()}")
    # On the writer thread, right after each group commit: the ledger never runs ahead of it.
    client.add_commit_listener(
        lambda ids: ledger.append(f"{launch} {time.monotonic_ns()} {' '.join(ids)}")
    )
    commands = _Commands()
    threading.Thread(target=commands.read, name="fleet-commands", daemon=True).start()
    client.start()
    _say(f"ready {client.app_session_id}")
    started = time.monotonic()
    deadline = started + lifetime

    def record(step: Step) -> None:
        if step.burst:
            _say("burst")
        event_id = client.track(step.event_type, step.properties)
        if event_id is not None:
            attempts.append(f"A {launch} {time.monotonic_ns()} {event_id}")

    viewer = Viewer(random.Random(f"{seed}/{directory.name}/{launch}"), _monotonic_ms)
    for step in viewer.steps():
        if commands.stop.wait(min(step.delay, max(0.0, deadline - time.monotonic()))):
            break
        if time.monotonic() >= deadline:
            break
        record(step)
    record(viewer.exit(int((time.monotonic() - started) * 1000)))
    while not commands.quit.is_set() and time.monotonic() < deadline:
        if client.flush(_DRAIN_ATTEMPT_S):
            _say("drained")
            break
        commands.quit.wait(_DRAIN_PAUSE_S)
    commands.quit.wait(max(0.0, deadline - time.monotonic()))
    client.close()
    return 0


def _monotonic_ms() -> int:
    return time.monotonic_ns() // 1_000_000


if __name__ == "__main__":
    sys.exit(main())
