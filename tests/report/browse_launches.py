"""Random, realistic launches for the browse figures' differential test: feeds in parts with
rows cut across parts and malformed rows, impressions (a second one of a tile, a reused
impression id, invalid ones), tile_visibility spans, play_requests naming impressions inside
and outside the 30 minutes (twice for one impression, twice for one play session), repeats
under a new seq, duplicate copies under another key, lost seqs, clock skew, and contexts for
every filter. Deterministic for a seed.
"""

from __future__ import annotations

import random
from dataclasses import replace
from typing import Any

from .facts_rows import Stored

CONTEXTS: dict[str, Any] = {
    "aa01": {"app": {"version": "1.0"}, "os": {"name": "Linux"}},
    "aa02": {"app": {"version": "1.1"}, "os": {"name": "Windows"}},
    "aa03": "not json",
    "aa04": {"app": {"version": 1}, "os": "Linux"},
}
_CONTEXT_CHOICES = ["aa01", "aa01", "aa02", "aa02", "aa03", "aa04", None, "ffff"]
VIDEOS = [f"v{i}" for i in range(10)]
START = 1_700_000_000_000
_MINUTE = 60_000


class _Launch:
    def __init__(self, rng: random.Random, index: int) -> None:
        self.rng = rng
        self.id = f"{rng.randrange(16**6):06x}-launch-{index}"
        self.device = rng.choice(["dev-1", "dev-2", "dev-3", None])
        self.context = rng.choice(_CONTEXT_CHOICES)
        self.wall = START + rng.randrange(0, 4 * 3_600_000)
        self.mono = rng.randrange(0, 10_000)
        self.events: list[Stored] = []
        self.seq = 0
        self.tiles: list[tuple[str, str, str]] = []  # (request_id, row_id, video_id)
        self.impressions: list[str] = []
        self.sessions: list[str] = []
        self.feeds = 0

    def emit(self, kind: str, props: Any, session: str | None = None) -> None:
        rng = self.rng
        self.seq += 1 if rng.random() < 0.95 else rng.randrange(2, 4)  # lost seqs
        self.mono += rng.choice([0, 5, 300, 2_000, 40_000, 4 * _MINUTE, 12 * _MINUTE])
        if rng.random() < 0.05:
            self.context = rng.choice(_CONTEXT_CHOICES)
        time = self.wall + self.mono
        skew = rng.choice([0, 0, 0, 0, 999, -999, 1000, -1000, 7_000])
        self.events.append(
            Stored(
                self.id,
                self.seq,
                kind,
                self.mono,
                props,
                play_session_id=session,
                device_id=self.device,
                time=time,
                corrected_time=time + skew,
                context_hash=self.context,
                received_at=time + 50,
            )
        )

    def feed(self) -> None:
        rng = self.rng
        self.feeds += 1
        request = f"req-{self.feeds}"
        rows: list[Any] = []
        for index in range(rng.randrange(1, 4)):
            items = [{"video_id": rng.choice(VIDEOS)} for _ in range(rng.randrange(0, 5))]
            rows.append({"row_id": f"row-{index}", "row_index": index, "items": items})
            self.tiles += [(request, f"row-{index}", item["video_id"]) for item in items]
        if rng.random() < 0.4:
            rows.append(
                rng.choice(
                    [
                        "oops",
                        {"row_id": "row-x"},
                        {"row_id": 5, "row_index": 1, "items": []},
                        {"row_id": "row-y", "row_index": 1, "items": [{"title": "no id"}]},
                        {"row_id": "row-z", "row_index": 2.0, "items": [{"video_id": "v1"}]},
                        {"row_id": "row-0", "row_index": 7, "items": [{"video_id": 3}]},
                    ]
                )
            )
        session = "ps-feed" if rng.random() < 0.05 else None
        if rng.random() < 0.5:
            body: dict[str, Any] = {"request_id": request, "rows": rows}
            if rng.random() < 0.5:
                body["part"] = 0
            if rng.random() < 0.05:
                del body["request_id"]
            self.emit("feed_served", body, session)
            return
        # In parts, a row cut across them (its rest under the same row_id, maybe reindexed).
        cut = rng.randrange(0, len(rows) + 1)
        rest = {
            "row_id": "row-0",
            "row_index": rng.choice([0, 0, 4]),
            "items": [{"video_id": v} for v in rng.sample(VIDEOS, 2)],
        }
        self.tiles += [(request, "row-0", item["video_id"]) for item in rest["items"]]
        parts = [rows[:cut], [*rows[cut:], rest]]
        for number, part in enumerate(parts):
            self.emit("feed_served", {"request_id": request, "part": number, "rows": part}, session)

    def impression(self) -> None:
        rng = self.rng
        if self.tiles and rng.random() < 0.9:
            request, row, video = rng.choice(self.tiles)
        else:
            request, row, video = f"req-{rng.randrange(1, 5)}", "row-9", rng.choice(VIDEOS)
        if self.impressions and rng.random() < 0.05:
            impression_id = rng.choice(self.impressions)  # an id reused for another tile
        else:
            impression_id = f"imp-{self.id}-{len(self.impressions)}"
        self.impressions.append(impression_id)
        props: dict[str, Any] = {
            "request_id": request,
            "row_id": row,
            "video_id": video,
            "impression_id": impression_id,
            "row_index": int(row[-1]) if row[-1].isdigit() else 9,
            "rank": rng.randrange(0, 6),
        }
        broken = rng.random()
        if broken < 0.04:
            props["rank"] = 2.0
        elif broken < 0.08:
            props["row_index"] = True
        elif broken < 0.1:
            del props["impression_id"]
        elif broken < 0.12:
            props["video_id"] = 7
        session = rng.choice(self.sessions) if self.sessions and rng.random() < 0.04 else None
        self.emit("impression", props, session)

    def tile(self) -> None:
        rng = self.rng
        if not self.tiles:
            return
        request, row, video = rng.choice(self.tiles)
        half: Any = rng.randrange(0, 6_000)
        if rng.random() < 0.06:
            half = rng.choice([1.5, None, "9", True])
        props = {"request_id": request, "row_id": row, "video_id": video}
        if rng.random() < 0.95:
            props["ms_at_least_half_visible"] = half
        self.emit("tile_visibility", props)

    def play(self) -> None:
        rng = self.rng
        if self.sessions and rng.random() < 0.15:
            session = rng.choice(self.sessions)  # a second play_request of one session
        else:
            session = f"ps-{self.id}-{len(self.sessions)}"
            self.sessions.append(session)
        source: Any = {"location": "home"}
        if self.impressions and rng.random() < 0.8:
            source["impression_id"] = rng.choice(self.impressions[-4:])
        elif rng.random() < 0.3:
            source["impression_id"] = "imp-unknown"
        if rng.random() < 0.05:
            source = "home"
        props = {"video_id": rng.choice(VIDEOS), "source": source}
        self.emit("play_request", props, None if rng.random() < 0.03 else session)

    def other(self) -> None:
        rng = self.rng
        session = rng.choice(self.sessions) if self.sessions else None
        kind = rng.choice(["heartbeat", "heartbeat", "session_end", "volume_change"])
        props: Any = {"position_ms": rng.randrange(0, 100_000)}
        if rng.random() < 0.05:
            props = rng.choice([[], "x", None])
        self.emit(kind, props, session)

    def repeat(self) -> None:
        """An earlier event recorded again under a new seq (its clock or context may differ)."""
        if not self.events:
            return
        rng = self.rng
        earlier = rng.choice(self.events)
        self.seq += 1
        skew = rng.choice([0, 0, 3_000])
        self.events.append(
            replace(
                earlier,
                seq=self.seq,
                event_id=None,
                corrected_time=earlier.corrected + skew,
                context_hash=rng.choice([earlier.context_hash, *_CONTEXT_CHOICES]),
            )
        )


def launches(seed: int, count: int = 6, length: int = 70) -> list[Stored]:
    """Every stored copy of `count` random launches."""
    rng = random.Random(seed)
    stored: list[Stored] = []
    for index in range(count):
        launch = _Launch(rng, index)
        actions = [
            launch.feed,
            launch.impression,
            launch.tile,
            launch.play,
            launch.other,
            launch.repeat,
        ]
        weights = [6, 20, 30, 8, 30, 4]
        for _ in range(rng.randrange(length // 2, length)):
            rng.choices(actions, weights)[0]()
        for event in launch.events:
            stored.append(event)
            chance = rng.random()
            if chance < 0.05:  # another copy, under another key, earlier or later
                stored.append(
                    replace(
                        event,
                        key_id="key-2",
                        event_id=rng.choice([None, f"other-{event.seq}"]),
                        received_at=event.received_at + rng.choice([-10, 0, 10]),
                        corrected_time=event.corrected + rng.choice([0, 2_000]),
                        context_hash=rng.choice([event.context_hash, *_CONTEXT_CHOICES]),
                    )
                )
            elif chance < 0.07:  # the same copy stored twice (before the table merges)
                stored.append(event)
            elif chance < 0.075 and launch.events:  # another event under the same seq
                stored.append(
                    replace(
                        rng.choice(launch.events),
                        seq=event.seq,
                        key_id="key-3",
                        received_at=event.received_at - 1,
                    )
                )
    rng.shuffle(stored)
    return stored
