"""A device's watch history rebuilt on the server from its stored events, as `player.history`
keeps it on the device: what the rule-based policy (`telemetry.recommend.policy`) reads.

Pure code over a read-only SQLite connection; any one thread per connection.
"""

from __future__ import annotations

import sqlite3
from typing import Any, Final

import orjson

from player.history import HistoryEntry
from telemetry.contracts.event_types import SESSION_END

# A device's history is rebuilt from at most this many of its latest play events.
HISTORY_EVENTS: Final = 2000


def device_history(
    connection: sqlite3.Connection, key_id: str, device_id: str
) -> list[HistoryEntry]:
    """The device's watch history as `player.history` keeps it on the device (most recently
    watched first), rebuilt from its latest plays and their ends."""
    rows = connection.execute(
        "SELECT type, time, raw FROM events WHERE device_id = ? AND key_id = ?"
        " AND type IN ('play_request', 'session_end') ORDER BY id DESC LIMIT ?",
        (device_id, key_id, HISTORY_EVENTS),
    ).fetchall()
    entries: dict[str, dict[str, Any]] = {}
    ends: dict[str, dict[str, Any]] = {}  # play_session_id -> session_end properties
    for kind, time, raw in reversed(rows):
        try:
            event = orjson.loads(raw)
            props = event["properties"]
            session = props["play_session_id"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            continue
        if kind == SESSION_END:
            ends[session] = props
            continue
        video = props.get("video_id")
        if not isinstance(video, str):
            continue
        entry = entries.setdefault(video, {"plays": 0, "completed": 0, "sessions": []})
        entry["plays"] += 1
        entry["last"] = time / 1000
        entry["sessions"].append(session)
    history = []
    for video, entry in entries.items():
        position = duration = completed = 0
        for session in entry["sessions"]:
            end = ends.get(session, {})
            completed += end.get("reason") == "completed"
            position = end.get("position_ms", position) if isinstance(end, dict) else position
            duration = end.get("duration_ms") or duration
        history.append(
            HistoryEntry(
                video,
                position_ms=position if isinstance(position, int) else 0,
                duration_ms=duration if isinstance(duration, int) else 0,
                last_watched=entry["last"],
                play_count=entry["plays"],
                completed_count=completed,
            )
        )
    history.sort(key=lambda e: (-e.last_watched, e.video_id))
    return history
