"""`reelscope` as a user starts it: a process, its exit code and what it prints."""

from __future__ import annotations

import os
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
