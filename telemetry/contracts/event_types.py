"""Names of the event types the readers (report, recommender) pick out of the store, as
constants checked against the vocabulary (`events.SPECS`) when this module is imported, so a
reader can never ask for a type the client does not record. Pure data; any thread.
"""

from __future__ import annotations

from typing import Final

from telemetry.contracts.events import SPECS


def _known(name: str) -> str:
    if name not in SPECS:
        raise ValueError(f"{name!r} is not an event type of the vocabulary")
    return name


# Browse
IMPRESSION: Final = _known("impression")
TILE_VISIBILITY: Final = _known("tile_visibility")
# A play session's timeline
PLAY_REQUEST: Final = _known("play_request")
PLAYER_READY: Final = _known("player_ready")
FIRST_FRAME: Final = _known("first_frame")
PAUSE: Final = _known("pause")
RESUME: Final = _known("resume")
SEEK_START: Final = _known("seek_start")
SEEK_END: Final = _known("seek_end")
REBUFFER_START: Final = _known("rebuffer_start")
REBUFFER_END: Final = _known("rebuffer_end")
HEARTBEAT: Final = _known("heartbeat")
ENDED: Final = _known("ended")
ERROR: Final = _known("error")
SESSION_END: Final = _known("session_end")
# Player features (the report's features section)
TRACK_CHANGE: Final = _known("track_change")
SUBTITLE_FILE_ADDED: Final = _known("subtitle_file_added")
SUBTITLE_DELAY_CHANGE: Final = _known("subtitle_delay_change")
SCREENSHOT: Final = _known("screenshot")
AB_LOOP: Final = _known("ab_loop")
RATE_CHANGE: Final = _known("rate_change")
POSTPLAY_SERVED: Final = _known("postplay_served")
POSTPLAY_SEEN: Final = _known("postplay_seen")
POSTPLAY_ACTION: Final = _known("postplay_action")
