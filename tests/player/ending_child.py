"""A child process for `test_session_journal.py`: plays a session (on a fake engine) with a real
telemetry client and crash journal, ends it when told to, then waits to be killed.

Usage: ending_child.py <journal dir> <outbox> <settings>
Protocol on stdin/stdout, one line each: prints `ready` once the session's `play_request` is
committed; on `end` ends the session (user_stop) and prints `ended`; then blocks.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path

from session_harness import FakeEngine

from player.play_session import EndReason, PlaySession, SourceContext
from player.session_journal import SessionJournals
from telemetry.client.client import TelemetryClient
from telemetry.client.config import TelemetryConfig


def main() -> None:
    journal_dir, outbox, settings = (Path(arg) for arg in sys.argv[1:4])
    client = TelemetryClient(
        TelemetryConfig(
            consent_before_choice=True,  # a viewer who opted in
            endpoint="http://127.0.0.1:9",  # nothing listens: events stay in the outbox
            write_key="test",
            outbox_path=outbox,
            settings_path=settings,
            connect_timeout=0.2,
        )
    )
    committed = threading.Event()
    client.add_commit_listener(lambda ids: committed.set())
    journals = SessionJournals(journal_dir, client.add_commit_listener)
    session = PlaySession(
        video_id="test-card",
        source="http://127.0.0.1:9/clip.mp4",
        context=SourceContext("direct"),
        readout=FakeEngine(),
        emit=client.track,
        journal=journals.journal("ending-session"),
        session_id="ending-session",
    )
    client.start()
    session.start()
    if not committed.wait(20):
        raise SystemExit("the play_request was never committed")
    print("ready", flush=True)
    if sys.stdin.readline().strip() == "end":
        session.end(EndReason.USER_STOP)
        print("ended", flush=True)
    sys.stdin.readline()  # until killed


if __name__ == "__main__":
    main()
