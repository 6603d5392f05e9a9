"""Reconciling the fleet's books with the store: every event ends up delivered or lost with its
cause, kills are held to the group-commit bound, duplicates and the drain are measured."""

from __future__ import annotations

from pathlib import Path

from tools.fleet.ledger import (
    ACKNOWLEDGED_THEN_LOST,
    DEAD_LETTERED,
    KILLED,
    NEVER_COMMITTED,
    NOT_DRAINED,
    VANISHED,
    AppendLog,
    Bound,
    ClientBooks,
    Entry,
    Evidence,
    Kill,
    StoredEvent,
    reconcile,
)

MS = 1_000_000  # ns
BOUND = Bound(commit_interval_ms=100, commit_max_events=100, scheduling_slack_ms=100)


def stored(event_id: str, seq: int, received_at: int, *, session: str = "s1") -> StoredEvent:
    return StoredEvent(event_id, 0, session, seq, received_at, received_at, received_at)


def evidence(rows: list[StoredEvent], **changes: object) -> Evidence:
    values: dict[str, object] = {
        "stored": rows,
        "stored_types": 1,
        "acknowledged": set(),
        "kills": [],
        "fault_ends_ns": [],
        "monotonic_to_wall_ms": 0.0,
    }
    values.update(changes)
    return Evidence(**values)  # type: ignore[arg-type]


def test_each_missing_event_gets_its_cause() -> None:
    launch1, launch2 = Entry(1, 1000 * MS), Entry(2, 5000 * MS)
    books = ClientBooks(
        attempts=dict.fromkeys(("ok", "acked", "dead", "pending", "gone", "killed"), launch1),
        committed=dict.fromkeys(("ok", "acked", "dead", "pending", "gone"), launch1),
        sessions={1: "s1", 2: "s2"},
        pending={"pending"},
        dead_letters={"dead"},
    )
    books.attempts["alive"] = launch2
    kill = Kill(0, 1, 1050 * MS, "mid-burst")
    result = reconcile(
        {0: books},
        evidence([stored("ok", 1, 2000)], acknowledged={"acked"}, kills=[kill]),
        BOUND,
    )
    assert result.delivered == 1
    assert result.lost == {
        ACKNOWLEDGED_THEN_LOST: 1,
        DEAD_LETTERED: 1,
        NOT_DRAINED: 1,
        VANISHED: 1,
        KILLED: 1,
        NEVER_COMMITTED: 1,
    }
    (loss,) = result.kills
    assert (loss.lost, loss.oldest_ms, loss.within_bound) == (1, 50.0, True)


def test_a_kill_losing_older_events_breaks_the_bound() -> None:
    books = ClientBooks(attempts={"old": Entry(1, 1000 * MS)}, sessions={1: "s1"})
    kill = Kill(0, 1, 1500 * MS, "mid-burst")
    result = reconcile({0: books}, evidence([], kills=[kill]), BOUND)
    assert not result.kills[0].within_bound


def test_duplicates_by_id_and_by_session_seq_are_counted() -> None:
    entry = Entry(1, 0)
    books = ClientBooks(attempts={"a": entry, "b": entry}, committed={"a": entry, "b": entry})
    rows = [stored("a", 1, 10), stored("b", 1, 10), stored("a", 1, 10)]
    result = reconcile({0: books}, evidence(rows), BOUND)
    assert result.duplicates_stored == 3  # "a" twice, and (s1, 1) three times


def test_events_in_no_book_are_explained_only_by_a_kill() -> None:
    entry = Entry(1, 0)
    books = ClientBooks(attempts={"a": entry}, committed={"a": entry}, sessions={1: "s1"})
    rows = [stored("a", 1, 10), stored("x", 2, 10), stored("y", 5, 10, session="other")]
    kill = Kill(0, 1, 10 * MS, "mid-flush")
    result = reconcile({0: books}, evidence(rows, kills=[kill]), BOUND)
    assert (result.unlogged_at_kill, result.unexplained_stored) == (1, 1)


def test_drain_is_measured_from_each_fault_end() -> None:
    books = ClientBooks(
        attempts={"a": Entry(1, 1000 * MS), "b": Entry(1, 3000 * MS)},
        committed={"a": Entry(1, 1000 * MS), "b": Entry(1, 3000 * MS)},
    )
    rows = [stored("a", 1, 4000), stored("b", 2, 9000)]
    result = reconcile({0: books}, evidence(rows, fault_ends_ns=[2000 * MS, 5000 * MS]), BOUND)
    assert result.fault_drains_s == [2.0, 4.0]
    assert result.drain_s == 4.0
    unstored = reconcile({0: books}, evidence(rows[:1], fault_ends_ns=[5000 * MS]), BOUND)
    assert unstored.drain_s is None


def test_books_read_back_skip_a_torn_last_line(tmp_path: Path) -> None:
    log = AppendLog(tmp_path / "attempts.log")
    log.append("L 1 session-1 123")
    log.append("A 1 5 event-1")
    with (tmp_path / "attempts.log").open("a") as torn:
        torn.write("A 1 6 event-")
    AppendLog(tmp_path / "attempts.log").append("A 2 7 event-2")
    AppendLog(tmp_path / "ledger.log").append("1 8 event-1")
    books = ClientBooks.read(tmp_path, tmp_path / "absent-outbox.sqlite3")
    assert books.attempts == {"event-1": Entry(1, 5), "event-2": Entry(2, 7)}
    assert books.committed == {"event-1": Entry(1, 8)}
    assert books.sessions == {1: "session-1"}
