"""Asks the collector's `GET /v1/feed` for the home feed and turns the answer into the app's
feed model (`player.feed.Feed`, `source` "server"), or says in one line why it could not.

The request carries the write key (Basic auth, like `POST /v1/batch`) and the device id; the
caller only asks when the viewer has opted in to telemetry (nothing leaves without consent).
The whole answer must arrive within `timeout_s` and be at most `max_bytes`; it is checked
field by field (`parse_server_feed`) before anything is laid out, so a broken or hostile
collector costs a fallback to the local rules, never a crash. Titles the app's catalog does
not have are left out (their rows keep the server's ranks and propensities for the rest, so
`feed_served` still names the slots the server chose); rows left empty are dropped.

Threads: `fetch_server_feed` blocks on the network: call it from a worker thread (the app uses
its `ui.background.TaskPool`). `parse_server_feed` is pure, any thread.
"""

from __future__ import annotations

import math
import time
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass

import orjson

from player.feed import Feed, FeedItem, FeedRow
from telemetry.client.config import insecure_refusal
from telemetry.client.request_body import basic_auth

DEFAULT_TIMEOUT_S = 1.5
DEFAULT_MAX_BYTES = 1024 * 1024
_CHUNK_BYTES = 16 * 1024
_MAX_TEXT = 256


class FeedUnavailableError(Exception):
    """Why no server feed: the message is shown to the viewer (details panel) and logged."""


@dataclass(frozen=True, slots=True)
class FeedRequest:
    """What one `GET /v1/feed` needs: where, as whom, for which device."""

    endpoint: str
    write_key: str
    device_id: str
    location: str = "home"
    app_version: str = ""
    timeout_s: float = DEFAULT_TIMEOUT_S
    max_bytes: int = DEFAULT_MAX_BYTES
    allow_insecure_http: bool = False


def fetch_server_feed(request: FeedRequest, known: Collection[str]) -> Feed:
    """The server's feed for `request`, keeping only titles in `known`; raises
    `FeedUnavailableError` on any network error, timeout, error status or invalid answer."""
    import requests  # ~100 ms to import: paid on the worker thread, not at start-up

    url = request.endpoint.rstrip("/") + "/v1/feed"
    refusal = insecure_refusal(url, request.allow_insecure_http)
    if refusal is not None:
        raise FeedUnavailableError(refusal)
    params = {"device_id": request.device_id, "location": request.location}
    if request.app_version:
        params["app_version"] = request.app_version
    deadline = time.monotonic() + request.timeout_s
    try:
        with requests.get(
            url,
            params=params,
            headers={"Authorization": basic_auth(request.write_key), "Accept": "application/json"},
            timeout=request.timeout_s,
            stream=True,
            allow_redirects=False,
        ) as answer:
            if answer.status_code != 200:
                raise FeedUnavailableError(f"the server answered {answer.status_code}")
            body = _read_capped(answer.iter_content(_CHUNK_BYTES), request.max_bytes, deadline)
    except requests.Timeout as exc:
        raise FeedUnavailableError(
            f"the server did not answer within {request.timeout_s:g} s"
        ) from exc
    except OSError as exc:  # requests' errors derive from IOError (= OSError)
        raise FeedUnavailableError(f"server unreachable: {type(exc).__name__}") from exc
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise FeedUnavailableError("the server's answer is not JSON") from exc
    return parse_server_feed(document, known)


def _read_capped(chunks: Iterable[bytes], max_bytes: int, deadline: float) -> bytes:
    body = bytearray()
    for chunk in chunks:
        body += chunk
        if len(body) > max_bytes:
            raise FeedUnavailableError(f"the server's answer is over {max_bytes} bytes")
        if time.monotonic() > deadline:
            raise FeedUnavailableError("the server's answer arrived too slowly")
    return bytes(body)


def parse_server_feed(document: object, known: Collection[str]) -> Feed:
    """The app's `Feed` from a `GET /v1/feed` answer; `FeedUnavailableError` says what is
    wrong with it. Titles not in `known` are left out, rows left empty dropped."""
    feed = _mapping(document, "the answer")
    rows_value = feed.get("rows")
    if not isinstance(rows_value, list):
        raise FeedUnavailableError("the answer has no list of rows")
    variant = feed.get("variant")
    if variant is not None and not (isinstance(variant, str) and 0 < len(variant) <= _MAX_TEXT):
        raise FeedUnavailableError("the answer's variant is not a short string")
    explored = feed.get("explored", False)
    if not isinstance(explored, bool):
        raise FeedUnavailableError("the answer's explored flag is not a boolean")
    rows: list[FeedRow] = []
    for index, value in enumerate(rows_value):
        row = _row(value, index, known)
        if row.items:
            rows.append(row)
    if not rows:
        raise FeedUnavailableError("the server's feed has no title this app knows")
    return Feed(
        _string(feed, "request_id", "the answer"),
        _string(feed, "location", "the answer"),
        tuple(rows),
        source="server",
        variant=variant if isinstance(variant, str) else None,
        explored=explored,
    )


def _row(value: object, index: int, known: Collection[str]) -> FeedRow:
    where = f"row {index}"
    row = _mapping(value, where)
    row_index = row.get("row_index")
    if not isinstance(row_index, int) or isinstance(row_index, bool) or row_index < 0:
        raise FeedUnavailableError(f"{where} has no row_index")
    items_value = row.get("items")
    if not isinstance(items_value, list):
        raise FeedUnavailableError(f"{where} has no list of items")
    items: list[FeedItem] = []
    for position, item_value in enumerate(items_value):
        item = _item(item_value, f"{where} item {position}")
        if item.video_id in known:
            items.append(item)
    return FeedRow(
        _string(row, "row_id", where),
        row_index,
        _string(row, "track_id", where),
        _string(row, "title", where),
        tuple(items),
    )


def _item(value: object, where: str) -> FeedItem:
    item = _mapping(value, where)
    rank = item.get("rank")
    if not isinstance(rank, int) or isinstance(rank, bool) or rank < 0:
        raise FeedUnavailableError(f"{where} has no rank")
    propensity = item.get("propensity")
    if (
        not isinstance(propensity, int | float)
        or isinstance(propensity, bool)
        or not math.isfinite(propensity)
        or not 0 < propensity <= 1
    ):
        raise FeedUnavailableError(f"{where} has no propensity in (0, 1]")
    return FeedItem(_string(item, "video_id", where), rank, float(propensity))


def _mapping(value: object, where: str) -> Mapping[str, object]:
    if not isinstance(value, dict):
        raise FeedUnavailableError(f"{where} is not an object")
    return value


def _string(mapping: Mapping[str, object], name: str, where: str) -> str:
    value = mapping.get(name)
    if not isinstance(value, str) or not 0 < len(value) <= _MAX_TEXT:
        raise FeedUnavailableError(f"{where} has no {name}")
    return value
