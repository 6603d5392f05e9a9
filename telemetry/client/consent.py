"""The user's telemetry choice and the pseudonymous device id, kept in one small JSON file in
the config dir (`TelemetryConfig.settings_path`).

The device id is made on first run from a random secret kept beside it
(`telemetry.contracts.device_proof`): never a hardware id, and the secret proves to the collector
that a deletion request comes from this device. A file from before the secret existed keeps the
viewer's choice and gets a new secret and id. Until the viewer has
chosen (`decided` is False, stored as `"enabled": null`), the choice is the store's
`undecided` default: off in the app, which asks at first run, so nothing is recorded or sent
before an opt-in. The file is rewritten atomically (temp file + `os.replace`), so a crash leaves
the old or the new choice. An unreadable file is treated as a first run and logged.

Threads: any thread; a lock serialises writes within the process. Reads happen once, at
construction (the client caches the choice so `track()` never touches the disk).
"""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path

from telemetry.contracts.device_proof import device_id_for, new_device_secret

_log = logging.getLogger("reelscope.telemetry.consent")


class ConsentStore:
    """Loads the file on construction; `set_enabled` persists a new choice."""

    def __init__(self, path: Path, *, undecided: bool = False) -> None:
        self._path = path
        self._undecided = undecided
        self._lock = threading.Lock()
        self._device_secret = ""
        choice, device_id = self._load()
        self._choice = choice
        self._device_id = device_id

    @property
    def enabled(self) -> bool:
        return self._undecided if self._choice is None else self._choice

    @property
    def decided(self) -> bool:
        return self._choice is not None

    @property
    def device_id(self) -> str:
        return self._device_id

    @property
    def device_secret(self) -> str:
        return self._device_secret

    def set_enabled(self, enabled: bool) -> None:
        with self._lock:
            self._choice = enabled
            self._save()

    def _load(self) -> tuple[bool | None, str]:
        try:
            data = json.loads(self._path.read_text(encoding="utf-8"))
            choice = data["enabled"]
            device_id = data["device_id"]
            secret = data.get("device_secret")
            if not isinstance(choice, bool | None):
                raise TypeError(f"enabled is {choice!r}")
            if isinstance(secret, str) and device_id == device_id_for(secret):
                self._device_secret = secret
                return choice, device_id
            # A file from before the secret existed: the viewer's choice stands; only the
            # device id changes, once, to one this device can prove.
            _log.info("telemetry settings %s have no device secret; making one", self._path)
        except FileNotFoundError:
            choice = None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            _log.warning("telemetry settings %s unreadable (%s); starting anew", self._path, exc)
            choice = None
        self._device_secret = new_device_secret()
        self._choice, self._device_id = choice, device_id_for(self._device_secret)
        with self._lock:
            self._save()
        return self._choice, self._device_id

    def _save(self) -> None:
        data = {
            "enabled": self._choice,
            "device_id": self._device_id,
            "device_secret": self._device_secret,
        }
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self._path.with_name(f"{self._path.name}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps(data), encoding="utf-8")
            os.replace(tmp, self._path)
        except OSError as exc:
            # The choice still applies for this run; only its persistence failed.
            _log.error("could not save telemetry settings to %s: %s", self._path, exc)
