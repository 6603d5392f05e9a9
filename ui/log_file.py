"""The app's logging: stderr at the level `REELSCOPE_LOG` names, and a rotating log file.

A viewer reporting a problem has no terminal to copy from, so every run also writes INFO and
above to `reelscope.log` in the platformdirs log dir (1 MiB, three old files kept, so at most
4 MiB on disk); Settings shows where it is. The file is opened at the first record, not at
start-up. A log dir that cannot be made (read-only home, a file in its place) costs the file,
never the start: stderr logging goes on and says why.

`configure_logging` is called once, on the main thread, before anything logs; the handlers
are thread-safe (logging's own locks), so any thread may log afterwards.
"""

from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path
from typing import Final

LOG_FILE_NAME: Final = "reelscope.log"
MAX_BYTES: Final = 1 << 20
BACKUP_COUNT: Final = 3
_FORMAT: Final = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_FILE_LEVEL: Final = logging.INFO


def configure_logging(
    directory: Path,
    stderr_level: str = "WARNING",
    *,
    root: logging.Logger | None = None,
    max_bytes: int = MAX_BYTES,
) -> Path | None:
    """Attach the stderr and file handlers to `root`; the log file's path, or None without one."""
    root = root if root is not None else logging.getLogger()
    formatter = logging.Formatter(_FORMAT)
    stderr = logging.StreamHandler()
    stderr.setLevel(logging.getLevelNamesMapping().get(stderr_level.upper(), logging.WARNING))
    stderr.setFormatter(formatter)
    root.addHandler(stderr)
    root.setLevel(min(stderr.level, _FILE_LEVEL))
    path = directory / LOG_FILE_NAME
    try:
        directory.mkdir(parents=True, exist_ok=True)
        file = logging.handlers.RotatingFileHandler(
            path, maxBytes=max_bytes, backupCount=BACKUP_COUNT, encoding="utf-8", delay=True
        )
    except OSError as exc:
        root.warning("No log file: cannot use %s (%s); logging to stderr only", directory, exc)
        return None
    file.setLevel(_FILE_LEVEL)
    file.setFormatter(formatter)
    root.addHandler(file)
    return path


def current_log_file(root: logging.Logger | None = None) -> Path | None:
    """Where `configure_logging` is writing the log, if it is (for Settings)."""
    root = root if root is not None else logging.getLogger()
    for handler in root.handlers:
        if isinstance(handler, logging.handlers.RotatingFileHandler):
            return Path(handler.baseFilename)
    return None
