"""`GET /v1/feed` on the collector host, and the model's scheduled training: the recommender's
`FeedService` behind the collector's auth, rate limits and error answers (docs/recommendations.md).

Handlers run on the server's event loop; each feed is built on a worker thread (it reads the
device's history from the store). `start` and `stop` run from the app's lifespan.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from urllib.parse import urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from telemetry.collector.app import authorize, collector_of, json_response
from telemetry.collector.config import CollectorConfig
from telemetry.collector.errors import ApiError
from telemetry.recommend.schedule import collector_schedule
from telemetry.recommend.service import FeedService, open_feed_service

log = logging.getLogger("reelscope.host.feed")

# Query parameters of GET /v1/feed besides device_id. The client context ones (app_version, os,
# locale) are accepted for forward compatibility and do not change the feed yet.
_FEED_TEXT_PARAMETERS = ("location", "app_version", "os", "locale")


class FeedRoute:
    """The feed route and the training schedule the host's settings ask for (a `Service`). A
    feed service that cannot open (a bad catalog or experiment file) makes the route answer
    503 with the reason, and the collector still ingests."""

    def __init__(self, config: CollectorConfig) -> None:
        # Not a SQLite store (Kafka): the rule-based rows get no watch history.
        store = config.db if urlsplit(config.db).scheme == "sqlite" else None
        self.feeds: FeedService | None = None
        self.unavailable = ""
        try:
            self.feeds = open_feed_service(
                config.catalog, config.experiment, config.feed_seed, store
            )
        except ValueError as exc:
            log.warning("GET /v1/feed answers 503: %s", exc)
            self.unavailable = str(exc)
        self.training = collector_schedule(config.train_every_s, self.feeds, store)

    def routes(self) -> Sequence[BaseRoute]:
        return [Route("/v1/feed", self.get_feed, methods=["GET"])]

    def start(self) -> None:
        if self.training is not None:
            self.training.start()

    def stop(self) -> None:
        if self.training is not None:
            self.training.stop()

    async def get_feed(self, request: Request) -> Response:
        """The home feed for one device: rows, items, propensities, variant."""
        collector = collector_of(request)
        record = authorize(request, collector)
        limit = collector.config.max_id_chars
        query = request.query_params
        unknown = sorted(set(query) - {"device_id", *_FEED_TEXT_PARAMETERS})
        if unknown:
            raise ApiError(400, "unknown_parameter", f"unknown query parameters: {unknown}")
        repeated = sorted(name for name in query if len(query.getlist(name)) > 1)
        if repeated:
            raise ApiError(400, "repeated_parameter", f"query parameters given twice: {repeated}")
        device_id = query.get("device_id", "")
        if not 0 < len(device_id) <= limit:
            raise ApiError(400, "invalid_device_id", f"device_id must be 1 to {limit} characters")
        for name in _FEED_TEXT_PARAMETERS:
            if len(query.get(name, "")) > limit:
                raise ApiError(400, f"invalid_{name}", f"{name} must be at most {limit} characters")
        if self.feeds is None:
            raise ApiError(
                503,
                "feed_unavailable",
                f"the feed service is not running: {self.unavailable}",
                {"Retry-After": str(collector.config.retry_after_s)},
            )
        location = query.get("location") or "home"
        feed = await run_in_threadpool(self.feeds.feed, record.id, device_id, location)
        return json_response(200, feed.to_json(), {"Cache-Control": "no-store"})
