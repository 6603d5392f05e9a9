"""The collector's error answers: one exception carrying status, code, message and headers.

Raised by request handling on the event loop (auth, limits, body, validation, storage) and turned
into a JSON `{"code", "message"}` answer by `app.py`, so every refusal reads the same way.
"""

from __future__ import annotations

from collections.abc import Mapping


class ApiError(Exception):
    """A request refused with a clear, client-facing reason (never a key, body or stack trace)."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers: dict[str, str] = dict(headers or {})


class StorageUnavailableError(Exception):
    """The store cannot take writes right now (locked, read-only, full, backlogged); retryable."""
