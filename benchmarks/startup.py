"""Start-up benchmark: Reelscope beside a bare python-vlc + PySide6 script, same file, same run.

Measures, over N cold process starts each (median reported):
- spawn -> main window shown;
- spawn -> first picture (libVLC's Vout event) for `reelscope FILE`.
The bare script is the least a PySide6 app embedding libVLC can do: import both, show a
window with a native video frame, play the file into it. Both run under one Xvfb server with
the xcb platform (started here when there is no DISPLAY), audio to libVLC's dummy output.

Usage: python -m benchmarks.startup [--runs 5] [--clip PATH]
"""

from __future__ import annotations

import argparse
import compileall
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "results"

BARE = r"""
import sys, time
t0 = float(sys.argv[2])
import vlc
from PySide6.QtCore import Qt, QObject, Signal
from PySide6.QtWidgets import QApplication, QFrame
app = QApplication([])
frame = QFrame()
frame.setAttribute(Qt.WidgetAttribute.WA_NativeWindow)
frame.resize(1100, 620)
frame.show()
print(f"shown {(time.time() - t0) * 1000:.1f}", file=sys.stderr, flush=True)
instance = vlc.Instance(["--aout=dummy"])
player = instance.media_player_new()
player.set_xwindow(int(frame.winId()))
player.set_media(instance.media_new_path(sys.argv[1]))
def on_vout(event):
    print(f"first {(time.time() - t0) * 1000:.1f}", file=sys.stderr, flush=True)
player.event_manager().event_attach(vlc.EventType.MediaPlayerVout, on_vout)
player.play()
app.exec()
"""


@contextlib.contextmanager
def display() -> Iterator[dict[str, str]]:
    """An X display for the children: the current one, or a private Xvfb."""
    if os.environ.get("DISPLAY"):
        yield {}
        return
    if shutil.which("Xvfb") is None:
        sys.exit("needs an X display or Xvfb (apt-get install xvfb)")
    number = 90 + os.getpid() % 100
    server = subprocess.Popen(
        ["Xvfb", f":{number}", "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while not Path(f"/tmp/.X11-unix/X{number}").exists():
        if time.monotonic() > deadline:
            server.kill()
            sys.exit("Xvfb did not start")
        time.sleep(0.05)
    try:
        yield {"DISPLAY": f":{number}"}
    finally:
        server.terminate()
        server.wait(timeout=10)


def run_once(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(ms to window shown, ms to first picture) for one cold start, from spawn."""
    started = time.time()
    process = subprocess.Popen(
        [part.replace("{t0}", repr(started)) for part in command],
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **env},
    )
    assert process.stderr is not None
    shown = first = float("nan")
    try:
        for line in process.stderr:
            now = (time.time() - started) * 1000
            if "window shown after" in line or line.startswith("shown "):
                shown = now
            elif "first picture after" in line or line.startswith("first "):
                first = now
                break
    finally:
        process.kill()
        process.wait(timeout=10)
        process.stderr.close()
    return shown, first


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--clip", default=str(REPO / "resources/samples/colour-bars.mp4"))
    args = parser.parse_args()
    common = {"QT_QPA_PLATFORM": "xcb", "REELSCOPE_AOUT": "dummy", "REELSCOPE_LOG": "info"}
    # Installed apps (a wheel, the bundle) carry bytecode, and the bare script's imports all
    # come from site-packages, compiled by pip. This machine sets PYTHONDONTWRITEBYTECODE, so
    # without this step every cold start would compile Reelscope's own modules again.
    for package in ("player", "telemetry", "ui"):
        compileall.compile_dir(REPO / package, quiet=1)
    contenders = {
        "reelscope": [sys.executable, "-m", "ui.app", args.clip],
        "bare python-vlc": [sys.executable, "-c", BARE, args.clip, "{t0}"],
    }
    results: dict[str, dict[str, list[float]]] = {
        name: {"shown": [], "first": []} for name in contenders
    }
    with display() as extra:
        env = {**common, **extra}
        for command in contenders.values():
            run_once(command, env)  # warm the page cache: later runs compare like with like
        for _ in range(args.runs):
            for name, command in contenders.items():
                shown, first = run_once(command, env)
                results[name]["shown"].append(shown)
                results[name]["first"].append(first)
    medians = {
        name: {key: statistics.median(values) for key, values in series.items()}
        for name, series in results.items()
    }
    print(f"Start-up, median of {args.runs} cold starts each (ms from spawn), Xvfb + xcb")
    print(f"{'':18} {'window shown':>14} {'first picture':>14}")
    for name, values in medians.items():
        print(f"{name:18} {values['shown']:14.0f} {values['first']:14.0f}")
    ours, bare = medians["reelscope"], medians["bare python-vlc"]
    ratios = {key: ours[key] / bare[key] for key in ("shown", "first")}
    print(f"{'ratio':18} {ratios['shown']:14.2f} {ratios['first']:14.2f}   (goal <= 1.2)")
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / "startup.json"
    out.write_text(json.dumps({"runs": results, "medians": medians, "ratios": ratios}, indent=2))
    print(f"saved {out.relative_to(REPO)}")


if __name__ == "__main__":
    main()
