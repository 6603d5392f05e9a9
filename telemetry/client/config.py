"""Settings of the telemetry client: where it sends, where it keeps data, and its limits.

`TelemetryConfig.default()` puts the outbox in the user *state* dir (it cannot be recreated)
and the consent/device-id file in the user *config* dir, both from platformdirs. Every
config records nothing until the viewer has opted in, unless it says otherwise
(`consent_before_choice=True`: tests, benchmarks and simulated fleets of opted-in viewers). Strict
validation (invalid events raise) is on when the environment variable `REELSCOPE_ENV` is
`test` or `dev`; in production invalid events are counted, logged and never sent.

Immutable value object; any thread.
"""

from __future__ import annotations

import ipaddress
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit

import platformdirs

APP_NAME = "reelscope"
# The one place the version is written: pyproject.toml reads it from here (setuptools `attr:`),
# and reading it costs nothing at start-up, unlike importlib.metadata (~20 ms).
APP_VERSION = "0.1.0"
DEFAULT_ENDPOINT = "http://127.0.0.1:8765"
# Set to 1 to let the client send over plain http:// to a collector that is not on this machine.
ALLOW_INSECURE_ENV = "REELSCOPE_ALLOW_INSECURE_COLLECTOR"


def insecure_allowed_from_env() -> bool:
    return os.environ.get(ALLOW_INSECURE_ENV, "") == "1"


def insecure_refusal(endpoint: str, allowed: bool) -> str | None:
    """Why the client must not send to `endpoint`: an http:// URL off this machine would carry
    the write key, the events and a deletion's device secret in clear text. None if fine."""
    parts = urlsplit(endpoint)
    if allowed or parts.scheme != "http":
        return None
    host = parts.hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if loopback:
        return None
    return (
        f"refusing plain http:// to {host}: use an https:// collector URL"
        f" (or set {ALLOW_INSECURE_ENV}=1)"
    )


def strict_from_env() -> bool:
    return os.environ.get("REELSCOPE_ENV", "") in {"test", "dev"}


@dataclass(frozen=True, slots=True)
class TelemetryConfig:
    """Everything the client needs. Durations are seconds, sizes bytes."""

    endpoint: str
    write_key: str
    outbox_path: Path
    settings_path: Path
    # Whether to record before the viewer has made a choice. No by default: the app asks at
    # first run, and forgetting this flag must never mean collecting without consent.
    consent_before_choice: bool = False
    strict: bool = field(default_factory=strict_from_env)
    app_version: str = APP_VERSION
    # Writer: a group is committed once it is this old or this large (the crash-loss bound).
    commit_interval: float = 0.1
    commit_max_events: int = 100
    # Events waiting for the writer; beyond this `track()` drops (reason `queue_full`) rather
    # than grow memory while the disk is stuck.
    max_queue: int = 50_000
    # ... and beyond this many bytes of serialised events (a count alone let 50 000 large
    # events hold 200 MB while the disk was full).
    max_queue_bytes: int = 8 * 1024 * 1024
    max_event_bytes: int = 32 * 1024
    # Outbox bounds: rows, bytes of event bodies, age.
    max_rows: int = 100_000
    max_bytes: int = 64 * 1024 * 1024
    max_age: float = 30 * 24 * 3600.0
    # History of acknowledged events (for the privacy window): rows, age since the answer.
    history_max_rows: int = 2_000
    history_max_age: float = 7 * 24 * 3600.0
    # Sender
    flush_interval: float = 5.0
    batch_max_events: int = 500
    batch_max_bytes: int = 512 * 1024
    connect_timeout: float = 3.05
    read_timeout: float = 10.0
    backoff_base: float = 2.0
    backoff_cap: float = 300.0
    # A Retry-After beyond this is treated as a misconfigured server, not obeyed for days.
    retry_after_max: float = 3600.0
    exit_timeout: float = 2.0
    # Plain http:// to a collector off this machine (see `insecure_refusal`).
    allow_insecure_http: bool = field(default_factory=insecure_allowed_from_env)
    # Source of uniform [0, 1) numbers for full jitter; tests inject a fixed one.
    jitter: Callable[[], float] = field(default=random.random, repr=False, compare=False)
    # Wall clock (ns since the epoch) for each event's `time` and each batch's `sent_at`; the
    # fleet simulation injects a skewed one to play a device whose clock is wrong.
    wall_clock_ns: Callable[[], int] = field(default=time.time_ns, repr=False, compare=False)

    @classmethod
    def default(cls, **overrides: object) -> TelemetryConfig:
        """The production paths; nothing recorded before opt-in. The endpoint and key come from
        the viewer's settings (`player.settings`), passed in as overrides by the app."""
        config = cls(
            endpoint=DEFAULT_ENDPOINT,
            write_key="reelscope-desktop",
            outbox_path=Path(platformdirs.user_state_dir(APP_NAME, appauthor=False))
            / "telemetry"
            / "outbox.sqlite3",
            settings_path=Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))
            / "telemetry.json",
        )
        return replace(config, **overrides)  # type: ignore[arg-type]
