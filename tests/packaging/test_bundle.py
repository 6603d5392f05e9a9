"""The built Linux bundle (`make bundle`), run as a user would: `make bundle-test`.

It starts offscreen with the system's libVLC hidden from it (a private mount namespace masks
the system libvlc, libvlccore and plugin folder), plays a sample clip to its end, and maps no
libVLC file from outside the bundle even when the system's copy is there to be found. A copy of
the bundle without its libVLC refuses to start. The start-up figures beside the app run from
source are printed for the record.
"""

from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ..running_app import RunningApp

pytestmark = pytest.mark.bundle

REPO = Path(__file__).resolve().parents[2]
BUNDLE = REPO / "dist" / "reelscope"
SAMPLE = REPO / "resources" / "samples" / "colour-bars.mp4"  # 8 s
SYSTEM_LIBDIR = Path("/usr/lib/x86_64-linux-gnu")
LIBVLC_FILE = re.compile(r"/(libvlc\.so|libvlccore\.so|lib\w+_plugin\.so)|/vlc/plugins/")
END_OF_CLIP = re.compile(r"played .* to its end")
START_DEADLINE_S = 30.0
PLAY_DEADLINE_S = 30.0 + 8.0


def _env(tmp_path: Path) -> dict[str, str]:
    """Offscreen, dummy audio, INFO log, private user dirs; no library path from the caller."""
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700, exist_ok=True)
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("LD_LIBRARY_PATH", "PYTHON_VLC_LIB_PATH", "VLC_PLUGIN_PATH")
    }
    env.update(
        QT_QPA_PLATFORM="offscreen",
        REELSCOPE_AOUT="dummy",
        REELSCOPE_LOG="info",
        XDG_RUNTIME_DIR=str(runtime),
        HOME=str(tmp_path),
        XDG_CONFIG_HOME=str(tmp_path / "config"),
        XDG_STATE_HOME=str(tmp_path / "state"),
        XDG_CACHE_HOME=str(tmp_path / "cache"),
        XDG_DATA_HOME=str(tmp_path / "data"),
    )
    return env


def _hide_system_libvlc(command: list[str], empty: Path) -> list[str]:
    """`command` in a private mount namespace where the system's libVLC cannot be loaded."""
    masks = [f"mount --bind {empty} {SYSTEM_LIBDIR / 'vlc'}"] + [
        f"mount --bind /dev/null {(SYSTEM_LIBDIR / name).resolve()}"
        for name in ("libvlc.so.5", "libvlccore.so.9")
    ]
    script = " && ".join([*masks, 'exec "$@"'])
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", *command]


@pytest.fixture(scope="module")
def bundle() -> Path:
    executable = BUNDLE / "reelscope"
    if not executable.is_file():
        pytest.fail(f"no bundle at {BUNDLE}: `make bundle` builds it")
    return executable


def test_bundle_plays_a_clip_to_its_end_with_the_system_libvlc_hidden(
    bundle: Path, tmp_path: Path
) -> None:
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("hiding the system libVLC needs root and unshare (a mount namespace)")
    empty = tmp_path / "empty"
    empty.mkdir()
    probe = subprocess.run(
        _hide_system_libvlc(
            [sys.executable, "-c", "import ctypes; ctypes.CDLL('libvlc.so.5')"], empty
        ),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert probe.returncode != 0, "the system libVLC was still loadable in the namespace"

    app = RunningApp(_hide_system_libvlc([str(bundle), str(SAMPLE)], empty), _env(tmp_path))
    try:
        app.wait_for(re.compile("first picture after"), START_DEADLINE_S)
        app.wait_for(END_OF_CLIP, PLAY_DEADLINE_S)
    finally:
        app.finish()


def test_bundle_maps_only_its_own_libvlc_when_the_system_one_is_there(
    bundle: Path, tmp_path: Path
) -> None:
    assert (SYSTEM_LIBDIR / "libvlc.so.5").exists(), "this check needs a system libVLC to ignore"
    app = RunningApp([str(bundle), str(SAMPLE)], _env(tmp_path))
    try:
        app.wait_for(re.compile("first picture after"), START_DEADLINE_S)
        libvlc_files = {path for path in app.mapped_files() if LIBVLC_FILE.search(path)}
        app.wait_for(END_OF_CLIP, PLAY_DEADLINE_S)
    finally:
        app.finish()

    inside = str(BUNDLE / "_internal") + "/"
    assert any("/libvlccore.so" in path for path in libvlc_files)
    assert any("/video_output/" in path for path in libvlc_files)
    assert not [path for path in libvlc_files if not path.startswith(inside)]


@pytest.mark.parametrize("missing", ["libvlc.so.5", "libvlccore.so.9"])
def test_bundle_without_its_libvlc_refuses_to_start(
    bundle: Path, tmp_path: Path, missing: str
) -> None:
    # A hard-linked copy costs no space; removing a link leaves the real bundle whole.
    broken = tmp_path / "reelscope"
    subprocess.run(["cp", "-al", str(BUNDLE), str(broken)], check=True)
    library = broken / "_internal" / missing
    library.resolve().unlink()
    library.unlink()

    app = RunningApp([str(broken / "reelscope"), str(SAMPLE)], _env(tmp_path))
    try:
        returncode = app.process.wait(timeout=START_DEADLINE_S)
    finally:
        log = app.finish()

    assert returncode == 1, log
    assert f"Reelscope cannot start: its copy of libVLC ({library}) is missing" in log
    assert "will not use another libVLC installed on the system" in log


def _startup_ms(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Milliseconds from exec to the window shown, and to the clip's first picture."""
    started = time.monotonic()
    app = RunningApp([*command, str(SAMPLE)], env)
    try:
        app.wait_for(re.compile("window shown after"), START_DEADLINE_S)
        shown = (time.monotonic() - started) * 1000
        app.wait_for(re.compile("first picture after"), START_DEADLINE_S)
        picture = (time.monotonic() - started) * 1000
    finally:
        app.finish()
    return shown, picture


def test_bundle_starts_about_as_fast_as_the_app_run_from_source(
    bundle: Path, tmp_path: Path
) -> None:
    env = _env(tmp_path)
    runs = 3
    commands = {"bundle": [str(bundle)], "source": [sys.executable, "-m", "ui.app"]}
    medians: dict[str, tuple[float, float]] = {}
    for name, command in commands.items():
        _startup_ms(command, env)  # warms the page cache, as a user's second start would be
        samples = [_startup_ms(command, env) for _ in range(runs)]
        medians[name] = (
            statistics.median(s for s, _ in samples),
            statistics.median(p for _, p in samples),
        )
        print(
            f"\n{name}: window shown {medians[name][0]:.0f} ms, "
            f"first picture {medians[name][1]:.0f} ms (median of {runs}, warm)"
        )

    # Unpacking nothing (one-folder), the bundle should not start much slower than source.
    assert medians["bundle"][0] < 2 * medians["source"][0] + 1000
