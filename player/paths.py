"""Where Reelscope keeps things: bundled resources and the per-user dirs from platformdirs.

The outbox lives in the state dir (it cannot be recreated), settings in the config dir,
posters and thumbnails in the cache dir, logs in the log dir. Pure functions; any thread.
platformdirs is imported by the functions that need it: the feed service on a collector host
imports the catalog (and so `resources_dir`) without the app's dependencies.
"""

from __future__ import annotations

import sys
from pathlib import Path

APP_NAME = "reelscope"
APP_ID = "io.github.reelscope.Reelscope"


def resources_dir() -> Path:
    """The bundled `resources/` folder (beside the packages, or inside a frozen bundle)."""
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle is not None:
        return Path(bundle) / "resources"
    return Path(__file__).resolve().parent.parent / "resources"


def config_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))


def state_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_state_dir(APP_NAME, appauthor=False))


def cache_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False))


def log_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_log_dir(APP_NAME, appauthor=False))
