"""The fleet simulation, small: three clients against a real collector behind the fault proxy,
every kind of fault at least once in 40 s of recording, then the issue's goals checked on the
reconciled books. The same orchestrator as `make fleet`, shorter and with a smaller store."""

from __future__ import annotations

from pathlib import Path

from tools.fleet.ledger import KILLED
from tools.fleet.run import MIB, FleetOptions, run_fleet
from tools.fleet.scenario import FaultKind

FELT_BY_A_REQUEST = {
    FaultKind.COLLECTOR_KILL.value,
    FaultKind.UNAVAILABLE.value,
    FaultKind.TOO_MANY.value,
    FaultKind.DISK_FULL.value,
    FaultKind.KILL_MID_FLUSH.value,
}


def test_a_small_fleet_under_every_fault_loses_only_killed_clients_uncommitted_events(
    tmp_path: Path,
) -> None:
    options = FleetOptions(
        clients=3, duration_s=40.0, seed=20261128, work_dir=tmp_path, max_db_bytes=8 * MIB
    )
    report = run_fleet(options)
    table = report.table()
    books = report.books

    assert not report.aborted, table
    assert report.client_failures == [], table
    # Every kind of fault happened, and those a request can meet were met by one.
    assert {f.kind for f in report.faults} == {kind.value for kind in FaultKind}, table
    for fault in report.faults:
        if fault.kind in FELT_BY_A_REQUEST:
            assert fault.felt, f"{fault} had no effect\n{table}"
    assert books.attempted > 100, table

    assert books.duplicates_stored == 0, table
    if report.statuses.get("held, forwarded: 200"):
        # The batch stored while its client was being killed came again, and was absorbed.
        assert report.duplicates_absorbed > 0, table
    # Every committed event was delivered; only events of a killed launch's last uncommitted
    # group are missing, within the documented bound.
    assert set(books.lost) <= {KILLED}, table
    assert all(kill.within_bound for kill in books.kills), table
    assert books.unexplained_stored == 0, table
    assert books.drain_s is not None, table
    assert books.drain_s <= options.drain_limit_s, table
    assert report.collector_peak_mib <= options.memory_limit_mib, table
    # The skewed clocks (hours off) are corrected by the collector to within its transit time.
    assert books.max_raw_skew_ms > 60_000, table
    assert books.max_corrected_error_ms < 2_000, table
    assert report.ok, table
