"""A simulated population of viewers with known preferences and a known position-bias curve.
It talks to a real collector only through the public HTTP API (GET /v1/feed, POST /v1/batch)
and only in the app's event vocabulary (every event is checked against
`telemetry.contracts.events`).

The truth:
- 48 titles in 4 genres; a viewer has a favourite genre and a taste vector; the probability
  that a viewer who examines a tile plays it is `relevance(viewer, title)`, known exactly.
- Examination follows the position-based model: P(examine (row, rank)) = ROW[row] * RANK[rank]
  for the visible tiles (the first VISIBLE_ROWS rows, VISIBLE_RANKS tiles each). Every
  visible tile is an impression (it is on screen); only examined ones can be played.
- A play lasts a fraction of the title's duration that grows with relevance; it completes
  with probability `relevance`.

Deterministic for a seed (the collector is given `feed_seed` too). Used by one test module.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from telemetry.contracts.events import SPECS
from tests.collector.harness import KEY, Running, auth, batch

GENRES = ("Comedy", "Drama", "Nature", "Sci-Fi")
TITLES_PER_GENRE = 12
VISIBLE_ROWS = 4
VISIBLE_RANKS = 6
ROW = (1.0, 0.8, 0.65, 0.5)
RANK = (1.0, 0.8, 0.65, 0.55, 0.45, 0.38)
DURATION_MS = 120_000
# Event wall-clock times are this plus the viewer's monotonic clock, not the real clock: the
# server orders a device's watch history by them, so real times would make runs differ.
EPOCH_MS = 1_764_547_200_000  # 2025-12-01


def true_examination(row: int, rank: int) -> float:
    return ROW[row] * RANK[rank]


@dataclass(frozen=True)
class Title:
    id: str
    genre: str
    appeal: float


@dataclass
class Viewer:
    device_id: str
    favourite: str
    taste: dict[str, float]
    mono: int = 0
    launches: int = 0  # every launch has its own app_session_id, as the app's do


@dataclass
class Population:
    seed: int
    size: int
    titles: list[Title] = field(default_factory=list)
    viewers: list[Viewer] = field(default_factory=list)

    def __post_init__(self) -> None:
        rng = random.Random(self.seed)
        self.titles = [
            Title(f"{genre.lower()}-{n:02d}", genre, rng.gauss(0, 0.6))
            for genre in GENRES
            for n in range(TITLES_PER_GENRE)
        ]
        for i in range(self.size):
            favourite = rng.choice(GENRES)
            taste = {g: (1.0 if g == favourite else rng.uniform(0.0, 0.3)) for g in GENRES}
            self.viewers.append(Viewer(f"sim-device-{self.seed}-{i:04d}", favourite, taste))
        self._rng = rng
        self._by_id = {t.id: t for t in self.titles}

    def relevance(self, viewer: Viewer, video_id: str) -> float:
        title = self._by_id[video_id]
        return 1 / (1 + math.exp(-(3.0 * viewer.taste[title.genre] + title.appeal - 3.6)))

    def write_catalog(self, path: Path) -> Path:
        start = dt.date(2026, 1, 1)
        items = [
            {
                "id": t.id,
                "title": t.id.replace("-", " ").title(),
                "media": f"{t.id}.mp4",
                "genres": [t.genre],
                "duration_ms": DURATION_MS,
                "added": (start + dt.timedelta(days=n)).isoformat(),
            }
            for n, t in enumerate(self.titles)
        ]
        path.write_text(json.dumps({"schema": 1, "items": items}))
        return path

    def run(self, running: Running, feeds_per_viewer: int) -> list[dict[str, Any]]:
        """Every viewer asks for `feeds_per_viewer` home feeds (one launch each) and acts on
        them; the events are posted in batches. Returns the feeds as served."""
        # requests reads the proxy environment on every call unless told not to: a third of
        # the simulation's time.
        running.session.trust_env = False
        served = []
        for _ in range(feeds_per_viewer):
            for viewer in self.viewers:
                feed, events = self._browse(running, viewer)
                served.append(feed)
                for chunk in _chunks(events, 500):
                    answer = running.post(batch(chunk))
                    assert answer.status_code == 200, answer.text
                    assert answer.json()["rejected"] == [], answer.text
        return served

    def _browse(
        self, running: Running, viewer: Viewer
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        answer = running.session.get(
            f"{running.url}/v1/feed",
            params={"device_id": viewer.device_id, "location": "home"},
            headers={"Authorization": auth(KEY)},
            timeout=10,
        )
        assert answer.status_code == 200, answer.text
        feed = answer.json()
        launch = Launch(viewer, f"{viewer.device_id}-launch-{viewer.launches}")
        viewer.launches += 1
        launch.track(
            "feed_served",
            {
                "request_id": feed["request_id"],
                "location": feed["location"],
                "rows": feed["rows"],
                "source": "server",
                "variant": feed["variant"],
                "explored": feed["explored"],
            },
        )
        rng = self._rng
        chosen = []
        for row in feed["rows"][:VISIBLE_ROWS]:
            for item in row["items"][:VISIBLE_RANKS]:
                impression_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
                launch.track(
                    "impression",
                    {
                        "impression_id": impression_id,
                        "request_id": feed["request_id"],
                        "row_id": row["row_id"],
                        "row_index": row["row_index"],
                        "rank": item["rank"],
                        "video_id": item["video_id"],
                        "track_id": row["track_id"],
                        "location": "home",
                    },
                )
                examined = rng.random() < true_examination(row["row_index"], item["rank"])
                if examined and rng.random() < self.relevance(viewer, item["video_id"]):
                    chosen.append((row, item, impression_id))
        for row, item, impression_id in chosen:
            launch.play(feed["request_id"], row, item, impression_id, self, rng)
        return feed, launch.events


@dataclass
class Launch:
    viewer: Viewer
    app_session_id: str
    events: list[dict[str, Any]] = field(default_factory=list)

    def track(self, kind: str, properties: dict[str, Any], advance_ms: int = 0) -> None:
        problem = SPECS[kind].problem(properties)
        assert problem is None, f"{kind}: {problem}"
        viewer = self.viewer
        viewer.mono += advance_ms
        self.events.append(
            {
                "event_id": str(uuid.uuid4()),
                "type": kind,
                "schema": 1,
                "time": EPOCH_MS + viewer.mono,
                "mono_ms": viewer.mono,
                "seq": len(self.events) + 1,
                "app_session_id": self.app_session_id,
                "device_id": viewer.device_id,
                "properties": properties,
            }
        )

    def play(  # noqa: PLR0917 - one tile's identifiers
        self,
        request_id: str,
        row: dict[str, Any],
        item: dict[str, Any],
        impression_id: str,
        population: Population,
        rng: random.Random,
    ) -> None:
        relevance = population.relevance(self.viewer, item["video_id"])
        session = {"play_session_id": str(uuid.UUID(int=rng.getrandbits(128), version=4))}
        startup = rng.randint(300, 900)
        completed = rng.random() < relevance
        watched = DURATION_MS if completed else int(DURATION_MS * rng.uniform(0.05, relevance))
        self.track(
            "play_request",
            {
                **session,
                "video_id": item["video_id"],
                "source": {
                    "request_id": request_id,
                    "row_id": row["row_id"],
                    "rank": item["rank"],
                    "impression_id": impression_id,
                    "location": "home",
                },
                "start_position_ms": 0,
            },
            advance_ms=2000,
        )
        self.track("player_ready", {**session, "open_ms": 100, "duration_ms": DURATION_MS}, 100)
        self.track(
            "first_frame",
            {**session, "startup_ms": startup, "codec": None, "width": None, "height": None,
             "fps": None},
            startup - 100,
        )  # fmt: skip
        # After the first frame: maybe one stall 5 s in, then play to `watched`.
        played = watched
        if rng.random() < 0.2:
            stall = rng.randint(300, 2000)
            self.track("rebuffer_start", {**session, "trigger": "buffering", "position_ms": 5000},
                       5000)  # fmt: skip
            self.track(
                "rebuffer_end",
                {**session, "trigger": "buffering", "position_ms": 5000, "stall_ms": stall},
                stall,
            )
            played -= 5000
        if completed:
            self.track("ended", {**session, "position_ms": DURATION_MS}, played)
            played = 0
        self.track(
            "session_end",
            {
                **session,
                "reason": "completed" if completed else "user_stop",
                "position_ms": watched,
                "duration_ms": DURATION_MS,
            },
            played,
        )


def _chunks(events: list[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(events), size):
        yield events[start : start + size]
