"""The event vocabulary: every type of events-and-metrics.md, with checks that bite."""

from __future__ import annotations

import pytest

from telemetry.contracts.events import SPECS, Priority

from .samples import VALID

DESIGN_TYPES = {
    "feed_served", "tile_visibility", "impression", "tile_action",
    "play_request", "player_ready", "first_frame", "pause", "resume", "seek_start", "seek_end",
    "rebuffer_start", "rebuffer_end", "heartbeat", "rate_change", "volume_change",
    "track_change", "window_change", "error", "ended", "session_end", "app_start", "app_exit",
}  # fmt: skip
# Issue 20's watching features (subtitles, screenshots, A-B loop).
DESIGN_TYPES |= {
    "subtitle_file_added", "subtitle_delay_change", "screenshot", "ab_loop", "remote_control",
}  # fmt: skip
# Up next's post-play card is browse data, like a tile.
POSTPLAY_TYPES = {"postplay_served", "postplay_seen", "postplay_action"}
DESIGN_TYPES |= POSTPLAY_TYPES


def test_vocabulary_is_the_designs() -> None:
    assert set(SPECS) == DESIGN_TYPES
    assert set(VALID) == DESIGN_TYPES


@pytest.mark.parametrize("event_type", sorted(DESIGN_TYPES))
def test_valid_properties_pass(event_type: str) -> None:
    assert SPECS[event_type].problem(VALID[event_type]) is None


@pytest.mark.parametrize("event_type", sorted(DESIGN_TYPES - {"app_start", "app_exit"}))
def test_each_required_property_is_required(event_type: str) -> None:
    spec = SPECS[event_type]
    for name, _ in spec.required:
        properties = {k: v for k, v in VALID[event_type].items() if k != name}
        assert spec.problem(properties) == f"missing property {name!r}"


@pytest.mark.parametrize(
    ("event_type", "name", "value", "message"),
    [
        ("pause", "position_ms", True, "has type bool"),  # a bool is not an int
        ("pause", "position_ms", 1.5, "has type float"),
        ("impression", "rank", "2", "has type str"),
        ("rate_change", "to_rate", None, "has type NoneType"),
        ("volume_change", "muted", 1, "has type int"),  # optional properties are typed too
        ("tile_action", "action", "swipe", "not one of"),
        ("seek_start", "method", "wheel", "not one of"),
        ("session_end", "reason", "bored", "not one of"),
        ("error", "phase", "later", "not one of"),
        ("heartbeat", "positon_ms", 5, "unknown properties ['positon_ms']"),
    ],
)
def test_bad_properties_are_named(event_type: str, name: str, value: object, message: str) -> None:
    properties = {**VALID[event_type], name: value}
    problem = SPECS[event_type].problem(properties)
    assert problem is not None
    assert message in problem


def test_priorities_follow_the_eviction_order() -> None:
    assert SPECS["heartbeat"].priority == Priority.HEARTBEAT
    assert SPECS["tile_visibility"].priority == Priority.VISIBILITY
    browse = {"impression", "feed_served", "tile_action"} | POSTPLAY_TYPES
    assert {SPECS[t].priority for t in browse} == {Priority.BROWSE}
    rest = DESIGN_TYPES - browse - {"heartbeat", "tile_visibility"}
    assert {SPECS[t].priority for t in rest} == {Priority.SESSION}
    assert Priority.HEARTBEAT < Priority.VISIBILITY < Priority.BROWSE < Priority.SESSION


def test_critical_types() -> None:
    assert {t for t, spec in SPECS.items() if spec.critical} == {"session_end", "error", "app_exit"}


def test_every_playback_event_names_its_play_session() -> None:
    browse_and_app = {"feed_served", "tile_visibility", "impression", "tile_action",
                      "app_start", "app_exit"} | POSTPLAY_TYPES  # fmt: skip
    for event_type in DESIGN_TYPES - browse_and_app:
        assert "play_session_id" in dict(SPECS[event_type].required), event_type
