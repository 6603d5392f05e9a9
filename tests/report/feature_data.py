"""A hand-made set of feature events for the report's features section: one launch 6 hours
after `known_data`'s first (no session starts at the same time as one of those), two play
sessions (v1 with every watching feature, v2 with a screenshot and a speed change) and five
up-next cards; `test_features.py` works out each figure.

The events are checked against the client's vocabulary, as in `known_data`.
"""

from __future__ import annotations

from .known_data import DAY1, HOUR, LINUX, Launch, M


def play(launch: Launch, mono: int, session: str, video: str) -> None:
    source = {"request_id": None, "row_id": None, "rank": None, "impression_id": None}
    launch.emit("play_request", mono, play_session_id=session, video_id=video,
                source={**source, "location": "open_file"}, start_position_ms=0)  # fmt: skip


def _watching(launch: Launch, s: str) -> None:
    """In session `s`: 2 audio and 1 subtitle track changes, 2 chapter seeks (and a mouse
    seek), a subtitle file, 3 delay changes, 2 screenshots (one recorded twice), one A-B loop
    closed (set_a, set_b, clear) and 4 speed changes."""
    t = M + 1000
    changes = (("audio", 1, 2), ("audio", 2, 1), ("subtitle", None, 3), ("video", 0, 0))
    for track, before, after in changes:
        launch.emit("track_change", t, play_session_id=s, kind=track, from_track=before,
                    to_track=after)  # fmt: skip
        t += 10
    for method in ("chapter", "chapter", "mouse"):
        launch.emit("seek_end", t, play_session_id=s, from_ms=0, to_ms=60_000, method=method,
                    seek_latency_ms=100)  # fmt: skip
        t += 10
    launch.emit("subtitle_file_added", t, play_session_id=s, method="drop", format="srt")
    for step in range(3):
        launch.emit("subtitle_delay_change", t + step, play_session_id=s, from_ms=step * 50,
                    to_ms=step * 50 + 50)  # fmt: skip
    shot = launch.emit("screenshot", t + 10, play_session_id=s, position_ms=5000)
    launch.emit("screenshot", t + 20, play_session_id=s, position_ms=9000)
    launch.emit("screenshot", shot["mono_ms"], **shot["properties"])  # the same event again
    for action in ("set_a", "set_b", "clear"):
        launch.emit("ab_loop", t + 30, play_session_id=s, action=action, a_ms=1000, b_ms=2000)
    for step in range(4):
        launch.emit("rate_change", t + 40 + step, play_session_id=s, from_rate=1.0,
                    to_rate=1.1)  # fmt: skip
    launch.emit("session_end", t + 100, play_session_id=s, reason="completed")


def card(launch: Launch, mono: int, card: str, seen: bool, action: str | None) -> None:
    launch.emit("postplay_served", mono, postplay_id=card, video_id="v1", next_video_id="v2",
                origin="folder", autoplay=True, countdown_ms=5000)  # fmt: skip
    if seen:
        launch.emit("postplay_seen", mono + 1, postplay_id=card)
    if action is not None:
        launch.emit("postplay_action", mono + 2, postplay_id=card, action=action, dwell_ms=900)


def feature_launch() -> Launch:
    launch = Launch("dev-f", "app-f", M, DAY1 + 6 * HOUR, LINUX)
    play(launch, M, "F1", "v1")
    _watching(launch, "F1")
    play(launch, M + 5000, "F2", "v2")
    launch.emit("screenshot", M + 5100, play_session_id="F2", position_ms=100)
    launch.emit("rate_change", M + 5200, play_session_id="F2", from_rate=1.0, to_rate=0.9)
    launch.emit("session_end", M + 5300, play_session_id="F2", reason="user_stop")
    card(launch, M + 6000, "c1", True, "play")
    card(launch, M + 6100, "c2", True, "autoplay")
    card(launch, M + 6200, "c3", True, "dismiss")
    card(launch, M + 6300, "c4", True, None)
    card(launch, M + 6400, "c5", False, "autoplay")  # never on screen: not shown, not chosen
    return launch
