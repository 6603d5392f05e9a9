"""`GET /v1/feed` on a real collector over HTTP: auth like /v1/batch, bad parameters, the
variant and propensities in the answer, and the bad inputs the issue names: an unknown device,
a model file missing or corrupt (the rules are served and the log says why), a title removed
from the catalog."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from telemetry.recommend.model import Model, save_model
from tests.collector.harness import KEY, REVOKED_KEY, Running, auth, thread_collector


def write_catalog(path: Path, ids: list[str]) -> Path:
    items = [{"id": v, "title": v.title(), "media": f"{v}.mp4", "genres": ["Drama"]} for v in ids]
    path.write_text(json.dumps({"schema": 1, "items": items}))
    return path


def write_experiment(path: Path, model: Path, policy: str = "model") -> Path:
    path.write_text(
        f'[experiment]\nname = "t"\nexploration = 0.0\nmodel = "{model}"\n'
        f'[[experiment.variants]]\nname = "treatment"\npolicy = "{policy}"\nweight = 1\n'
    )
    return path


def get(running: Running, key: str | None = KEY, **params: str) -> Any:
    headers = {"Authorization": auth(key)} if key else {}
    return running.session.get(f"{running.url}/v1/feed", params=params, headers=headers, timeout=10)


def test_auth_and_parameters(tmp_path: Path) -> None:
    with thread_collector(tmp_path) as running:
        assert get(running, None, device_id="d").status_code == 401
        assert get(running, REVOKED_KEY, device_id="d").status_code == 403
        assert get(running).json()["code"] == "invalid_device_id"
        assert get(running, device_id="x" * 65).status_code == 400
        assert get(running, device_id="d", locale="x" * 65).json()["code"] == "invalid_locale"
        answer = get(running, device_id="never-seen-before", location="home", os="Linux")
        assert answer.status_code == 200
        assert answer.headers["cache-control"] == "no-store"
        feed = answer.json()
        assert feed["variant"] == "control"
        assert feed["source"] == "server"
        assert feed["rows"]
        for row in feed["rows"]:
            assert row["track_id"].startswith("rules/1/")
            assert all(0 < item["propensity"] <= 1 for item in row["items"])
        assert get(running, device_id="d2").json()["request_id"] != feed["request_id"]


def test_missing_then_corrupt_model_serves_the_rules_and_logs_why(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    model = tmp_path / "model.npz"
    catalog = write_catalog(tmp_path / "catalog.json", ["a", "b", "c"])
    experiment = write_experiment(tmp_path / "experiment.toml", model)
    caplog.set_level(logging.INFO, logger="reelscope.recommend.service")
    with thread_collector(tmp_path, catalog=str(catalog), experiment=str(experiment)) as running:
        missing = get(running, device_id="d").json()
        assert missing["policy"] == "rules"
        assert missing["fallback_reason"].startswith("no model file at")
        model.write_bytes(b"PK\x03\x04 not really a zip")
        corrupt = get(running, device_id="d").json()
        assert corrupt["policy"] == "rules"
        assert "unreadable" in corrupt["fallback_reason"]
        save_model(tiny_model(["a", "b", "c"]), model)
        served = get(running, device_id="d").json()
        assert served["policy"] == "model"
        assert served["fallback_reason"] is None
        assert served["rows"][0]["track_id"] == "als/m1/top_picks"
        model.unlink()  # deleted while in service: the rules again, and the log says why
        gone = get(running, device_id="d").json()
        assert gone["policy"] == "rules"
        assert gone["fallback_reason"].startswith("no model file at")
    reasons = [r.getMessage() for r in caplog.records if r.name == "reelscope.recommend.service"]
    assert sum("no model file at" in m for m in reasons) == 2
    assert any("unreadable" in m for m in reasons)
    assert any("serving model m1" in m for m in reasons)


def test_a_title_removed_from_the_catalog_is_never_served(tmp_path: Path) -> None:
    model = tmp_path / "model.npz"
    save_model(tiny_model(["a", "b", "gone"]), model)
    catalog = write_catalog(tmp_path / "catalog.json", ["a", "b", "new"])
    experiment = write_experiment(tmp_path / "experiment.toml", model)
    with thread_collector(tmp_path, catalog=str(catalog), experiment=str(experiment)) as running:
        for device in ("d", "unknown-device"):
            feed = get(running, device_id=device).json()
            assert feed["policy"] == "model"
            served = {i["video_id"] for row in feed["rows"] for i in row["items"]}
            assert served == {"a", "b", "new"}


def test_a_bad_catalog_makes_the_feed_unavailable_not_the_collector(tmp_path: Path) -> None:
    (tmp_path / "catalog.json").write_text("not json")
    with thread_collector(tmp_path, catalog=str(tmp_path / "catalog.json")) as running:
        answer = get(running, device_id="d")
        assert answer.status_code == 503
        assert answer.json()["code"] == "feed_unavailable"
        assert running.session.get(f"{running.url}/healthz", timeout=10).status_code == 200


def tiny_model(items: list[str]) -> Model:
    rng = np.random.default_rng(0)
    return Model(
        "m1",
        tuple(items),
        rng.normal(size=(len(items), 2)).astype(np.float32),
        ("d",),
        rng.normal(size=(1, 2)).astype(np.float32),
        np.ones(len(items)),
    )
