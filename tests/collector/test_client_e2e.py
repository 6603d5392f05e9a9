"""The app's own telemetry client (`telemetry.client.client`) against the real collector: every
tracked event arrives once, in order, with its context and a corrected time."""

from __future__ import annotations

from pathlib import Path

import orjson

from telemetry.client.client import TelemetryClient
from telemetry.client.config import TelemetryConfig

from .harness import KEY, thread_collector


def test_the_telemetry_client_delivers_every_event_once(tmp_path: Path) -> None:
    with thread_collector(tmp_path / "collector") as running:
        client = TelemetryClient(
            TelemetryConfig(
                consent_before_choice=True,  # a viewer who opted in
                endpoint=running.url,
                write_key=KEY,
                outbox_path=tmp_path / "client" / "outbox.db",
                settings_path=tmp_path / "client" / "settings.json",
                flush_interval=0.2,
            )
        )
        client.set_context(app={"name": "reelscope", "version": "test"}, locale="en_GB")
        client.start()
        try:
            ids = [client.track("app_start", {})]
            ids += [
                client.track("pause", {"play_session_id": "ps-e2e", "position_ms": i * 10})
                for i in range(300)
            ]
            ids.append(client.track("ended", {"play_session_id": "ps-e2e", "position_ms": 3000}))
            assert None not in ids
            assert client.flush(20)
        finally:
            client.close()
        rows = running.query(
            "SELECT event_id, type, device_id, app_session_id, seq, play_session_id, source,"
            " corrected_time, c.json FROM events JOIN contexts c ON c.hash = context_hash"
            " ORDER BY seq"
        )
    assert sorted(r[0] for r in rows) == sorted(ids)
    assert {r[2] for r in rows} == {client.device_id}
    assert {r[3] for r in rows} == {client.app_session_id}
    assert [r[4] for r in rows] == sorted({r[4] for r in rows})
    assert {r[5] for r in rows[1:]} == {"ps-e2e"}
    assert {r[6] for r in rows} == {"reelscope"}
    assert all(r[7] > 0 for r in rows)
    assert orjson.loads(rows[0][8])["app"]["name"] == "reelscope"
