"""`replace_file`: write a whole file atomically, so a crash (or a second Reelscope writing the
same file) leaves the old content or a complete new one, never a torn or mixed file.

The new content goes to a temp file with a unique name in the same folder (`tempfile.mkstemp`:
created exclusively, mode 0600, so two writers never share one), which then replaces the target
with `os.replace`. Raises `OSError` (after removing the temp file); callers decide whether that
is worth more than a logged warning. Any thread.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def replace_file(path: Path, content: bytes, *, durable: bool = False) -> None:
    """Replace `path` with `content`; `durable` also fsyncs it (for what a power cut must not
    take back, such as the write key). Creates the folder if needed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(content)
            if durable:
                file.flush()
                os.fsync(file.fileno())
        os.replace(name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(name)
        raise
