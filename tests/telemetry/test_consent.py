"""Consent before the viewer has chosen: the app's configuration records and sends nothing until
an opt-in, keeps asking until a choice is made, and remembers the choice; the disclosure shown
to the viewer covers the whole vocabulary."""

from __future__ import annotations

import json
from pathlib import Path

from telemetry.client.client import TelemetryClient
from telemetry.client.config import TelemetryConfig
from telemetry.client.consent import ConsentStore
from telemetry.client.disclosure import DESCRIPTIONS, PURPOSES
from telemetry.client.outbox_reader import OutboxReader
from telemetry.client.status import SyncState
from telemetry.contracts.device_proof import proves
from telemetry.contracts.events import SPECS

from .conftest import MakeClient, client_config
from .samples import VALID
from .scripted_collector import ScriptedCollector


def test_every_configuration_asks_before_recording_unless_told_otherwise(tmp_path: Path) -> None:
    assert TelemetryConfig.default().consent_before_choice is False
    built = TelemetryConfig(
        endpoint="http://127.0.0.1:9",
        write_key="k",
        outbox_path=tmp_path / "outbox.sqlite3",
        settings_path=tmp_path / "telemetry.json",
    )
    assert built.consent_before_choice is False
    assert TelemetryClient(built).track("app_start", VALID["app_start"]) is None


def test_nothing_is_recorded_or_sent_before_the_viewer_opts_in(
    tmp_path: Path, make_client: MakeClient, collector: ScriptedCollector
) -> None:
    client = make_client(consent_before_choice=False)
    assert client.consent is False
    assert client.consent_decided is False
    assert client.status().state == SyncState.DISABLED
    assert [client.track(t, VALID[t]) for t in ("app_start", "session_end")] == [None, None]
    client.close()  # joins the writer: whatever it would have committed is on disk now
    assert collector.requests == []
    assert OutboxReader(client.outbox_path).export()["events"] == []
    saved = json.loads((tmp_path / "config" / "telemetry.json").read_text())
    assert saved["enabled"] is None  # undecided, not "off": the app asks again next launch

    relaunched = make_client(consent_before_choice=False)
    assert relaunched.consent_decided is False
    assert relaunched.device_id == client.device_id
    relaunched.set_consent(True)
    assert relaunched.consent_decided is True
    sent = relaunched.track("app_start", VALID["app_start"])
    assert relaunched.flush(5.0)
    assert list(collector.stored) == [sent]
    assert TelemetryClient(client_config(tmp_path, collector.url)).consent is True


def test_an_opt_out_at_first_run_is_remembered(
    tmp_path: Path, make_client: MakeClient, collector: ScriptedCollector
) -> None:
    client = make_client(consent_before_choice=False)
    client.set_consent(False)
    # Even a config that would record before a choice honours the choice once made.
    relaunched = TelemetryClient(client_config(tmp_path, collector.url))
    assert relaunched.consent_decided is True
    assert relaunched.consent is False
    assert relaunched.track("pause", VALID["pause"]) is None


def test_every_event_type_is_disclosed_with_its_properties() -> None:
    assert set(DESCRIPTIONS) == set(SPECS)
    listed = [item.event_type for purpose in PURPOSES for item in purpose.events]
    assert len(listed) == len(set(listed))
    session_end = next(i for p in PURPOSES for i in p.events if i.event_type == "session_end")
    assert {"reason", "startup_ms", "rebuffer_ms"} <= set(session_end.properties)
    assert all(purpose.why for purpose in PURPOSES)


def test_a_choice_saved_before_device_secrets_existed_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "telemetry.json"
    path.write_text(json.dumps({"enabled": True, "device_id": "an-id-from-an-older-release"}))
    store = ConsentStore(path)
    assert store.decided
    assert store.enabled
    assert store.device_id != "an-id-from-an-older-release"
    assert proves(store.device_secret, store.device_id)
    again = ConsentStore(path)
    assert (again.enabled, again.device_id) == (True, store.device_id)
