"""Test doubles for `PlaySession`: a hand-driven clock, a fake engine readout, and an event
recorder that checks every event against the telemetry vocabulary as it is emitted."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from player.engine import EngineEvent, EngineEventKind, MediaStats, PlaybackState, VideoInfo
from player.play_session import Emit, PlaySession, SourceContext, monotonic_ms
from telemetry.contracts.events import SPECS


class Recorder:
    """The session's `emit`: keeps (type, properties, critical) and rejects invalid events."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, object], bool]] = []
        self.monos: list[float] = []  # when each event was emitted (the session clock)

    def __call__(
        self, event_type: str, properties: Mapping[str, object], *, critical: bool = False
    ) -> None:
        problem = SPECS[event_type].problem(properties)
        assert problem is None, f"{event_type}: {problem} in {dict(properties)}"
        self.events.append((event_type, dict(properties), critical))
        self.monos.append(monotonic_ms())

    def types(self) -> list[str]:
        return [event_type for event_type, _, _ in self.events]

    def of(self, event_type: str) -> list[dict[str, object]]:
        return [props for kind, props, _ in self.events if kind == event_type]

    def mono_of(self, event_type: str) -> list[float]:
        return [
            mono
            for (kind, _, _), mono in zip(self.events, self.monos, strict=True)
            if kind == event_type
        ]

    def one(self, event_type: str) -> dict[str, object]:
        found = self.of(event_type)
        assert len(found) == 1, f"{len(found)} {event_type} events in {self.types()}"
        return found[0]


@dataclass
class FakeEngine:
    """An `EngineReadout` whose values the test sets."""

    position_ms: int = 0
    duration_ms: int = 0
    rate: float = 1.0
    state: PlaybackState = PlaybackState.OPENING
    stats: MediaStats = field(default_factory=MediaStats)
    info: VideoInfo = field(default_factory=lambda: VideoInfo("h264", 480, 270, 24.0))

    def media_stats(self) -> MediaStats:
        return self.stats

    def video_info(self) -> VideoInfo:
        return self.info


class Harness:
    """A session on a fake clock (ms), fed by hand."""

    def __init__(
        self,
        *,
        source: str = "http://127.0.0.1:9/clip.mp4",
        start_position_ms: int = 0,
        journal: object = None,
        session_id: str | None = None,
        emit: Emit | None = None,
    ) -> None:
        self.now = 0.0
        self.tick_ms = 0.0  # > 0: every reading of the clock moves it on by this much
        self.engine = FakeEngine()
        self.pictures_fps = 0.0  # > 0: `play_steadily` moves the displayed-pictures counter too
        self.out = Recorder()
        self.session = PlaySession(
            video_id="test-card",
            source=source,
            context=SourceContext("home", "req-1", "row-1", 3, "imp-1"),
            readout=self.engine,
            emit=emit or self.out,  # a real client's track, or the recorder
            start_position_ms=start_position_ms,
            clock=self._read_clock,
            journal=journal,  # type: ignore[arg-type]
            session_id=session_id,
        )

    def _read_clock(self) -> float:
        now = self.now
        self.now += self.tick_ms
        return now

    def event(self, kind: EngineEventKind, value: object = None, *, at: float) -> None:
        self.now = max(self.now, at)
        self.session.on_engine_event(EngineEvent(kind, at, value))  # type: ignore[arg-type]

    def time(self, position: int, *, at: float) -> None:
        self.engine.position_ms = position
        self.event(EngineEventKind.TIME_CHANGED, position, at=at)

    def poll(self, *, at: float) -> None:
        self.now = at
        self.session.on_poll()

    def open_and_play(self, *, duration: int = 24_000) -> None:
        """libVLC's opening sequence for a local file, up to the first time report (400 ms)."""
        self.session.start()
        self.engine.duration_ms = duration
        self.event(EngineEventKind.OPENING, at=1)
        self.event(EngineEventKind.LENGTH_CHANGED, duration, at=9)
        self.engine.state = PlaybackState.PLAYING
        self.event(EngineEventKind.PLAYING, at=40)
        self.event(EngineEventKind.BUFFERING, 0.0, at=41)
        self.event(EngineEventKind.BUFFERING, 100.0, at=42)

    def play_steadily(self, start_ms: float, end_ms: float, *, step: float = 250.0) -> None:
        """The playhead advances with the clock, reported every `step` ms, polled in between."""
        position0 = self.engine.position_ms
        at = start_ms
        while at + step <= end_ms:
            at += step
            if self.pictures_fps > 0:
                shown = round(step * self.pictures_fps / 1000)
                stats = self.engine.stats
                self.engine.stats = replace(
                    stats, displayed_pictures=stats.displayed_pictures + shown
                )
            self.poll(at=at - step / 2)
            self.time(round(position0 + (at - start_ms) * self.engine.rate), at=at)
