"""The fleet orchestrator: runs one scenario end to end and accounts for every event.

1. A keys file (one write key per client, one for the filler), the real collector on a free
   port of 127.0.0.1 with a size-limited store, the fault proxy in front of it, and N client
   processes talking to the proxy.
2. The scenario's faults, each on its own thread at its planned time. A 503, 429, store-full
   or collector-down window lasts its planned length and is then held open (up to three times
   as long) until at least one request has met it, so every fault is felt even in a short run.
   One collector-side fault at a time, one kill at a time per client.
3. At the end of the run the clients stop recording (their exit event last) and drain; then
   they quit, the proxy stops and the collector gets SIGTERM.
4. The books of every client are reconciled with the store (`tools.fleet.ledger`), and the
   table and a JSON report are produced.

The run is bounded by itself: a watchdog SIGKILLs every child by PID at the hard deadline (the
run then reports itself aborted), and every wait has a deadline.

Threads: `run_fleet` on the caller's thread; one thread per fault; the watchdog timer; the
proxy's loop thread and the child processes' reader threads (see `processes`).
"""

from __future__ import annotations

import json
import random
import socket
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from contextlib import closing
from dataclasses import asdict, dataclass
from pathlib import Path

from telemetry.client.request_body import basic_auth
from telemetry.collector.keys import KeyFile
from telemetry.contracts.stored import open_store_readonly
from tools.fleet.client_process import BACKOFF_CAP_S, OUTBOX, client_config
from tools.fleet.filler import StoreFiller
from tools.fleet.ledger import (
    Bound,
    ClientBooks,
    Evidence,
    Kill,
    Reconciliation,
    StoredEvent,
    reconcile,
)
from tools.fleet.processes import ClientProcess, CollectorProcess
from tools.fleet.proxy import FaultProxy
from tools.fleet.report import FaultRecord, FleetReport
from tools.fleet.scenario import (
    CLIENT_FAULTS,
    KILL_WAIT_S,
    Fault,
    FaultKind,
    Scenario,
    build_scenario,
)

MIB = 1024 * 1024
# A window not yet felt is held open for this many times its length again, and at least
# long enough for a client at the end of its longest backoff to come back.
_FELT_EXTENSION = 2.0
_FELT_MINIMUM_S = BACKOFF_CAP_S + 2.0
_QUIT_GRACE_S = 15.0
_FLUSH_AT_RANDOM = "no request came: killed at random"
_BURST_AT_RANDOM = "no burst came: killed at random"
_AT_RANDOM = {_FLUSH_AT_RANDOM, _BURST_AT_RANDOM}
_STARTUP_S = 30.0


@dataclass(frozen=True)
class FleetOptions:
    clients: int = 8
    duration_s: float = 170.0
    seed: int = 1
    work_dir: Path | None = None  # None: a temporary directory, removed afterwards
    json_path: Path | None = None
    drain_limit_s: float = 60.0
    max_db_bytes: int = 32 * MIB
    # The collector idles at ~50 MiB; the filler's 3 MB batches are its largest requests.
    memory_limit_mib: float = 128.0
    # A loaded machine may deschedule a client's writer thread: added to the 100 ms age bound.
    scheduling_slack_ms: float = 1000.0

    @property
    def hard_deadline_s(self) -> float:
        """Start-up, the run, the longest possible fault overrun, the drain and shutdown."""
        return self.duration_s + self.drain_limit_s + KILL_WAIT_S + 60.0


def _free_port() -> int:
    with closing(socket.socket()) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class _Fleet:
    def __init__(self, options: FleetOptions, scenario: Scenario, directory: Path) -> None:
        self._options = options
        self._scenario = scenario
        self._directory = directory
        self._abort = threading.Event()
        self._lock = threading.Lock()
        self._collector_side = threading.Lock()  # one collector-side fault at a time
        keys = KeyFile(directory / "keys.json")
        self._key_ids: dict[str, int] = {}
        self._keys: list[str] = []
        for index in range(scenario.clients):
            record, key, _ = keys.add(f"client-{index}", f"fleet-{uuid.uuid4().hex}")
            self._key_ids[record.id] = index
            self._keys.append(key)
        filler, filler_key, _ = keys.add("filler", f"fleet-filler-{uuid.uuid4().hex}")
        self._filler_key_id = filler.id
        self._collector = CollectorProcess(directory, _free_port(), keys.path, options.max_db_bytes)
        self._proxy = FaultProxy(self._collector.port)
        self._filler = StoreFiller(
            self._collector.port, basic_auth(filler_key), options.max_db_bytes, self._abort
        )
        self._clients: list[ClientProcess] = []
        self._kills: list[Kill] = []
        self._records: list[FaultRecord] = []
        self._failures: list[str] = []
        self._t0 = 0.0
        self._t0_ns = 0
        self._last_fault_end_ns = 0
        self._deadline = 0.0  # monotonic: the watchdog kills everything then

    # The run

    def run(self) -> FleetReport:
        started = time.monotonic()
        self._deadline = started + self._options.hard_deadline_s
        monotonic_to_wall_ms = time.time_ns() / 1e6 - time.monotonic_ns() / 1e6
        watchdog = threading.Timer(self._options.hard_deadline_s, self._on_deadline)
        watchdog.daemon = True
        watchdog.start()
        try:
            self._collector.start(_STARTUP_S)
            port = self._proxy.start()
            for index, offset in enumerate(self._scenario.clock_offsets_ms):
                directory = self._directory / f"client-{index}"
                directory.mkdir()
                client = ClientProcess(
                    index,
                    directory,
                    endpoint=f"http://127.0.0.1:{port}",
                    write_key=self._keys[index],
                    seed=self._scenario.seed,
                    clock_offset_ms=offset,
                    lifetime_s=self._options.hard_deadline_s,
                )
                self._clients.append(client)
                client.start(_STARTUP_S)
            self._t0_ns = self._last_fault_end_ns = time.monotonic_ns()
            self._t0 = self._t0_ns / 1e9
            self._timeline()
            self._finish()
        finally:
            watchdog.cancel()
            self._kill_everything()
            self._proxy.stop()
        books, absorbed = self._reconcile(monotonic_to_wall_ms)
        for record, drain in zip(self._records, books.fault_drains_s, strict=True):
            record.drain_s = drain
        return FleetReport(
            options={**asdict(self._options), "work_dir": str(self._directory)},
            faults=self._records,
            clock_offsets_ms=list(self._scenario.clock_offsets_ms),
            books=books,
            requests=self._proxy.requests,
            statuses=dict(self._proxy.statuses),
            duplicates_absorbed=absorbed,
            collector_starts=self._collector.starts,
            collector_peak_mib=self._collector.peak_kib / 1024,
            client_failures=self._failures,
            last_fault_end_s=(self._last_fault_end_ns / 1e9) - self._t0,
            wall_s=time.monotonic() - started,
            aborted=self._abort.is_set(),
            bound=self._bound(),
        )

    def _timeline(self) -> None:
        threads = []
        for index, fault in enumerate(self._scenario.faults):
            if self._abort.wait(max(0.0, self._t0 + fault.start - time.monotonic())):
                break
            record = FaultRecord(fault.kind.value, fault.client, round(fault.start, 2))
            self._records.append(record)
            thread = threading.Thread(
                target=self._inject,
                args=(fault, record, random.Random(f"{self._scenario.seed}/{index}")),
                name=f"fleet-fault-{index}",
                daemon=True,
            )
            thread.start()
            threads.append(thread)
        self._abort.wait(max(0.0, self._t0 + self._scenario.duration - time.monotonic()))
        for thread in threads:
            thread.join(max(0.0, self._remaining()))

    def _remaining(self) -> float:
        """Seconds left before the watchdog, less what an orderly shutdown takes."""
        return self._deadline - 20.0 - time.monotonic()

    def _finish(self) -> None:
        for client in self._clients:
            client.tell("stop")
        with self._lock:
            last_end = self._last_fault_end_ns / 1e9
        # Long enough to see a drain that misses its goal, not so long the run never ends.
        until = max(last_end + self._options.drain_limit_s + 15.0, time.monotonic() + 15.0)
        until = min(until, time.monotonic() + self._remaining())
        for client in self._clients:
            if not client.drained.wait(max(0.0, until - time.monotonic())):
                self._failures.append(f"client {client.index} did not drain")
        for client in self._clients:
            client.tell("quit")
        for client in self._clients:
            code = client.reap(_QUIT_GRACE_S)
            if code != 0 and not self._abort.is_set():
                self._failures.append(f"client {client.index} exited with {code}")
        self._proxy.stop()
        self._collector.stop()

    def _on_deadline(self) -> None:
        self._abort.set()
        self._kill_everything()

    def _kill_everything(self) -> None:
        for client in self._clients:
            if client.running():
                client.kill_now()
        self._collector.kill()

    # Faults (one thread each)

    def _inject(self, fault: Fault, record: FaultRecord, rng: random.Random) -> None:
        try:
            if fault.kind in CLIENT_FAULTS:
                self._kill_client(fault, record, rng)
            else:
                with self._collector_side:
                    record.started = time.monotonic() - self._t0
                    self._collector_fault(fault, record)
        except Exception as exc:
            record.note = f"failed: {exc}"
            self._failures.append(f"fault {fault.kind.value} failed: {exc}")
        ended_ns = time.monotonic_ns()
        record.ended = (ended_ns - self._t0_ns) / 1e9
        with self._lock:
            self._last_fault_end_ns = max(self._last_fault_end_ns, ended_ns)

    def _collector_fault(self, fault: Fault, record: FaultRecord) -> None:
        proxy = self._proxy
        statuses = proxy.statuses
        if fault.kind is FaultKind.COLLECTOR_KILL:
            self._collector.kill()
            record.felt = self._hold(fault.length, lambda: statuses["collector unreachable"])
            self._collector.start(_STARTUP_S)
        elif fault.kind is FaultKind.UNAVAILABLE:
            proxy.unavailable(fault.retry_after)
            record.felt = self._hold(fault.length, lambda: statuses["503 (proxy)"])
            proxy.normal()
            record.note = "Retry-After" if fault.retry_after else "no Retry-After"
        elif fault.kind is FaultKind.TOO_MANY:
            proxy.too_many(fault.retry_after)
            record.felt = self._hold(fault.length, lambda: statuses["429 (proxy)"])
            proxy.normal()
        elif fault.kind is FaultKind.PORT_CLOSED:
            proxy.close_port()
            self._abort.wait(fault.length)
            proxy.open_port()
            record.felt = None
        else:
            filled = self._filler.fill()
            record.note = "store full" if filled else "store NOT filled"
            record.felt = self._hold(fault.length, lambda: statuses["503"])
            if not self._filler.free():
                self._failures.append("the filler's data could not be deleted")

    def _hold(self, length: float, count: Callable[[], int]) -> int:
        """Keep a window open `length` s, then until `count()` has grown (bounded); returns
        how much it grew."""
        before = count()
        self._abort.wait(length)
        deadline = time.monotonic() + max(_FELT_EXTENSION * length, _FELT_MINIMUM_S)
        while count() == before and time.monotonic() < deadline:
            if self._abort.wait(0.1):
                break
        return count() - before

    def _kill_client(self, fault: Fault, record: FaultRecord, rng: random.Random) -> None:
        if fault.kind is FaultKind.KILL_MID_FLUSH:
            client = self._clients[fault.client or 0]
            client.lock.acquire()
            record.started = time.monotonic() - self._t0
            killed_ns, how = self._kill_mid_flush(client, fault)
        else:
            record.started = time.monotonic() - self._t0
            chosen = self._kill_mid_burst(rng)
            if chosen is None:
                record.note, record.felt = "no client free to kill", 0
                return
            client, killed_ns, how = chosen
        try:
            record.client = client.index
            record.note = how
            record.felt = int(how not in _AT_RANDOM)
            with self._lock:
                self._kills.append(Kill(client.index, client.launch, killed_ns, how))
            client.reap(_QUIT_GRACE_S)
            if not self._abort.wait(fault.length):
                client.start(_STARTUP_S)
        finally:
            client.lock.release()

    def _kill_mid_burst(self, rng: random.Random) -> tuple[ClientProcess, int, str] | None:
        """SIGKILL whichever client starts a burst first (and is not being killed already),
        a moment into the burst, while its events wait for their group commit; a random
        client if none bursts in time. Returns the client (its lock held), the time of the
        kill and how it went; None if no client could be taken."""
        for client in self._clients:
            client.burst.clear()
        deadline = time.monotonic() + KILL_WAIT_S
        while time.monotonic() < deadline:
            for client in self._clients:
                if client.burst.is_set() and client.lock.acquire(blocking=False):
                    self._abort.wait(rng.uniform(0.0, 0.25))
                    return client, client.kill_now(), "mid-burst"
            if self._abort.wait(0.01):
                return None
        client = rng.choice(self._clients)
        if not client.lock.acquire(timeout=KILL_WAIT_S):
            return None
        return client, client.kill_now(), _BURST_AT_RANDOM

    def _kill_mid_flush(self, client: ClientProcess, fault: Fault) -> tuple[int, str]:
        """Kill the client while the proxy holds its next request, then forward it (the
        collector stores a batch whose answer is lost) or drop it, as the scenario says."""
        forward = fault.forward
        fired = threading.Event()
        killed: list[int] = []

        def decide() -> bool:
            killed.append(client.kill_now())
            fired.set()
            return forward

        authorization = basic_auth(self._keys[client.index])
        self._proxy.intercept(authorization, decide)
        if not fired.wait(KILL_WAIT_S) and self._proxy.cancel_intercept(authorization):
            return client.kill_now(), _FLUSH_AT_RANDOM
        fired.wait(KILL_WAIT_S)
        verdict = "forwarded, answer lost" if forward else "dropped"
        return killed[0], f"mid-flush, request {verdict}"

    # The books

    def _bound(self) -> Bound:
        config = client_config(self._directory, "", "", 0)
        return Bound(
            commit_interval_ms=config.commit_interval * 1000,
            commit_max_events=config.commit_max_events,
            scheduling_slack_ms=self._options.scheduling_slack_ms,
        )

    def _reconcile(self, monotonic_to_wall_ms: float) -> tuple[Reconciliation, int]:
        """The books reconciled with the store, and the duplicates the collector absorbed."""
        books = {
            client.index: ClientBooks.read(client.directory, client.directory / OUTBOX)
            for client in self._clients
        }
        stored: list[StoredEvent] = []
        types = absorbed = 0
        if self._collector.db.exists():
            with closing(open_store_readonly(f"sqlite:///{self._collector.db}")) as store:
                rows = store.execute(
                    "SELECT event_id, key_id, app_session_id, seq, time, received_at,"
                    " corrected_time FROM events WHERE key_id != ?",
                    (self._filler_key_id,),
                )
                for event_id, key_id, session, seq, wall, received, corrected in rows:
                    client = self._key_ids[key_id]
                    stored.append(
                        StoredEvent(event_id, client, session, seq, wall, received, corrected)
                    )
                (types,) = store.execute(
                    "SELECT count(DISTINCT type) FROM events WHERE key_id != ?",
                    (self._filler_key_id,),
                ).fetchone()
                (absorbed,) = store.execute(
                    "SELECT coalesce(sum(value), 0) FROM counters"
                    " WHERE name = 'duplicates' AND key_id != ?",
                    (self._filler_key_id,),
                ).fetchone()
        evidence = Evidence(
            stored=stored,
            stored_types=types,
            acknowledged=self._proxy.acknowledged,
            kills=self._kills,
            fault_ends_ns=[self._t0_ns + int(r.ended * 1e9) for r in self._records],
            monotonic_to_wall_ms=monotonic_to_wall_ms,
        )
        return reconcile(books, evidence, self._bound()), absorbed


def run_fleet(options: FleetOptions) -> FleetReport:
    """Run the scenario the options describe; writes the JSON report if asked to."""
    scenario = build_scenario(options.clients, options.duration_s, options.seed)
    if options.work_dir is not None:
        options.work_dir.mkdir(parents=True, exist_ok=True)
        report = _Fleet(options, scenario, options.work_dir).run()
    else:
        with tempfile.TemporaryDirectory(prefix="reelscope-fleet-") as directory:
            report = _Fleet(options, scenario, Path(directory)).run()
    if options.json_path is not None:
        options.json_path.parent.mkdir(parents=True, exist_ok=True)
        options.json_path.write_text(json.dumps(report.to_json(), indent=2, default=str) + "\n")
    return report
