"""What the viewer chose per title: audio language, subtitle language (or subtitles off) and
subtitle delay, so the next play of the same title starts with them.

Titles are keyed by a hash of their source (no paths in the file); choices are languages, not
track ids, so they survive a re-encode of the same title. Stored as `track-choices.json` in the
state dir, replaced atomically; an unreadable file reads as empty. Small and rarely written:
the app calls it from the GUI thread. Any one thread.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Final

from player.atomic_file import replace_file

log = logging.getLogger("reelscope.player.track_memory")

MAX_TITLES: Final = 500  # the oldest choices are forgotten first
SUBTITLES_OFF: Final = "off"


@dataclass(frozen=True, slots=True)
class TrackChoice:
    """One title's choices; "" means "not chosen" (use the preferred languages)."""

    audio_language: str = ""
    subtitle_language: str = ""  # or SUBTITLES_OFF
    subtitle_delay_ms: int = 0


def title_key(source: str) -> str:
    return hashlib.sha256(source.encode()).hexdigest()[:20]


class TrackMemory:
    """The choices of every title played, in one JSON file."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._choices: dict[str, TrackChoice] = self._read()

    def get(self, source: str) -> TrackChoice | None:
        return self._choices.get(title_key(source))

    def remember(self, source: str, choice: TrackChoice) -> None:
        key = title_key(source)
        self._choices.pop(key, None)
        self._choices[key] = choice
        while len(self._choices) > MAX_TITLES:
            del self._choices[next(iter(self._choices))]
        data = {k: asdict(v) for k, v in self._choices.items()}
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            replace_file(self._path, json.dumps(data).encode())
        except OSError as exc:
            log.warning("cannot save track choices to %s: %s", self._path, exc)

    def _read(self) -> dict[str, TrackChoice]:
        try:
            data = json.loads(self._path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            log.warning("track choices %s unreadable (%s); starting empty", self._path, exc)
            return {}
        choices: dict[str, TrackChoice] = {}
        for key, value in data.items() if isinstance(data, dict) else ():
            if not isinstance(value, dict):
                continue
            audio = value.get("audio_language")
            subtitle = value.get("subtitle_language")
            delay = value.get("subtitle_delay_ms")
            choices[str(key)] = TrackChoice(
                audio_language=audio if isinstance(audio, str) else "",
                subtitle_language=subtitle if isinstance(subtitle, str) else "",
                subtitle_delay_ms=delay if type(delay) is int else 0,
            )
        return choices
