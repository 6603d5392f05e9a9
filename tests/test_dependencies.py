"""Each user's dependency set: a collector host (`reelscope[collector]`, `reelscope[scale]`)
pulls no Qt and no libVLC, and the server-side packages really run without what only the app
installs. Checked on the declared sets (pyproject.toml) and by importing every collector,
report, scale-out, recommender and collector-host module in a fresh interpreter where the app's
packages cannot load. (They may use `player`'s Qt-free catalog and feed rules: the feed
service's control variant is the app's own rules.)"""

from __future__ import annotations

import re
import tomllib

from tests.import_check import REPO, assert_imports_without, module_names

PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
# Distribution names (as PyPI spells them) and the import names they provide.
APP_ONLY = {
    "pyside6-essentials": "PySide6",
    "python-vlc": "vlc",
    "requests": "requests",
    "platformdirs": "platformdirs",
    "jeepney": "jeepney",
}
SERVER_PACKAGES = (
    "telemetry/contracts",
    "telemetry/collector",
    "telemetry/report",
    "telemetry/warehouse",
    "telemetry/recommend",
    "telemetry/host",
)


def _names(requirements: list[str]) -> set[str]:
    return {
        re.split(r"[\s<>=!~;\[]", requirement, maxsplit=1)[0].lower()
        for requirement in requirements
    }


def test_a_server_install_pulls_no_qt_and_no_libvlc() -> None:
    extras = PROJECT["optional-dependencies"]
    server = _names(PROJECT["dependencies"]).union(
        *(_names(extras[extra]) for extra in ("collector", "recommend", "scale"))
    )
    assert server.isdisjoint(APP_ONLY)
    assert set(APP_ONLY) <= _names(extras["app"])
    assert "sqlite-utils" not in _names(PROJECT["dependencies"]) | _names(extras["app"])


def test_server_packages_import_without_the_apps_dependencies() -> None:
    names = module_names(
        path
        for package in SERVER_PACKAGES
        for path in sorted((REPO / package).rglob("*.py"))
        if path.name != "__main__.py"
    )
    assert_imports_without(names, (*APP_ONLY.values(), "shiboken6", "ui"))
