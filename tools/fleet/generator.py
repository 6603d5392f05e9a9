"""A seeded viewer for the fleet simulation: what one person does in Reelscope, as the timed
telemetry calls the app would make, at the app's own rates.

The viewer opens the app, browses the home screen (a feed, then scrolls: each scroll is a burst
of raw visibility spans and impressions a few ms apart, then hovers and focus), plays a title
(request, ready, first frame, a heartbeat every 10 s of playing, and now and then a pause, a
seek, a stall, a volume, rate, track or window change, a non-fatal error; sometimes a fatal
start-up error), ends the session, and browses again. `Viewer.exit()` is the app's exit event.
Every type of `telemetry.contracts.events` is produced, with properties that pass its validation.

Pure: a `Viewer` draws from its own `random.Random` and reads the injected monotonic clock only
to stamp visibility spans. The caller waits `Step.delay` seconds, then records the step. Any
thread, one viewer per thread.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass

HEARTBEAT_S = 10.0
ROW_TRACKS = ("continue", "trending", "new", "because_you_watched", "genre")
CODECS = ("h264", "hevc", "vp9", "av1")
RESOLUTIONS = ((1280, 720), (1920, 1080), (3840, 2160))


@dataclass(frozen=True, slots=True)
class Step:
    """One telemetry call: wait `delay` seconds, then `track(event_type, properties)`."""

    delay: float
    event_type: str
    properties: dict[str, object]
    # The first event of a burst (a feed laid out, a scroll): the moment when the most events
    # are waiting for their group commit, so the simulation kills clients there.
    burst: bool = False


@dataclass(slots=True)
class _Tile:
    request_id: str
    row_id: str
    row_index: int
    rank: int
    video_id: str
    track_id: str
    impression_id: str | None = None


class Viewer:
    def __init__(self, rng: random.Random, monotonic_ms: Callable[[], int]) -> None:
        self._rng = rng
        self._monotonic_ms = monotonic_ms
        self._volume = 80

    def _id(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def steps(self) -> Iterator[Step]:
        """An endless session: app start, then browsing and playing in turn."""
        yield Step(self._rng.uniform(0.05, 0.3), "app_start", {"startup_ms": self._ms(300, 1500)})
        while True:
            tile = yield from self._browse()
            yield from self._play(tile)

    def exit(self, uptime_ms: int) -> Step:
        return Step(0.0, "app_exit", {"reason": "user_quit", "uptime_ms": uptime_ms})

    def _ms(self, low: int, high: int) -> int:
        return self._rng.randint(low, high)

    # Home screen

    def _browse(self) -> Generator[Step, None, _Tile]:
        rng = self._rng
        request_id = self._id()
        rows = [
            _row(request_id, index, rng.choice(ROW_TRACKS), rng.randint(8, 20), rng)
            for index in range(rng.randint(3, 6))
        ]
        yield Step(
            rng.uniform(0.2, 1.0),
            "feed_served",
            {
                "request_id": request_id,
                "location": "home",
                "rows": [
                    {
                        "row_id": row[0].row_id,
                        "row_index": row[0].row_index,
                        "track_id": row[0].track_id,
                        "title": row[0].track_id.replace("_", " ").title(),
                        "items": [{"video_id": t.video_id, "rank": t.rank} for t in row],
                    }
                    for row in rows
                ],
            },
            burst=True,
        )
        seen: list[_Tile] = []
        for scroll in range(rng.randint(2, 5)):
            row = rows[min(scroll, len(rows) - 1)]
            first = rng.randint(0, max(0, len(row) - 6))
            burst = True
            for tile in row[first : first + rng.randint(4, 8)]:
                yield self._visibility(tile, burst)
                burst = False
                if tile.impression_id is None and rng.random() < 0.7:
                    tile.impression_id = self._id()
                    seen.append(tile)
                    yield Step(rng.uniform(0.001, 0.01), "impression", _impression(tile))
            for tile in rng.sample(seen, min(len(seen), rng.randint(0, 2))):
                yield self._action(tile, rng.choice(("hover", "focus")), None)
            if rng.random() < 0.15 and seen:
                yield self._action(rng.choice(seen), "details", "click")
        if not seen:
            tile = rows[0][0]
            tile.impression_id = self._id()
            yield Step(rng.uniform(0.5, 1.5), "impression", _impression(tile))
            seen.append(tile)
        chosen = rng.choice(seen)
        yield self._action(chosen, "play", rng.choice(("click", "enter")))
        return chosen

    def _visibility(self, tile: _Tile, burst: bool) -> Step:
        rng = self._rng
        delay = rng.uniform(0.8, 3.0) if burst else rng.uniform(0.002, 0.03)
        end = self._monotonic_ms() + int(delay * 1000)
        span = self._ms(200, 6000)
        fraction = rng.choice((0.3, 0.5, 0.75, 1.0))
        return Step(
            delay,
            "tile_visibility",
            {
                "request_id": tile.request_id,
                "row_id": tile.row_id,
                "row_index": tile.row_index,
                "rank": tile.rank,
                "video_id": tile.video_id,
                "start_mono": end - span,
                "end_mono": end,
                "max_visible_fraction": fraction,
                "ms_at_least_half_visible": span if fraction >= 0.5 else 0,
                "end_reason": rng.choice(("scrolled_out", "window_hidden", "feed_replaced")),
            },
            burst=burst,
        )

    def _action(self, tile: _Tile, action: str, trigger: str | None) -> Step:
        properties: dict[str, object] = {
            "impression_id": tile.impression_id or self._id(),
            "action": action,
            "dwell_ms": self._ms(150, 4000),
        }
        if trigger is not None:
            properties["trigger"] = trigger
        return Step(self._rng.uniform(0.3, 2.5), "tile_action", properties)

    # Playback

    def _play(self, tile: _Tile) -> Iterator[Step]:
        rng = self._rng
        session = self._id()
        duration_ms = self._ms(60_000, 3_600_000)
        position = 0 if rng.random() < 0.7 else self._ms(0, duration_ms // 2)

        def step(delay: float, event_type: str, **properties: object) -> Step:
            return Step(delay, event_type, {"play_session_id": session, **properties})

        yield step(
            0.0,
            "play_request",
            video_id=tile.video_id,
            source={
                "request_id": tile.request_id,
                "row_id": tile.row_id,
                "rank": tile.rank,
                "impression_id": tile.impression_id,
                "location": "home",
            },
            start_position_ms=position,
        )
        open_ms = self._ms(40, 400)
        if rng.random() < 0.05:
            yield step(
                open_ms / 1000,
                "error",
                fatal=True,
                phase="startup",
                category="unsupported",
                message="no decoder for this stream",
            )
            yield step(0.0, "session_end", reason="error", startup_ms=None, position_ms=position)
            return
        yield step(open_ms / 1000, "player_ready", open_ms=open_ms, duration_ms=duration_ms)
        startup_ms = open_ms + self._ms(150, 1800)
        width, height = rng.choice(RESOLUTIONS)
        yield step(
            (startup_ms - open_ms) / 1000,
            "first_frame",
            startup_ms=startup_ms,
            codec=rng.choice(CODECS),
            width=width,
            height=height,
            fps=rng.choice((24.0, 25.0, 30.0, 60.0)),
        )
        playback = _Playback(position, duration_ms)
        yield from self._watch(playback, step)
        reason = "completed" if playback.ended else rng.choice(("user_stop", "navigated"))
        if playback.ended:
            yield step(0.0, "ended", position_ms=playback.position)
        elif rng.random() < 0.2:
            reason = "next_item"
        yield step(
            rng.uniform(0.0, 0.2),
            "session_end",
            reason=reason,
            startup_ms=startup_ms,
            playing_ms=playback.playing_ms,
            rebuffer_ms=playback.rebuffer_ms,
            rebuffer_count=playback.rebuffers,
            seek_ms=playback.seek_ms,
            watch_ms=startup_ms + playback.playing_ms + playback.rebuffer_ms + playback.seek_ms,
            content_watched_ms=playback.playing_ms,
            position_ms=playback.position,
            duration_ms=duration_ms,
        )
        if playback.ended:
            yield from self._postplay(tile.video_id, f"{tile.video_id}-next")

    def _watch(self, playback: _Playback, step: Callable[..., Step]) -> Iterator[Step]:
        """Play for 15-60 s: heartbeats every 10 s of playing, interrupted now and then."""
        rng = self._rng
        watch_s = rng.uniform(15.0, 60.0)
        if rng.random() < 0.3:
            yield step(
                rng.uniform(0.5, 3.0), "window_change", fullscreen=True, exposed=True, active=True
            )
        while playback.watched_s < watch_s and not playback.ended:
            gap = min(rng.expovariate(1 / 7.0), HEARTBEAT_S - playback.since_heartbeat_s)
            playback.play(gap)
            if playback.since_heartbeat_s >= HEARTBEAT_S - 1e-6 or playback.ended:
                yield step(gap, "heartbeat", **playback.heartbeat(rng))
                continue
            yield from self._interruption(playback, step, gap)

    def _interruption(
        self, playback: _Playback, step: Callable[..., Step], delay: float
    ) -> Iterator[Step]:
        rng = self._rng
        kind = rng.choices(
            ("pause", "seek", "stall", "volume", "rate", "track", "window", "feature", "error"),
            weights=(5, 5, 3, 3, 1, 1, 1, 1, 1),
        )[0]
        at = playback.position
        if kind == "pause":
            yield step(delay, "pause", position_ms=at)
            yield step(rng.uniform(1.0, 6.0), "resume", position_ms=at)
        elif kind == "seek":
            target = max(0, min(playback.duration_ms - 1000, at + self._ms(-60_000, 120_000)))
            method = rng.choice(("mouse", "key", "chapter", "inferred"))
            latency = self._ms(80, 900)
            yield step(delay, "seek_start", from_ms=at, to_ms=target, method=method)
            yield step(
                latency / 1000,
                "seek_end",
                from_ms=at,
                to_ms=target,
                method=method,
                seek_latency_ms=latency,
            )
            playback.seek(target, latency)
        elif kind == "stall":
            trigger = rng.choice(("buffering", "watchdog"))
            stall = self._ms(300, 4000)
            yield step(delay, "rebuffer_start", trigger=trigger, position_ms=at)
            yield step(
                stall / 1000, "rebuffer_end", trigger=trigger, position_ms=at, stall_ms=stall
            )
            playback.stall(stall)
        elif kind == "volume":
            to = max(0, min(100, self._volume + rng.choice((-20, -10, 10, 20))))
            yield step(
                delay, "volume_change", from_volume=self._volume, to_volume=to, muted=to == 0
            )
            self._volume = to
        elif kind == "rate":
            faster = rng.choice((1.25, 1.5, 2.0))
            yield step(delay, "rate_change", from_rate=1.0, to_rate=faster)
            yield step(rng.uniform(2.0, 6.0), "rate_change", from_rate=faster, to_rate=1.0)
        elif kind == "track":
            yield step(
                delay,
                "track_change",
                kind=rng.choice(("audio", "subtitle")),
                from_track=0,
                to_track=rng.choice((1, 2, "en", None)),
            )
        elif kind == "window":
            yield step(
                delay,
                "window_change",
                fullscreen=rng.random() < 0.5,
                exposed=True,
                active=rng.random() < 0.8,
            )
        elif kind == "feature":
            yield self._feature(step, delay, at)
        else:
            yield step(
                delay,
                "error",
                fatal=False,
                phase="playback",
                category="decoder",
                message="corrupted frame skipped",
                position_ms=at,
            )

    def _feature(self, step: Callable[..., Step], delay: float, at: int) -> Step:
        """One use of the player's evening features (subtitles, screenshot, loop, MPRIS)."""
        rng = self._rng
        feature = rng.choice(("subtitles", "delay", "screenshot", "loop", "remote"))
        if feature == "subtitles":
            return step(
                delay, "subtitle_file_added", method=rng.choice(("menu", "drop")), format="srt"
            )
        if feature == "delay":
            return step(delay, "subtitle_delay_change", from_ms=0, to_ms=rng.choice((-100, 50)))
        if feature == "screenshot":
            return step(delay, "screenshot", position_ms=at)
        if feature == "loop":
            return step(delay, "ab_loop", action="set_a", a_ms=at)
        return step(delay, "remote_control", command=rng.choice(("play_pause", "seek", "next")))

    def _postplay(self, video_id: str, next_video_id: str) -> Iterator[Step]:
        """The up-next card after a title's end: served, seen, then taken or dismissed."""
        rng = self._rng
        postplay_id = self._id()
        countdown_ms = 10_000
        yield Step(
            0.0,
            "postplay_served",
            {
                "postplay_id": postplay_id,
                "video_id": video_id,
                "next_video_id": next_video_id,
                "origin": rng.choice(("feed", "folder", "queue")),
                "autoplay": True,
                "countdown_ms": countdown_ms,
            },
        )
        yield Step(0.05, "postplay_seen", {"postplay_id": postplay_id})
        action = rng.choice(("autoplay", "play", "dismiss"))
        dwell_ms = countdown_ms if action == "autoplay" else self._ms(500, countdown_ms)
        yield Step(
            dwell_ms / 1000,
            "postplay_action",
            {"postplay_id": postplay_id, "action": action, "dwell_ms": dwell_ms},
        )


class _Playback:
    """The state of one play session as the viewer advances it."""

    def __init__(self, position: int, duration_ms: int) -> None:
        self.position = position
        self.duration_ms = duration_ms
        self.watched_s = 0.0
        self.since_heartbeat_s = 0.0
        self.playing_ms = self.rebuffer_ms = self.rebuffers = self.seek_ms = 0
        self._played_since = self._stall_since = 0

    @property
    def ended(self) -> bool:
        return self.position >= self.duration_ms

    def play(self, seconds: float) -> None:
        ms = min(int(seconds * 1000), self.duration_ms - self.position)
        self.position += ms
        self.playing_ms += ms
        self._played_since += ms
        self.watched_s += seconds
        self.since_heartbeat_s += seconds

    def seek(self, target: int, latency_ms: int) -> None:
        self.position = target
        self.seek_ms += latency_ms

    def stall(self, ms: int) -> None:
        self.rebuffer_ms += ms
        self.rebuffers += 1
        self._stall_since += ms

    def heartbeat(self, rng: random.Random) -> dict[str, object]:
        played, stalled = self._played_since, self._stall_since
        self._played_since = self._stall_since = 0
        self.since_heartbeat_s = 0.0
        return {
            "position_ms": self.position,
            "played_ms": played,
            "stall_ms": stalled,
            "displayed_pictures": played * 24 // 1000,
            "lost_pictures": rng.choice((0, 0, 0, 1, 3)),
            "lost_audio_buffers": rng.choice((0, 0, 0, 0, 1)),
            "demux_bitrate": round(rng.uniform(0.5, 12.0), 3),
        }


def _row(request_id: str, index: int, track: str, size: int, rng: random.Random) -> list[_Tile]:
    row_id = f"{track}-{index}"
    return [
        _Tile(request_id, row_id, index, rank, f"v{rng.randint(1, 5000):05d}", track)
        for rank in range(size)
    ]


def _impression(tile: _Tile) -> dict[str, object]:
    return {
        "impression_id": tile.impression_id,
        "request_id": tile.request_id,
        "row_id": tile.row_id,
        "row_index": tile.row_index,
        "rank": tile.rank,
        "video_id": tile.video_id,
        "track_id": tile.track_id,
        "location": "home",
    }
