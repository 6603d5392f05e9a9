"""One valid property set per event type, for tests and benchmarks of the client."""

from __future__ import annotations

from typing import Any

PLAY = {"play_session_id": "play-1"}

VALID: dict[str, dict[str, Any]] = {
    "feed_served": {
        "request_id": "req-1",
        "location": "home",
        "rows": [
            {
                "row_id": "r1",
                "row_index": 0,
                "track_id": "t1",
                "title": "Continue",
                "items": [{"video_id": "v1", "rank": 0}],
            }
        ],
    },
    "tile_visibility": {
        "request_id": "req-1",
        "row_id": "r1",
        "row_index": 0,
        "rank": 2,
        "video_id": "v1",
        "start_mono": 100,
        "end_mono": 1900,
        "max_visible_fraction": 1.0,
        "ms_at_least_half_visible": 1500,
        "end_reason": "scrolled_out",
    },
    "impression": {
        "impression_id": "imp-1",
        "request_id": "req-1",
        "row_id": "r1",
        "row_index": 0,
        "rank": 2,
        "video_id": "v1",
        "track_id": "t1",
        "location": "home",
    },
    "tile_action": {"impression_id": "imp-1", "action": "play", "dwell_ms": 800},
    "play_request": {
        **PLAY,
        "video_id": "v1",
        "source": {
            "request_id": "req-1",
            "row_id": "r1",
            "rank": 2,
            "impression_id": "imp-1",
            "location": "home",
        },
        "start_position_ms": 0,
    },
    "player_ready": {**PLAY, "open_ms": 120, "duration_ms": 8000},
    "first_frame": {
        **PLAY,
        "startup_ms": 300,
        "codec": "h264",
        "width": 1280,
        "height": 720,
        "fps": 25.0,
    },
    "pause": {**PLAY, "position_ms": 1000},
    "resume": {**PLAY, "position_ms": 1000},
    "seek_start": {**PLAY, "from_ms": 1000, "to_ms": 5000, "method": "mouse"},
    "seek_end": {**PLAY, "from_ms": 1000, "to_ms": 5000, "method": "key", "seek_latency_ms": 90},
    "rebuffer_start": {**PLAY, "trigger": "buffering", "position_ms": 3000},
    "rebuffer_end": {**PLAY, "trigger": "watchdog", "position_ms": 3000, "stall_ms": 700},
    "heartbeat": {
        **PLAY,
        "position_ms": 10_000,
        "played_ms": 10_000,
        "stall_ms": 0,
        "displayed_pictures": 250,
        "lost_pictures": 0,
        "lost_audio_buffers": 0,
        "demux_bitrate": 1.5e6,
    },
    "rate_change": {**PLAY, "from_rate": 1.0, "to_rate": 1.5},
    "volume_change": {**PLAY, "from_volume": 80, "to_volume": 60, "muted": False},
    "track_change": {**PLAY, "kind": "subtitle", "from_track": None, "to_track": 2},
    "window_change": {**PLAY, "fullscreen": True, "exposed": True, "active": True},
    "error": {
        **PLAY,
        "fatal": True,
        "phase": "startup",
        "category": "file_missing",
        "message": "no such file",
    },
    "ended": {**PLAY, "position_ms": 8000},
    "session_end": {**PLAY, "reason": "completed", "playing_ms": 8000, "rebuffer_ms": 0},
    "app_start": {"startup_ms": 450},
    "app_exit": {"reason": "quit", "uptime_ms": 60_000},
}

# Issue 20's watching features.
VALID.update(
    {
        "subtitle_file_added": {**PLAY, "method": "drop", "format": "srt"},
        "subtitle_delay_change": {**PLAY, "from_ms": 0, "to_ms": -50},
        "screenshot": {**PLAY, "position_ms": 61_000},
        "ab_loop": {**PLAY, "action": "set_b", "a_ms": 10_000, "b_ms": 14_000},
        "remote_control": {**PLAY, "command": "play_pause"},
        "postplay_served": {
            "postplay_id": "pp-1",
            "video_id": "harbour-nights",
            "next_video_id": "city-of-clocks",
            "origin": "feed",
            "autoplay": True,
            "countdown_ms": 10_000,
        },
        "postplay_seen": {"postplay_id": "pp-1"},
        "postplay_action": {"postplay_id": "pp-1", "action": "autoplay", "dwell_ms": 10_020},
    }
)


def heartbeat(position_ms: int, pad: str = "") -> dict[str, Any]:
    """A heartbeat; `pad` makes its body bigger (it rides in `play_session_id`)."""
    return {**VALID["heartbeat"], "position_ms": position_ms, "play_session_id": "play-1" + pad}
