"""What the collector host serves beside ingestion, built from its settings: the list handed to
`telemetry.collector.server.build_server`. Called once at start-up, on the main thread.
"""

from __future__ import annotations

from telemetry.collector.app import Service
from telemetry.collector.config import CollectorConfig
from telemetry.host.feed_route import FeedRoute


def host_services(config: CollectorConfig) -> list[Service]:
    return [FeedRoute(config)]
