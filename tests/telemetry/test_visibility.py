"""The impression rule and raw visibility spans, driven by a fake clock (no sleeping)."""

from __future__ import annotations

from collections.abc import Mapping
from itertools import count

import pytest

from telemetry.client.tile_actions import TileActionTracker
from telemetry.client.visibility import TileRef, VisibilityTracker

from .track_recorder import Clock, Recorder


def ref(rank: int, row: str = "genre:Ambient", request: str = "req-1") -> TileRef:
    return TileRef(request, "home", row, 3, row, rank, f"video-{rank}")


@pytest.fixture
def clock() -> Clock:
    return Clock(10_000.0)


@pytest.fixture
def events() -> Recorder:
    return Recorder()


@pytest.fixture
def tracker(clock: Clock, events: Recorder) -> VisibilityTracker:
    ids = count(1)
    return VisibilityTracker(events, clock=clock, new_id=lambda: f"imp-{next(ids)}")


def test_one_continuous_second_at_half_gives_one_impression(
    tracker: VisibilityTracker, clock: Clock, events: Recorder
) -> None:
    tracker.update({ref(0): 0.5, ref(1): 0.49}, window_active=True)
    assert tracker.next_deadline() == clock.now + 1000
    clock.now += 999
    tracker.poll()
    assert events.of("impression") == []
    clock.now += 1
    tracker.poll()
    clock.now += 5000
    tracker.update({ref(0): 1.0, ref(1): 0.49}, window_active=True)
    tracker.poll()
    [impression] = events.of("impression")
    assert impression == {
        "impression_id": "imp-1",
        "request_id": "req-1",
        "row_id": "genre:Ambient",
        "row_index": 3,
        "rank": 0,
        "video_id": "video-0",
        "track_id": "genre:Ambient",
        "location": "home",
    }
    assert tracker.has_impression(ref(0))
    assert not tracker.has_impression(ref(1))
    assert tracker.impression_id(ref(0)) == "imp-1"


def test_dropping_under_half_resets_the_timer(
    tracker: VisibilityTracker, clock: Clock, events: Recorder
) -> None:
    tracker.update({ref(0): 0.8}, window_active=True)
    clock.now += 900
    tracker.update({ref(0): 0.3}, window_active=True)
    clock.now += 100
    tracker.update({ref(0): 0.8}, window_active=True)
    clock.now += 900
    tracker.poll()
    assert events.of("impression") == []
    clock.now += 100
    tracker.poll()
    assert len(events.of("impression")) == 1


def test_inactive_window_pauses_without_resetting(
    tracker: VisibilityTracker, clock: Clock, events: Recorder
) -> None:
    tracker.update({ref(0): 1.0}, window_active=True)
    clock.now += 600
    tracker.update({ref(0): 1.0}, window_active=False)
    assert tracker.next_deadline() is None
    clock.now += 60_000
    tracker.poll()
    assert events.of("impression") == []
    tracker.update({ref(0): 1.0}, window_active=True)
    assert tracker.next_deadline() == clock.now + 400
    clock.now += 400
    tracker.poll()
    assert len(events.of("impression")) == 1


def test_once_per_request_row_and_title(
    tracker: VisibilityTracker, clock: Clock, events: Recorder
) -> None:
    for _ in range(3):
        tracker.update({ref(0): 1.0, ref(0, row="recently_added"): 1.0}, window_active=True)
        clock.now += 1500
        tracker.poll()
        tracker.update({}, window_active=True)
        clock.now += 100
    tracker.update({ref(0, request="req-2"): 1.0}, window_active=True)
    clock.now += 1000
    tracker.poll()
    keys = [(p["request_id"], p["row_id"]) for p in events.of("impression")]
    assert keys == [
        ("req-1", "genre:Ambient"),
        ("req-1", "recently_added"),
        ("req-2", "genre:Ambient"),
    ]


def test_spans_split_at_bands_and_window_changes(
    tracker: VisibilityTracker, clock: Clock, events: Recorder
) -> None:
    tracker.update({ref(0): 0.2}, window_active=True)
    clock.now += 100
    tracker.update({ref(0): 0.7}, window_active=True)
    clock.now += 200
    tracker.update({ref(0): 1.0}, window_active=True)
    clock.now += 300
    tracker.update({ref(0): 1.0}, window_active=False)
    clock.now += 400
    tracker.update({ref(0): 0.6}, window_active=False)
    clock.now += 50
    tracker.update({}, window_active=False)
    spans = [
        (
            p["end_mono"] - p["start_mono"],  # type: ignore[operator]
            p["max_visible_fraction"],
            p["ms_at_least_half_visible"],
            p["end_reason"],
        )
        for p in events.of("tile_visibility")
    ]
    assert spans == [
        (100, 0.2, 0, "at_least_half"),
        (200, 0.7, 200, "fully_visible"),
        (300, 1.0, 300, "window_inactive"),
        (400, 1.0, 0, "below_full"),
        (50, 0.6, 0, "hidden"),
    ]


def test_close_ends_open_spans(tracker: VisibilityTracker, clock: Clock, events: Recorder) -> None:
    tracker.update({ref(0): 1.0, ref(1): 0.1}, window_active=True)
    clock.now += 250
    tracker.close()
    assert [p["end_reason"] for p in events.of("tile_visibility")] == ["closed", "closed"]
    assert tracker.next_deadline() is None


def test_tile_actions_report_dwell_and_activation(clock: Clock, events: Recorder) -> None:
    ids = count(1)
    visibility = VisibilityTracker(events, clock=clock, new_id=lambda: f"imp-{next(ids)}")
    actions = TileActionTracker(events, clock=clock, impression_id=visibility.impression_id)
    actions.hover_changed(ref(0))
    clock.now += 50
    actions.hover_changed(ref(1))  # passing over tile 0: too short to report
    clock.now += 400
    actions.hover_changed(ref(1))  # same tile: the dwell keeps running
    clock.now += 100
    actions.focus_changed(ref(1))
    clock.now += 200
    assert actions.activated(ref(1), "click") == visibility.impression_id(ref(1))
    actions.hover_changed(None)
    actions.focus_changed(ref(2))
    clock.now += 300
    assert actions.activated(ref(2), "enter") == visibility.impression_id(ref(2))
    assert [(p["action"], p["dwell_ms"], p.get("trigger")) for p in events.of("tile_action")] == [
        ("play", 700, "click"),
        ("hover", 700, None),
        ("focus", 200, None),
        ("play", 300, "enter"),
    ]


def test_after_recording_starts_only_the_dropped_impressions_qualify_again(
    clock: Clock, events: Recorder
) -> None:
    recording = False

    def track(event_type: str, properties: Mapping[str, object]) -> str | None:
        events(event_type, properties)
        return "kept" if recording else None  # None: not recorded (no consent yet)

    ids = count(1)
    tracker = VisibilityTracker(track, clock=clock, new_id=lambda: f"imp-{next(ids)}")
    tracker.update({ref(0): 1.0}, window_active=True)
    clock.now += 1000
    tracker.poll()
    recording = True
    tracker.update({ref(0): 1.0, ref(1): 1.0}, window_active=True)
    clock.now += 1000
    tracker.poll()
    assert [p["impression_id"] for p in events.of("impression")] == ["imp-1", "imp-2"]

    tracker.recording_started()
    tracker.update({ref(0): 1.0, ref(1): 1.0}, window_active=True)
    clock.now += 1000
    tracker.poll()
    # ref(0) dropped its first impression: it fires again under the same id; ref(1)'s was kept.
    assert [p["impression_id"] for p in events.of("impression")] == ["imp-1", "imp-2", "imp-1"]
