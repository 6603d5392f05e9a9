"""The viewer's telemetry controls in the real main window, with a real telemetry client and
outbox in tmp dirs and the real collector on 127.0.0.1: first-run consent, opting out from
Settings, settings validation and Test connection, the sync status on a refused key, and the
privacy window (live list of waiting and sent events with their status, filter, export, local
and server-side deletion)."""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from player.catalog import load_sample_catalog
from player.feed import build_feed
from player.settings import Settings, SettingsStore
from telemetry.client.client import TelemetryClient
from telemetry.client.config import TelemetryConfig
from telemetry.client.status import SyncState
from tests.collector.harness import KEY, Running, batch, event
from tests.collector.harness import thread_collector as start_collector
from tests.telemetry.samples import VALID, heartbeat
from tests.telemetry.track_recorder import Clock
from ui.home.home_view import HomeView
from ui.main_window import MainWindow
from ui.telemetry_controls import TelemetryControls

TIMEOUT_MS = 10_000


@pytest.fixture(scope="module")
def collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    with start_collector(tmp_path_factory.mktemp("collector")) as running:
        yield running


class Harness:
    def __init__(self, window: MainWindow, tmp_path: Path, collector: Running) -> None:
        self.window = window
        self.tmp_path = tmp_path
        self.collector = collector
        self.clients: list[TelemetryClient] = []
        self.store = SettingsStore(tmp_path / "config", environ={})

    def client(self, key: str = KEY, *, asks_first: bool = False) -> TelemetryClient:
        client = TelemetryClient(
            TelemetryConfig(
                endpoint=self.collector.url,
                write_key=key,
                outbox_path=self.tmp_path / "state" / "outbox.sqlite3",
                settings_path=self.tmp_path / "config" / "telemetry.json",
                consent_before_choice=not asks_first,
                flush_interval=0.1,
                backoff_base=0.05,
                backoff_cap=0.2,
            )
        )
        self.clients.append(client)
        client.start()
        return client

    def controls(self, client: TelemetryClient, key: str = KEY) -> TelemetryControls:
        settings = Settings(collector_url=self.collector.url, write_key=key)
        return TelemetryControls(self.window, client, self.store, settings, parent=self.window)

    def close(self) -> None:
        for client in self.clients:
            client.close(timeout=1.0)


@pytest.fixture
def harness(window: MainWindow, tmp_path: Path, collector: Running) -> Iterator[Harness]:
    harness = Harness(window, tmp_path, collector)
    yield harness
    harness.close()


def _outbox_count(client: TelemetryClient) -> int:
    """Events in the outbox; -1 while the writer is still creating its file."""
    try:
        return sum(client.outbox.counts_by_type().values())
    except sqlite3.OperationalError:
        return -1


def test_first_run_asks_and_records_nothing_until_the_viewer_opts_in(
    qtbot: QtBot, harness: Harness
) -> None:
    client = harness.client(asks_first=True)
    controls = harness.controls(client)
    assert client.track("app_start", VALID["app_start"]) is None
    dialog = controls.ask_consent_if_needed()
    assert dialog is not None
    qtbot.waitUntil(dialog.isVisible)
    text = dialog.details.toPlainText()
    for event_type in ("impression", "heartbeat", "session_end", "app_exit"):
        assert f"({event_type})" in text
    assert "Never collected" in text
    qtbot.mouseClick(dialog.share, Qt.MouseButton.LeftButton)
    assert not dialog.isVisible()
    assert client.consent
    assert client.consent_decided
    assert harness.controls(client).ask_consent_if_needed() is None
    assert client.track("app_start", VALID["app_start"]) is not None


def test_declining_at_first_run_keeps_recording_off(qtbot: QtBot, harness: Harness) -> None:
    client = harness.client(asks_first=True)
    dialog = harness.controls(client).ask_consent_if_needed()
    assert dialog is not None
    qtbot.mouseClick(dialog.decline, Qt.MouseButton.LeftButton)
    assert client.consent_decided
    assert not client.consent
    assert client.track("pause", VALID["pause"]) is None
    assert client.status().state == SyncState.DISABLED


def test_opting_out_in_settings_purges_the_outbox_and_stops_recording(
    qtbot: QtBot, harness: Harness
) -> None:
    client = harness.client(key="refused-key")  # events stay in the outbox
    controls = harness.controls(client, key="refused-key")
    for n in range(20):
        client.track("heartbeat", heartbeat(n))
    qtbot.waitUntil(lambda: _outbox_count(client) == 20, timeout=TIMEOUT_MS)
    dialog = controls.open_settings()
    assert dialog.share.isChecked()
    dialog.share.setChecked(False)
    dialog.write_key.setText(KEY)
    with qtbot.waitSignal(dialog.consent_changed, timeout=TIMEOUT_MS) as changed:
        assert dialog.save()
    assert changed.args == [False]
    assert not client.consent
    qtbot.waitUntil(lambda: _outbox_count(client) == 0, timeout=TIMEOUT_MS)
    assert client.track("pause", VALID["pause"]) is None
    qtbot.waitUntil(lambda: controls.sync_status.text() == "Sync: disabled", timeout=TIMEOUT_MS)


def test_settings_are_validated_persisted_and_applied(
    qtbot: QtBot, harness: Harness, tmp_path: Path
) -> None:
    client = harness.client()
    controls = harness.controls(client)
    dialog = controls.open_settings()
    dialog.collector_url.setText("collector.example")
    dialog.write_key.setText("has space")
    dialog.network_caching.setValue(60_001)
    assert not dialog.save()
    assert dialog.isVisible()
    problems = {name: label.text() for name, label in dialog.problems.items() if label.isVisible()}
    assert set(problems) == {"collector_url", "write_key", "network_caching_ms"}
    assert "http:// or https://" in problems["collector_url"]
    assert "between 0 and 60000" in problems["network_caching_ms"]
    assert not harness.store.settings_path.exists()

    library = tmp_path / "videos"
    library.mkdir()
    dialog.collector_url.setText(harness.collector.url)
    dialog.write_key.setText(KEY)
    dialog.network_caching.setValue(3000)
    dialog.hardware_decoding.setChecked(False)
    dialog.add_folder_path(str(library))
    with qtbot.waitSignal(controls.library_changed, timeout=TIMEOUT_MS) as library_changed:
        assert dialog.save()
    assert library_changed.args == [(str(library),)]
    assert harness.store.load() == Settings(
        collector_url=harness.collector.url,
        write_key=KEY,
        library_folders=(str(library),),
        network_caching_ms=3000,
        hardware_decoding=False,
    )


def test_test_connection_checks_the_url_and_the_key(qtbot: QtBot, harness: Harness) -> None:
    dialog = harness.controls(harness.client()).open_settings()
    for key, expected in ((KEY, "✔ Connected"), ("wrong-key", "✖ The collector refused")):
        dialog.write_key.setText(key)
        qtbot.mouseClick(dialog.test_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(dialog.test_button.isEnabled, timeout=TIMEOUT_MS)
        assert dialog.test_result.text().startswith(expected), dialog.test_result.text()


def test_a_wrong_key_shows_auth_failed_and_keeps_the_data_until_a_good_key(
    qtbot: QtBot, harness: Harness
) -> None:
    client = harness.client(key="wrong-key")
    controls = harness.controls(client, key="wrong-key")
    sent = [client.track("heartbeat", heartbeat(n)) for n in range(30)]
    stored = f"event_id IN ({','.join('?' * len(sent))})"
    button = controls.sync_status
    qtbot.waitUntil(lambda: button.text() == "Sync: auth failed", timeout=TIMEOUT_MS)
    assert _outbox_count(client) == 30
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert button.details.isVisible()
    assert "401" in button.details.last_error.text()
    # Nothing was stored under the refused key: the events wait in the outbox.
    assert harness.collector.count(stored, *sent) == 0

    dialog = controls.open_settings()
    dialog.write_key.setText(KEY)
    assert dialog.save()
    qtbot.waitUntil(lambda: button.text() == "Sync: synced", timeout=TIMEOUT_MS)
    assert harness.collector.count(stored, *sent) == 30


def test_the_privacy_window_lists_filters_exports_and_deletes(
    qtbot: QtBot, qtmodeltester: object, harness: Harness, tmp_path: Path
) -> None:
    client = harness.client(key="refused-key")  # nothing leaves: everything stays local
    controls = harness.controls(client, key="refused-key")
    window = controls.open_privacy()
    qtbot.waitExposed(window)
    ids = [client.track("heartbeat", heartbeat(n)) for n in range(5)]
    ids += [client.track(t, VALID[t]) for t in ("pause", "resume", "app_start")]
    model = window.model
    qtbot.waitUntil(lambda: model.rowCount() == 8, timeout=TIMEOUT_MS)  # the live poll
    qtmodeltester.check(model)  # type: ignore[attr-defined]
    assert [model.event_at(r)["event_id"] for r in range(8)] == ids[::-1]
    assert model.index(0, 1).data() == "app_start"
    assert model.index(7, 2).data().startswith("position_ms=0")
    assert {model.index(r, 3).data() for r in range(8)} == {"waiting to send"}
    assert "heartbeat: 5" in [window.counts.item(i).text() for i in range(window.counts.count())]

    window.filter_type("heartbeat")
    assert window.proxy.rowCount() == 5
    window.filter_type("")
    assert window.proxy.rowCount() == 8

    exported = tmp_path / "export.json"
    with qtbot.waitSignal(window.export_call.finished, timeout=TIMEOUT_MS):
        window.export_to(exported)
    document = json.loads(exported.read_text())
    assert [e["event_id"] for e in document["events"]] == ids
    assert document["device_id"] == client.device_id

    with qtbot.waitSignal(window.purge_call.finished, timeout=TIMEOUT_MS) as purged:
        window.delete_local_data()
    assert purged.args == [True]
    assert window.result.text() == "Local data deleted."
    assert client.outbox.export()["events"] == []
    assert model.rowCount() == 0


def test_the_privacy_window_lists_sent_and_waiting_events_with_their_status(
    qtbot: QtBot, qtmodeltester: object, harness: Harness, tmp_path: Path
) -> None:
    client = harness.client()
    controls = harness.controls(client)
    window = controls.open_privacy()
    qtbot.waitExposed(window)
    model = window.model
    sent = [client.track("heartbeat", heartbeat(n)) for n in range(3)]
    sent.append(client.track("pause", VALID["pause"]))
    assert client.flush(5.0)
    assert harness.collector.count("device_id = ?", client.device_id) == 4
    # The live poll (a read may have caught them before they were sent: the next one turns them).
    qtbot.waitUntil(
        lambda: [model.status_at(r) for r in range(model.rowCount())] == ["sent"] * 4,
        timeout=TIMEOUT_MS,
    )
    assert [model.event_at(r)["event_id"] for r in range(4)] == sent[::-1]
    assert model.index(0, 3).data() == "sent"
    assert model.index(0, 3).data(Qt.ItemDataRole.ToolTipRole).startswith("Sent: ")
    qtmodeltester.check(model)  # type: ignore[attr-defined]

    # A refused key keeps what is tracked next on the device, listed above what was sent.
    client.set_endpoint(harness.collector.url, "wrong-key")
    waiting = [client.track("heartbeat", heartbeat(n)) for n in range(3, 5)]
    client.sync_now()
    qtbot.waitUntil(lambda: client.status().state == SyncState.AUTH_FAILED, timeout=TIMEOUT_MS)
    qtbot.waitUntil(lambda: model.rowCount() == 6, timeout=TIMEOUT_MS)
    assert [model.event_at(r)["event_id"] for r in range(6)] == [*waiting[::-1], *sent[::-1]]
    assert [model.index(r, 3).data() for r in range(6)] == ["waiting to send"] * 2 + ["sent"] * 4
    counts = [window.counts.item(i).text() for i in range(window.counts.count())]
    assert counts == ["heartbeat: 5", "pause: 1"]
    assert "2 events waiting to be sent, 4 recently sent" in window.outbox_size.text()
    window.filter_type("heartbeat")
    assert window.proxy.rowCount() == 5
    statuses = {window.proxy.index(r, 3).data() for r in range(5)}
    assert statuses == {"waiting to send", "sent"}
    window.filter_type("")

    # Once the key is good again, the waiting events turn to sent in place.
    client.set_endpoint(harness.collector.url, KEY)
    assert client.flush(5.0)
    qtbot.waitUntil(
        lambda: [model.status_at(r) for r in range(model.rowCount())] == ["sent"] * 6,
        timeout=TIMEOUT_MS,
    )
    qtmodeltester.check(model)  # type: ignore[attr-defined]

    exported = tmp_path / "export.json"
    with qtbot.waitSignal(window.export_call.finished, timeout=TIMEOUT_MS):
        window.export_to(exported)
    document = json.loads(exported.read_text())
    assert document["events"] == []
    assert [h["event"]["event_id"] for h in document["history"]] == sent + waiting
    assert {h["status"] for h in document["history"]} == {"sent"}
    assert window.result.text().startswith("Exported 6 events (0 waiting, 6 sent or refused)")

    with qtbot.waitSignal(window.purge_call.finished, timeout=TIMEOUT_MS) as purged:
        window.delete_local_data()
    assert purged.args == [True]
    assert client.outbox.export() == {"events": [], "history": [], "dead_letter": [], "drops": {}}
    assert model.rowCount() == 0


def test_deleting_from_the_server_removes_this_devices_events_only(
    qtbot: QtBot, harness: Harness
) -> None:
    client = harness.client()
    controls = harness.controls(client)
    for n in range(6):
        client.track("heartbeat", heartbeat(n))
    assert client.flush(5.0)
    collector = harness.collector
    other = str(uuid.uuid4())
    collector.post(batch([event(device_id=other) for _ in range(3)]))
    assert collector.count("device_id = ?", client.device_id) == 6
    window = controls.open_privacy()
    with qtbot.waitSignal(window.server_call.finished, timeout=TIMEOUT_MS) as done:
        window.delete_server_data()
    assert done.args == [6]
    assert window.result.text().startswith("Deleted 6 events")
    assert collector.count("device_id = ?", client.device_id) == 0
    assert collector.count("device_id = ?", other) == 3


def test_the_privacy_window_does_its_file_and_database_work_off_the_gui_thread(
    qtbot: QtBot, harness: Harness, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    client = harness.client(key="refused-key")  # nothing leaves: everything stays local
    for n in range(5):
        client.track("heartbeat", heartbeat(n))
    qtbot.waitUntil(lambda: _outbox_count(client) == 5, timeout=TIMEOUT_MS)
    window = harness.controls(client, key="refused-key").open_privacy()
    model = window.model
    # Showing the window only asks for a read: it comes back later, through the event loop,
    # so the GUI thread never waits on SQLite.
    assert window.read_call.running
    assert model.rowCount() == 0
    qtbot.waitUntil(lambda: model.rowCount() == 5, timeout=TIMEOUT_MS)
    qtbot.waitUntil(lambda: not window.read_call.running, timeout=TIMEOUT_MS)

    # An unchanged outbox is not read (and counted) again at every poll.
    with qtbot.waitSignal(window.read_call.finished, timeout=TIMEOUT_MS) as unchanged:
        window.refresh()
    assert unchanged.args[0][1] is None

    # Export: the file is written by the worker; a failed write is reported, not raised.
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where a folder should be")
    with qtbot.waitSignal(window.export_call.finished, timeout=TIMEOUT_MS):
        window.export_to(blocker / "export.json")
        assert window.result.text().startswith("Exporting to")
    assert window.result.text().startswith(f"Could not export to {blocker / 'export.json'}: ")
    assert "could not export local telemetry data" in caplog.text
    assert window.export_button.isEnabled()

    # Purge: the writer thread purges and VACUUMs; the window only hears that it is done.
    with qtbot.waitSignal(window.purge_call.finished, timeout=TIMEOUT_MS) as purged:
        window.delete_local_data()
        assert window.result.text() == "Deleting local data…"
        assert not window.delete_local_button.isEnabled()
    assert purged.args == [True]
    assert window.result.text() == "Local data deleted."
    assert _outbox_count(client) == 0
    assert model.rowCount() == 0


def test_the_feed_on_screen_before_consent_is_recorded_once_the_viewer_opts_in(
    qtbot: QtBot, harness: Harness, window: MainWindow
) -> None:
    client = harness.client(asks_first=True)
    clock = Clock()
    home = HomeView(client.track, clock=clock)
    window.set_home(home)
    window.resize(1000, 560)
    catalog = load_sample_catalog()
    feed = build_feed(catalog, [], seed=11)
    home.show_feed(feed, catalog.by_id())  # the catalog loaded before the viewer answered
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=3000)
    home.monitor.run_pass()
    clock.now += 1500
    home.monitor.poll()
    first = home.rows[0].tile_model.tile(0).ref
    assert home.tracker.has_impression(first)  # it qualified while nothing was recorded

    controls = harness.controls(client)
    controls.recording_started.connect(home.recording_started)  # as the app wires it
    dialog = controls.ask_consent_if_needed()
    assert dialog is not None
    qtbot.waitUntil(dialog.isVisible)
    qtbot.mouseClick(dialog.share, Qt.MouseButton.LeftButton)
    opted_in = clock.now
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=3000)
    home.monitor.run_pass()
    clock.now += 1500
    home.monitor.poll()
    home.shutdown()  # ends the open spans

    # A play of that tile now joins to its impression and to the served feed.
    impression_id = home.tracker.impression_id(first)
    assert client.flush(5.0)
    events = [local.event for local in client.outbox.local_events(1000)]
    served = [e["properties"] for e in events if e["type"] == "feed_served"]
    impressions = {
        e["properties"]["impression_id"]: e["properties"]  # type: ignore[index]
        for e in events
        if e["type"] == "impression"
    }
    assert [p["request_id"] for p in served] == [feed.request_id]  # type: ignore[index]
    assert impressions[impression_id]["request_id"] == feed.request_id
    assert impressions[impression_id]["video_id"] == first.video_id
    # What was seen before the opt-in is not recorded: every span starts after it.
    spans = [e["properties"] for e in events if e["type"] == "tile_visibility"]
    assert spans
    assert all(s["start_mono"] >= opted_in for s in spans)  # type: ignore[index]
