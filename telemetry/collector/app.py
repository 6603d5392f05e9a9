"""The collector's HTTP API as an ASGI app (Starlette): routes, the order of checks, answers.

Everything here runs on the server's event loop; the only hand-off is the sink's writer thread,
awaited through a future. `POST /v1/batch` checks, cheapest first and before touching the
body where it can: auth (401/403), the key's rate (429), media type and encoding (415),
Content-Length (413), admission (503: in-flight cap, uploads per key); then it reads the body
with a cap and a deadline (413/408), inflates with a cap (413/400), takes its inflated size
from the in-flight byte budget (503), counts its JSON tokens (413), parses (400), checks the
envelope (400/413) and each event (rejected alone), drops the parsed document, and answers 200
only once the sink has committed.

Memory, as bounded here (docs/collector.md): parsing is synchronous, so one parse at a time
makes at most `max_json_tokens` objects (~100 bytes each: ~20 MB at the default); requests
waiting for their commit keep only their rows (about their inflated size again, plus ~1 KB per
event), and all of them together at most `max_in_flight_bytes` of inflated bodies; bodies still
arriving hold at most `max_body_bytes` each, `max_in_flight` of them.

`DELETE /v1/devices/{device_id}/events` deletes one device's events, contexts and drop reports:
under the caller's key when `X-Reelscope-Device-Secret` proves the id is the caller's
(`telemetry.contracts.device_proof`), or under every key for an admin key; else 403.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.convertors import Convertor, register_url_convertor
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp

from telemetry.collector.accesslog import AccessLog
from telemetry.collector.auth import authenticate
from telemetry.collector.body import ClientGoneError, gunzip, read_body, too_large
from telemetry.collector.config import CollectorConfig
from telemetry.collector.errors import ApiError, StorageUnavailableError
from telemetry.collector.keys import KeyRecord, KeyRing
from telemetry.collector.limits import Admission, OverloadedError, RateLimiter
from telemetry.collector.segment import parse_segment_batch
from telemetry.collector.store import Sink
from telemetry.collector.validate import (
    batch_items,
    is_segment_batch,
    parse_json,
    parse_reelscope_batch,
)
from telemetry.contracts.device_proof import DEVICE_SECRET_HEADER, proves
from telemetry.host.dashboard import dashboard_routes
from telemetry.recommend.schedule import TrainingSchedule, collector_schedule
from telemetry.recommend.service import FeedService, open_feed_service

log = logging.getLogger("reelscope.collector.app")

JSON = "application/json"
ENCODINGS = frozenset({"gzip", "identity"})


@dataclass
class Collector:
    """What the handlers share: settings, keys, rate buckets, admission, the sink."""

    config: CollectorConfig
    keys: KeyRing
    limiter: RateLimiter
    admission: Admission
    sink: Sink
    feeds: FeedService | None = None
    feeds_unavailable: str = ""
    training: TrainingSchedule | None = None


class DeviceIdConvertor(Convertor[str]):
    """Any characters, "/" (sent as %2F) and newlines too: every device id that can be stored
    must be deletable, and Starlette's `str` stops at "/" and `path` at a newline."""

    regex = "(?s:.+)"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("device", DeviceIdConvertor())


def json_response(status: int, body: Any, headers: Mapping[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status, headers=headers, media_type=JSON)


def _collector(request: Request) -> Collector:
    collector: Collector = request.app.state.collector
    return collector


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _authorize(request: Request, collector: Collector) -> KeyRecord:
    """Auth, then the key's rate: both before any byte of the body is read."""
    record = authenticate(request.headers.get("authorization"), collector.keys)
    request.state.key_id = record.id
    wait = collector.limiter.retry_after(record.id)
    if wait is not None:
        raise ApiError(
            429,
            "rate_limited",
            f"too many requests for this key; retry in {wait} s",
            {"Retry-After": str(wait)},
        )
    return record


def _content_encoding(request: Request) -> str:
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type != JSON:
        raise ApiError(415, "unsupported_media_type", "Content-Type must be application/json")
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ENCODINGS:
        raise ApiError(415, "unsupported_encoding", "Content-Encoding must be gzip or identity")
    return encoding


def _declared_length(request: Request, limit: int) -> None:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise too_large(limit)


async def post_batch(request: Request) -> Response:
    collector = _collector(request)
    config = collector.config
    admission = collector.admission
    received_at = _now_ms()
    record = _authorize(request, collector)
    encoding = _content_encoding(request)
    _declared_length(request, config.max_body_bytes)
    admission.enter(record.id)
    held = 0
    try:
        try:
            body = await read_body(request.receive, config.max_body_bytes, config.body_timeout_s)
        finally:
            admission.uploaded(record.id)
        if encoding == "gzip":
            body = gunzip(body, config.max_decompressed_bytes)
        admission.hold(len(body))
        held = len(body)
        document = parse_json(body, config.max_json_tokens)
        del body
        items = batch_items(document, config)
        parse = parse_segment_batch if is_segment_batch(document, items) else parse_reelscope_batch
        parsed = parse(document, items, record.id, received_at, config)
        # Only the rows wait for the commit, not the parsed document (several times larger).
        del document, items
        accepted = duplicates = 0
        if not parsed.write.empty():
            accepted, duplicates = await collector.sink.write(parsed.write)
    finally:
        admission.leave(held)
    request.state.events = (accepted, duplicates, len(parsed.rejected))
    return json_response(
        200, {"accepted": accepted, "duplicates": duplicates, "rejected": parsed.rejected}
    )


async def delete_device_events(request: Request) -> Response:
    collector = _collector(request)
    record = _authorize(request, collector)
    device_id: str = request.path_params["device_id"]
    if not 0 < len(device_id) <= collector.config.max_id_chars:
        raise ApiError(
            400,
            "invalid_device_id",
            f"device_id must be 1 to {collector.config.max_id_chars} characters",
        )
    if record.admin:
        key_ids = collector.keys.ids()
    elif proves(request.headers.get(DEVICE_SECRET_HEADER, ""), device_id):
        key_ids = [record.id]
    else:
        raise ApiError(
            403,
            "not_device_owner",
            f"send this device's secret in {DEVICE_SECRET_HEADER}, or use an admin key",
        )
    deleted = 0
    for key_id in key_ids:
        deleted += await collector.sink.delete_device(key_id, device_id)
    log.info(
        "deleted %d events of one device", deleted, extra={"key_id": record.id, "keys": key_ids}
    )
    return json_response(200, {"deleted": deleted})


# Query parameters of GET /v1/feed besides device_id. The client context ones (app_version, os,
# locale) are accepted for forward compatibility and do not change the feed yet.
_FEED_TEXT_PARAMETERS = ("location", "app_version", "os", "locale")


async def get_feed(request: Request) -> Response:
    """The home feed for one device: rows, items, propensities, variant (docs/recommendations.md).
    The feed is built on a worker thread: it reads the device's history from the store."""
    collector = _collector(request)
    record = _authorize(request, collector)
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
        if len(request.query_params.get(name, "")) > limit:
            raise ApiError(400, f"invalid_{name}", f"{name} must be at most {limit} characters")
    if collector.feeds is None:
        raise ApiError(
            503,
            "feed_unavailable",
            f"the feed service is not running: {collector.feeds_unavailable}",
            {"Retry-After": str(collector.config.retry_after_s)},
        )
    location = request.query_params.get("location") or "home"
    feed = await run_in_threadpool(collector.feeds.feed, record.id, device_id, location)
    return json_response(200, feed.to_json(), {"Cache-Control": "no-store"})


async def healthz(_: Request) -> Response:
    return json_response(200, {"status": "ok"})


async def readyz(request: Request) -> Response:
    await _collector(request).sink.check_ready()
    return json_response(200, {"status": "ready"})


async def openapi(_: Request) -> Response:
    document = resources.files(__package__).joinpath("openapi.json").read_bytes()
    return Response(document, media_type=JSON)


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return json_response(exc.status, {"code": exc.code, "message": exc.message}, exc.headers)


async def _storage_unavailable(request: Request, exc: Exception) -> Response:
    retry = str(_collector(request).config.retry_after_s)
    return json_response(
        503,
        {"code": "storage_unavailable", "message": f"{exc}; retry later"},
        {"Retry-After": retry},
    )


async def _overloaded(request: Request, exc: Exception) -> Response:
    retry = str(_collector(request).config.retry_after_s)
    return json_response(
        503, {"code": "overloaded", "message": f"{exc}; retry later"}, {"Retry-After": retry}
    )


async def _client_gone(request: Request, exc: Exception) -> Response:
    # Nobody reads this answer; it exists so the access log shows what happened.
    return json_response(400, {"code": "client_gone", "message": "the client disconnected"})


_HTTP_CODES = {404: "not_found", 405: "method_not_allowed"}


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    return json_response(exc.status_code, {"code": code, "message": exc.detail}, exc.headers)


async def _internal_error(request: Request, exc: Exception) -> Response:
    return json_response(500, {"code": "internal_error", "message": "unexpected server error"})


def create_app(config: CollectorConfig, sink: Sink) -> ASGIApp:
    """The collector as an ASGI app. The sink is started and closed by the app's lifespan."""
    collector = Collector(
        config=config,
        keys=KeyRing(Path(config.keys)),
        limiter=RateLimiter(config.rate_limit_per_s, config.rate_limit_burst),
        admission=Admission(
            config.max_in_flight, config.max_uploads_per_key, config.max_in_flight_bytes
        ),
        sink=sink,
    )
    # Not a SQLite store (Kafka): the rule-based rows get no watch history.
    store = config.db if urlsplit(config.db).scheme == "sqlite" else None
    try:
        collector.feeds = open_feed_service(
            config.catalog, config.experiment, config.feed_seed, store
        )
    except ValueError as exc:
        log.warning("GET /v1/feed answers 503: %s", exc)
        collector.feeds_unavailable = str(exc)
    collector.training = collector_schedule(config.train_every_s, collector.feeds, store)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        sink.start()
        if collector.training is not None:
            collector.training.start()
        try:
            yield
        finally:
            if collector.training is not None:
                collector.training.stop()
            # The server has finished in-flight requests by now: this commits what they queued.
            sink.close()

    app = Starlette(
        routes=[
            Route("/v1/batch", post_batch, methods=["POST"]),
            Route("/v1/feed", get_feed, methods=["GET"]),
            Route(
                "/v1/devices/{device_id:device}/events", delete_device_events, methods=["DELETE"]
            ),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            Route("/openapi.json", openapi, methods=["GET"]),
            *dashboard_routes(config.db, lambda request: _authorize(request, collector)),
        ],
        exception_handlers={
            ApiError: _api_error,
            StorageUnavailableError: _storage_unavailable,
            OverloadedError: _overloaded,
            ClientGoneError: _client_gone,
            HTTPException: _http_error,
            Exception: _internal_error,
        },
        lifespan=lifespan,
    )
    app.state.collector = collector
    return AccessLog(app)
