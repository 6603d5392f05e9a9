"""The PyInstaller spec, run as PyInstaller runs it but with its build steps recorded instead of
performed: a fast check in `make test` that `make bundle` gets past reading the spec (it reads
pyproject.toml and the files it bundles), and that every platform's branch is handed the
project's version. The real build is `make bundle` / `make bundle-test`."""

from __future__ import annotations

import sys
from importlib import metadata
from pathlib import Path
from types import SimpleNamespace

import pytest

from telemetry.client.config import APP_VERSION

REPO = Path(__file__).resolve().parents[2]
SPEC = REPO / "packaging" / "pyinstaller" / "reelscope.spec"


class _Build:
    """PyInstaller's spec globals (Analysis, PYZ, EXE, COLLECT, BUNDLE), recording each call."""

    def __init__(self) -> None:
        self.calls: dict[str, list[tuple[tuple[object, ...], dict[str, object]]]] = {}

    def step(self, name: str) -> object:
        def record(*args: object, **kwargs: object) -> object:
            self.calls.setdefault(name, []).append((args, kwargs))
            # What the spec reads back from an Analysis: the modules and files it collected.
            return SimpleNamespace(
                pure=[("ui.app", "", "PYMODULE"), ("telemetry.client.client", "", "PYMODULE")],
                binaries=[("libvlc.so.5", "/usr/lib/x86_64-linux-gnu/libvlc.so.5", "BINARY")],
                datas=[("PySide6/Qt/translations/qt_de.qm", "/x/qt_de.qm", "DATA")],
                scripts=[],
            )

        return record

    def one(self, name: str) -> dict[str, object]:
        (call,) = self.calls[name]
        return call[1]


def _run_spec(tmp_path: Path) -> _Build:
    build = _Build()
    namespace: dict[str, object] = {
        "__file__": str(SPEC),
        "SPECPATH": str(SPEC.parent),
        "workpath": str(tmp_path),
        **{name: build.step(name) for name in ("Analysis", "PYZ", "EXE", "COLLECT", "BUNDLE")},
    }
    exec(compile(SPEC.read_text(), str(SPEC), "exec"), namespace)  # as PyInstaller runs a spec
    assert namespace["VERSION"] == APP_VERSION == metadata.version("reelscope")
    return build


def test_the_spec_reads_the_project_version_and_names_files_that_exist(tmp_path: Path) -> None:
    build = _run_spec(tmp_path)

    analysis = build.one("Analysis")
    scripts = build.calls["Analysis"][0][0][0]
    assert isinstance(scripts, list)
    assert isinstance(analysis["datas"], list)
    assert isinstance(analysis["hookspath"], list)
    assert isinstance(analysis["runtime_hooks"], list)
    named = [
        *scripts,
        *(source for source, _ in analysis["datas"]),
        *analysis["hookspath"],
        *analysis["runtime_hooks"],
    ]
    assert [path for path in named if not Path(path).exists()] == []
    assert build.one("COLLECT")["name"] == "reelscope"
    assert (tmp_path / "bundle-manifest.json").read_text().count("telemetry") == 1


def test_the_macos_bundle_gets_the_project_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "platform", "darwin")

    bundle = _run_spec(tmp_path).one("BUNDLE")

    assert bundle["version"] == APP_VERSION
    assert bundle["bundle_identifier"] == "io.github.reelscope.Reelscope"
    assert isinstance(bundle["icon"], str)
    assert Path(bundle["icon"]).is_file()
    assert isinstance(bundle["info_plist"], dict)
