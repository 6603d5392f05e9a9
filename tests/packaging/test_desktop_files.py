"""The Linux desktop files: validators, one app id everywhere, icons, the per-user install."""

from __future__ import annotations

import configparser
import os
import shutil
import struct
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from player.paths import APP_ID

REPO = Path(__file__).resolve().parents[2]
LINUX = REPO / "packaging" / "linux"
DESKTOP = LINUX / f"{APP_ID}.desktop"
METAINFO = LINUX / f"{APP_ID}.metainfo.xml"
ICON_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is missing: `packaging/system-deps.sh test` installs it")
    return path


def _desktop_entry(path: Path) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # type: ignore[assignment,method-assign] - keys are case-sensitive
    parser.read(path, encoding="utf-8")
    return parser["Desktop Entry"]


def _png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", path
    width, height = struct.unpack(">II", header[16:24])
    return width, height


def _assert_desktop_file_valid(path: Path) -> None:
    """desktop-file-validate prints hints as well as errors: a clean file gets no output."""
    result = subprocess.run([_tool("desktop-file-validate"), str(path)], capture_output=True)
    assert result.returncode == 0, result.stdout.decode()
    assert not result.stdout, result.stdout.decode()


def test_desktop_file_passes_desktop_file_validate() -> None:
    _assert_desktop_file_valid(DESKTOP)


def test_metainfo_passes_appstreamcli_validate() -> None:
    result = subprocess.run(
        [_tool("appstreamcli"), "validate", "--no-net", str(METAINFO)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    problems = [line for line in result.stdout.splitlines() if line.startswith(("E:", "W:"))]
    assert not problems, result.stdout


def test_one_app_id_names_the_launcher_metadata_and_icon() -> None:
    entry = _desktop_entry(DESKTOP)
    assert entry["Icon"] == APP_ID
    assert entry["Exec"] == "reelscope %F"
    assert entry["Categories"].split(";")[:3] == ["AudioVideo", "Video", "Player"]
    assert {"video/mp4", "video/x-matroska", "video/webm"} <= set(entry["MimeType"].split(";"))
    component = ET.parse(METAINFO).getroot()
    assert component.findtext("id") == APP_ID
    assert component.findtext("launchable") == f"{APP_ID}.desktop"


def test_hicolor_icons_are_rendered_at_each_size_beside_the_scalable_one() -> None:
    hicolor = LINUX / "icons" / "hicolor"
    for size in ICON_SIZES:
        assert _png_size(hicolor / f"{size}x{size}" / "apps" / f"{APP_ID}.png") == (size, size)
    scalable = hicolor / "scalable" / "apps" / f"{APP_ID}.svg"
    assert scalable.resolve() == REPO / "resources" / "icons" / f"{APP_ID}.svg"
    assert ET.parse(scalable).getroot().tag == "{http://www.w3.org/2000/svg}svg"


def test_install_desktop_installs_a_valid_launcher_for_the_user_and_removes_it(
    tmp_path: Path,
) -> None:
    app = tmp_path / "my apps" / "reelscope"
    app.parent.mkdir()
    app.write_text("#!/bin/sh\n")
    app.chmod(0o755)
    data = tmp_path / "data"
    env = {**os.environ, "XDG_DATA_HOME": str(data)}
    script = LINUX / "install-desktop.sh"

    subprocess.run([str(script), str(app)], env=env, check=True, capture_output=True)

    installed = data / "applications" / f"{APP_ID}.desktop"
    assert _desktop_entry(installed)["Exec"] == f'"{app}" %F'
    _assert_desktop_file_valid(installed)
    assert (data / "metainfo" / f"{APP_ID}.metainfo.xml").is_file()
    assert (data / "icons/hicolor/scalable/apps" / f"{APP_ID}.svg").is_file()
    assert (data / "icons/hicolor/48x48/apps" / f"{APP_ID}.png").is_file()

    subprocess.run([str(script), "--uninstall"], env=env, check=True, capture_output=True)
    assert not installed.exists()
    assert not list((data / "icons").rglob(f"{APP_ID}.*"))
