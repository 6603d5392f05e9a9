"""The layering rules, checked statically over every module's imports (lazy and type-checking
imports count) and by importing the Qt-free packages in a fresh interpreter where PySide6 and
vlc cannot be imported:

- `ui/` is the only Qt package; only `player/vlc_engine.py` imports `vlc`;
- each product imports only the packages `ALLOWED` names (the contracts import nothing of ours,
  the client none of the collector, report or warehouse, ...);
- no import cycle between our modules (Tarjan's strongly connected components).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

from tests.import_check import assert_imports_without, module_names

REPO = Path(__file__).resolve().parent.parent
OURS = ("player", "telemetry", "ui", "tools")
VLC_MODULE = REPO / "player" / "vlc_engine.py"

# Which of our packages each package may import (besides itself, the standard library and
# third-party packages). A subpackage of `telemetry` is a product of its own.
ALLOWED: Mapping[str, frozenset[str]] = {
    "telemetry": frozenset(),
    "telemetry.contracts": frozenset(),
    "telemetry.client": frozenset({"telemetry.contracts", "player"}),
    "telemetry.warehouse": frozenset({"telemetry.contracts"}),
    "telemetry.recommend": frozenset({"telemetry.contracts", "player"}),
    # The collector serves the recommender's feed (GET /v1/feed, scheduled training), and, until
    # the host composes the collector's app, it adds the host's dashboard routes.
    "telemetry.collector": frozenset(
        {"telemetry.contracts", "telemetry.recommend", "telemetry.host"}
    ),
    # The report's experiment figures use the recommender's estimators and logged feeds, and
    # it reads the ClickHouse warehouse as well as the SQLite store.
    "telemetry.report": frozenset(
        {"telemetry.contracts", "telemetry.recommend", "telemetry.warehouse"}
    ),
    # The collector host composes the collector, the feed service and the dashboard.
    "telemetry.host": frozenset(
        {"telemetry.collector", "telemetry.report", "telemetry.recommend", "telemetry.contracts"}
    ),
    "player": frozenset(),
    "ui": frozenset({"player", "telemetry.client", "telemetry.contracts"}),
    "tools": frozenset({"telemetry.client", "telemetry.collector", "telemetry.contracts"}),
}


def _module_name(root: Path, path: Path) -> str:
    return ".".join(path.relative_to(root).with_suffix("").parts).removesuffix(".__init__")


def _imports(name: str, path: Path) -> Iterable[str]:
    """Every module name `path` imports, relative imports resolved, `from m import x` as both
    `m` and `m.x` (x may be a submodule)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)


def import_graph(root: Path, packages: Iterable[str]) -> dict[str, set[str]]:
    """Module -> the modules of `packages` it imports, over every .py file under them."""
    files = {
        _module_name(root, path): path
        for package in packages
        for path in sorted((root / package).rglob("*.py"))
    }
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        targets: set[str] = set()
        for imported in _imports(name, path):
            module = imported
            while module and module not in files:
                module = module.rpartition(".")[0]
            if module and module != name:
                targets.add(module)
        graph[name] = targets
    return graph


def import_cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, successors = work[-1]
            for successor in successors:
                if successor not in index:
                    index[successor] = low[successor] = len(index)
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(sorted(graph[successor]))))
                    break
                if successor in on_stack:
                    low[node] = min(low[node], index[successor])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        cycles.append(sorted(component))
    return cycles


def _package_of(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == "telemetry" and len(parts) > 1 else parts[0]


def _imported_roots(path: Path) -> set[str]:
    return {name.split(".")[0] for name in _imports(_module_name(REPO, path), path) if name}


def _modules(package: str) -> list[Path]:
    return sorted((REPO / package).rglob("*.py"))


def test_only_ui_imports_qt() -> None:
    offenders = [
        str(path.relative_to(REPO))
        for package in OURS
        if package != "ui"
        for path in _modules(package)
        if _imported_roots(path) & {"PySide6", "shiboken6", "ui"}
    ]
    assert offenders == []


def test_only_the_vlc_engine_imports_vlc() -> None:
    offenders = [
        str(path.relative_to(REPO))
        for package in OURS
        for path in _modules(package)
        if path != VLC_MODULE and "vlc" in _imported_roots(path)
    ]
    assert offenders == []
    assert "vlc" in _imported_roots(VLC_MODULE)


def test_every_package_imports_only_what_it_may() -> None:
    graph = import_graph(REPO, OURS)
    assert {_package_of(module) for module in graph} <= set(ALLOWED)
    offenders = sorted(
        f"{module} imports {target}"
        for module, targets in graph.items()
        for target in targets
        if _package_of(target) != _package_of(module)
        and _package_of(target) not in ALLOWED[_package_of(module)]
    )
    assert offenders == []


def test_our_modules_import_no_cycle() -> None:
    assert import_cycles(import_graph(REPO, OURS)) == []


def test_the_cycle_check_finds_a_cycle(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "__init__.py").write_text("")
    (package / "a.py").write_text("from pkg.sub import b\n")
    (package / "sub" / "b.py").write_text("def f():\n    from ..c import g\n")
    (package / "c.py").write_text("import pkg.a\n")
    (package / "leaf.py").write_text("import pkg.c\n")
    graph = import_graph(tmp_path, ["pkg"])
    assert import_cycles(graph) == [["pkg.a", "pkg.c", "pkg.sub.b"]]
    (package / "c.py").write_text("import json\n")
    assert import_cycles(import_graph(tmp_path, ["pkg"])) == []


def test_core_packages_import_with_qt_and_vlc_absent() -> None:
    names = module_names(
        path
        for package in ("player", "telemetry", "tools")
        for path in _modules(package)
        if path != VLC_MODULE and path.name != "__main__.py"
    )
    assert_imports_without(names, ("PySide6", "shiboken6", "vlc", "ui"))
