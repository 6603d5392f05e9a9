"""What a fleet run reports: each injected fault as it actually happened (`FaultRecord`), and
the run's books, figures and goals (`FleetReport`) as a table and a JSON document.

Plain data; built and read on the orchestrator's thread.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from telemetry.contracts.events import SPECS
from tools.fleet.ledger import (
    ACKNOWLEDGED_THEN_LOST,
    KILLED,
    Bound,
    Reconciliation,
)
from tools.fleet.scenario import (
    FaultKind,
)


@dataclass
class FaultRecord:
    """What an injected fault actually did: seconds since the clients were up."""

    kind: str
    client: int | None
    planned: float
    started: float = 0.0
    ended: float = 0.0
    # Requests that met the fault (answered by it, or held); None where the proxy cannot see
    # them (connections refused by a closed port).
    felt: int | None = 0
    note: str = ""
    # Seconds after its end until every event committed before it was stored.
    drain_s: float | None = None


@dataclass
class FleetReport:
    options: dict[str, object]
    faults: list[FaultRecord]
    clock_offsets_ms: list[int]
    books: Reconciliation
    requests: int
    statuses: dict[str, int]
    # Events the collector received again and did not store twice (retries after a lost answer).
    duplicates_absorbed: int
    collector_starts: int
    collector_peak_mib: float
    client_failures: list[str]
    last_fault_end_s: float
    wall_s: float
    aborted: bool
    bound: Bound
    goals: dict[str, bool] = field(default_factory=dict)

    def __post_init__(self) -> None:
        books = self.books
        other = {c: n for c, n in books.lost.items() if c not in {KILLED, ACKNOWLEDGED_THEN_LOST}}
        self.goals = {
            "no duplicates stored": books.duplicates_stored == 0,
            "nothing lost after the collector acknowledged it": (
                books.lost.get(ACKNOWLEDGED_THEN_LOST, 0) == 0
            ),
            "losses only in killed clients' uncommitted group, within the bound": (
                not other
                and books.unexplained_stored == 0
                and all(k.within_bound for k in books.kills)
            ),
            "every ledger drained within the limit after the last fault": (
                books.drain_s is not None and books.drain_s <= float(self.options["drain_limit_s"])  # type: ignore[arg-type]
            ),
            "collector memory bounded": (
                self.collector_peak_mib <= float(self.options["memory_limit_mib"])  # type: ignore[arg-type]
            ),
            "run completed, no client failed": not self.aborted and not self.client_failures,
        }

    @property
    def ok(self) -> bool:
        return all(self.goals.values())

    def requests_per_delivered(self) -> float:
        return self.requests / max(1, self.books.delivered)

    def to_json(self) -> dict[str, object]:
        document = asdict(self)
        document["requests_per_delivered_event"] = round(self.requests_per_delivered(), 4)
        document["ok"] = self.ok
        return document

    def table(self) -> str:
        return _table(self)


def _table(report: FleetReport) -> str:
    books = report.books
    options = report.options
    skew_h = max((abs(o) for o in report.clock_offsets_ms), default=0) / 3_600_000
    lines = [
        f"Reelscope fleet: {options['clients']} clients, {options['duration_s']:.0f} s of "
        f"traffic, seed {options['seed']}; {len(report.faults)} faults; clocks skewed up to "
        f"{skew_h:.1f} h; wall time {report.wall_s:.0f} s"
        + (" (ABORTED)" if report.aborted else ""),
        "",
        f"{'fault':30} {'count':>5} {'felt by':>8} {'drained after':>14}  notes",
    ]
    for kind in FaultKind:
        records = [f for f in report.faults if f.kind == kind.value]
        if not records:
            continue
        felt = [f.felt for f in records if f.felt is not None]
        drains = [f.drain_s for f in records]
        drained = (
            "never"
            if any(d is None for d in drains)
            else f"≤ {max(d for d in drains if d is not None):.1f} s"
        )
        notes = "; ".join(sorted({f.note for f in records if f.note}))
        felt_by = f"{sum(felt)}" if felt else "-"
        lines.append(f"{kind.value:30} {len(records):5} {felt_by:>8} {drained:>14}  {notes}")
    kills = books.kills
    killed_lost = books.lost.get(KILLED, 0)
    worst = max((k.lost for k in kills), default=0)
    oldest = max((k.oldest_ms for k in kills), default=0.0)
    other = sum(n for c, n in books.lost.items() if c not in {KILLED, ACKNOWLEDGED_THEN_LOST})
    drain = "never" if books.drain_s is None else f"{books.drain_s:.1f} s"
    bound = report.bound
    age_limit = bound.commit_interval_ms + bound.scheduling_slack_ms
    rows = [
        ("events recorded (track accepted)", f"{books.attempted}", ""),
        ("events committed to outboxes (ledgers)", f"{books.committed}", ""),
        ("delivered (in the store)", f"{books.delivered}", ""),
        ("event types delivered", f"{books.types_delivered} of {len(SPECS)}", ""),
        ("duplicates stored", f"{books.duplicates_stored}", "0"),
        ("  (copies received and absorbed)", f"{report.duplicates_absorbed}", ""),
        (
            "lost: killed before its group commit",
            f"{killed_lost} in {len(kills)} kills (max {worst}/kill, oldest {oldest:.0f} ms)",
            f"≤ {2 * bound.commit_max_events}/kill, ≤ {age_limit:.0f} ms",
        ),
        ("lost: acknowledged, then lost", f"{books.lost.get(ACKNOWLEDGED_THEN_LOST, 0)}", "0"),
        ("lost: any other cause", f"{other}", "0"),
        ("stored but in no ledger, unexplained", f"{books.unexplained_stored}", "0"),
        ("time to drain after the last fault", drain, f"≤ {options['drain_limit_s']:.0f} s"),
        ("requests per delivered event", f"{report.requests_per_delivered():.3f}", ""),
        (
            "collector peak memory (VmHWM)",
            f"{report.collector_peak_mib:.0f} MiB",
            f"≤ {options['memory_limit_mib']:.0f} MiB",
        ),
        (
            "clock skew: raw, after correction",
            f"{books.max_raw_skew_ms / 3_600_000:.1f} h, {books.max_corrected_error_ms:.0f} ms",
            "",
        ),
    ]
    lines += ["", f"{'measure':40} {'value':44} goal"]
    lines += [f"{name:40} {value:44} {goal}" for name, value, goal in rows]
    for cause, count in sorted(books.lost.items()):
        if cause not in {KILLED, ACKNOWLEDGED_THEN_LOST}:
            lines.append(f"  lost, {cause}: {count}")
    statuses = ", ".join(f"{k}: {v}" for k, v in sorted(report.statuses.items()))
    lines += ["", f"requests: {report.requests} ({statuses})", ""]
    lines += [f"[{'ok' if met else 'FAILED'}] {goal}" for goal, met in report.goals.items()]
    lines += [f"client failure: {failure}" for failure in report.client_failures]
    return "\n".join(lines)
