"""`kafka://` URLs: which brokers, which topic, and any librdkafka settings, in one string.

Parsed once at start-up (main thread) by the collector's sink factory and the loader's CLI;
the result is immutable and may be read from any thread. Imports no Kafka client, so the
SQLite path never pays for it.

    kafka://broker1:9092,broker2:9092/reelscope-events?compression.type=lz4

Query parameters are passed to librdkafka as they are (security.protocol, sasl.*, linger.ms,
...); the settings the delivery guarantee rests on are not overridable (see `PRODUCER_FIXED`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote, urlsplit

# What "200 means stored" rests on: every in-sync replica has the event, and a producer retry
# never writes a second copy into the log.
PRODUCER_FIXED = {"enable.idempotence": "true", "acks": "all"}


@dataclass(frozen=True)
class KafkaTarget:
    """A broker list, one topic, and extra client settings from the URL's query."""

    bootstrap: str
    topic: str
    settings: dict[str, str] = field(default_factory=dict)


def parse_kafka_url(url: str) -> KafkaTarget:
    parts = urlsplit(url)
    topic = unquote(parts.path.lstrip("/"))
    if parts.scheme != "kafka" or not parts.netloc or not topic or "/" in topic:
        raise ValueError(f"not a kafka://host:port[,host:port]/topic URL: {url!r}")
    settings = dict(parse_qsl(parts.query, keep_blank_values=True, strict_parsing=False))
    fixed = sorted(set(settings) & set(PRODUCER_FIXED))
    if fixed:
        raise ValueError(f"{', '.join(fixed)} cannot be changed: delivery guarantees rest on them")
    return KafkaTarget(parts.netloc, topic, settings)
