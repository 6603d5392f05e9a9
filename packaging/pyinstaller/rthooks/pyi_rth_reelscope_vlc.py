"""Runtime hook: makes python-vlc and libVLC use the copies inside the bundle, and only those.

Runs in the frozen app before any of its modules. python-vlc reads `PYTHON_VLC_LIB_PATH` (the
library) and `PYTHON_VLC_MODULE_PATH` (plugins, which it passes on as `VLC_PLUGIN_PATH`) at
import; libVLC reads `VLC_PLUGIN_PATH`. A bundle whose libVLC copy is missing must not quietly
load the system's instead (another version, other plugins, other codecs): it stops with a
message and exit status 1. Main thread, once.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

EXIT_BROKEN_BUNDLE = 1
# libVLC and libvlccore, per platform: both are checked, because a bundled libVLC whose
# libvlccore is missing would have the dynamic linker find the system's libvlccore instead.
LIBRARIES = {
    "linux": ("libvlc.so.5", "libvlccore.so.9"),
    "win32": ("libvlc.dll", "libvlccore.dll"),
    "darwin": ("libvlc.dylib", "libvlccore.dylib"),
}


def _refuse(problem: str) -> None:
    sys.stderr.write(
        f"Reelscope cannot start: {problem}\n"
        "This copy of Reelscope is incomplete; it will not use another libVLC installed on the "
        "system. Download and unpack Reelscope again.\n"
    )
    sys.exit(EXIT_BROKEN_BUNDLE)


def point_at_bundled_libvlc() -> None:
    """Sets python-vlc's and libVLC's paths to the bundle's copies; exits if they are missing."""
    bundle = Path(getattr(sys, "_MEIPASS", ""))
    names = next(
        (libs for prefix, libs in LIBRARIES.items() if sys.platform.startswith(prefix)),
        LIBRARIES["linux"],
    )
    for name in names:
        if not (bundle / name).is_file():
            _refuse(f"its copy of libVLC ({bundle / name}) is missing")
    library = bundle / names[0]
    plugins = bundle / "libvlc" / "plugins"
    if not plugins.is_dir():
        _refuse(f"its libVLC plugins ({plugins}) are missing")
    # Set, not setdefault: a PYTHON_VLC_LIB_PATH or VLC_PLUGIN_PATH left in the user's
    # environment for a system VLC must not reach into the bundle.
    os.environ["PYTHON_VLC_LIB_PATH"] = str(library)
    os.environ["PYTHON_VLC_MODULE_PATH"] = str(plugins)
    os.environ["VLC_PLUGIN_PATH"] = str(plugins)


if getattr(sys, "frozen", False):
    point_at_bundled_libvlc()
