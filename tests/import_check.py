"""Importing modules in a fresh interpreter where some top-level packages cannot be imported:
how the layering and dependency tests prove a package runs without Qt, vlc or the app's
dependencies. Test helper; any thread."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def module_names(paths: Iterable[Path]) -> list[str]:
    """Dotted module names of `paths` (files under the repository)."""
    return [
        ".".join(path.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")
        for path in paths
    ]


def assert_imports_without(names: list[str], blocked: Iterable[str]) -> None:
    """Every module in `names` imports while the packages in `blocked` raise ImportError."""
    script = f"""
import sys, importlib
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in {tuple(blocked)!r}:
            raise ImportError('blocked: ' + name)
sys.meta_path.insert(0, Block())
for name in {names!r}:
    importlib.import_module(name)
print('ok', len({names!r}))
"""
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ok")
