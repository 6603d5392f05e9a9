"""`session_sql.play_sessions` against the report's Python fold on random but realistic play
sessions: the same stored copies inserted as `facts` rows and fed to `Fold` + `build_report`,
every figure of every session compared, under several filters.

The oracle is the per-event Python (fold.py, sessions.py) that the SQL replaces: this module
goes when that code is deleted; the rules it found are kept in test_session_sql.py."""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from telemetry.contracts.clickhouse import Warehouse
from telemetry.report.fold import Fold
from telemetry.report.metrics import build_report
from telemetry.report.queries import Context, Filters, parse_context
from telemetry.report.session_sql import SessionRows, play_sessions

from . import test_session_sql as known
from .session_facts import Stored, insert, open_engine

SEEDS = range(6)
KNOWN = -1  # the key of the known-answer launches
SESSIONS_PER_SEED = 50
WALL = 1_700_000_000_000
CONTEXTS = {
    "aa01": '{"app": {"version": "1.0"}, "os": {"name": "linux"}}',
    "aa02": '{"app": {"version": "1.1"}, "os": {"name": "windows"}}',
    "aa03": '{"app": {"version": 2}, "os": {"name": "linux"}}',
    "aa04": "not json",
}
VIDEOS = ["v1", "v2", "v3"]


class Session:
    """Builds one play session's events in the order its client records them."""

    def __init__(self, rng: random.Random, psid: str, mono: int) -> None:
        self.rng = rng
        self.psid = psid
        self.mono = mono
        self.position = 0
        self.events: list[tuple[str, int, Any]] = []  # (type, mono, properties)

    def num(self, value: int) -> Any:
        """An integer as a client may send it: an int, now and then an integral float."""
        return float(value) if self.rng.random() < 0.15 else value

    def odd(self, value: int) -> Any:
        """Mostly the value; sometimes absent-like, a boolean or a fraction."""
        roll = self.rng.random()
        if roll < 0.05:
            return None
        if roll < 0.08:
            return True
        if roll < 0.1:
            return value + 0.5
        return self.num(value)

    def add(self, kind: str, properties: Any, step: int | None = None) -> None:
        self.mono += self.rng.randint(0, 400) if step is None else step
        if self.rng.random() < 0.01:
            self.mono -= self.rng.randint(1, 300)  # the monotonic clock read out of order
        self.events.append((kind, self.mono, properties))

    def play(self, ms: int) -> None:
        """Playback for `ms`: heartbeats every second or so, position moving."""
        r = self.rng
        left = ms
        while left > 0:
            step = min(left, r.randint(700, 1300))
            left -= step
            self.position += step
            sizes = r.choice(
                [
                    {"width": 1280, "height": 720, "window_width": 1280, "window_height": 720},
                    {"width": 1280, "height": 720, "window_width": 1920, "window_height": 1080},
                    {"width": 1920, "height": 1080, "window_width": 960, "window_height": 540},
                    {"width": 1280.0, "height": 720, "window_width": 1290, "window_height": 725},
                    {"width": 1280, "height": 0, "window_width": 640, "window_height": 360},
                    {},
                ]
            )
            props: dict[str, Any] = {"position_ms": self.odd(self.position), **sizes}
            played = r.choice([step, step, float(step), step + 0.4, 0, -5, None, "x"])
            if played is not None:
                props["played_ms"] = played
            self.add("heartbeat", props, step)

    def build(self, video: str) -> None:
        r = self.rng
        start = r.choice([0, 0, 0, 30_000])
        self.position = start
        source: dict[str, Any] = {"location": r.choice(["home", "search", None])}
        if r.random() < 0.5:
            source["impression_id"] = f"imp-{r.randint(1, 99)}"
        request: dict[str, Any] = {"video_id": video, "source": source}
        if start or r.random() < 0.3:
            request["start_position_ms"] = self.odd(start)
        if r.random() < 0.03:
            request = {"video_id": 7}
        self.add("play_request", request, 0)
        duration = r.choice([60_000, 120_000, 20_000, 0, None])
        for _ in range(r.choice([0, 1, 1, 1, 2])):
            self.add("player_ready", {"duration_ms": self.odd(duration or 0)})
        if r.random() < 0.1:
            self.add(
                r.choice(["pause", "seek_start"]), {"position_ms": 0, "from_ms": 0, "to_ms": 5000}
            )
            if r.random() < 0.5:
                self.add(r.choice(["resume", "seek_end"]), {"position_ms": 0, "to_ms": 5000})
        if r.random() < 0.08:
            self.abandon()
            return
        startup = r.randint(150, 2500)
        frame: dict[str, Any] = {"height": r.choice([720, 1080, 480.0, None, True, -1])}
        if r.random() < 0.85:
            frame["startup_ms"] = self.odd(startup)
        self.add("first_frame", frame, startup)
        if r.random() < 0.1:
            self.add("first_frame", {"startup_ms": 5, "height": 360})
        for _ in range(r.randint(2, 12)):
            self.step()
        self.finish(duration)

    def abandon(self) -> None:
        r = self.rng
        if r.random() < 0.5:
            self.add(
                "error",
                {"fatal": True, "category": r.choice(["network", "", None]), "position_ms": 0},
            )
        if r.random() < 0.7:
            self.add("session_end", {"reason": r.choice(["user_exit", "error"]), "position_ms": 0})

    def step(self) -> None:
        """One thing the viewer or the player does, by weight."""
        actions = [
            (0.45, self.playing),
            (0.10, self.pausing),
            (0.13, self.seeking),
            (0.12, self.stalling),
            (0.07, self.switching),
            (0.05, self.failing),
            (0.08, self.other),
        ]
        roll = self.rng.random()
        for weight, action in actions:
            if roll < weight:
                action()
                return
            roll -= weight
        self.other()

    def playing(self) -> None:
        self.play(self.rng.randint(1000, 8000))

    def pausing(self) -> None:
        r = self.rng
        self.add("pause", {"position_ms": self.odd(self.position)})
        if r.random() < 0.3:
            self.play(r.randint(500, 2000))  # heartbeats while paused: nothing watched
        if r.random() < 0.1:
            self.add("pause", {"position_ms": self.position})
        if r.random() < 0.85:
            self.add("resume", {"position_ms": self.odd(self.position)}, r.randint(200, 5000))

    def seeking(self) -> None:
        r = self.rng
        target = max(0, self.position + r.randint(-20_000, 40_000))
        latency = r.randint(50, 1500)
        if r.random() < 0.9:  # else its seek_start was lost
            self.add("seek_start", {"from_ms": self.odd(self.position), "to_ms": self.odd(target)})
        if r.random() < 0.1:
            self.add("seek_start", {"from_ms": self.position, "to_ms": target + 10})
        end: dict[str, Any] = {"to_ms": self.odd(target)}
        if r.random() < 0.7:
            end["seek_latency_ms"] = self.odd(latency)
        if r.random() < 0.9:
            self.add("seek_end", end, latency)
        self.position = target

    def stalling(self) -> None:
        r = self.rng
        stall = r.choice([100, 240, 250, 600, 3000])
        if r.random() < 0.9:
            self.add("rebuffer_start", {"position_ms": self.odd(self.position)})
        end: dict[str, Any] = {"position_ms": self.odd(self.position)}
        if r.random() < 0.6:
            end["stall_ms"] = self.odd(stall)
        if r.random() < 0.85:
            self.add("rebuffer_end", end, stall)

    def switching(self) -> None:
        r = self.rng
        tracks = r.choice([(1, 2), (2, 2), ("a", "b"), (None, None), ({"id": 1}, {"id": 2})])
        props = {
            "kind": r.choice(["video", "video", "audio", None]),
            "height": r.choice([480, 720, 1080, None]),
            "from_track": tracks[0],
            "to_track": tracks[1],
        }
        self.add("track_change", props)

    def failing(self) -> None:
        r = self.rng
        props = {
            "fatal": r.choice([True, False, False, 1, "true"]),
            "category": r.choice(["decode", "network", "", 3]),
            "position_ms": self.position,
        }
        self.add("error", props)

    def other(self) -> None:
        r = self.rng
        if r.random() < 0.5:
            self.add(r.choice(["volume_change", "rate_change", "screenshot"]), {"volume": 50})
        else:  # properties that are not an object: the event is ignored
            self.add(
                r.choice(["heartbeat", "pause", "seek_end", "error"]), r.choice([[], "x", None])
            )

    def finish(self, duration: int | None) -> None:
        r = self.rng
        if r.random() < 0.25:
            self.position = duration or self.position
            self.add("ended", {"position_ms": self.odd(self.position)})
            if r.random() < 0.3:
                self.add("heartbeat", {"position_ms": self.position + 5000, "played_ms": 1000})
        roll = r.random()
        if roll < 0.75:
            props: dict[str, Any] = {
                "reason": r.choice(["user_exit", "ended", "error", "", None]),
                "position_ms": self.odd(self.position + r.randint(0, 900)),
            }
            if r.random() < 0.4:
                props["duration_ms"] = self.odd(r.choice([90_000, 0]))
            self.add("session_end", props)
            if r.random() < 0.15:
                step = r.choice([0, -50, 300])
                again = {
                    "reason": r.choice(["user_exit", "crash"]),
                    "position_ms": self.position + 1200,
                }
                self.add("session_end", again, step)
        if r.random() < 0.1:
            self.add("volume_change", {"volume": 10}, r.randint(100, 3000))


Event = tuple[str | None, str, int, Any]  # (play_session_id, type, mono_ms, properties)


class Fleet:
    """Launches of one seed: their play sessions, late ends, repeats and stored copies."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.rng = random.Random(seed)
        self.unended: list[str] = []
        self.ended: list[str] = []
        self.made = 0

    def sessions(self, mono: int) -> list[Event]:
        rng = self.rng
        events: list[Event] = []
        if rng.random() < 0.7:
            events.append((None, "app_start", mono, {}))
        for _ in range(rng.randint(1, 4)):
            self.made += 1
            psid = f"ps-{self.seed}-{self.made}"
            session = Session(rng, psid, mono + rng.randint(0, 5000))
            session.build(rng.choice(VIDEOS))
            mono = session.mono
            events.extend((psid, kind, m, props) for kind, m, props in session.events)
            ends = any(kind == "session_end" for kind, _, _ in session.events)
            (self.ended if ends else self.unended).append(psid)
            if rng.random() < 0.1:
                tile = {"impression_id": "x", "row_index": 0, "rank": 1}
                events.append((None, "impression", mono, tile))
        return events

    def late(self, events: list[Event], launch_no: int, mono: int) -> None:
        """Late ends of earlier launches' sessions, ends of sessions never requested."""
        rng = self.rng
        if rng.random() < 0.3 and (self.unended or self.ended):
            pool = self.unended if self.unended and rng.random() < 0.7 else self.ended
            late = rng.choice(pool or self.unended)
            end = {"reason": rng.choice(["crash", "", None]), "position_ms": 4000}
            events.insert(1, (late, "session_end", mono + 1, end))
            if rng.random() < 0.2:
                events.insert(1, (late, "heartbeat", mono + 2, {"position_ms": 1}))
        if rng.random() < 0.05:
            orphan = f"ps-{self.seed}-orphan-{launch_no}"
            events.append((orphan, "session_end", mono + 3, {"reason": "crash"}))
        if rng.random() < 0.05:
            lost = f"ps-{self.seed}-lost-{launch_no}"
            events.append((lost, "heartbeat", mono + 4, {"position_ms": 10}))
        # repeats: the same event recorded again under a later seq
        for _ in range(rng.randint(0, 3)):
            i = rng.randrange(len(events))
            events.insert(rng.randint(i + 1, len(events)), events[i])

    def copies(self, launch: str, events: list[Event]) -> list[Stored]:
        rng = self.rng
        device = rng.choice([f"device-{self.seed}-{len(launch) % 5}", None])
        context = rng.choice([*CONTEXTS, None, "ffff"])
        base_wall = WALL + rng.randint(0, 3_600_000)
        stored: list[Stored] = []
        for seq, (psid, kind, m, props) in enumerate(events, start=1):
            if rng.random() < 0.03:
                continue  # lost before the collector
            copy = Stored(
                launch, seq, kind, m, props, psid,
                corrected_time=base_wall + m, time=base_wall + m, device_id=device,
                context_hash=context, key_id="key-a", event_id=f"e-{launch}-{seq}",
                received_at=base_wall + m + rng.randint(0, 10_000),
            )  # fmt: skip
            stored.append(copy)
            if rng.random() < 0.04:
                # another copy under another key: arrived earlier or later, maybe another batch
                other = dataclasses.replace(
                    copy,
                    key_id="key-b",
                    event_id=f"f-{launch}-{seq}",
                    received_at=copy.received_at + rng.choice([-5, 5, 0]),
                    context_hash=rng.choice([context, "aa02"]),
                    device_id=rng.choice([device, "device-other"]),
                )
                stored.append(other)
        return stored


def launches(seed: int) -> list[Stored]:
    """Every stored copy of a few dozen launches' play sessions, shuffled."""
    fleet = Fleet(seed)
    stored: list[Stored] = []
    launch_no = 0
    while fleet.made < SESSIONS_PER_SEED:
        launch_no += 1
        launch = f"{fleet.rng.choice('0123456789abcdef')}{seed:02d}-{launch_no:04d}"
        mono = fleet.rng.randint(0, 10_000_000)
        events = fleet.sessions(mono)
        fleet.late(events, launch_no, mono)
        stored.extend(fleet.copies(launch, events))
    fleet.rng.shuffle(stored)
    return stored


def oracle(stored: list[Stored], filters: Filters) -> SessionRows:
    """The report's Python: the first copy of each (app_session_id, seq), launches in order."""
    first: dict[tuple[str, int], Stored] = {}
    for copy in sorted(stored, key=lambda c: (c.received_at, c.key_id, c.event_id)):
        first.setdefault((copy.app_session_id, copy.seq), copy)
    parsed_contexts: dict[bytes, Context] = {}
    for digest, text in CONTEXTS.items():
        parsed = parse_context(text)
        if parsed is not None:
            parsed_contexts[bytes.fromhex(digest)] = parsed
    fold = Fold(filters, parsed_contexts)
    events = [first[key].stored_event() for key in sorted(first)]
    fold.feed(events)  # type: ignore[arg-type]
    report = build_report(fold.partial, filters, drops=[], collector_duplicates=0, foreign_events=0)
    quality = report.quality
    return SessionRows(
        sessions=report.sessions,
        orphans=quality.sessions_without_request,
        repeated_ends=quality.events_recorded_twice - fold.partial.repeats,
    )


@pytest.fixture(scope="module")
def engine(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Warehouse, dict[int, list[Stored]]]]:
    warehouse = open_engine(Path(tmp_path_factory.mktemp("facts")) / "clickhouse")
    data: dict[int, list[Stored]] = {}
    try:
        everything: list[Stored] = []
        for seed in SEEDS:
            data[seed] = launches(seed)
            everything.extend(data[seed])
        # test_session_sql.py's hand-made launches too: its known answers are the Python's
        data[KNOWN] = known.launch_events()
        everything.extend(data[KNOWN])
        insert(warehouse, everything, CONTEXTS)
        yield warehouse, data
    finally:
        warehouse.close()


FILTERS = [
    Filters(),
    Filters(since=WALL + 1_000_000, until=WALL + 4_000_000),
    Filters(app_version="1.0"),
    Filters(os="linux"),
    Filters(app_version="1.1", os="windows", video_id="v2"),
    Filters(video_id="v1", since=WALL + 500_000),
]


def describe(session: Any) -> dict[str, Any]:
    return dataclasses.asdict(session)


@pytest.mark.parametrize("filters", FILTERS, ids=[str(i) for i in range(len(FILTERS))])
def test_every_figure_equals_the_python_fold(
    engine: tuple[Warehouse, dict[int, list[Stored]]], filters: Filters
) -> None:
    warehouse, data = engine
    everything = [copy for copies in data.values() for copy in copies]
    expected = oracle(everything, filters)
    got = play_sessions(warehouse, filters)
    assert len(expected.sessions) > 20 or filters != Filters()
    want = [describe(s) for s in expected.sessions]
    have = [describe(s) for s in got.sessions]
    assert [s["play_session_id"] for s in have] == [s["play_session_id"] for s in want]
    for mine, theirs in zip(have, want, strict=True):
        differing = {k: (mine[k], theirs[k]) for k in theirs if mine[k] != theirs[k]}
        assert not differing, (theirs["play_session_id"], differing)
    assert (got.orphans, got.repeated_ends) == (expected.orphans, expected.repeated_ends)
