"""The operators' live dashboard, served by the collector process: `GET /dashboard` (the page),
`GET /dashboard/static/{name}` (its script, style sheet and the vendored uPlot charting library,
from package data) and `GET /dashboard/figures?window=` (the report's JSON for a time window,
exactly what `reelscope-report --json --sessions 0 --titles 0 --since <window start>` prints:
every figure, without the lists of play sessions and titles the page does not show).

Access to the figures: a client on the loopback interface without an `Authorization` header, or
any client with an admin key; a request that came through a proxy (`Forwarded`,
`X-Forwarded-For` or `X-Real-IP`) is not a loopback client. Otherwise 403 (401 for a key the
collector does not know). The page and its assets hold no figures and are served to anyone, so
a remote operator can open the page and give the key there. Every dashboard answer carries a
Content-Security-Policy of `default-src 'self'`: the page cannot load anything from elsewhere.

The store URL and the key check are given by whoever composes the app (`dashboard_routes`), so
this module does not import the collector's app. Handlers run on the event loop; the report is
computed by `reelscope-report` in a child process, waited for on a worker thread
(`FigureCache`, `report_process`).
"""

from __future__ import annotations

import gzip
import time
from collections.abc import Callable, Mapping
from importlib import resources
from ipaddress import ip_address
from typing import Final

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from telemetry.collector.errors import ApiError
from telemetry.collector.keys import KeyRecord
from telemetry.host.figure_cache import FigureCache
from telemetry.host.report_process import ReportFailedError, report_json

MINUTE_MS: Final = 60_000
# Window name -> its length in ms (None: everything stored). The page offers these.
WINDOWS: Final[Mapping[str, int | None]] = {
    "15m": 15 * MINUTE_MS,
    "1h": 60 * MINUTE_MS,
    "24h": 24 * 60 * MINUTE_MS,
    "7d": 7 * 24 * 60 * MINUTE_MS,
    "all": None,
}
DEFAULT_WINDOW: Final = "1h"
REFRESH_S: Final = 5.0

SECURITY_HEADERS: Final = {
    # Scripts, styles, images and connections from this origin only; no <base>, no form
    # posted anywhere, not framed.
    "Content-Security-Policy": (
        "default-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
# Served file -> media type; anything else under /dashboard/static is a 404.
ASSETS: Final = {
    "dashboard.html": "text/html; charset=utf-8",
    "dashboard.js": "text/javascript; charset=utf-8",
    "dashboard.css": "text/css; charset=utf-8",
    "uPlot.iife.min.js": "text/javascript; charset=utf-8",
    "uPlot.min.css": "text/css; charset=utf-8",
    "uPlot.LICENSE": "text/plain; charset=utf-8",
    "favicon.svg": "image/svg+xml",
}
_PROXY_HEADERS: Final = ("forwarded", "x-forwarded-for", "x-real-ip")

# The collector's key check (auth, then the key's rate): the key record, or an ApiError.
Authorize = Callable[[Request], KeyRecord]


def is_loopback(request: Request) -> bool:
    """Connected from this machine, not through a proxy."""
    if request.client is None or any(name in request.headers for name in _PROXY_HEADERS):
        return False
    try:
        address = ip_address(request.client.host)
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return bool(address.is_loopback or (mapped is not None and mapped.is_loopback))


def check_access(request: Request, authorize: Authorize) -> None:
    """The figures' access rule (module docstring); raises ApiError."""
    if "authorization" not in request.headers:
        if is_loopback(request):
            return
        raise ApiError(
            403,
            "dashboard_forbidden",
            "the dashboard's figures are for clients on this machine or an admin key: "
            "send an admin key as Basic auth (base64('<key>:'))",
        )
    if not authorize(request).admin:
        raise ApiError(403, "admin_key_required", "the dashboard's figures need an admin key")


def window_start(window: str, now_ms: int) -> int | None:
    """Where the window ending now begins (ms, corrected clock); None for everything."""
    span = WINDOWS[window]
    return None if span is None else now_ms - span


class Dashboard:
    """The routes' shared state: the store, the key check and the figure cache of one
    collector app."""

    def __init__(
        self,
        store: str,
        authorize: Authorize,
        *,
        refresh_s: float = REFRESH_S,
        wall_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
    ) -> None:
        self._store = store
        self._authorize = authorize
        self._wall_ms = wall_ms
        # The server waits for new figures at most one refresh interval; the page keeps the
        # last ones meanwhile and shows their age.
        self.cache = FigureCache(refresh_s=refresh_s, wait_s=refresh_s)
        self._assets: dict[str, bytes] = {}

    def _report_json(self, window: str) -> bytes:
        """On a worker thread: the report for the window ending now, as JSON."""
        return report_json(self._store, window_start(window, self._wall_ms()))

    def _asset(self, name: str) -> Response:
        if name not in ASSETS:
            raise ApiError(404, "not_found", f"no dashboard file {name!r}")
        if name not in self._assets:
            files = resources.files(__package__).joinpath("static")
            self._assets[name] = files.joinpath(name).read_bytes()
        return Response(self._assets[name], headers=SECURITY_HEADERS, media_type=ASSETS[name])

    async def page(self, _: Request) -> Response:
        return self._asset("dashboard.html")

    async def static(self, request: Request) -> Response:
        return self._asset(request.path_params["name"])

    async def figures(self, request: Request) -> Response:
        check_access(request, self._authorize)
        query = request.query_params
        unknown = sorted(set(query) - {"window"})
        if unknown:
            raise ApiError(400, "unknown_parameter", f"unknown query parameters: {unknown}")
        window = query.get("window", DEFAULT_WINDOW)
        if window not in WINDOWS:
            raise ApiError(400, "invalid_window", f"window must be one of {list(WINDOWS)}")
        try:
            figures = await self.cache.get(window, lambda: self._report_json(window))
        except ReportFailedError as exc:
            raise ApiError(
                503, "figures_unavailable", f"the report cannot be computed: {exc}"
            ) from exc
        headers = {
            **SECURITY_HEADERS,
            "X-Reelscope-Figures-Age-Ms": str(round(self.cache.age_s(figures) * 1000)),
            "X-Reelscope-Compute-Ms": str(round(figures.took_s * 1000)),
            "X-Reelscope-Refresh-Ms": str(round(self.cache.refresh_s * 1000)),
            "X-Reelscope-Computation": str(figures.number),
        }
        headers["Vary"] = "Accept-Encoding"
        if "gzip" in request.headers.get("accept-encoding", ""):
            body = figures.gzipped
            headers["Content-Encoding"] = "gzip"
        else:
            body = await run_in_threadpool(gzip.decompress, figures.gzipped)
        return Response(body, headers=headers, media_type="application/json")


def dashboard_routes(
    store: str, authorize: Authorize, *, refresh_s: float = REFRESH_S
) -> list[BaseRoute]:
    """The dashboard's routes for the collector host's Starlette app: figures of the store at
    `store` (a report URL), the key check of the collector serving them."""
    board = Dashboard(store, authorize, refresh_s=refresh_s)
    return [
        Route("/dashboard", board.page, methods=["GET"]),
        Route("/dashboard/static/{name}", board.static, methods=["GET"]),
        Route("/dashboard/figures", board.figures, methods=["GET"]),
    ]
