"""The dashboard over HTTP on the real collector (127.0.0.1): the page and its assets under a
`default-src 'self'` policy, the figures equal to `reelscope-report` with the same arguments
(`--json --sessions 0 --titles 0 --since`, no lists of sessions and titles) for the window,
the access rule (loopback or an admin key; a proxied or remote client needs the key), and one
computation shared by concurrent requests. A remote client is simulated twice: through
uvicorn's proxy headers (it trusts 127.0.0.1 as a proxy) and by calling the real app with a
remote address in the ASGI scope."""

from __future__ import annotations

import asyncio
import json
import re
import threading
from pathlib import Path
from typing import Any

import pytest
import requests

from telemetry.collector.app import create_app
from telemetry.collector.config import load_config
from telemetry.collector.sinks import open_sink
from telemetry.host.dashboard import ASSETS
from telemetry.host.report_process import ReportFailedError, report_json
from telemetry.host.services import host_services
from tests.collector.harness import ADMIN_KEY, KEY, Running, auth, make_keys

from .conftest import cli_json

CSP = "default-src 'self'"


def figures(collector: Running, window: str | None = "all", **headers: str) -> requests.Response:
    params = {} if window is None else {"window": window}
    return collector.session.get(
        f"{collector.url}/dashboard/figures", params=params, headers=headers, timeout=60
    )


def test_the_page_and_its_assets_are_served_under_a_self_only_policy(
    dashboard_collector: Running,
) -> None:
    page = dashboard_collector.session.get(f"{dashboard_collector.url}/dashboard", timeout=10)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["content-security-policy"].startswith(CSP)
    linked = re.findall(r'(?:src|href)="([^"]*)"', page.text)
    assert linked, page.text
    assert all(url.startswith("/dashboard/static/") for url in linked), linked
    for url in linked:
        asset = dashboard_collector.session.get(dashboard_collector.url + url, timeout=10)
        assert asset.status_code == 200, url
        assert asset.headers["content-type"] == ASSETS[url.rpartition("/")[2]]
        assert asset.headers["content-security-policy"].startswith(CSP)
        assert asset.headers["x-content-type-options"] == "nosniff"
    licence = dashboard_collector.session.get(
        f"{dashboard_collector.url}/dashboard/static/uPlot.LICENSE", timeout=10
    )
    assert "The MIT License" in licence.text
    for name in ("missing.js", "..%2Fdashboard.py", "%2E%2E"):
        missing = dashboard_collector.session.get(
            f"{dashboard_collector.url}/dashboard/static/{name}", timeout=10
        )
        assert missing.status_code == 404, name
        assert missing.json()["code"] == "not_found"


@pytest.mark.parametrize("window", ["all", "24h", "1h"])
def test_the_figures_are_the_reports_json_for_the_window(
    dashboard_collector: Running, window: str
) -> None:
    answer = figures(dashboard_collector, window)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-security-policy"].startswith(CSP)
    assert answer.headers["cache-control"] == "no-store"
    assert answer.headers["x-reelscope-refresh-ms"] == "5000"
    for header in ("x-reelscope-figures-age-ms", "x-reelscope-compute-ms"):
        assert int(answer.headers[header]) >= 0
    served = answer.json()
    since = served["filters"]["since"]
    assert (since is None) == (window == "all")
    assert served == cli_json(dashboard_collector, since)
    # The figures of every session, without the lists of sessions and titles.
    assert served["sessions"] == served["titles"] == []
    assert served["qoe"]["attempts"] > 0
    assert answer.headers["content-encoding"] == "gzip"  # requests asks for it
    if window == "all":  # the same figures whenever computed: the store does not change
        plain = figures(dashboard_collector, window, **{"Accept-Encoding": "identity"})
        assert "content-encoding" not in plain.headers
        assert plain.json() == served
    # The windows select different parts of the data set, moved to end 10 minutes ago: the
    # last hour holds launch 2 (S5-S7), the last day some of launch 1 too (a day earlier).
    attempts = served["qoe"]["attempts"]
    assert {"all": attempts == 7, "24h": 3 < attempts < 7, "1h": attempts == 3}[window]
    variants = [v["name"] for v in served["experiments"]["variants"]]
    assert variants == {"all": ["control", "treatment"], "1h": ["treatment"]}.get(window, variants)


def test_an_unknown_window_or_parameter_is_a_clear_400(dashboard_collector: Running) -> None:
    bad = figures(dashboard_collector, "2h")
    assert bad.status_code == 400
    assert bad.json() == {
        "code": "invalid_window",
        "message": "window must be one of ['15m', '1h', '24h', '7d', 'all']",
    }
    extra = dashboard_collector.session.get(
        f"{dashboard_collector.url}/dashboard/figures?window=1h&since=0", timeout=10
    )
    assert extra.status_code == 400
    assert extra.json()["code"] == "unknown_parameter"
    default = figures(dashboard_collector, None)
    assert default.status_code == 200
    assert default.json()["filters"]["since"] is not None  # the last hour


def test_loopback_needs_no_key_and_a_key_must_be_an_admin_one(
    dashboard_collector: Running,
) -> None:
    assert figures(dashboard_collector).status_code == 200
    assert figures(dashboard_collector, Authorization=auth(ADMIN_KEY)).status_code == 200
    refused = figures(dashboard_collector, Authorization=auth(KEY))
    assert refused.status_code == 403
    assert refused.json() == {
        "code": "admin_key_required",
        "message": "the dashboard's figures need an admin key",
    }
    unknown = figures(dashboard_collector, Authorization=auth("not-a-key-0123456789"))
    assert unknown.status_code == 401
    assert unknown.json()["code"] == "unknown_key"


def test_a_client_behind_a_proxy_needs_an_admin_key(dashboard_collector: Running) -> None:
    remote = {"X-Forwarded-For": "203.0.113.9"}
    refused = figures(dashboard_collector, **remote)
    assert refused.status_code == 403
    assert refused.json()["code"] == "dashboard_forbidden"
    assert "admin key" in refused.json()["message"]
    assert figures(dashboard_collector, **remote, Authorization=auth(KEY)).status_code == 403
    admitted = figures(dashboard_collector, **remote, Authorization=auth(ADMIN_KEY))
    assert admitted.status_code == 200
    # The page itself holds no figures: a remote operator opens it and gives the key there.
    page = dashboard_collector.session.get(
        f"{dashboard_collector.url}/dashboard", headers=remote, timeout=10
    )
    assert page.status_code == 200


async def _asgi_get(
    app: Any, path: str, query: str, headers: dict[str, str], client: tuple[str, int]
) -> tuple[int, Any]:
    """One GET through the ASGI app, as uvicorn would call it for a client at `client`."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": client,
        "server": ("collector.example", 80),
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, json.loads(body)


@pytest.mark.parametrize(
    ("client", "key", "status", "code"),
    [
        (("203.0.113.7", 50_000), None, 403, "dashboard_forbidden"),
        (("203.0.113.7", 50_000), KEY, 403, "admin_key_required"),
        (("203.0.113.7", 50_000), ADMIN_KEY, 200, None),
        (("2001:db8::7", 50_000), None, 403, "dashboard_forbidden"),
        (("::1", 50_000), None, 200, None),
        (("::ffff:127.0.0.1", 50_000), None, 200, None),
        (("unix-socket", 0), None, 403, "dashboard_forbidden"),
    ],
)
def test_a_remote_client_needs_an_admin_key(
    dashboard_collector: Running,
    client: tuple[str, int],
    key: str | None,
    status: int,
    code: str | None,
) -> None:
    config = load_config(
        environ={},
        overrides={
            "db": f"sqlite:///{dashboard_collector.db}",
            "keys": str(dashboard_collector.keys),
        },
    )
    app = create_app(config, open_sink(config), host_services(config))
    headers = {} if key is None else {"Authorization": auth(key)}
    answer = asyncio.run(_asgi_get(app, "/dashboard/figures", "window=all", headers, client))
    assert answer[0] == status, answer
    if code is None:
        assert answer[1]["qoe"]["attempts"] == 7
    else:
        assert answer[1]["code"] == code


def test_concurrent_dashboards_share_one_computation(dashboard_collector: Running) -> None:
    """Eight pages asking at once for a window nobody asked for yet: one computation."""
    start = threading.Barrier(8)
    answers: list[requests.Response] = []

    def ask() -> None:
        with requests.Session() as session:
            start.wait(30)
            answers.append(
                session.get(
                    f"{dashboard_collector.url}/dashboard/figures",
                    params={"window": "15m"},
                    timeout=60,
                )
            )

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(answers) == 8
    assert {a.status_code for a in answers} == {200}
    assert len({a.headers["x-reelscope-computation"] for a in answers}) == 1
    assert len({a.content for a in answers}) == 1


def test_a_store_the_report_cannot_read_is_a_clear_503(tmp_path: Path) -> None:
    missing = tmp_path / "never-written.db"
    config = load_config(
        environ={}, overrides={"db": f"sqlite:///{missing}", "keys": str(make_keys(tmp_path))}
    )
    # Its lifespan (which makes the store) is not run.
    app = create_app(config, open_sink(config), host_services(config))
    status, body = asyncio.run(
        _asgi_get(app, "/dashboard/figures", "window=1h", {}, ("127.0.0.1", 50_000))
    )
    assert status == 503
    assert body == {
        "code": "figures_unavailable",
        "message": f"the report cannot be computed: reelscope-report: no store at {missing}",
    }


def test_a_report_past_its_time_limit_or_at_exit_is_killed(dashboard_collector: Running) -> None:
    store = f"sqlite:///{dashboard_collector.db}"
    with pytest.raises(ReportFailedError, match=r"the report took longer than 0\.001 s"):
        report_json(store, None, timeout_s=0.001)
    with pytest.raises(ReportFailedError, match="the collector is stopping"):
        report_json(store, None, timeout_s=0.001, stopping=lambda: True)
