"""The fleet's timeline of faults, drawn from a seed: what goes wrong, when, for how long, and
to which client, plus each client's clock skew.

Faults of the collector's side (SIGKILL and restart, 503 periods, 429 periods with Retry-After,
the port closed, the store full) never overlap, so each one's effect is its own; they come in
rounds of one of each kind, in a random order. Client kills (SIGKILL while a request of a given
client is in flight, or in the middle of a burst of events of whichever client bursts first,
then a restart) fall anywhere in the fault span, one at a time per client. The last part of
the run is calm, so the drain after the last fault can be measured while the clients keep
recording.

Pure data and functions; any thread.
"""

from __future__ import annotations

import enum
import random
from dataclasses import dataclass


class FaultKind(enum.Enum):
    COLLECTOR_KILL = "collector SIGKILL + restart"
    UNAVAILABLE = "503 period"
    TOO_MANY = "429 period (Retry-After)"
    PORT_CLOSED = "port closed"
    DISK_FULL = "store full"
    KILL_MID_FLUSH = "client SIGKILL mid-flush"
    KILL_MID_BURST = "client SIGKILL mid-burst"


COLLECTOR_FAULTS = (
    FaultKind.COLLECTOR_KILL,
    FaultKind.UNAVAILABLE,
    FaultKind.TOO_MANY,
    FaultKind.PORT_CLOSED,
    FaultKind.DISK_FULL,
)
CLIENT_FAULTS = (FaultKind.KILL_MID_FLUSH, FaultKind.KILL_MID_BURST)

# Seconds a collector-side fault lasts at full length (shortened to fit a short run).
_LENGTHS = {
    FaultKind.COLLECTOR_KILL: (2.0, 6.0),
    FaultKind.UNAVAILABLE: (4.0, 10.0),
    FaultKind.TOO_MANY: (4.0, 10.0),
    FaultKind.PORT_CLOSED: (4.0, 10.0),
    FaultKind.DISK_FULL: (5.0, 12.0),
}
# Devices with wrong clocks: a minute to days, either way.
_SKEWS_MS = (90_000, -7_200_000, 2_700_000, -259_200_000, 600_000, -30_000, 86_400_000)
# A client kill waits this long at most for its moment (a request in flight, a burst).
KILL_WAIT_S = 20.0
# A killed client stays down this long before its next launch.
_RESTART_DELAY_S = (0.5, 3.0)


@dataclass(frozen=True, slots=True)
class Fault:
    kind: FaultKind
    start: float  # seconds after the clients are up
    length: float  # seconds the fault lasts (client kills: the time the client stays down)
    # The client killed mid-flush; a mid-burst kill takes whichever client bursts first.
    client: int | None = None
    retry_after: int | None = None  # seconds, for the proxy's 429 and 503 answers
    # A request held for a kill mid-flush still reaches the collector (its answer is lost, so
    # the next launch sends the same events again) or is dropped. Alternates, first True.
    forward: bool = False


@dataclass(frozen=True, slots=True)
class Scenario:
    clients: int
    duration: float
    seed: int
    faults: tuple[Fault, ...]
    clock_offsets_ms: tuple[int, ...]

    @property
    def fault_span_end(self) -> float:
        """When the last fault is planned to end at the latest."""
        return max((f.start + f.length for f in self.faults), default=0.0)


def build_scenario(clients: int, duration: float, seed: int) -> Scenario:
    """A timeline for `clients` clients recording for `duration` seconds. Faults fill the span
    from 10 % of the run to its last 20 % (at least 8 s stay calm); every kind occurs at least
    once, collector-side faults once per ~60 s of span, client kills about once per client and
    round."""
    if clients < 1 or duration < 20:
        raise ValueError("a fleet needs at least one client and 20 s")
    rng = random.Random(seed)
    start = max(3.0, 0.1 * duration)
    end = duration - max(8.0, 0.2 * duration)
    span = end - start
    rounds = max(1, round(span / 60))
    kinds = [kind for _ in range(rounds) for kind in rng.sample(COLLECTOR_FAULTS, 5)]
    lengths = [rng.uniform(*_LENGTHS[kind]) for kind in kinds]
    # Half the span is faults at most, the rest quiet gaps between them.
    scale = min(1.0, 0.5 * span / sum(lengths))
    lengths = [length * scale for length in lengths]
    gap = (span - sum(lengths)) / (len(kinds) + 1)
    faults: list[Fault] = []
    at = start
    for kind, length in zip(kinds, lengths, strict=True):
        at += gap * rng.uniform(0.5, 1.5) if faults else gap * rng.uniform(0.2, 1.0)
        retry_after = None
        if kind is FaultKind.TOO_MANY:
            retry_after = rng.randint(1, 4)
        elif kind is FaultKind.UNAVAILABLE and rng.random() < 0.5:
            retry_after = rng.randint(1, 3)
        faults.append(Fault(kind, at, length, retry_after=retry_after))
        at += length
    faults += _client_kills(rng, clients, rounds, start, end)
    offsets = tuple(0 if i == 0 else rng.choice(_SKEWS_MS) for i in range(clients))
    return Scenario(clients, duration, seed, tuple(sorted(faults, key=lambda f: f.start)), offsets)


def _client_kills(
    rng: random.Random, clients: int, rounds: int, start: float, end: float
) -> list[Fault]:
    """About one kill per client and round, each kind at least once, every client killed once
    before any is killed twice. One client's kills that come too close are serialised by the
    orchestrator."""
    count = max(2, clients * rounds)
    kinds = [CLIENT_FAULTS[i % 2] for i in range(count)]
    rng.shuffle(kinds)
    order = [i % clients for i in range(count)]
    faults = []
    flushes = 0
    for kind, client in zip(kinds, order, strict=True):
        at, down = rng.uniform(start, end), rng.uniform(*_RESTART_DELAY_S)
        if kind is FaultKind.KILL_MID_FLUSH:
            faults.append(Fault(kind, at, down, client=client, forward=flushes % 2 == 0))
            flushes += 1
        else:
            faults.append(Fault(kind, at, down))
    return faults
