"""`reelscope` as a user starts it: a process, its exit code and what it prints."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

from telemetry.client.outbox_reader import OutboxReader

from ..running_app import RunningApp
from ..telemetry.waiting import wait_until

CLIP = str(Path(__file__).resolve().parents[2] / "resources" / "samples" / "colour-bars.mp4")


def _run(*args: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ui.app", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen", "REELSCOPE_AOUT": "dummy", **env},
    )


def test_missing_libvlc_names_the_packages_to_install() -> None:
    result = _run(env={"PYTHON_VLC_LIB_PATH": "/nonexistent/libvlc.so.5"})
    assert result.returncode == 1
    assert "sudo apt-get install libvlc5 vlc-plugin-base vlc-plugin-video-output" in result.stderr
    assert "Traceback" not in result.stderr


def test_reelscope_file_shows_the_window_then_the_first_picture() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "ui.app", CLIP],
        stderr=subprocess.PIPE,
        text=True,
        env={
            **os.environ,
            "QT_QPA_PLATFORM": "offscreen",
            "REELSCOPE_AOUT": "dummy",
            "REELSCOPE_LOG": "info",
        },
    )
    assert process.stderr is not None
    lines: list[str] = []
    try:
        for line in process.stderr:
            lines.append(line)
            if "first picture after" in line:
                break
    finally:
        process.kill()
        process.wait(timeout=10)
        process.stderr.close()
    text = "".join(lines)
    assert "window shown after" in text
    assert "first picture after" in text
    assert "Traceback" not in text


def test_sigterm_closes_like_the_viewer_would(tmp_path: Path) -> None:
    # A logout or `kill` must end the play session as app_exit, not leave a crash behind.
    state = tmp_path / "state"
    process = subprocess.Popen(
        [sys.executable, "-m", "ui.app", CLIP],
        stderr=subprocess.PIPE,
        text=True,
        env={
            **os.environ,
            "QT_QPA_PLATFORM": "offscreen",
            "REELSCOPE_AOUT": "dummy",
            "REELSCOPE_LOG": "info",
            "XDG_STATE_HOME": str(state),
        },
    )
    assert process.stderr is not None
    try:
        for line in process.stderr:
            if "first picture after" in line:
                break
        journals = state / "reelscope" / "sessions"
        assert any(journals.iterdir())  # a live play session keeps a journal
        process.send_signal(signal.SIGTERM)
        rest = process.stderr.read()
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
        process.stderr.close()
    assert "closing on signal" in rest
    assert "Traceback" not in rest
    assert not any(journals.iterdir())  # the session ended: nothing to recover next launch


def _app_env(tmp_path: Path) -> dict[str, str]:
    """A viewer who opted in, with private user dirs and a collector that is not there (every
    event stays in the outbox, where the test reads it)."""
    config = tmp_path / "config"
    (config / "reelscope").mkdir(parents=True, exist_ok=True)
    (config / "reelscope" / "telemetry.json").write_text(
        json.dumps({"enabled": True, "device_id": "app-test-device"})
    )
    return {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "REELSCOPE_AOUT": "dummy",
        "REELSCOPE_LOG": "info",
        "REELSCOPE_COLLECTOR_URL": "http://127.0.0.1:9",
        "XDG_CONFIG_HOME": str(config),
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
    }


def _outbox(tmp_path: Path) -> list[dict[str, object]]:
    """Every event in the app's outbox, oldest first (pending or already answered)."""
    path = tmp_path / "state" / "reelscope" / "telemetry" / "outbox.sqlite3"
    return [local.event for local in reversed(OutboxReader(path).local_events(10_000))]


def _session_ends(tmp_path: Path) -> list[tuple[str, str]]:
    """(play session id, reason) of every `session_end` in the outbox."""
    ends = []
    for event in _outbox(tmp_path):
        properties = event["properties"]
        assert isinstance(properties, dict)
        if event["type"] == "session_end":
            ends.append((str(properties["play_session_id"]), str(properties["reason"])))
    return ends


def _playing(tmp_path: Path) -> RunningApp:
    """`reelscope CLIP`, once start-up has finished (crash recovery included) and what it
    recorded after the recovery (the first feed) is committed."""
    app = RunningApp([sys.executable, "-m", "ui.app", CLIP], _app_env(tmp_path))
    app.wait_for(re.compile("first picture after"), 60)
    app.wait_for(re.compile("start-up finished after"), 60)
    wait_until(
        lambda: any(e["type"] == "feed_served" for e in _outbox(tmp_path)),
        timeout=30,
        what="the first feed committed",
    )
    return app


def test_the_title_playing_at_start_up_is_not_taken_for_a_crash(tmp_path: Path) -> None:
    app = _playing(tmp_path)
    try:
        (request,) = [e for e in _outbox(tmp_path) if e["type"] == "play_request"]
        assert _session_ends(tmp_path) == []  # still playing: no end of any kind
    finally:
        log = app.finish()  # SIGTERM: the viewer's way of closing, as on logout
    assert app.process.returncode == 0, log
    properties = request["properties"]
    assert isinstance(properties, dict)
    assert _session_ends(tmp_path) == [(properties["play_session_id"], "app_exit")]
    assert not any((tmp_path / "state" / "reelscope" / "sessions").iterdir())


def test_a_killed_session_gets_one_crash_recovered_end_at_the_next_start(tmp_path: Path) -> None:
    app = _playing(tmp_path)
    try:
        (request,) = [e for e in _outbox(tmp_path) if e["type"] == "play_request"]
        assert _session_ends(tmp_path) == []
        os.kill(app.process.pid, signal.SIGKILL)
        assert app.process.wait(10) == -signal.SIGKILL
    finally:
        app.finish()
    properties = request["properties"]
    assert isinstance(properties, dict)
    killed = properties["play_session_id"]

    relaunched = RunningApp([sys.executable, "-m", "ui.app"], _app_env(tmp_path))
    try:
        relaunched.wait_for(re.compile(f"recovered play session {killed}"), 60)
        relaunched.wait_for(re.compile("start-up finished after"), 60)
    finally:
        log = relaunched.finish()
    assert relaunched.process.returncode == 0, log
    assert _session_ends(tmp_path) == [(killed, "crash_recovered")]
    assert not any((tmp_path / "state" / "reelscope" / "sessions").iterdir())
