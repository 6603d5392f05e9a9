"""The bundle's runtime hook: bundled libVLC paths, and no fallback to a system libVLC.

The hook runs in a child Python dressed as a frozen app (`sys.frozen`, `sys._MEIPASS`), as
PyInstaller's bootloader would run it; `test_bundle.py` checks the same in the real bundle.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
HOOK = REPO / "packaging" / "pyinstaller" / "rthooks" / "pyi_rth_reelscope_vlc.py"
VARIABLES = ("PYTHON_VLC_LIB_PATH", "PYTHON_VLC_MODULE_PATH", "VLC_PLUGIN_PATH")
SYSTEM_LIBVLC = "/usr/lib/x86_64-linux-gnu/libvlc.so.5"


def _run_hook(bundle: Path | None) -> subprocess.CompletedProcess[str]:
    frozen = "" if bundle is None else f"sys.frozen = True; sys._MEIPASS = {str(bundle)!r}; "
    code = (
        f"import json, os, runpy, sys; {frozen}"
        f"runpy.run_path({str(HOOK)!r}); "
        f"print(json.dumps({{k: os.environ.get(k) for k in {VARIABLES!r}}}))"
    )
    env = {**os.environ, "PYTHON_VLC_LIB_PATH": SYSTEM_LIBVLC, "VLC_PLUGIN_PATH": "/usr/lib"}
    return subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )


def _fake_bundle(root: Path, *, without: str | None = None) -> Path:
    (root / "libvlc" / "plugins").mkdir(parents=True)
    for name in ("libvlc.so.5", "libvlccore.so.9"):
        (root / name).write_bytes(b"")
    if without is not None:
        target = root / without
        if target.is_dir():
            target.rmdir()
        else:
            target.unlink()
    return root


def test_inside_a_bundle_the_hook_points_python_vlc_and_libvlc_at_the_bundled_copies(
    tmp_path: Path,
) -> None:
    bundle = _fake_bundle(tmp_path)

    result = _run_hook(bundle)

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "PYTHON_VLC_LIB_PATH": str(bundle / "libvlc.so.5"),
        "PYTHON_VLC_MODULE_PATH": str(bundle / "libvlc" / "plugins"),
        "VLC_PLUGIN_PATH": str(bundle / "libvlc" / "plugins"),
    }


def test_a_bundle_missing_libvlc_refuses_to_use_the_system_one(tmp_path: Path) -> None:
    for missing in ("libvlc.so.5", "libvlccore.so.9", "libvlc/plugins"):
        bundle = _fake_bundle(tmp_path / missing.replace("/", "-"), without=missing)

        result = _run_hook(bundle)

        assert result.returncode == 1, (missing, result.stdout)
        assert "Reelscope cannot start" in result.stderr
        assert "will not use another libVLC installed on the system" in result.stderr
        assert str(bundle / missing) in result.stderr


def test_outside_a_bundle_the_hook_leaves_the_environment_alone() -> None:
    result = _run_hook(None)

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "PYTHON_VLC_LIB_PATH": SYSTEM_LIBVLC,
        "PYTHON_VLC_MODULE_PATH": None,
        "VLC_PLUGIN_PATH": "/usr/lib",
    }
