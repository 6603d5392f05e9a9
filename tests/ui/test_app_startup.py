"""`reelscope` as a user starts it: a process, its exit code and what it prints."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

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
