"""Turns a failed playback into a category and plain words a viewer can act on.

libVLC's `EncounteredError` event carries no detail; `player.vlc_engine` attaches the warnings
and errors libVLC logged since the media was opened, and this module reads them. The categories
are the telemetry vocabulary's (`not_found`, `network`, `decode`, `unsupported`, `other`).
Pure functions; any thread.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from player.sources import display_name, is_url, local_path

LIBVLC_INSTALL_HINT = (
    "Reelscope plays video with libVLC 3, which is missing or incomplete on this system.\n"
    "On Debian or Ubuntu install it with:\n"
    "  sudo apt-get install libvlc5 vlc-plugin-base vlc-plugin-video-output\n"
    "On other systems install VLC media player 3 (it includes libVLC and its plugins)."
)


class ErrorCategory(enum.StrEnum):
    """Why playback failed, in the telemetry vocabulary."""

    NOT_FOUND = "not_found"
    NETWORK = "network"
    DECODE = "decode"
    UNSUPPORTED = "unsupported"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class PlaybackProblem:
    """A classified failure: its category, a sentence for the viewer, and libVLC's words."""

    category: ErrorCategory
    user_message: str
    detail: str


_NETWORK_HINTS = (
    "connection refused",
    "cannot connect",
    "connection failed",
    "network is unreachable",
    "timed out",
    "timeout",
    "cannot resolve",
    "name or service not known",
    "host not found",
)
_NOT_FOUND_HINTS = ("404", "not found", "no such file", "cannot open file")
_UNSUPPORTED_HINTS = (
    "no suitable demux",
    "unidentified",
    "no suitable access",
    "could not identify",
    "cannot find any",
    "not supported",
    "unsupported",
    "does not look like",
    "garbage at input",
    "no playable stream",
)
_PLAYLIST_HEADS = (b"#EXTM3U", b"[playlist]", b"<?xml")
_DECODE_HINTS = ("codec", "decoder", "corrupt", "invalid data", "cannot read")


def missing_local_file(source: str) -> PlaybackProblem | None:
    """Our own check before libVLC is asked: a local path that is not a readable file."""
    path = local_path(source)
    if path is None or path.is_file():
        return None
    return PlaybackProblem(
        ErrorCategory.NOT_FOUND,
        f"Can't find “{display_name(source)}”. It may have been moved or deleted.",
        f"{path}: no such file",
    )


def _is_text_file(source: str) -> bool:
    """A local file whose first 4 KiB are text (no NUL byte, valid UTF-8): notes, a playlist
    or a subtitle renamed, never a video. Told by its bytes, not by libVLC's log lines, which
    may not have arrived when the error does."""
    path = local_path(source)
    if path is None:
        return False
    try:
        with path.open("rb") as file:
            head = file.read(4096)
    except OSError:
        return False
    if not head or b"\0" in head or head.lstrip().startswith(_PLAYLIST_HEADS):
        return False  # a playlist is text that names videos: its failure is theirs
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start >= len(head) - 3  # a character cut at the 4 KiB boundary
    return True


def classify(source: str, engine_detail: str) -> PlaybackProblem:
    """Classify an engine error for `source` from the engine's log lines."""
    missing = missing_local_file(source)
    if missing is not None:
        return missing
    name = display_name(source)
    text = engine_detail.lower()
    if _is_text_file(source):
        category = ErrorCategory.UNSUPPORTED
        message = f"“{name}” is a text file, not a video."
    elif is_url(source) and (any(hint in text for hint in _NETWORK_HINTS) or not text):
        # Before the not-found words: a refused or timed-out connection is decisive, while
        # "not found" also turns up in other modules' lines (ffmpeg's "moov atom not found").
        category = ErrorCategory.NETWORK
        message = f"Can't reach the server for “{name}”. Check the address and your connection."
    elif is_url(source) and any(hint in text for hint in _NOT_FOUND_HINTS):
        category = ErrorCategory.NOT_FOUND
        message = f"“{name}” was not found on the server."
    elif text.startswith("truncated"):
        category = ErrorCategory.DECODE
        message = (
            f"“{name}” stops before its end: the file is incomplete or damaged "
            "(an unfinished download, say)."
        )
    elif any(hint in text for hint in _UNSUPPORTED_HINTS):
        category = ErrorCategory.UNSUPPORTED
        message = f"“{name}” is not a video Reelscope can play (unknown or damaged format)."
    elif any(hint in text for hint in _DECODE_HINTS):
        category = ErrorCategory.DECODE
        message = f"“{name}” could not be decoded. The file may be damaged."
    else:
        category = ErrorCategory.OTHER
        message = f"Reelscope could not play “{name}”."
    return PlaybackProblem(category, message, engine_detail)
