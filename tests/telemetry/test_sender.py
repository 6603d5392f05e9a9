"""The sender against a misbehaving collector: outages, Retry-After, 413, 400/422, per-event
rejections, auth failures, a full outbox. Backoff uses small injected bases and a fixed
jitter so the schedule is known and the tests stay fast."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

from telemetry.client.backoff import backoff_delay
from telemetry.client.client import TelemetryClient
from telemetry.client.outbox_reader import OutboxReader
from telemetry.client.status import SyncState

from .conftest import MakeClient, client_config
from .samples import VALID, heartbeat
from .scripted_collector import Received, Reply, ScriptedCollector
from .waiting import wait_until


def test_outage_then_recovery_follows_the_backoff_schedule(
    make_client: MakeClient, collector: ScriptedCollector
) -> None:
    outage = 1.5
    base, cap = 0.05, 0.4
    client = make_client(backoff_base=base, backoff_cap=cap, jitter=lambda: 1.0)
    down_until = time.monotonic() + outage
    collector.default = lambda r: Reply(503) if r.at < down_until else Reply()
    sent = {client.track("heartbeat", heartbeat(n)) for n in range(100)}
    client.sync_now()
    # Critical events keep arriving during the outage: they must not wake the sender.
    while time.monotonic() < down_until:
        sent.add(client.track("error", VALID["error"]))
        client.track("heartbeat", heartbeat(0))
        if client.status().state == SyncState.BACKING_OFF:
            assert client.status().retry_at is not None
        time.sleep(0.01)
    wait_until(lambda: client.flush(0.5), timeout=10, what="delivery after the outage")
    failed = [r for r in collector.requests if r.status == 503]
    gaps = [b.at - a.at for a, b in itertools.pairwise(failed)]
    schedule = [backoff_delay(n, base=base, cap=cap, jitter=lambda: 1.0) for n in range(len(gaps))]
    assert all(gap >= wanted * 0.95 for gap, wanted in zip(gaps, schedule, strict=True)), gaps
    # The schedule allows 0, .05, .15, .35, .75, 1.15 (and 1.55 > outage): 6 or 7 requests.
    assert 5 <= len(failed) <= 7
    assert sent <= set(collector.stored)
    assert max(collector.copies.values()) == 1
    # The status board is updated after the answer that let the flush through is handled.
    wait_until(lambda: client.status().state == SyncState.OK, what="ok state")


def test_unreachable_collector_is_offline_then_everything_arrives(
    make_client: MakeClient, collector: ScriptedCollector
) -> None:
    collector.stop()  # connection refused on its port
    client = make_client(backoff_base=0.05, backoff_cap=0.2)
    sent = [client.track("heartbeat", heartbeat(n)) for n in range(700)]
    client.sync_now()
    wait_until(lambda: client.status().state == SyncState.OFFLINE, what="offline state")
    assert "unreachable" in (client.status().last_error or "")
    collector.start()
    wait_until(lambda: collector.stored_count() == 700, what="delivery after the outage")
    assert set(collector.stored) == set(sent)
    wait_until(lambda: client.status().state == SyncState.OK, what="ok state")


def test_retry_after_is_honoured_as_a_floor(
    make_client: MakeClient, collector: ScriptedCollector
) -> None:
    collector.script(Reply(429, headers={"Retry-After": "1"}))
    client = make_client(backoff_base=0.01, backoff_cap=0.02)
    client.track("session_end", VALID["session_end"])
    wait_until(lambda: collector.request_count() == 1, what="the first attempt")
    # More critical events during the wait do not bring the retry forward.
    for _ in range(5):
        client.track("error", VALID["error"])
    wait_until(lambda: collector.stored_count() == 6, timeout=5, what="the retry")
    first, second = collector.requests[:2]
    assert second.at - first.at >= 0.99
    assert len(collector.requests) == 2


def test_413_splits_the_batch_until_it_fits(
    make_client: MakeClient, collector: ScriptedCollector
) -> None:
    def small_batches_only(request: Received) -> Reply:
        return Reply(413) if len(request.events) > 10 else Reply()

    collector.default = small_batches_only
    client = make_client()
    sent = [client.track("heartbeat", heartbeat(n)) for n in range(40)]
    assert client.flush(10.0)
    assert list(collector.stored) == sent  # FIFO, nothing lost
    sizes = [len(r.events) for r in collector.requests]
    assert sizes[:3] == [40, 20, 10]
    assert client.status().dead_letter == 0


def test_a_single_event_still_too_large_goes_to_dead_letter(
    make_client: MakeClient, collector: ScriptedCollector
) -> None:
    def refuse_big(request: Received) -> Reply:
        if any(len(e["properties"]["play_session_id"]) > 1000 for e in request.events):
            return Reply(413, {"code": "too_large", "message": "event over the limit"})
        return Reply()

    collector.default = refuse_big
    client = make_client()
    client.track("heartbeat", heartbeat(1))
    big = client.track("heartbeat", heartbeat(2, pad="x" * 5000))
    client.track("heartbeat", heartbeat(3))
    assert client.flush(10.0)
    assert collector.stored_count() == 2
    (letter,) = OutboxReader(client.outbox_path).dead_letters()
    assert letter["event"]["event_id"] == big  # type: ignore[index]
    assert (letter["status"], letter["code"], letter["message"]) == (
        413,
        "too_large",
        "event over the limit",
    )


def test_400_dead_letters_only_the_offending_event_with_the_reason(
    make_client: MakeClient, collector: ScriptedCollector
) -> None:
    def refuse_13(request: Received) -> Reply:
        if any(e["properties"]["position_ms"] == 13 for e in request.events):
            return Reply(422, {"code": "invalid_event", "message": "13 is unlucky"})
        return Reply()

    collector.default = refuse_13
    client = make_client()
    sent = [client.track("heartbeat", heartbeat(n)) for n in range(30)]
    assert client.flush(10.0)
    assert list(collector.stored) == sent[:13] + sent[14:]
    (letter,) = OutboxReader(client.outbox_path).dead_letters()
    assert letter["event"]["event_id"] == sent[13]  # type: ignore[index]
    assert letter["message"] == "13 is unlucky"
    assert letter["status"] == 422
    wait_until(lambda: client.status().dead_letter == 1, what="dead-letter count")
    reader = OutboxReader(client.outbox_path)
    assert reader.counts_by_status() == {"pending": 0, "sent": 29, "refused": 1}
    statuses = {e.event_id: e.status for e in reader.local_events(100)}
    assert statuses == {
        event_id: "refused" if event_id == sent[13] else "sent" for event_id in sent
    }


def test_per_event_rejections_go_to_dead_letter(
    make_client: MakeClient, collector: ScriptedCollector
) -> None:
    collector.default = lambda _: Reply(
        reject=lambda e: "rank out of range" if e["properties"]["position_ms"] == 2 else None
    )
    client = make_client()
    sent = [client.track("heartbeat", heartbeat(n)) for n in range(5)]
    assert client.flush(5.0)
    assert len(collector.requests) == 1  # accepted once, not retried
    assert list(collector.stored) == sent[:2] + sent[3:]
    (letter,) = OutboxReader(client.outbox_path).dead_letters()
    assert letter["event"]["event_id"] == sent[2]  # type: ignore[index]
    assert letter["message"] == "rank out of range"


def test_duplicates_count_as_delivered(
    make_client: MakeClient, collector: ScriptedCollector
) -> None:
    # The first answer is lost after the collector stored the batch: the retry is harmless.
    def store_then_fail(request: Received) -> Reply:
        collector._store(request, Reply())
        return Reply(503)

    collector.script(store_then_fail)
    client = make_client()
    sent = [client.track("heartbeat", heartbeat(n)) for n in range(10)]
    assert client.flush(5.0)
    assert list(collector.stored) == sent
    assert collector.copies[sent[0]] == 2
    local = OutboxReader(client.outbox_path).local_events(100)
    assert sorted(e.event_id for e in local) == sorted(sent)  # type: ignore[type-var]
    assert {(e.status, e.outcome) for e in local} == {("sent", "duplicate")}


def test_auth_failure_stops_sending_and_keeps_the_data(
    make_client: MakeClient, collector: ScriptedCollector
) -> None:
    collector.default = lambda r: Reply(401) if r.write_key == "test-key" else Reply()
    client = make_client()
    sent = [client.track("heartbeat", heartbeat(n)) for n in range(20)]
    client.sync_now()
    wait_until(lambda: client.status().state == SyncState.AUTH_FAILED, what="auth failure")
    assert client.flush(0.5) is False  # returns at once: nothing can be sent
    sent.append(client.track("session_end", VALID["session_end"]))
    assert client.flush(0.5) is False
    assert collector.request_count() == 1
    assert OutboxReader(client.outbox_path).counts_by_type() == {
        "heartbeat": 20,
        "session_end": 1,
    }
    client.set_endpoint(collector.url, "new-key")
    assert client.flush(5.0)
    assert list(collector.stored) == sent
    assert collector.requests[-1].write_key == "new-key"
    assert client.status().state == SyncState.OK


def test_full_outbox_drops_oldest_low_priority_and_the_count_reaches_the_server(
    tmp_path: Path, collector: ScriptedCollector
) -> None:
    collector.default = lambda _: Reply(503)
    config = client_config(tmp_path, collector.url, max_rows=50, backoff_base=30.0)
    client = TelemetryClient(config)
    client.start()
    try:
        sessions = [client.track("session_end", VALID["session_end"]) for _ in range(30)]
        beats = [client.track("heartbeat", heartbeat(n)) for n in range(60)]
        assert client.flush(0.3) is False
        assert OutboxReader(config.outbox_path).drops() == {"outbox_full": 40}
        collector.default = lambda _: Reply()
        client.sync_now()
        wait_until(lambda: collector.stored_count() == 50, what="delivery")
        assert set(collector.stored) == set(sessions + beats[40:])
        assert collector.drops == {"outbox_full": 40}
        wait_until(lambda: OutboxReader(config.outbox_path).drops() == {}, what="acknowledged")
    finally:
        client.close()
