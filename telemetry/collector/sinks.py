"""Which sink a storage URL names: `sqlite:///path` or `kafka://brokers/topic`.

Called once at start-up (main thread) by the server; imports the Kafka client only for a
`kafka://` URL, so the SQLite path never pays for it.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from telemetry.collector.config import CollectorConfig
from telemetry.collector.store import Sink
from telemetry.contracts.stored import sqlite_path


def open_sink(config: CollectorConfig) -> Sink:
    """The sink the configured URL names: `sqlite:///path`, or `kafka://brokers/topic` (the
    scale-out path, docs/scale-out.md; needs the `scale` extra)."""
    scheme = urlsplit(config.db).scheme
    if scheme == "sqlite":
        from telemetry.collector.sqlite_sink import SqliteSink

        return SqliteSink(sqlite_path(config.db), config)
    if scheme == "kafka":
        from telemetry.collector.kafka_sink import KafkaSink
        from telemetry.contracts.kafka_url import parse_kafka_url

        return KafkaSink(parse_kafka_url(config.db), config)
    raise ValueError(f"unsupported storage URL scheme {scheme!r} (supported: sqlite, kafka)")
