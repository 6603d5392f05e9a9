"""The layering rules: `player/` and `telemetry/` never import Qt, and only `player/vlc_engine.py`
imports `vlc`. Checked two ways: statically over every module's imports, and by importing every
module of those packages in a fresh interpreter where PySide6 and vlc cannot be imported."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.import_check import assert_imports_without, module_names

REPO = Path(__file__).resolve().parent.parent
VLC_MODULE = REPO / "player" / "vlc_engine.py"


def _imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def _modules(package: str) -> list[Path]:
    return sorted((REPO / package).rglob("*.py"))


def test_player_and_telemetry_never_import_qt() -> None:
    offenders = [
        str(path.relative_to(REPO))
        for package in ("player", "telemetry")
        for path in _modules(package)
        if _imported_roots(path) & {"PySide6", "shiboken6", "ui"}
    ]
    assert offenders == []


def test_only_the_vlc_engine_imports_vlc() -> None:
    offenders = [
        str(path.relative_to(REPO))
        for package in ("player", "telemetry", "ui")
        for path in _modules(package)
        if path != VLC_MODULE and "vlc" in _imported_roots(path)
    ]
    assert offenders == []
    assert "vlc" in _imported_roots(VLC_MODULE)


def test_core_packages_import_with_qt_and_vlc_absent() -> None:
    names = module_names(
        path
        for package in ("player", "telemetry")
        for path in _modules(package)
        if path != VLC_MODULE and path.name != "__main__.py"
    )
    assert_imports_without(names, ("PySide6", "shiboken6", "vlc", "ui"))
