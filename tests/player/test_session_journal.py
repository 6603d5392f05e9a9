"""The crash journal with a real telemetry client and outbox: a session's journal goes only once
its `session_end` is committed (a kill before the commit leaves it, and the next launch sends
the end instead), and recovery never takes this process's own live sessions for a crash."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

from player.play_session import EndReason
from player.session_journal import SessionJournals
from telemetry.client.client import TelemetryClient
from telemetry.client.config import TelemetryConfig
from telemetry.client.outbox_reader import OutboxReader

from ..telemetry.waiting import wait_until
from .session_harness import Harness, Recorder

REPO = Path(__file__).resolve().parents[2]
CHILD = Path(__file__).with_name("ending_child.py")


def _client(tmp_path: Path) -> TelemetryClient:
    return TelemetryClient(
        TelemetryConfig(
            consent_before_choice=True,  # a viewer who opted in
            endpoint="http://127.0.0.1:9",  # nothing listens: events stay in the outbox
            write_key="test",
            outbox_path=tmp_path / "outbox.sqlite3",
            settings_path=tmp_path / "telemetry.json",
            connect_timeout=0.2,
        )
    )


def _ends(tmp_path: Path, session_id: str) -> list[str]:
    """The reasons of every `session_end` of `session_id` in the outbox (pending or sent)."""
    reasons = []
    for local in OutboxReader(tmp_path / "outbox.sqlite3").local_events(1000):
        properties = local.event["properties"]
        assert isinstance(properties, dict)
        if local.event["type"] == "session_end" and properties["play_session_id"] == session_id:
            reasons.append(str(properties["reason"]))
    return reasons


@contextmanager
def _outbox_write_locked(path: Path) -> Iterator[None]:
    """Another process's write transaction on the outbox: the writer cannot commit meanwhile."""
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            conn.execute("ROLLBACK")


def test_a_kill_before_the_session_end_is_committed_leaves_the_journal_for_the_next_launch(
    tmp_path: Path,
) -> None:
    journals = tmp_path / "sessions"
    journal = journals / "ending-session.session.json"
    child = subprocess.Popen(
        [sys.executable, str(CHILD), str(journals), str(tmp_path / "outbox.sqlite3"),
         str(tmp_path / "telemetry.json")],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    assert child.stdin is not None
    assert child.stdout is not None
    try:
        assert child.stdout.readline().strip() == "ready"
        assert journal.exists()
        with _outbox_write_locked(tmp_path / "outbox.sqlite3"):
            child.stdin.write("end\n")
            child.stdin.flush()
            assert child.stdout.readline().strip() == "ended"
            # The session_end cannot be committed yet: the journal is all that keeps it.
            assert journal.exists()
            os.kill(child.pid, signal.SIGKILL)
            assert child.wait(10) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(10)
        child.stdin.close()
        child.stdout.close()
    assert _ends(tmp_path, "ending-session") == []  # the killed run's end was lost with it

    client = _client(tmp_path)
    client.start()
    try:
        recovered = SessionJournals(journals, client.add_commit_listener).recover(client.track)
        assert [r.play_session_id for r in recovered] == ["ending-session"]
        wait_until(lambda: not any(journals.iterdir()), what="the journal removed after commit")
        assert _ends(tmp_path, "ending-session") == ["crash_recovered"]
    finally:
        client.close(timeout=2.0)


def test_an_ended_session_keeps_its_journal_until_its_end_is_committed(tmp_path: Path) -> None:
    client = _client(tmp_path)
    client.start()
    try:
        journals = SessionJournals(tmp_path / "sessions", client.add_commit_listener)
        h = Harness(journal=journals.journal("s-1"), session_id="s-1", emit=client.track)
        h.open_and_play()
        h.time(400, at=480)
        h.play_steadily(480, 2480)
        journal = tmp_path / "sessions" / "s-1.session.json"
        wait_until(lambda: client.status().pending >= 1, what="the play_request committed")
        with _outbox_write_locked(tmp_path / "outbox.sqlite3"):
            h.session.end(EndReason.USER_STOP)
            assert journal.exists()
        wait_until(lambda: not journal.exists(), what="the journal removed after commit")
        assert _ends(tmp_path, "s-1") == ["user_stop"]
        # Nothing is left for a later launch to take for a crash.
        assert SessionJournals(tmp_path / "sessions").recover(Recorder()) == []
    finally:
        client.close(timeout=2.0)


def test_recovery_leaves_the_live_sessions_of_this_process_alone(tmp_path: Path) -> None:
    journals = SessionJournals(tmp_path)
    h = Harness(journal=journals.journal("live"), session_id="live")
    h.open_and_play()
    h.time(400, at=480)
    h.play_steadily(480, 2480)

    out = Recorder()
    assert journals.recover(out) == []
    assert SessionJournals(tmp_path).recover(out) == []  # any instance: it is this process's
    assert out.events == []
    assert (tmp_path / "live.session.json").exists()
    h.session.end(EndReason.USER_STOP)
    assert h.out.of("session_end")[0]["reason"] == "user_stop"
    assert list(tmp_path.iterdir()) == []


def test_a_journal_of_an_earlier_process_with_the_same_pid_is_recovered(tmp_path: Path) -> None:
    # In a sandbox the app can get the same pid at every launch.
    journals = SessionJournals(tmp_path)
    h = Harness(journal=journals.journal("earlier"), session_id="earlier")
    h.open_and_play()
    path = tmp_path / "earlier.session.json"
    snapshot = json.loads(path.read_text())
    assert snapshot["pid"] == os.getpid()
    path.write_text(json.dumps({**snapshot, "run": "an-earlier-run"}))

    out = Recorder()
    recovered = journals.recover(out)

    assert [r.play_session_id for r in recovered] == ["earlier"]
    assert out.one("session_end")["reason"] == "crash_recovered"
    assert list(tmp_path.iterdir()) == []


def test_a_claim_left_by_a_killed_recovery_is_taken_over(tmp_path: Path) -> None:
    journals = SessionJournals(tmp_path)
    h = Harness(journal=journals.journal("s-1"), session_id="s-1")
    h.open_and_play()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    snapshot = json.loads((tmp_path / "s-1.session.json").read_text())
    (tmp_path / "s-1.session.json").unlink()
    claim = tmp_path / f"s-1.recovering-{dead.pid}-a-dead-run.session.json"
    claim.write_text(json.dumps({**snapshot, "pid": dead.pid, "run": "older"}))

    out = Recorder()
    assert [r.play_session_id for r in journals.recover(out)] == ["s-1"]
    assert [e["play_session_id"] for e in out.of("session_end")] == ["s-1"]
    assert list(tmp_path.iterdir()) == []
