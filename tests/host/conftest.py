"""Fixtures for the dashboard tests: a real collector on 127.0.0.1 holding the report's
known-answer data set moved to the last day (so each time window selects a different part of
it), with the two home feeds in an experiment (control and treatment)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from telemetry.host.report_process import REPORT_ARGUMENTS, iso_moment
from tests.collector.harness import REPO, Running, now_ms, thread_collector
from tests.report.conftest import post
from tests.report.known_data import HOUR, Launch, launch_1, launch_2, launch_3

VARIANTS = {"launch-1": "control", "launch-2": "treatment"}


def recent_launches() -> list[Launch]:
    """The known-answer launches, every event time moved by one offset so that the newest
    (true) time is 10 minutes ago: launch 2 falls in the last hour, launch 1 a day earlier."""
    launches = [launch_1(), launch_2(), launch_3()]
    newest = max(e["time"] - launch.clock_offset for launch in launches for e in launch.events)
    shift = now_ms() - HOUR // 6 - newest
    for launch in launches:
        for event in launch.events:
            event["time"] += shift
            if event["type"] == "feed_served":
                event["properties"]["variant"] = VARIANTS[launch.app_session_id]
    return launches


@pytest.fixture(scope="session")
def dashboard_collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    with thread_collector(tmp_path_factory.mktemp("dashboard")) as collector:
        for launch in recent_launches():
            post(collector, launch, launch.events, drops={"outbox_full": 2})
        yield collector


def cli_json(collector: Running, since: int | None) -> dict[str, Any]:
    """What `reelscope-report` prints for the store with the dashboard's arguments
    (`--json --sessions 0 --titles 0`), from its own process."""
    command = [sys.executable, "-m", "telemetry.report.cli", "--db", str(collector.db)]
    command += REPORT_ARGUMENTS
    if since is not None:
        command += ["--since", iso_moment(since)]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(command, capture_output=True, cwd=REPO, env=env, timeout=60)
    assert done.returncode == 0, done.stderr.decode()
    answer: dict[str, Any] = json.loads(done.stdout)
    return answer
