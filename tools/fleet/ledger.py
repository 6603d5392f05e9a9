"""The books of the fleet simulation: what each client says it recorded and committed, and the
reconciliation of those books with the collector's store after the run.

Each simulated client keeps two append-only logs in its directory, across its launches:
- `attempts.log`: `L <launch> <app_session_id> <pid>` when a launch starts, then
  `A <launch> <monotonic_ns> <event_id>` for every event `track()` accepted: what the generator
  tried to record (the count that losses are measured against).
- `ledger.log`: `<launch> <monotonic_ns> <event_id>...`, one line per group commit, written by the
  client's commit listener once the group is in the outbox, so the ledger never claims an event
  the outbox does not hold. A launch killed between its commit and the ledger line leaves those
  events out of the ledger; they are still delivered (by the next launch) and are not counted
  as lost, so the ledger can only under-claim.
Both are written with one write(2) per line into the page cache, which a killed process cannot
undo: the only crash the simulation injects is SIGKILL. No fsync: it would run on the client's
writer thread and stretch the very group-commit window being measured (the outbox itself uses
synchronous=NORMAL, also durable across a process crash and not across a power cut).

`reconcile` compares the books with the store (and with what is still in each outbox) and
classifies every event: delivered, or lost with a cause. Monotonic times are CLOCK_MONOTONIC,
shared by every process on the machine, so the orchestrator compares them with its own.

`AppendLog` belongs to the one process writing the file (any of its threads, one per file);
the readers and `reconcile` run in the orchestrator after the clients have stopped.
"""

from __future__ import annotations

import bisect
import os
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from telemetry.client.outbox_reader import OutboxReader

ATTEMPTS = "attempts.log"
LEDGER = "ledger.log"

# Causes of loss, worst first.
ACKNOWLEDGED_THEN_LOST = "acknowledged by the collector, not in the store"
VANISHED = "committed, then gone from the outbox undelivered"
DEAD_LETTERED = "refused by the collector (dead letter)"
NOT_DRAINED = "still in the outbox at the end"
NEVER_COMMITTED = "never committed by a client that was not killed"
KILLED = "killed before its group commit"


class AppendLog:
    """An append-only text file written one whole line per write(2)."""

    def __init__(self, path: Path) -> None:
        # A line torn by an earlier launch's death (not seen in practice: a short write to a
        # regular file completes) must not run into this launch's first line.
        if path.exists():
            data = path.read_bytes()
            if data and not data.endswith(b"\n"):
                os.truncate(path, data.rfind(b"\n") + 1)
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def append(self, line: str) -> None:
        data = memoryview(f"{line}\n".encode())
        while data:
            data = data[os.write(self._fd, data) :]


@dataclass(frozen=True, slots=True)
class Entry:
    launch: int
    monotonic_ns: int


@dataclass
class ClientBooks:
    """One client's logs as read back, plus what its outbox still holds."""

    attempts: dict[str, Entry] = field(default_factory=dict)
    committed: dict[str, Entry] = field(default_factory=dict)
    sessions: dict[int, str] = field(default_factory=dict)  # launch -> app_session_id
    pending: set[str] = field(default_factory=set)
    dead_letters: set[str] = field(default_factory=set)

    @classmethod
    def read(cls, directory: Path, outbox: Path) -> ClientBooks:
        books = cls()
        for fields in _lines(directory / ATTEMPTS):
            if fields[0] == "L" and len(fields) == 4:
                books.sessions[int(fields[1])] = fields[2]
            elif fields[0] == "A" and len(fields) == 4:
                books.attempts[fields[3]] = Entry(int(fields[1]), int(fields[2]))
        for fields in _lines(directory / LEDGER):
            entry = Entry(int(fields[0]), int(fields[1]))
            books.committed.update(dict.fromkeys(fields[2:], entry))
        left = OutboxReader(outbox).export()
        books.pending = {str(_get(e, "event_id")) for e in _list(left["events"])}
        books.dead_letters = {
            str(_get(_get(d, "event"), "event_id")) for d in _list(left["dead_letter"])
        }
        return books


def _lines(path: Path) -> Iterable[list[str]]:
    if not path.exists():
        return []
    text = path.read_text()
    complete = text[: text.rfind("\n") + 1]
    return [line.split() for line in complete.splitlines() if line]


def _list(value: object) -> list[object]:
    return value if isinstance(value, list) else []


def _get(value: object, name: str) -> object:
    return value.get(name) if isinstance(value, dict) else None


@dataclass(frozen=True, slots=True)
class StoredEvent:
    event_id: str
    client: int
    app_session_id: str
    seq: int
    time: int  # the client's (possibly skewed) wall clock
    received_at: int
    corrected_time: int


@dataclass(frozen=True, slots=True)
class Kill:
    client: int
    launch: int
    monotonic_ns: int
    how: str


@dataclass(frozen=True, slots=True)
class KillLoss:
    """What one SIGKILL cost: events tracked but never committed, and how old the oldest was."""

    client: int
    launch: int
    how: str
    lost: int
    oldest_ms: float
    within_bound: bool


@dataclass(frozen=True, slots=True)
class Bound:
    """The documented loss bound of a SIGKILL (telemetry/client/writer.py): events recorded in the
    last `commit_interval` (+ the commit in progress), and at most two groups."""

    commit_interval_ms: float
    commit_max_events: int
    # A loaded machine may deschedule the writer thread for a while.
    scheduling_slack_ms: float

    def holds(self, lost: int, oldest_ms: float) -> bool:
        age_limit = self.commit_interval_ms + self.scheduling_slack_ms
        return lost <= 2 * self.commit_max_events and oldest_ms <= age_limit


@dataclass
class Reconciliation:
    attempted: int = 0
    committed: int = 0
    delivered: int = 0
    duplicates_stored: int = 0
    # Stored under a client's key but in none of its books: only a launch killed between
    # track() returning and its attempt line may leave one (its seq is past every logged one).
    unlogged_at_kill: int = 0
    unexplained_stored: int = 0
    lost: dict[str, int] = field(default_factory=dict)
    kills: list[KillLoss] = field(default_factory=list)
    # Seconds from the end of the last fault until the last event committed before it was
    # stored; None if one of them never was. The same after each fault, in `fault_ends_ns`
    # order (a fault soon followed by another drains only after both).
    drain_s: float | None = None
    fault_drains_s: list[float | None] = field(default_factory=list)
    types_delivered: int = 0
    max_raw_skew_ms: float = 0.0
    max_corrected_error_ms: float = 0.0


@dataclass(frozen=True)
class Evidence:
    """What the orchestrator saw, beside the clients' books."""

    stored: list[StoredEvent]
    stored_types: int  # distinct event types stored under the clients' keys
    acknowledged: set[str]  # event ids the collector answered 200 for (seen by the proxy)
    kills: list[Kill]
    fault_ends_ns: list[int]  # when each fault ended, CLOCK_MONOTONIC
    # Converts a CLOCK_MONOTONIC reading (ms) to the machine's true wall clock (ms).
    monotonic_to_wall_ms: float


def reconcile(books: Mapping[int, ClientBooks], evidence: Evidence, bound: Bound) -> Reconciliation:
    """Classify every event the clients recorded or committed."""
    result = Reconciliation(types_delivered=evidence.stored_types)
    by_id: dict[str, StoredEvent] = {}
    per_session: Counter[tuple[str, int]] = Counter()
    for row in evidence.stored:
        if row.event_id in by_id:
            result.duplicates_stored += 1
        by_id[row.event_id] = row
        per_session[(row.app_session_id, row.seq)] += 1
    result.duplicates_stored += sum(n - 1 for n in per_session.values() if n > 1)
    killed = {(k.client, k.launch): k for k in evidence.kills}
    kill_losses: dict[tuple[int, int], list[int]] = defaultdict(list)
    lost: Counter[str] = Counter()
    for client, book in books.items():
        result.attempted += len(book.attempts)
        result.committed += len(book.committed)
        for event_id in book.attempts.keys() | book.committed.keys():
            event = by_id.get(event_id)
            if event is not None:
                result.delivered += 1
                _check_clock(result, event, book.attempts.get(event_id), evidence)
                continue
            cause = _cause(event_id, book, evidence.acknowledged, killed, client)
            lost[cause] += 1
            if cause == KILLED:
                entry = book.attempts[event_id]
                kill_losses[(client, entry.launch)].append(entry.monotonic_ns)
        at_kill, unexplained = _unlogged(book, client, evidence.stored, by_id, killed)
        result.unlogged_at_kill += at_kill
        result.unexplained_stored += unexplained
    result.lost = dict(lost)
    for (client, launch), kill in sorted(killed.items()):
        times = kill_losses.get((client, launch), [])
        oldest = (kill.monotonic_ns - min(times)) / 1e6 if times else 0.0
        result.kills.append(
            KillLoss(client, launch, kill.how, len(times), oldest, bound.holds(len(times), oldest))
        )
    result.fault_drains_s = _drains(books, by_id, evidence)
    if evidence.fault_ends_ns:
        last = evidence.fault_ends_ns.index(max(evidence.fault_ends_ns))
        result.drain_s = result.fault_drains_s[last]
    else:
        result.drain_s = 0.0
    return result


def _check_clock(
    result: Reconciliation, event: StoredEvent, attempt: Entry | None, evidence: Evidence
) -> None:
    """How far the client's own clock was off, and how far the collector's correction is."""
    if attempt is None:
        return
    true_ms = attempt.monotonic_ns / 1e6 + evidence.monotonic_to_wall_ms
    result.max_raw_skew_ms = max(result.max_raw_skew_ms, abs(event.time - true_ms))
    result.max_corrected_error_ms = max(
        result.max_corrected_error_ms, abs(event.corrected_time - true_ms)
    )


def _drains(
    books: Mapping[int, ClientBooks], by_id: Mapping[str, StoredEvent], evidence: Evidence
) -> list[float | None]:
    """For each fault end: seconds until every event committed before it was stored (0 if
    they all were by then), or None if one never was."""
    commits = [
        (entry.monotonic_ns, by_id[event_id].received_at if event_id in by_id else None)
        for book in books.values()
        for event_id, entry in book.committed.items()
    ]
    commits.sort(key=lambda commit: commit[0])
    times = [at for at, _ in commits]
    # latest[k]: when the last of the first k + 1 commits was stored (None: one never was).
    latest: list[int | None] = []
    worst: int | None = 0
    for _, received in commits:
        worst = None if worst is None or received is None else max(worst, received)
        latest.append(worst)
    drains: list[float | None] = []
    for end_ns in evidence.fault_ends_ns:
        count = bisect.bisect_right(times, end_ns)
        stored_by = latest[count - 1] if count else 0
        end_ms = end_ns / 1e6 + evidence.monotonic_to_wall_ms
        drains.append(None if stored_by is None else max(0.0, (stored_by - end_ms) / 1000))
    return drains


def _cause(
    event_id: str,
    book: ClientBooks,
    acknowledged: set[str],
    killed: Mapping[tuple[int, int], Kill],
    client: int,
) -> str:
    if event_id in acknowledged:
        return ACKNOWLEDGED_THEN_LOST
    if event_id in book.dead_letters:
        return DEAD_LETTERED
    if event_id in book.pending:
        return NOT_DRAINED
    if event_id in book.committed:
        return VANISHED
    if (client, book.attempts[event_id].launch) in killed:
        return KILLED
    return NEVER_COMMITTED


def _unlogged(
    book: ClientBooks,
    client: int,
    stored: list[StoredEvent],
    by_id: Mapping[str, StoredEvent],
    killed: Mapping[tuple[int, int], Kill],
) -> tuple[int, int]:
    """This client's stored events that are in none of its books: (explained by a kill right
    after `track()` returned, unexplained)."""
    logged = book.attempts.keys() | book.committed.keys()
    killed_sessions = {book.sessions.get(launch) for (c, launch) in killed if c == client}
    last_logged_seq: dict[str, int] = defaultdict(int)
    for event_id in logged:
        event = by_id.get(event_id)
        if event is not None:
            session = event.app_session_id
            last_logged_seq[session] = max(last_logged_seq[session], event.seq)
    at_kill = unexplained = 0
    for event in stored:
        if event.client != client or event.event_id in logged:
            continue
        if (
            event.app_session_id in killed_sessions
            and event.seq > last_logged_seq[event.app_session_id]
        ):
            at_kill += 1
        else:
            unexplained += 1
    return at_kill, unexplained
