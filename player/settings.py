"""The viewer's settings: collector URL, write key, library folders, network caching,
hardware decoding and the preferred audio and subtitle languages. Persisted in the config
dir: `settings.json` for the settings, and the write key alone in `write_key`, created with
mode 0600 in a 0700 dir (it is a credential).

Before the viewer saves anything, the URL and the key come from `REELSCOPE_COLLECTOR_URL` and
`REELSCOPE_WRITE_KEY` (`make run` points the app at a local collector that way); an empty URL
or key means "the telemetry client's built-in default". Network caching and hardware decoding
apply to the next playback engine, i.e. the next launch.

`validate` returns one clear message per problem, keyed by field, and the dialog shows them;
`SettingsStore.save` refuses invalid settings. Files are replaced atomically, so a crash leaves
the old or the new settings. An unreadable file is logged and read as the defaults.

Pure data and file I/O; any thread (the app calls it from the GUI thread: the files are tiny).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from player.atomic_file import replace_file

_log = logging.getLogger("reelscope.settings")

URL_ENV = "REELSCOPE_COLLECTOR_URL"
KEY_ENV = "REELSCOPE_WRITE_KEY"
MAX_NETWORK_CACHING_MS = 60_000
DEFAULT_NETWORK_CACHING_MS = 1_000  # libVLC's own default


@dataclass(frozen=True, slots=True)
class Settings:
    collector_url: str = ""
    write_key: str = field(default="", repr=False)
    library_folders: tuple[str, ...] = ()
    network_caching_ms: int = DEFAULT_NETWORK_CACHING_MS
    hardware_decoding: bool = True
    # Languages preferred for titles the viewer has not chosen for (a name such as "French" or
    # a code such as "fr"); "" leaves libVLC's own choice.
    audio_language: str = ""
    subtitle_language: str = ""
    autoplay: bool = True  # up next plays the next title when its countdown ends


class InvalidSettingsError(ValueError):
    def __init__(self, problems: Mapping[str, str]) -> None:
        super().__init__("; ".join(problems.values()))
        self.problems = dict(problems)


def validate(settings: Settings) -> dict[str, str]:
    """Problems by field name (empty when the settings are valid)."""
    problems: dict[str, str] = {}
    url = settings.collector_url.strip()
    parts = urlsplit(url)
    if not url:
        problems["collector_url"] = "Enter the collector's address, e.g. https://collector.example"
    elif parts.scheme not in ("http", "https") or not parts.hostname:
        problems["collector_url"] = (
            "The collector's address must start with http:// or https:// and name a host."
        )
    key = settings.write_key
    if not key:
        problems["write_key"] = "Enter the write key the collector's operator gave you."
    elif any(c.isspace() for c in key):
        problems["write_key"] = "The write key cannot contain spaces or line breaks."
    missing = [f for f in settings.library_folders if not Path(f).is_dir()]
    if missing:
        problems["library_folders"] = "These folders do not exist: " + ", ".join(missing)
    if not 0 <= settings.network_caching_ms <= MAX_NETWORK_CACHING_MS:
        problems["network_caching_ms"] = (
            f"Network caching must be between 0 and {MAX_NETWORK_CACHING_MS} ms."
        )
    return problems


class SettingsStore:
    """Reads and writes the settings files in `directory` (the config dir)."""

    def __init__(self, directory: Path, environ: Mapping[str, str] | None = None) -> None:
        self._dir = directory
        self._environ = os.environ if environ is None else environ

    @property
    def settings_path(self) -> Path:
        return self._dir / "settings.json"

    @property
    def key_path(self) -> Path:
        return self._dir / "write_key"

    def load(self) -> Settings:
        data = self._read_json()
        url = data.get("collector_url")
        folders = data.get("library_folders")
        caching = data.get("network_caching_ms")
        hardware = data.get("hardware_decoding")
        audio_language = data.get("audio_language")
        subtitle_language = data.get("subtitle_language")
        autoplay = data.get("autoplay")
        return Settings(
            collector_url=url if isinstance(url, str) and url else self._environ.get(URL_ENV, ""),
            write_key=self._read_key(),
            library_folders=tuple(f for f in folders if isinstance(f, str))
            if isinstance(folders, list)
            else (),
            network_caching_ms=caching
            if type(caching) is int and 0 <= caching <= MAX_NETWORK_CACHING_MS
            else DEFAULT_NETWORK_CACHING_MS,
            hardware_decoding=hardware if isinstance(hardware, bool) else True,
            audio_language=audio_language if isinstance(audio_language, str) else "",
            subtitle_language=subtitle_language if isinstance(subtitle_language, str) else "",
            autoplay=autoplay if isinstance(autoplay, bool) else True,
        )

    def save(self, settings: Settings) -> None:
        """Persist valid settings; raises `InvalidSettingsError` (nothing written) otherwise."""
        problems = validate(settings)
        if problems:
            raise InvalidSettingsError(problems)
        self._dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self._dir, 0o700)
        self._write_key(settings.write_key)
        data = asdict(settings)
        del data["write_key"]
        data["collector_url"] = settings.collector_url.strip()
        data["library_folders"] = list(settings.library_folders)
        replace_file(self.settings_path, json.dumps(data, indent=2).encode(), durable=True)

    def _read_json(self) -> dict[str, object]:
        try:
            data = json.loads(self.settings_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            _log.warning("settings %s unreadable (%s); using defaults", self.settings_path, exc)
            return {}
        if not isinstance(data, dict):
            _log.warning("settings %s are not an object; using defaults", self.settings_path)
            return {}
        return data

    def _read_key(self) -> str:
        try:
            return self.key_path.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return self._environ.get(KEY_ENV, "")
        except OSError as exc:
            _log.warning("write key %s unreadable: %s", self.key_path, exc)
            return ""

    def _write_key(self, key: str) -> None:
        # Written 0600 from the start (mkstemp): never readable by others, not even for a moment.
        replace_file(self.key_path, key.encode(), durable=True)
