"""Builds the Linux one-folder bundle and its archive: `make bundle`.

Owns the steps around PyInstaller (`packaging/pyinstaller/reelscope.spec`): libVLC's plugin
cache for the bundled plugins, the desktop-integration folder, the third-party notices with
the licence texts of everything bundled, and `dist/reelscope-<version>-linux-x86_64.tar.gz`.
Prints the build time and the sizes. Run with the venv's Python, from anywhere.
"""

from __future__ import annotations

import json
import platform
import re
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import time
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DIST = ROOT / "dist"
WORK = ROOT / "build" / "pyinstaller"
BUNDLE = DIST / "reelscope"
SPEC = ROOT / "packaging" / "pyinstaller" / "reelscope.spec"
# libVLC's plugin cache generator, from Debian's libvlc-bin.
VLC_CACHE_GEN = Path("/usr/lib/x86_64-linux-gnu/vlc/vlc-cache-gen")
# Licence texts the notices refer to (Qt's wheel ships none of its own), from base-files.
COMMON_LICENSES = ("LGPL-2.1", "LGPL-3", "GPL-2", "GPL-3")
_LICENSE_FILE = re.compile(r"licen[cs]e|copying|notice", re.IGNORECASE)


def version() -> str:
    return metadata.version("reelscope")


def archive_path() -> Path:
    return DIST / f"reelscope-{version()}-linux-{platform.machine()}.tar.gz"


def run_pyinstaller() -> dict[str, list[str]]:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "PyInstaller",
            "--noconfirm",
            "--log-level=WARN",
            f"--distpath={DIST}",
            f"--workpath={WORK}",
            str(SPEC),
        ],
        check=True,
        cwd=ROOT,
    )
    manifest: dict[str, list[str]] = json.loads(
        (WORK / "reelscope" / "bundle-manifest.json").read_text()
    )
    return manifest


def build_plugin_cache() -> None:
    """Without plugins.dat libVLC opens every plugin at each start to learn what it offers."""
    plugins = BUNDLE / "_internal" / "libvlc" / "plugins"
    subprocess.run([str(VLC_CACHE_GEN), str(plugins)], check=True)


def add_desktop_integration() -> None:
    """The launcher, icons and metadata, with the script that installs them for the user."""
    shutil.copytree(ROOT / "packaging" / "linux", BUNDLE / "desktop", symlinks=False)


def _debian_packages(paths: list[str]) -> set[str]:
    """The Debian packages that installed these files (asked under either side of the /usr
    merge, since dpkg knows each file under the name its package used)."""
    candidates: set[str] = set()
    for path in paths:
        for name in (path, str(Path(path).resolve())):
            candidates.add(name)
            if name.startswith("/usr/lib/"):
                candidates.add(name.removeprefix("/usr"))
            elif name.startswith("/lib/"):
                candidates.add("/usr" + name)
    # One dpkg call for all: it prints "package: path" for the files it knows, and an error
    # (ignored) for the others, such as the wheels' copies of Qt and the interpreter's own.
    found = subprocess.run(["dpkg", "-S", *sorted(candidates)], capture_output=True, text=True)
    packages = set()
    for line in found.stdout.splitlines():
        names = line.split(": ", 1)[0]
        packages.update(name.split(":")[0] for name in names.split(", "))
    return packages


def add_licences(manifest: dict[str, list[str]]) -> None:
    """THIRD-PARTY-NOTICES.md, and under licenses/ the texts of what the bundle carries."""
    licences = BUNDLE / "licenses"
    shutil.rmtree(licences, ignore_errors=True)
    shutil.copy(ROOT / "packaging" / "THIRD-PARTY-NOTICES.md", BUNDLE)
    debian = licences / "debian"
    debian.mkdir(parents=True)
    for package in sorted(_debian_packages(manifest["binaries"])):
        copyright_file = Path("/usr/share/doc") / package / "copyright"
        if copyright_file.is_file():
            shutil.copy(copyright_file, debian / f"{package}.copyright")
    python = licences / "python"
    python.mkdir()
    shutil.copy(Path(sysconfig.get_paths()["stdlib"]) / "LICENSE.txt", python / "Python.txt")
    bundled = set(manifest["packages"])
    owners = metadata.packages_distributions()
    for dist_name in sorted({d for pkg in bundled for d in owners.get(pkg, ())}):
        dist = metadata.distribution(dist_name)
        for file in dist.files or ():
            if _LICENSE_FILE.search(file.name):
                target = python / dist_name / file.name
                target.parent.mkdir(exist_ok=True)
                shutil.copy(Path(str(dist.locate_file(file))), target)
    common = licences / "common"
    common.mkdir()
    for name in COMMON_LICENSES:
        shutil.copy(Path("/usr/share/common-licenses") / name, common / name)


def make_archive() -> Path:
    archive = archive_path()
    archive.unlink(missing_ok=True)
    with tarfile.open(archive, "w:gz", compresslevel=6) as tar:
        tar.add(BUNDLE, arcname=f"reelscope-{version()}")
    return archive


def disk_usage(folder: Path) -> int:
    """Bytes the folder takes on disk (allocated blocks), as `du` counts them."""
    return sum(path.lstat().st_blocks * 512 for path in folder.rglob("*")) + 4096


def main() -> int:
    started = time.monotonic()
    manifest = run_pyinstaller()
    build_plugin_cache()
    add_desktop_integration()
    add_licences(manifest)
    built = time.monotonic()
    archive = make_archive()
    finished = time.monotonic()
    print(f"bundle:  {BUNDLE} ({disk_usage(BUNDLE) / 2**20:.0f} MiB on disk)")
    print(f"archive: {archive} ({archive.stat().st_size / 2**20:.0f} MiB)")
    print(f"time:    build {built - started:.0f} s, archive {finished - built:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
