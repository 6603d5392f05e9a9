"""The report engine's chdb mirror of a collector store (`open_engine`), against a real
collector over HTTP: new rows arrive incrementally, a device deleted through the collector
vanishes from the mirror, a cut-short sync is rebuilt, two report processes at once wait for
each other, and a store whose directory has no room for the mirror still gives a report.

The collector runs in a process of its own, as it does in production: chdb reads the store with
its own copy of SQLite, whose closing of the file would drop the POSIX locks of a collector in
the same process."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest

from telemetry.contracts.clickhouse import Warehouse
from telemetry.contracts.device_proof import device_id_for, new_device_secret
from telemetry.contracts.stored import store_url
from telemetry.report.engine import mirror_path, open_engine
from tests.collector.harness import REPO, Running, batch, child_collector, event


def _feed_and_beats(device: str, beats: int) -> list[dict[str, Any]]:
    """One launch: a feed of one row, then heartbeats."""
    session = str(uuid.uuid4())
    feed = event(
        type="feed_served", device_id=device, app_session_id=session, seq=1,
        properties={"request_id": f"r-{session}", "rows": [
            {"row_id": "cw", "row_index": 0, "items": [{"video_id": "v1"}]}
        ]},
    )  # fmt: skip
    return [feed] + [
        event(device_id=device, app_session_id=session, seq=seq, play_session_id="S")
        for seq in range(2, beats + 2)
    ]


def _post(running: Running, events: list[dict[str, Any]], **extra: Any) -> None:
    response = running.post(
        batch(events, context={"app": {"version": "1.0"}, "os": {"name": "Linux"}}, **extra)
    )
    assert response.status_code == 200, response.text


def _counts(warehouse: Warehouse) -> dict[str, Any]:
    def scalar(sql: str) -> Any:
        return next(warehouse.rows(sql))[0]

    return {
        "facts": scalar("SELECT count() FROM facts"),
        "distinct": scalar("SELECT uniqExact(key_id, event_id) FROM facts"),
        "served": scalar("SELECT count() FROM served_rows"),
        "devices": sorted(d for (d,) in warehouse.rows("SELECT DISTINCT device_id FROM facts")),
        "contexts": scalar("SELECT count() FROM contexts"),
        "drops": sorted(map(tuple, warehouse.rows("SELECT device_id, dropped FROM client_drops"))),
        "duplicates": scalar("SELECT sum(value) FROM counters WHERE name = 'duplicates'"),
    }


def test_new_rows_are_added_incrementally_and_a_deleted_device_vanishes(tmp_path: Path) -> None:
    secret = new_device_secret()
    gone = device_id_for(secret)
    with child_collector(tmp_path / "collector") as child:
        running = child.running
        url = store_url(running.db)
        launch = _feed_and_beats(gone, 3)
        _post(running, launch, drops={"outbox_full": 3})
        _post(running, launch[:2])  # stored already: counted as duplicates
        _post(running, _feed_and_beats("device-kept", 2))
        with open_engine(url) as warehouse:
            assert _counts(warehouse) == {
                "facts": 7, "distinct": 7, "served": 2,
                "devices": sorted([gone, "device-kept"]), "contexts": 2,
                "drops": [(gone, 3)], "duplicates": 2,
            }  # fmt: skip
        state = orjson.loads((mirror_path(running.db) / "sync.json").read_bytes())
        assert (state["high_water"], state["rows"]) == (7, 7)
        _post(running, _feed_and_beats("device-kept", 4))
        with open_engine(url) as warehouse:
            assert _counts(warehouse)["facts"] == 12  # only the new rows were added
            assert _counts(warehouse)["distinct"] == 12
        assert running.delete_device(gone, secret=secret).json() == {"deleted": 4}
        _post(running, _feed_and_beats("device-new", 1))
        with open_engine(url) as warehouse:
            assert _counts(warehouse) == {
                "facts": 10, "distinct": 10, "served": 3,
                "devices": ["device-kept", "device-new"], "contexts": 2,
                "drops": [], "duplicates": 2,
            }  # fmt: skip
            assert running.count() == 10
        # Nothing changed: the mirror stays as it is.
        with open_engine(url) as warehouse:
            assert _counts(warehouse)["facts"] == 10


def test_a_sync_cut_short_or_an_older_parse_is_rebuilt_from_nothing(tmp_path: Path) -> None:
    with child_collector(tmp_path / "collector") as child:
        running = child.running
        url = store_url(running.db)
        _post(running, _feed_and_beats("device-1", 5))
        with open_engine(url) as warehouse:
            assert _counts(warehouse)["facts"] == 6
        state_file = mirror_path(running.db) / "sync.json"
        state = orjson.loads(state_file.read_bytes())
        # As if a sync had inserted rows and died before recording them.
        state_file.write_bytes(orjson.dumps({**state, "high_water": 3, "rows": 3}))
        with open_engine(url) as warehouse:
            assert _counts(warehouse)["facts"] == _counts(warehouse)["distinct"] == 6
        # A mirror made by another version of the parse: its views are replaced too.
        state_file.write_bytes(orjson.dumps({**state, "definition": "older"}))
        with open_engine(url) as warehouse:
            assert _counts(warehouse)["facts"] == _counts(warehouse)["distinct"] == 6
        assert orjson.loads(state_file.read_bytes()) == state


_CHILD = """
import sys
from telemetry.contracts.stored import store_url
from telemetry.report.engine import open_engine
with open_engine(sys.argv[1]) as warehouse:
    print(next(warehouse.rows("SELECT count() FROM facts"))[0], flush=True)
    sys.stdin.readline()
"""


def test_two_report_processes_at_once_wait_for_each_other(tmp_path: Path) -> None:
    with child_collector(tmp_path / "collector") as child:
        running = child.running
        url = store_url(running.db)
        _post(running, _feed_and_beats("device-1", 5))
        environment = {**os.environ, "PYTHONPATH": str(REPO)}

        def start() -> subprocess.Popen[str]:
            return subprocess.Popen(
                [sys.executable, "-c", _CHILD, url], stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, text=True, env=environment,
            )  # fmt: skip

        first = start()
        assert first.stdout is not None
        assert first.stdout.readline().strip() == "6"  # the first holds the mirror now
        _post(running, _feed_and_beats("device-2", 1))
        second = start()
        assert second.poll() is None  # it cannot have the mirror while the first has it
        first.communicate("\n", timeout=120)
        assert first.returncode == 0
        out, _ = second.communicate("\n", timeout=120)
        assert second.returncode == 0
        assert out.strip() == "8"


def test_no_room_beside_the_store_uses_a_temporary_mirror_and_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with child_collector(tmp_path / "collector") as child:
        running = child.running
        _post(running, _feed_and_beats("device-1", 2))
        # The tests run as root, for whom permissions do not stop a mkdir: a file in the way.
        mirror_path(running.db).write_text("not a directory")
        with (
            caplog.at_level(logging.WARNING, "reelscope.report.engine"),
            open_engine(store_url(running.db)) as warehouse,
        ):
            assert _counts(warehouse)["facts"] == 3
        assert "no room for the report's mirror" in caplog.text
        assert mirror_path(running.db).read_text() == "not a directory"


def test_a_warehouse_url_gives_the_warehouse_itself(tmp_path: Path) -> None:
    with open_engine(f"chdb://{tmp_path / 'clickhouse'}") as warehouse:
        assert next(warehouse.rows("SELECT 1"))[0] == 1
    assert not any(tmp_path.glob("*.engine"))
