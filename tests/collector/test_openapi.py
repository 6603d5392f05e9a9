"""The OpenAPI description is served by the collector, matches the one in the repository,
describes every route the collector host serves (ingestion, the feed, the dashboard), and holds
up against schemathesis: generated valid and invalid requests never get a 5xx or an answer the
description does not promise."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import negative_data_rejection

from telemetry.collector.app import create_app
from telemetry.collector.config import load_config
from telemetry.collector.sinks import open_sink
from telemetry.host.services import host_services

from .harness import ADMIN_KEY, KEY, REPO, Running, auth, make_keys, thread_collector

SPEC = REPO / "telemetry" / "collector" / "openapi.json"
schema = schemathesis.openapi.from_path(SPEC)


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    with thread_collector(tmp_path_factory.mktemp("fuzzed"), rate_limit_per_s=0) as running:
        yield running


def test_the_served_description_is_the_repository_file(collector: Running) -> None:
    served = collector.session.get(f"{collector.url}/openapi.json", timeout=10)
    assert served.status_code == 200
    assert served.json() == json.loads(Path(SPEC).read_text())


def test_every_route_of_the_host_is_described(tmp_path: Path) -> None:
    config = load_config(
        environ={},
        overrides={"db": f"sqlite:///{tmp_path / 'events.db'}", "keys": str(make_keys(tmp_path))},
    )
    app = create_app(config, open_sink(config), host_services(config))
    served = {
        # Starlette's `{name:convertor}` is OpenAPI's `{name}`; HEAD comes with every GET.
        (re.sub(r":\w+}", "}", route.path), method.lower())
        for route in app.app.routes
        for method in route.methods - {"HEAD"}
    }
    described = {
        (path, method)
        for path, operations in json.loads(SPEC.read_text())["paths"].items()
        for method in operations
        if method in {"get", "post", "put", "patch", "delete"}
    }
    assert ("/v1/feed", "get") in served
    assert ("/dashboard/figures", "get") in served
    assert served == described


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_schemathesis(case: schemathesis.Case, fuzzed: Running) -> None:
    # By design an invalid *event* is rejected alone inside a 200 (the rest of the batch is
    # stored), so "schema-violating data must get a 4xx" holds only for the envelope; the
    # envelope's 400s are covered in test_requests.py. Every other check runs.
    excluded = [negative_data_rejection] if case.operation.path == "/v1/batch" else []
    # The dashboard's figures need an admin key: with it their 200s are checked too.
    key = ADMIN_KEY if case.operation.path == "/dashboard/figures" else KEY
    case.call_and_validate(
        base_url=fuzzed.url, headers={"Authorization": auth(key)}, excluded_checks=excluded
    )
