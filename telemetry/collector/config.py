"""The collector's settings: defaults, then a TOML file, then environment, then command line.

Built once by `cli.py` (main thread) before the server starts and read-only afterwards, so any
thread or task may read it. Every limit the design names is a field here; nothing is hard-coded
elsewhere. Environment variables are `REELSCOPE_COLLECTOR_<FIELD>` (upper case).
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from telemetry.contracts.stored import DEFAULT_STORE_URL

ENV_PREFIX = "REELSCOPE_COLLECTOR_"
KIB = 1024
MIB = 1024 * KIB


@dataclass(frozen=True)
class CollectorConfig:
    """Everything `reelscope-collector serve` can be told; defaults follow the design."""

    host: str = "127.0.0.1"
    port: int = 8765
    db: str = DEFAULT_STORE_URL
    keys: str = "reelscope-keys.json"
    # Request limits (design: collector.md, "Limits, all configurable").
    max_body_bytes: int = 1 * MIB
    max_decompressed_bytes: int = 5 * MIB
    max_events: int = 1000
    max_event_bytes: int = 32 * KIB
    max_depth: int = 32
    max_future_ms: int = 3_600_000
    max_id_chars: int = 64
    max_in_flight: int = 64
    # Request heads (431 beyond): their bytes and header count, checked while they arrive.
    max_header_bytes: int = 16 * KIB
    max_headers: int = 100
    # A batch context (and a Segment message's own one), encoded; 413 beyond.
    max_context_bytes: int = 8 * KIB
    # JSON tokens (brackets, commas, colons) in one inflated body, counted before parsing: this
    # bounds the Python objects one parse can make (413 too_many_values beyond).
    max_json_tokens: int = 200_000
    # Inflated bytes of all requests past parsing and not yet answered (503 beyond): with
    # max_in_flight and max_json_tokens this bounds what requests in flight hold in memory.
    max_in_flight_bytes: int = 64 * MIB
    # Requests of one write key whose bodies are still arriving (503 beyond), so slow
    # uploaders on one key cannot take every in-flight slot from the others.
    max_uploads_per_key: int = 16
    # Per write key: a token bucket of requests; 0 turns the limit off. Sized from the
    # benchmark (docs/collector.md): one process serves at most ~450 requests/s (100-event
    # batches, one core), so a fleet sharing the app's one write key is not capped below what
    # the collector can store; lower it where many keys share one collector.
    rate_limit_per_s: float = 1000.0
    rate_limit_burst: int = 2000
    # Slow or stalled clients: the whole body must arrive within body_timeout_s, and a
    # connection may wait at most header_timeout_s for a request's headers.
    body_timeout_s: float = 10.0
    header_timeout_s: float = 10.0
    keep_alive_s: float = 5.0
    shutdown_timeout_s: float = 30.0
    # Storage.
    sqlite_synchronous: str = "FULL"
    busy_timeout_ms: int = 2000
    max_db_bytes: int = 0
    # /readyz answers 503 when less than this is free on the database's disk (or under
    # max_db_bytes, where the headroom is at most a sixteenth of the cap).
    min_free_disk_bytes: int = 64 * MIB
    max_pending_events: int = 50_000
    store_timeout_s: float = 10.0
    retry_after_s: int = 1
    # The feed service (GET /v1/feed, docs/recommendations.md): the catalog it serves ("" is
    # the bundled sample catalog), the experiment file ("" is everyone on the rule-based
    # control, 5 % explored), and a seed for its random choices (-1: fresh entropy; tests).
    catalog: str = ""
    experiment: str = ""
    feed_seed: int = -1
    # Run `reelscope-train` on the store every this many seconds, as a child process, writing
    # the experiment's model file (0: never; train with cron or `reelscope-train --every`).
    train_every_s: float = 0.0
    # TLS: both set, the collector serves HTTPS (else plain HTTP, for loopback or behind a
    # TLS-terminating reverse proxy; docs/collector.md).
    ssl_certfile: str = ""
    ssl_keyfile: str = ""
    log_level: str = "INFO"
    log_json: bool = True


FIELDS = {field.name: field for field in dataclasses.fields(CollectorConfig)}


def _coerce(name: str, value: Any) -> Any:
    """Turn a file or environment value into the field's type, with a clear error."""
    kind = type(getattr(CollectorConfig(), name))
    if kind is bool and isinstance(value, str):
        lowered = value.strip().lower()
        if lowered not in {"1", "0", "true", "false", "yes", "no", "on", "off"}:
            raise ValueError(f"{name}: expected a boolean, got {value!r}")
        return lowered in {"1", "true", "yes", "on"}
    if kind is int and isinstance(value, bool):
        raise ValueError(f"{name}: expected an integer, got {value!r}")
    try:
        return kind(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name}: expected {kind.__name__}, got {value!r}") from exc


def load_config(
    file: Path | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> CollectorConfig:
    """Merge the layers; unknown names in the file are errors (a typo must not pass silently)."""
    values: dict[str, Any] = {}
    if file is not None:
        with file.open("rb") as handle:
            document = tomllib.load(handle)
        table = document.get("collector", document)
        unknown = sorted(set(table) - set(FIELDS))
        if unknown:
            raise ValueError(f"{file}: unknown settings {', '.join(unknown)}")
        values.update({name: _coerce(name, value) for name, value in table.items()})
    env = os.environ if environ is None else environ
    for name in FIELDS:
        raw = env.get(ENV_PREFIX + name.upper())
        if raw is not None:
            values[name] = _coerce(name, raw)
    for name, value in (overrides or {}).items():
        if value is not None:
            values[name] = _coerce(name, value)
    config = CollectorConfig(**values)
    if bool(config.ssl_certfile) != bool(config.ssl_keyfile):
        raise ValueError("ssl_certfile and ssl_keyfile must be set together")
    if config.sqlite_synchronous.upper() not in {"OFF", "NORMAL", "FULL", "EXTRA"}:
        raise ValueError(f"sqlite_synchronous: unknown level {config.sqlite_synchronous!r}")
    return config
