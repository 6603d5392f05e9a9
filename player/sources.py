"""What a media source string is: a URL or a local path, and how to name it to a person.

Pure functions; any thread.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

_URL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")


def is_url(source: str) -> bool:
    """True for `scheme://...` sources (http, https, rtsp, file, ...)."""
    return bool(_URL.match(source))


def display_name(source: str) -> str:
    """A short human name for a source: the file name, or the URL's last path segment."""
    if is_url(source):
        parts = urlsplit(source)
        name = unquote(parts.path.rstrip("/").rsplit("/", 1)[-1])
        return name or parts.netloc or source
    return Path(source).name or source


def local_path(source: str) -> Path | None:
    """The local file a source names (plain paths and file:// URLs), else None."""
    if not is_url(source):
        return Path(source).expanduser()
    parts = urlsplit(source)
    if parts.scheme == "file":
        return Path(unquote(parts.path))
    return None
