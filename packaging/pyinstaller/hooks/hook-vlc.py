"""PyInstaller hook for python-vlc: bundles libVLC, libvlccore and the plugins Reelscope uses.

python-vlc opens libVLC with ctypes when it is imported, which PyInstaller's analysis cannot
see, so this hook names the libraries itself: the copies the build machine loads (Debian's
libvlc5 and libvlccore9) go to the bundle's top-level folder, their plugins to
`libvlc/plugins/<group>/`. PyInstaller then collects what those depend on (FFmpeg, codecs,
xcb). `rthooks/pyi_rth_reelscope_vlc.py` points python-vlc and libVLC at these copies.

The plugins sit under `libvlc/`, not `vlc/`: libvlccore also scans `<its folder>/vlc/plugins`
on its own, and one folder scanned twice would load every plugin twice. Linux only; Windows and
macOS builds take libVLC from the VLC release they name (see packaging/README.md).
"""

from __future__ import annotations

import ctypes
import sys
from pathlib import Path

# Plugin groups a libVLC embedded in a Qt window never loads: VLC's own interfaces and
# remote controls, Lua scripting (playlist parsers for web sites, extensions), network service
# discovery, and the streaming/transcoding output chain.
UNUSED_PLUGIN_GROUPS = frozenset(
    {
        "gui",
        "lua",
        "control",
        "services_discovery",
        "stream_out",
        "access_output",
        "mux",
        "visualization",
        "video_splitter",
    }
)
# Encoders, used only by the dropped transcoding chain (x264/x265 are large and GPL-only); the
# ASCII-art video outputs, which libVLC falls back to without a display and which crash there;
# SDL_image, whose formats the avcodec, png and jpeg decoders cover.
UNUSED_PLUGIN_FILES = frozenset(
    {
        "libaa_plugin.so",
        "libcaca_plugin.so",
        "libsdl_image_plugin.so",
        "libx264_plugin.so",
        "libx26410b_plugin.so",
        "libx265_plugin.so",
        "libshine_plugin.so",
        "libtwolame_plugin.so",
    }
)
LIBVLC = "libvlc.so.5"
LIBVLCCORE = "libvlccore.so.9"
BUNDLED_PLUGIN_DIR = "libvlc/plugins"


def _loaded_path(soname: str) -> Path:
    """Where the dynamic linker finds `soname` on this machine (as it would for python-vlc)."""
    ctypes.CDLL(soname)
    for line in Path("/proc/self/maps").read_text().splitlines():
        if line.endswith("/" + soname) or f"/{soname}." in line:
            return Path(line.split(maxsplit=5)[-1]).resolve()
    raise SystemExit(f"hook-vlc: {soname} loaded but not found in /proc/self/maps")


def _collect() -> list[tuple[str, str]]:
    if not sys.platform.startswith("linux"):
        raise SystemExit("hook-vlc: the Linux bundle is built on Linux (see packaging/README.md)")
    try:
        libvlc, libvlccore = _loaded_path(LIBVLC), _loaded_path(LIBVLCCORE)
    except OSError as exc:
        raise SystemExit(f"hook-vlc: libVLC is not installed ({exc}); see system-deps.sh") from exc
    plugin_root = libvlccore.parent / "vlc" / "plugins"
    collected = [(str(libvlc), "."), (str(libvlccore), ".")]
    for plugin in sorted(plugin_root.glob("*/*.so")):
        group = plugin.parent.name
        if group not in UNUSED_PLUGIN_GROUPS and plugin.name not in UNUSED_PLUGIN_FILES:
            collected.append((str(plugin), f"{BUNDLED_PLUGIN_DIR}/{group}"))
    return collected


binaries = _collect()
