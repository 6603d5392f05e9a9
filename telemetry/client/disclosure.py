"""What Reelscope tells the viewer it collects: every event type of the vocabulary
(`telemetry.contracts.events.SPECS`) in plain language, grouped by purpose, with its property names.

The consent dialog and the privacy window are generated from this, and a test checks that every
event type of the vocabulary is described here, so a new event cannot be collected silently.

Pure data and functions; any thread.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from telemetry.contracts.events import SPECS


@dataclass(frozen=True, slots=True)
class Disclosure:
    """One event type as the viewer reads it."""

    event_type: str
    description: str
    properties: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Purpose:
    """A group of event types and why they are collected."""

    title: str
    why: str
    events: tuple[Disclosure, ...]


_PURPOSES: Final[tuple[tuple[str, str, Mapping[str, str]], ...]] = (
    (
        "What the home screen showed you",
        "to learn which rows and titles are worth showing, and where on the screen",
        {
            "feed_served": (
                "the rows and titles laid out on the home screen (a row's name can include "
                "the title of a video you watched), and whether they came from the app's own "
                "rules or your server's recommendations"
            ),
            "tile_visibility": "how long and how much of each title's tile was on screen",
            "impression": "a tile seen at least half for at least one second",
            "tile_action": "a tile hovered, focused, clicked or opened, and how long it took",
            "postplay_served": (
                "the title offered as up next when a video ended, where it came from (the "
                "files opened together, the home-screen row, or the folder) and the countdown"
            ),
            "postplay_seen": "the up next card was on screen",
            "postplay_action": (
                "you played the up next title, let it play by itself or dismissed it, and "
                "after how long"
            ),
        },
    ),
    (
        "How playback went",
        "to find and fix slow starts, stalls and errors",
        {
            "play_request": "a title you asked to play, and which tile it came from",
            "player_ready": "how long the video took to open, and its length",
            "first_frame": (
                "how long until the first picture, with codec and resolution, and the size of "
                "the player's video area"
            ),
            "rebuffer_start": "the picture froze while waiting for data",
            "rebuffer_end": "playback went on after a freeze, and how long it lasted",
            "heartbeat": (
                "every 10 s of playback: position, stalls, lost frames, bitrate, the picture's "
                "size and the player's"
            ),
            "error": "something could not be played, and the player's reason",
            "session_end": "why playback ended, with the session's totals",
        },
    ),
    (
        "What you did while watching",
        "to learn how people watch: where they pause, skip and stop",
        {
            "pause": "you paused, and where",
            "resume": "you resumed, and where",
            "seek_start": (
                "you started to jump within the video, from where to where, and how (mouse, "
                "key, chapter, loop or the desktop's media controls)"
            ),
            "seek_end": "the jump finished, and how long it took",
            "rate_change": "you changed the playback speed",
            "volume_change": "you changed the volume or muted",
            "track_change": (
                "you switched audio, video or subtitle track, or a stream changed its picture "
                "quality (the new picture size and bitrate)"
            ),
            "window_change": "the player went fullscreen, was hidden or lost focus",
            "ended": "the video reached its end",
            "subtitle_file_added": (
                "you added a subtitle file from the menu or by dropping it (only its type, "
                "such as srt, never its name)"
            ),
            "subtitle_delay_change": "you shifted the subtitles earlier or later",
            "screenshot": "you saved a screenshot, and where in the video",
            "ab_loop": "you set or cleared a loop between two points of the video",
            "remote_control": (
                "you used the desktop's media controls or media keys (play, pause, seek …)"
            ),
        },
    ),
    (
        "The app itself",
        "to know how long Reelscope takes to start and how long it stays open",
        {
            "app_start": "Reelscope started, and how long that took",
            "app_exit": "Reelscope closed, and after how long",
        },
    ),
)

ALWAYS_SENT: Final = (
    "Every event also carries a random id for this installation (not tied to your hardware), "
    "an id for this launch, the time, and the app, OS and libVLC versions with your locale."
)
NEVER_SENT: Final = (
    "Never collected: your name or account, hardware ids, the paths of your own video files "
    "(they are replaced by a one-way hash), or your full IP address (the server keeps only "
    "its first part)."
)


def _disclosure(event_type: str, description: str) -> Disclosure:
    spec = SPECS[event_type]
    names = tuple(name for name, _ in spec.required) + tuple(name for name, _ in spec.optional)
    return Disclosure(event_type, description, names)


PURPOSES: Final[tuple[Purpose, ...]] = tuple(
    Purpose(title, why, tuple(_disclosure(t, d) for t, d in events.items()))
    for title, why, events in _PURPOSES
)
DESCRIPTIONS: Final[Mapping[str, str]] = {
    item.event_type: item.description for purpose in PURPOSES for item in purpose.events
}
