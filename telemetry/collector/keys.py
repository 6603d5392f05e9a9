"""Write keys: the keys file (hashed keys, never the keys themselves) and constant-time lookup.

`KeyFile` is used by the `reelscope-collector keys` commands (main thread, one process at a
time). `KeyRing` is used by the server on its event loop only: it re-reads the file when it
changes (checked at most once per `reload_interval_s`), so `keys revoke` takes effect without a
restart. A missing keys file is an error at start-up (it would turn every key into a 401), and
a file that vanishes or breaks later leaves the keys loaded before in force. Keys are random
tokens, so a plain SHA-256 is enough; a slow hash would only slow every request. An admin key
(`keys add --admin`) may also delete any device's data (see `app.py`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import os
import secrets
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

log = logging.getLogger("reelscope.collector.keys")


@dataclass(frozen=True)
class KeyRecord:
    """One write key as stored: an id the store and logs may show, and the key's digest."""

    id: str
    name: str
    sha256: str
    created_at: str
    revoked_at: str | None = None
    admin: bool = False

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None


def digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


class KeyFile:
    """The JSON keys file: `{"keys": [KeyRecord, ...]}`, written atomically with mode 0600."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> list[KeyRecord]:
        if not self.path.exists():
            return []
        document = json.loads(self.path.read_text())
        return [KeyRecord(**entry) for entry in document.get("keys", [])]

    def _save(self, records: list[KeyRecord]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        payload = json.dumps({"keys": [asdict(r) for r in records]}, indent=2) + "\n"
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, self.path)

    def add(
        self, name: str, key: str | None = None, *, admin: bool = False
    ) -> tuple[KeyRecord, str, bool]:
        """Add a key (random unless given); returns (record, key, created).

        Adding the same name with the same explicit key again is a no-op, so `make run` can
        ensure its development key exists every time it starts.
        """
        key = key if key is not None else secrets.token_urlsafe(24)
        if not key or ":" in key:
            raise ValueError("a write key must be non-empty and contain no ':'")
        hashed = digest(key).hex()
        records = self.load()
        for record in records:
            if record.sha256 == hashed:
                if record.name == name and not record.revoked and record.admin == admin:
                    return record, key, False
                raise ValueError(f"that key is already registered as {record.id}")
        if any(record.name == name and not record.revoked for record in records):
            raise ValueError(f"an active key named {name!r} already exists")
        record = KeyRecord(
            id="k_" + secrets.token_hex(4),
            name=name,
            sha256=hashed,
            created_at=_now(),
            admin=admin,
        )
        self._save([*records, record])
        return record, key, True

    def revoke(self, id_or_name: str) -> KeyRecord:
        records = self.load()
        matches = [r for r in records if id_or_name in (r.id, r.name) and not r.revoked]
        if len(matches) != 1:
            raise ValueError(f"no single active key with id or name {id_or_name!r}")
        revoked = replace(matches[0], revoked_at=_now())
        self._save([revoked if r is matches[0] else r for r in records])
        return revoked


class KeysFileMissingError(FileNotFoundError):
    """The collector was started without its keys file."""


class KeyRing:
    """The server's view of the keys file, compared in constant time."""

    def __init__(
        self,
        path: Path,
        reload_interval_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._file = KeyFile(path)
        self._interval = reload_interval_s
        self._clock = clock
        self._records: list[tuple[bytes, KeyRecord]] = []
        self._stamp: tuple[int, int] | None = None
        self._loaded = False
        self._checked = float("-inf")
        self._reload()

    def _reload(self) -> None:
        try:
            stat = self._file.path.stat()
        except FileNotFoundError:
            if not self._loaded:
                raise KeysFileMissingError(
                    f"keys file {self._file.path} not found: create it with"
                    " `reelscope-collector keys --keys PATH add --name NAME`"
                ) from None
            if self._stamp is not None:
                log.error("keys file %s is gone; keeping the previous keys", self._file.path)
                self._stamp = None
            return
        stamp = (stat.st_mtime_ns, stat.st_size)
        if self._loaded and stamp == self._stamp:
            return
        try:
            records = self._file.load()
        except (OSError, ValueError, TypeError) as exc:
            if not self._loaded:
                raise ValueError(f"keys file {self._file.path} unreadable: {exc}") from exc
            # Keep serving with the keys we had: a half-edited file must not lock everyone out.
            log.exception("keys file %s unreadable; keeping the previous keys", self._file.path)
            return
        self._records = [(bytes.fromhex(r.sha256), r) for r in records]
        self._stamp = stamp
        self._loaded = True
        log.info("loaded %d write keys", len(self._records))
        if not self._records:
            log.warning("keys file %s holds no keys: every request answers 401", self._file.path)

    def ids(self) -> list[str]:
        """Every key's id, revoked ones too (an admin's deletion covers all of them)."""
        return [record.id for _, record in self._records]

    def lookup(self, key: str) -> KeyRecord | None:
        """The record whose digest matches; every record is compared, so timing tells nothing."""
        now = self._clock()
        if now - self._checked >= self._interval:
            self._checked = now
            self._reload()
        presented = digest(key)
        found: KeyRecord | None = None
        for stored, record in self._records:
            if hmac.compare_digest(presented, stored):
                found = record
        return found
