"""Test-wide set-up: isolated user dirs, a private runtime dir, and the Qt platform.

Runs before any test module imports Qt or libVLC, so every test sees the same environment:
- XDG config/state/cache/data dirs point into one temporary folder (no test touches the
  developer's real settings or outbox);
- XDG_RUNTIME_DIR is a 0700 folder (libVLC and Qt complain otherwise);
- QT_QPA_PLATFORM defaults to offscreen; `make test` runs the `xvfb` tests under Xvfb with xcb.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

_ROOT = Path(tempfile.mkdtemp(prefix="reelscope-tests-"))
for _name in ("XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME"):
    os.environ[_name] = str(_ROOT / _name.lower())
_RUNTIME = _ROOT / "runtime"
_RUNTIME.mkdir(mode=0o700)
os.environ["XDG_RUNTIME_DIR"] = str(_RUNTIME)
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["REELSCOPE_ENV"] = "test"

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "resources" / "samples"


@pytest.fixture
def sample_clip() -> Path:
    """A short bundled clip (8 s, H.264 + AAC)."""
    return SAMPLES / "colour-bars.mp4"
