"""What the collector host serves beside ingestion, built from its settings: the list handed to
`telemetry.collector.server.build_server`. Called once at start-up, on the main thread.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.requests import Request
from starlette.routing import BaseRoute

from telemetry.collector.app import Service, authorize, collector_of
from telemetry.collector.config import CollectorConfig
from telemetry.collector.keys import KeyRecord
from telemetry.host.dashboard import dashboard_routes
from telemetry.host.feed_route import FeedRoute


class DashboardService:
    """The operators' dashboard over the host's own store, behind the collector's key check."""

    def __init__(self, config: CollectorConfig) -> None:
        self._store = config.db

    def routes(self) -> Sequence[BaseRoute]:
        return dashboard_routes(self._store, _authorize)

    def start(self) -> None:
        """Nothing to start: figures are computed when a dashboard asks."""

    def stop(self) -> None:
        """Nothing to stop: a computation still running is killed as the interpreter exits."""


def _authorize(request: Request) -> KeyRecord:
    return authorize(request, collector_of(request))


def host_services(config: CollectorConfig) -> list[Service]:
    return [FeedRoute(config), DashboardService(config)]
