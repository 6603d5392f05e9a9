"""Linux desktop integration on a private D-Bus session bus started by the test: MPRIS answers
with the title, length, position and status of what plays and obeys play/pause, seek and
next-chapter; the screen saver is inhibited while playing and released on pause. The bus is
spoken to with `dbus-send` in a child process, as a desktop would from outside."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtDBus import QDBusConnection
from pytestqt.qtbot import QtBot

from player.engine import PlaybackState
from ui.main_window import MainWindow
from ui.mpris import MprisService, ScreenSaverInhibitor

from ..telemetry.track_recorder import Recorder
from ..telemetry.waiting import wait_until

SAMPLES = Path(__file__).resolve().parents[2] / "resources" / "samples"
FEATURE_CLIP = str(SAMPLES / "harbour-nights.mkv")  # 150 s, chapters at 0, 37.5, 75, 112.5 s
TIMEOUT_MS = 10_000


@pytest.fixture
def bus_address() -> Iterator[str]:
    started = subprocess.run(
        ["dbus-daemon", "--session", "--print-address=1", "--print-pid=1", "--fork"],
        capture_output=True,
        text=True,
        check=True,
        timeout=10,
    )
    address, pid = started.stdout.split()
    yield address
    subprocess.run(["kill", pid], check=False)


@pytest.fixture
def bus(bus_address: str, request: pytest.FixtureRequest) -> Iterator[QDBusConnection]:
    name = f"reelscope-{request.node.name}"
    connection = QDBusConnection.connectToBus(bus_address, name)
    assert connection.isConnected()
    yield connection
    QDBusConnection.disconnectFromBus(name)


def _dbus_send(qtbot: QtBot, address: str, *arguments: str) -> str:
    """`dbus-send --print-reply` in a child process, the GUI thread serving meanwhile."""
    child = subprocess.Popen(
        ["dbus-send", f"--bus={address}", "--print-reply", *arguments],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    qtbot.waitUntil(lambda: child.poll() is not None, timeout=TIMEOUT_MS)
    output, _ = child.communicate()
    assert child.returncode == 0, output
    return output


@contextlib.contextmanager
def _watching(address: str, rule: str) -> Iterator[list[str]]:
    """The lines `dbus-monitor` prints for messages matching `rule`, as they come."""
    monitor = subprocess.Popen(
        ["dbus-monitor", "--address", address, rule], stdout=subprocess.PIPE, text=True
    )
    lines: list[str] = []
    assert monitor.stdout is not None
    reader = threading.Thread(target=lambda: lines.extend(monitor.stdout or ()), daemon=True)
    reader.start()
    try:
        # It prints the NameAcquired of its own connection once it listens.
        wait_until(lambda: any("NameAcquired" in line for line in lines), what="dbus-monitor")
        yield lines
    finally:
        monitor.kill()
        monitor.wait()
        reader.join(timeout=5)
        monitor.stdout.close()


def _mpris(qtbot: QtBot, address: str, service: str, method: str, *arguments: str) -> str:
    return _dbus_send(
        qtbot, address, f"--dest={service}", "/org/mpris/MediaPlayer2", method, *arguments
    )


def test_mpris_shows_what_plays_and_obeys_the_desktop(
    qtbot: QtBot, window: MainWindow, bus: QDBusConnection, bus_address: str
) -> None:
    recorder = Recorder()
    mpris = MprisService(window, bus_address, parent=window)
    assert mpris.registered
    mpris.viewer_action.connect(
        lambda kind, properties: recorder(kind, {"play_session_id": "p", **properties})
    )
    service = mpris.service_name
    identity = _mpris(
        qtbot, bus_address, service, "org.freedesktop.DBus.Properties.Get",
        "string:org.mpris.MediaPlayer2", "string:Identity",
    )  # fmt: skip
    assert 'string "Reelscope"' in identity
    root = _mpris(
        qtbot, bus_address, service, "org.freedesktop.DBus.Properties.GetAll",
        "string:org.mpris.MediaPlayer2",
    )  # fmt: skip
    for expected in ('"CanQuit"\n         variant             boolean true',
                     '"HasTrackList"\n         variant             boolean false',
                     'string "rtsp"', 'string "video/webm"'):  # fmt: skip
        assert expected in root, root
    methods = _mpris(qtbot, bus_address, service, "org.freedesktop.DBus.Introspectable.Introspect")
    for method in ("Raise", "Quit", "Play", "Pause", "PlayPause", "Stop", "Next", "Previous"):
        assert f'<method name="{method}">' in methods, methods

    with _watching(bus_address, "member='PropertiesChanged'") as announced:
        window.play(FEATURE_CLIP)
        engine = window.player.engine
        qtbot.waitUntil(
            lambda: engine.state is PlaybackState.PLAYING and len(window.watch.chapters) == 4,
            timeout=TIMEOUT_MS,
        )
        # The desktop is told the new Metadata, its length an int64 too.
        length = f"int64 {engine.duration_ms * 1000}"
        qtbot.waitUntil(lambda: length in "".join(announced), timeout=TIMEOUT_MS)
    everything = _mpris(
        qtbot, bus_address, service, "org.freedesktop.DBus.Properties.GetAll",
        "string:org.mpris.MediaPlayer2.Player",
    )  # fmt: skip
    assert 'string "harbour-nights.mkv"' in everything
    # mpris:length in µs, an int64 as MPRIS says even for a title under 35.8 min (2**31 µs).
    assert f"int64 {engine.duration_ms * 1000}\n" in everything, everything
    assert engine.duration_ms * 1000 < 2**31
    assert 'string "Playing"' in everything

    _mpris(qtbot, bus_address, service, "org.mpris.MediaPlayer2.Player.PlayPause")
    qtbot.waitUntil(lambda: engine.state is PlaybackState.PAUSED, timeout=TIMEOUT_MS)
    status = _mpris(
        qtbot, bus_address, service, "org.freedesktop.DBus.Properties.Get",
        "string:org.mpris.MediaPlayer2.Player", "string:PlaybackStatus",
    )  # fmt: skip
    assert 'string "Paused"' in status

    before = engine.position_ms
    with _watching(bus_address, "member='Seeked'") as seen:
        _mpris(qtbot, bus_address, service, "org.mpris.MediaPlayer2.Player.Seek", "int64:20000000")
        qtbot.waitUntil(lambda: engine.position_ms >= before + 19_000, timeout=TIMEOUT_MS)
        # Seeked (x): the desktop's clock jumps to where the seek went.
        qtbot.waitUntil(lambda: "int64 " in "".join(seen), timeout=TIMEOUT_MS)
    [seeked] = [line for line in seen if "int64" in line]
    assert int(seeked.split()[-1]) == (before + 20_000) * 1000
    position = _mpris(
        qtbot, bus_address, service, "org.freedesktop.DBus.Properties.Get",
        "string:org.mpris.MediaPlayer2.Player", "string:Position",
    )  # fmt: skip
    assert "variant       int64 " in position, position
    assert int(position.split()[-1]) >= (before + 19_000) * 1000

    _mpris(qtbot, bus_address, service, "org.mpris.MediaPlayer2.Player.Next")  # next chapter
    qtbot.waitUntil(lambda: 37_500 <= engine.position_ms < 39_000, timeout=TIMEOUT_MS)
    assert [p["command"] for _, p in recorder.events] == ["play_pause", "seek", "next"]


def test_without_a_bus_there_is_no_mpris_and_nothing_breaks(
    tmp_path: Path, window: MainWindow
) -> None:
    mpris = MprisService(window, f"unix:path={tmp_path / 'no-bus'}", parent=window)
    assert not mpris.registered
    window.player.seeking.emit(1000, "key")  # nothing is connected, nothing is sent


def test_the_screen_saver_is_held_off_while_playing_and_released_on_pause(
    qtbot: QtBot, window: MainWindow, bus: QDBusConnection, bus_address: str
) -> None:
    fake = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("fake_screensaver.py")), bus_address],
        stdout=subprocess.PIPE,
        text=True,
    )
    lines: list[list[str]] = []
    assert fake.stdout is not None
    # Read on a thread, so that a call that never comes fails the wait instead of hanging.
    reader = threading.Thread(
        target=lambda: [lines.append(line.split()) for line in fake.stdout or ()], daemon=True
    )
    reader.start()
    try:
        qtbot.waitUntil(lambda: lines == [["ready"]], timeout=TIMEOUT_MS)
        inhibitor = ScreenSaverInhibitor(window, bus, parent=window)
        window.play(FEATURE_CLIP)
        # The fake prints the call after answering it: under load its line can come later.
        qtbot.waitUntil(lambda: inhibitor.inhibited and len(lines) == 2, timeout=TIMEOUT_MS)
        assert lines[1] == ["Inhibit", "Reelscope", "42"]
        window.player.toggle_pause()
        qtbot.waitUntil(lambda: len(lines) == 3, timeout=TIMEOUT_MS)
        assert lines[2] == ["UnInhibit", "42"]
        assert not inhibitor.inhibited
        window.player.toggle_pause()
        qtbot.waitUntil(lambda: inhibitor.inhibited and len(lines) == 4, timeout=TIMEOUT_MS)
        assert lines[3] == ["Inhibit", "Reelscope", "43"]
    finally:
        fake.kill()
        fake.wait()
        reader.join(timeout=5)
        fake.stdout.close()
