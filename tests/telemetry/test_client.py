"""The client end to end against a real HTTP server: what goes on the wire, when it is sent,
validation, consent, status, shutdown, and two app instances sharing one outbox."""

from __future__ import annotations

import base64
import json
import logging
import os
import sqlite3
import subprocess
import sys
import threading
import time
from contextlib import closing
from pathlib import Path

import pytest

from telemetry.client.client import TelemetryClient
from telemetry.client.outbox_reader import OutboxReader
from telemetry.client.status import SyncState, SyncStatus
from telemetry.contracts.events import InvalidEventError

from .conftest import MakeClient, client_config
from .samples import VALID, heartbeat
from .scripted_collector import Reply, ScriptedCollector
from .waiting import wait_until


def test_events_reach_the_collector_with_envelope_context_and_key(
    make_client: MakeClient, collector: ScriptedCollector
) -> None:
    client = make_client()
    client.set_context(
        libvlc_version="3.0.21", locale="en_GB", screen={"width": 1920, "height": 1080}
    )
    sent = [client.track(t, VALID[t]) for t in ("app_start", "play_request", "pause")]
    assert client.flush(5.0)
    (request,) = collector.requests
    assert request.path == "/v1/batch"
    assert request.headers["Content-Encoding"] == "gzip"
    assert request.headers["Content-Type"] == "application/json"
    assert request.write_key == "test-key"
    document = request.document
    assert isinstance(document["sent_at"], int)
    assert abs(document["sent_at"] - time.time() * 1000) < 10_000
    assert document["context"]["app"]["name"] == "reelscope"
    assert document["context"]["libvlc_version"] == "3.0.21"
    assert document["context"]["screen"] == {"width": 1920, "height": 1080}
    events = request.events
    assert [e["event_id"] for e in events] == sent
    assert [e["seq"] for e in events] == [1, 2, 3]
    assert [e["type"] for e in events] == ["app_start", "play_request", "pause"]
    for event in events:
        assert event["schema"] == 1
        assert event["app_session_id"] == client.app_session_id
        assert event["device_id"] == client.device_id
        assert isinstance(event["time"], int)
        assert isinstance(event["mono_ms"], int)
    assert events[1]["properties"] == VALID["play_request"]
    assert events[0]["mono_ms"] <= events[2]["mono_ms"]


def test_sent_at_is_set_at_each_attempt_with_the_same_event_ids(
    make_client: MakeClient, collector: ScriptedCollector
) -> None:
    collector.script(Reply(503))
    client = make_client()
    client.track("pause", VALID["pause"])
    wait_until(lambda: collector.stored_count() == 1, what="delivery after one 503")
    first, second = collector.requests
    assert first.status == 503
    assert first.events == second.events
    assert second.document["sent_at"] > first.document["sent_at"]


def test_device_id_persists_and_sessions_are_per_launch(
    tmp_path: Path, collector: ScriptedCollector
) -> None:
    first = TelemetryClient(client_config(tmp_path, collector.url))
    second = TelemetryClient(client_config(tmp_path, collector.url))
    assert first.device_id == second.device_id
    assert first.app_session_id != second.app_session_id
    assert json.loads((tmp_path / "config" / "telemetry.json").read_text())["device_id"] == (
        first.device_id
    )


def test_constructing_spawns_no_thread(tmp_path: Path, collector: ScriptedCollector) -> None:
    before = threading.active_count()
    client = TelemetryClient(client_config(tmp_path, collector.url))
    client.track("pause", VALID["pause"])  # queued until start()
    assert threading.active_count() == before
    client.start()
    try:
        assert client.flush(5.0)
        assert collector.stored_count() == 1
    finally:
        client.close()


def test_strict_mode_raises_on_invalid_events(make_client: MakeClient) -> None:
    client = make_client(strict=True)
    with pytest.raises(InvalidEventError, match="unknown event type"):
        client.track("clicked", {})
    with pytest.raises(InvalidEventError, match="missing property 'position_ms'"):
        client.track("pause", {"play_session_id": "p"})
    with pytest.raises(InvalidEventError, match="not serialisable"):
        client.track("play_request", {**VALID["play_request"], "source": {"x": object()}})
    with pytest.raises(InvalidEventError, match="bytes"):
        client.track("error", {**VALID["error"], "message": "x" * 40_000})


def test_production_counts_invalid_events_and_reports_them(
    make_client: MakeClient, collector: ScriptedCollector, caplog: pytest.LogCaptureFixture
) -> None:
    client = make_client(strict=False)
    with caplog.at_level(logging.WARNING, logger="reelscope.telemetry.client"):
        assert client.track("clicked", {}) is None
        assert client.track("pause", {"play_session_id": "p"}) is None
        assert client.track("error", {**VALID["error"], "message": "x" * 40_000}) is None
    assert "clicked" in caplog.text
    assert client.track("pause", VALID["pause"]) is not None
    assert client.flush(5.0)
    assert collector.stored_count() == 1
    assert collector.drops == {"invalid": 2, "too_large": 1}
    # Acknowledged, so not reported twice.
    assert OutboxReader(client.outbox_path).drops() == {}
    client.track("pause", VALID["pause"])
    assert client.flush(5.0)
    assert "drops" not in collector.requests[-1].document


def test_track_never_waits_for_a_locked_database(
    make_client: MakeClient, collector: ScriptedCollector
) -> None:
    client = make_client()
    assert client.flush(5.0)  # the outbox exists and the writer is idle
    blocker = sqlite3.connect(client.outbox_path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        durations = []
        for n in range(2000):
            start = time.perf_counter()
            client.track("heartbeat", heartbeat(n))
            durations.append(time.perf_counter() - start)
        # The writer is stuck behind the lock meanwhile; the callers are not.
        assert collector.stored_count() == 0
        assert sorted(durations)[len(durations) // 2] < 0.001
        assert max(durations) < 0.05
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert client.flush(10.0)
    assert collector.stored_count() == 2000


def test_timer_sends_without_a_flush(make_client: MakeClient, collector: ScriptedCollector) -> None:
    client = make_client(flush_interval=0.3)
    started = time.monotonic()
    client.track("pause", VALID["pause"])
    wait_until(lambda: collector.stored_count() == 1, what="the timer's send")
    assert time.monotonic() - started >= 0.25


def test_sync_now_sends_what_was_just_tracked(
    make_client: MakeClient, collector: ScriptedCollector
) -> None:
    client = make_client(flush_interval=60.0)
    sent = [client.track("heartbeat", heartbeat(n)) for n in range(5)]
    client.sync_now()  # before the writer's group window has closed
    wait_until(lambda: collector.stored_count() == 5, timeout=5, what="the sync")
    assert list(collector.stored) == sent


def test_full_batches_go_at_once_and_critical_events_flush(
    make_client: MakeClient, collector: ScriptedCollector
) -> None:
    client = make_client(flush_interval=60.0, batch_max_events=50)
    for n in range(120):
        client.track("heartbeat", heartbeat(n))
    wait_until(lambda: collector.stored_count() == 100, what="two full batches")
    assert [len(r.events) for r in collector.requests] == [50, 50]
    client.track("session_end", VALID["session_end"])  # critical: no waiting for the timer
    wait_until(lambda: collector.stored_count() == 121, what="the critical flush")
    assert collector.requests[-1].events[-1]["type"] == "session_end"


def test_close_keeps_unsent_events_for_the_next_launch(
    tmp_path: Path, collector: ScriptedCollector
) -> None:
    collector.default = lambda _: Reply(503)
    client = TelemetryClient(client_config(tmp_path, collector.url, backoff_base=30.0))
    client.start()
    sent = {client.track("heartbeat", heartbeat(n)) for n in range(300)}
    started = time.monotonic()
    client.close(timeout=0.5)
    assert time.monotonic() - started < 1.0
    assert OutboxReader(client.outbox_path).counts_by_type() == {"heartbeat": 300}
    collector.default = lambda _: Reply()
    relaunched = TelemetryClient(client_config(tmp_path, collector.url))
    relaunched.start()
    try:
        wait_until(lambda: collector.stored_count() == 300, what="delivery after relaunch")
        assert set(collector.stored) == sent
    finally:
        relaunched.close()


def test_opting_out_stops_recording_and_purges(
    tmp_path: Path, make_client: MakeClient, collector: ScriptedCollector
) -> None:
    collector.default = lambda _: Reply(503)
    client = make_client(backoff_base=30.0, strict=False)
    for n in range(50):
        client.track("heartbeat", heartbeat(n))
    client.track("pause", {"play_session_id": "p"})  # a counted drop
    assert client.flush(0.5) is False
    assert OutboxReader(client.outbox_path).counts_by_type() == {"heartbeat": 50}
    client.set_consent(False)
    assert client.consent is False
    assert client.track("pause", VALID["pause"]) is None
    reader = OutboxReader(client.outbox_path)
    wait_until(
        lambda: reader.export() == {"events": [], "history": [], "dead_letter": [], "drops": {}},
        what="the purge",
    )
    assert client.status().state == SyncState.DISABLED
    assert client.status().pending == 0
    saved = json.loads((tmp_path / "config" / "telemetry.json").read_text())
    assert saved["enabled"] is False
    # The next launch remembers the choice.
    relaunched = TelemetryClient(client_config(tmp_path, collector.url))
    assert relaunched.consent is False
    assert relaunched.track("pause", VALID["pause"]) is None
    assert relaunched.status().state == SyncState.DISABLED
    # Opting back in records again.
    collector.default = lambda _: Reply()
    client.set_consent(True)
    client.track("pause", VALID["pause"])
    assert client.flush(5.0)
    assert [e["type"] for e in collector.stored.values()] == ["pause"]


def test_a_purge_that_cannot_run_says_so_and_deletes_nothing(
    make_client: MakeClient, tmp_path: Path
) -> None:
    client = make_client()
    kept = client.track("pause", VALID["pause"])
    assert wait_until(lambda: client.outbox.local_events(10), what="the event committed")
    # Another process holding the outbox's write lock past the writer's 5 s busy timeout.
    with closing(sqlite3.connect(tmp_path / "state" / "outbox.sqlite3")) as other:
        other.execute("BEGIN EXCLUSIVE")
        purge = client.delete_local_data()
        assert wait_until(purge.done.is_set, timeout=30, what="the purge attempted")
        assert not purge.wait(0)
        other.rollback()
    assert [e.event_id for e in client.outbox.local_events(10)] == [kept]
    assert client.delete_local_data().wait(10.0)
    assert client.outbox.local_events(10) == []


def test_delivered_events_stay_in_the_local_history_until_deleted(
    make_client: MakeClient,
) -> None:
    empty = {"events": [], "history": [], "dead_letter": [], "drops": {}}
    client = make_client(history_max_rows=4)
    sent = [client.track("heartbeat", heartbeat(n)) for n in range(6)]
    assert client.flush(5.0)
    reader = client.outbox
    local = reader.local_events(100)
    assert [e.event_id for e in local] == sent[:1:-1]  # the newest 4 of one batch
    assert {(e.status, e.outcome) for e in local} == {("sent", "accepted")}
    assert reader.counts_by_type() == {"heartbeat": 4}
    assert client.delete_local_data().wait(5.0)
    assert reader.export() == empty
    assert client.consent  # deleting local data leaves sharing on
    later = client.track("pause", VALID["pause"])
    assert client.flush(5.0)
    assert [(e.event_id, e.status) for e in reader.local_events()] == [(later, "sent")]
    client.set_consent(False)
    wait_until(lambda: reader.export() == empty, what="the opt-out purge")


def test_status_snapshot_and_listener(
    make_client: MakeClient, collector: ScriptedCollector
) -> None:
    collector.script(Reply(500, {"code": "boom", "message": "storage on fire"}))
    seen: list[SyncStatus] = []
    client = make_client(backoff_base=0.2, backoff_cap=0.2, jitter=lambda: 1.0)
    client.add_status_listener(seen.append)
    assert client.status().state == SyncState.OK
    client.track("session_end", VALID["session_end"])
    wait_until(lambda: collector.stored_count() == 1, what="delivery after a 500")
    wait_until(lambda: client.status().last_success is not None, what="status update")
    backing_off = [s for s in seen if s.state == SyncState.BACKING_OFF]
    assert backing_off
    assert backing_off[0].last_error == "500: storage on fire"
    assert backing_off[0].retry_at is not None
    assert backing_off[0].pending == 1
    final = client.status()
    assert final.state == SyncState.OK
    assert final.pending == 0
    assert final.last_error is None
    assert final.last_success is not None
    assert final.last_success <= time.time()
    with pytest.raises(AttributeError):
        final.pending = 3  # type: ignore[misc]


def test_two_instances_never_send_the_same_rows(
    tmp_path: Path, collector: ScriptedCollector
) -> None:
    first = TelemetryClient(client_config(tmp_path, collector.url, flush_interval=0.1))
    second = TelemetryClient(client_config(tmp_path, collector.url, flush_interval=0.1))
    first.start()
    second.start()
    try:
        ids = set()
        for n in range(400):
            ids.add(first.track("heartbeat", heartbeat(n)))
            ids.add(second.track("heartbeat", heartbeat(n)))
        senders = [c for c in (first, second) if c.flush(5.0)]
        assert len(senders) == 1  # the other one is locked out of sending
        other = second if senders[0] is first else first
        wait_until(lambda: collector.stored_count() == 800, what="all 800 events")
        assert set(collector.stored) == ids
        senders[0].close()
        # The survivor takes over sending once the first instance has gone.
        late = other.track("pause", VALID["pause"])
        wait_until(lambda: late in collector.stored, what="the survivor sending")
        assert max(collector.copies.values()) == 1
    finally:
        first.close()
        second.close()


_OTHER_INSTANCE = """
import sys
from pathlib import Path
from telemetry.client.client import TelemetryClient
from telemetry.client.config import TelemetryConfig
root, url = Path(sys.argv[1]), sys.argv[2]
client = TelemetryClient(TelemetryConfig(
    consent_before_choice=True,  # a viewer who opted in
    endpoint=url, write_key="test-key", outbox_path=root / "state" / "outbox.sqlite3",
    settings_path=root / "config-other" / "telemetry.json", flush_interval=0.2))
client.start()
ids = [client.track("pause", {"play_session_id": "p", "position_ms": n}) for n in range(5)]
client.close(timeout=1.0)
print(" ".join(ids))
"""


def test_rows_committed_by_another_process_are_sent_by_the_idle_sender(
    tmp_path: Path, collector: ScriptedCollector
) -> None:
    # The sending instance hears only of its own writer's commits; rows that another app
    # instance commits to the shared outbox (it cannot send: it is locked out) must still
    # leave within a flush period while the sender has nothing of its own to send.
    sender = TelemetryClient(client_config(tmp_path, collector.url, flush_interval=0.2))
    sender.start()
    try:
        own = sender.track("pause", VALID["pause"])
        assert sender.flush(5.0)  # it sent, so it holds the send lock; nothing is pending
        assert set(collector.stored) == {own}
        other = subprocess.run(
            [sys.executable, "-c", _OTHER_INSTANCE, str(tmp_path), collector.url],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert other.returncode == 0, other.stderr
        ids = set(other.stdout.split())
        assert len(ids) == 5
        # Found by the idle sender's look at the outbox once per flush interval (0.2 s).
        wait_until(lambda: set(collector.stored) >= ids, timeout=3.0, what="the other's rows")
        assert max(collector.copies.values()) == 1
    finally:
        sender.close()


_LOCKED_OUT_INSTANCE = """
import sys, threading, time
from pathlib import Path
from telemetry.client.client import TelemetryClient
from telemetry.client.config import TelemetryConfig
root, url = Path(sys.argv[1]), sys.argv[2]
client = TelemetryClient(TelemetryConfig(
    consent_before_choice=True,  # a viewer who opted in
    endpoint=url, write_key="test-key", outbox_path=root / "state" / "outbox.sqlite3",
    settings_path=root / "config-other" / "telemetry.json", flush_interval=0.2))
client.start()
client.track("session_end", {"play_session_id": "p", "reason": "completed"})
flushed = client.flush(5.0)  # False at once: another instance holds the send lock
start = time.process_time()
threading.Event().wait(1.0)  # a measuring window, not a synchronisation
print(flushed, time.process_time() - start)
client.close(timeout=1.0)
"""


def test_a_locked_out_instance_does_not_spin_after_a_flush(
    tmp_path: Path, collector: ScriptedCollector
) -> None:
    holder = TelemetryClient(client_config(tmp_path, collector.url, flush_interval=0.2))
    holder.start()
    try:
        holder.track("pause", VALID["pause"])
        assert holder.flush(5.0)  # holds the send lock from now on
        other = subprocess.run(
            [sys.executable, "-c", _LOCKED_OUT_INSTANCE, str(tmp_path), collector.url],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert other.returncode == 0, other.stderr
        flushed, cpu = other.stdout.split()
        assert flushed == "False"
        # Idle but for a lock attempt per flush interval; it was ~0.9 s (a core) before.
        assert float(cpu) < 0.2, f"the locked-out instance used {cpu} s of CPU in 1 s"
        # Its critical event is sent by the holder.
        wait_until(lambda: collector.stored_count() == 2, what="the other's session_end")
    finally:
        holder.close()


def test_corrupt_outbox_is_set_aside_and_recording_continues(
    tmp_path: Path,
    make_client: MakeClient,
    collector: ScriptedCollector,
    caplog: pytest.LogCaptureFixture,
) -> None:
    outbox = tmp_path / "state" / "outbox.sqlite3"
    outbox.parent.mkdir(parents=True)
    outbox.write_bytes(os.urandom(64 * 1024))
    with caplog.at_level(logging.WARNING, logger="reelscope.telemetry"):
        client = make_client()
        client.track("pause", VALID["pause"])
        assert client.flush(5.0)
    assert collector.stored_count() == 1
    assert len(list(outbox.parent.glob("outbox.sqlite3.corrupt-*"))) == 1
    assert "moved aside" in caplog.text


def test_write_key_travels_only_in_the_header(
    make_client: MakeClient, collector: ScriptedCollector
) -> None:
    client = make_client(write_key="s3cret-key")
    client.track("pause", VALID["pause"])
    assert client.flush(5.0)
    (request,) = collector.requests
    assert request.write_key == "s3cret-key"
    assert "s3cret-key" not in json.dumps(request.document)
    assert request.headers["Authorization"] == "Basic " + base64.b64encode(b"s3cret-key:").decode()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_forked_child_restarts_the_writer_with_a_fresh_session(
    make_client: MakeClient, collector: ScriptedCollector
) -> None:
    client = make_client(flush_interval=60.0)
    parent_event = client.track("pause", VALID["pause"])
    assert client.flush(5.0)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: record through its own threads, close, report, leave
        code = 1
        try:
            child_event = client.track("ended", VALID["ended"])
            # The parent holds the sender lock, so the child only commits to the outbox.
            flushed = client.flush(5.0)
            client.close()
            os.write(write, f"{flushed} {child_event} {client.app_session_id}".encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write)
    _, status = os.waitpid(pid, 0)
    report = os.read(read, 1000).decode().split()
    os.close(read)
    assert os.waitstatus_to_exitcode(status) == 0
    flushed, child_event, child_session = report
    assert flushed == "False"
    assert child_session != client.app_session_id
    # The parent sends what the child committed, with its own events.
    last = client.track("resume", VALID["resume"])
    assert client.flush(5.0)
    assert {parent_event, child_event, last} == set(collector.stored)
    assert collector.stored[child_event]["seq"] == 1
    assert collector.stored[child_event]["app_session_id"] == child_session
    assert max(collector.copies.values()) == 1


def _fork_while_busy(client: TelemetryClient, forks: int, *, read_too: bool) -> list[str]:
    """Fork `forks` times while the parent commits and sends all the time (and, `read_too`,
    reads the outbox as the privacy window does); each child records one event and closes.
    Returns the children's event ids."""
    # The parent takes the sender lock before the first fork: the children only commit (a
    # child that took it first would lock the parent out for a flush interval).
    client.track("pause", VALID["pause"])
    assert client.flush(5.0)
    stop = threading.Event()

    def commit_and_send() -> None:
        while not stop.is_set():
            client.track("pause", VALID["pause"])
            client.flush(5.0)

    def read() -> None:
        while not stop.is_set():
            client.outbox.counts_by_status()

    busy = [threading.Thread(target=commit_and_send, name="busy-commit-and-send")]
    if read_too:
        busy.append(threading.Thread(target=read, name="busy-read"))
    for thread in busy:
        thread.start()
    children: list[str] = []
    try:
        for _ in range(forks):
            read_end, write_end = os.pipe()
            pid = os.fork()
            if pid == 0:
                code = 1
                try:
                    event_id = client.track("ended", VALID["ended"])
                    client.close(timeout=3.0)
                    os.write(write_end, event_id.encode())
                    code = 0
                finally:
                    os._exit(code)
            os.close(write_end)
            _, status = os.waitpid(pid, 0)
            children.append(os.read(read_end, 100).decode())
            os.close(read_end)
            assert os.waitstatus_to_exitcode(status) == 0
    finally:
        stop.set()
        for thread in busy:
            thread.join()
    return children


def test_forks_in_the_middle_of_commits_and_sends_lose_no_event_of_the_child(
    make_client: MakeClient, collector: ScriptedCollector
) -> None:
    # A fork while one of the parent's threads is inside an outbox transaction copies SQLite's
    # per-process lock state into the child, where it belongs to a connection no thread will
    # ever finish: the child's writer then waits on a lock nobody holds and its events are lost.
    # Forks here land at random moments of a parent committing and sending all the time.
    client = make_client(flush_interval=60.0)
    children = _fork_while_busy(client, 25, read_too=False)
    assert client.flush(20.0)
    assert [event for event in children if event not in collector.stored] == []


def test_forks_while_the_parent_reads_and_sends_lose_no_event_of_the_child(
    make_client: MakeClient, collector: ScriptedCollector
) -> None:
    # A parent thread inside SQLite at a fork, outside any transaction (the privacy window
    # opening a connection and reading, the sender reading a batch), holds SQLite mutexes the
    # child inherits held: process-wide ones and those of the outbox file, which the child's
    # new connections share. Without the fork gate the child's writer waits on them for good.
    client = make_client(flush_interval=60.0)
    children = _fork_while_busy(client, 15, read_too=True)
    assert client.flush(20.0)
    assert [event for event in children if event not in collector.stored] == []


def test_commit_listeners_get_the_ids_once_they_are_in_the_outbox(
    make_client: MakeClient, collector: ScriptedCollector
) -> None:
    # No timed send: nothing leaves the outbox before flush(), which comes after the commits.
    client = make_client(start=False, flush_interval=60.0)
    seen: list[tuple[list[str], set[object]]] = []
    # What the outbox holds at the moment each listener call runs (the commit is done).
    client.add_commit_listener(
        lambda ids: seen.append((ids, {e["event_id"] for e in client.outbox.recent_events(100)}))
    )
    client.start()
    sent = [client.track("pause", VALID["pause"]) for _ in range(3)]
    assert client.flush(5.0)
    assert [event_id for ids, _ in seen for event_id in ids] == sent
    for ids, in_outbox_then in seen:
        assert set(ids) <= in_outbox_then


def test_a_skewed_wall_clock_sets_time_and_sent_at(
    make_client: MakeClient, collector: ScriptedCollector
) -> None:
    skew_ns = -3 * 3600 * 10**9
    client = make_client(wall_clock_ns=lambda: time.time_ns() + skew_ns)
    client.track("pause", VALID["pause"])
    assert client.flush(5.0)
    (request,) = collector.requests
    now_ms = time.time() * 1000
    assert abs(request.document["sent_at"] - (now_ms + skew_ns / 1e6)) < 10_000
    assert abs(request.events[0]["time"] - (now_ms + skew_ns / 1e6)) < 10_000
