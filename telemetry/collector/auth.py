"""Who is sending: the Basic-auth write key turned into a key record, or a 401/403.

Called by request handlers on the event loop. The key is the Basic user and the password is
empty (Segment's convention). Error answers say what is wrong with the header, never echo it.
"""

from __future__ import annotations

import binascii
from base64 import b64decode

from telemetry.collector.errors import ApiError
from telemetry.collector.keys import KeyRecord, KeyRing

_CHALLENGE = {"WWW-Authenticate": 'Basic realm="reelscope"'}
# A write key is a short token; anything longer is not a key and is not worth hashing.
_MAX_HEADER = 1024


def _unauthorized(code: str, message: str) -> ApiError:
    return ApiError(401, code, message, _CHALLENGE)


def authenticate(header: str | None, ring: KeyRing) -> KeyRecord:
    """The active key record for an `Authorization` header value, or an ApiError."""
    if not header:
        raise _unauthorized("missing_key", "send the write key as Basic auth: base64('<key>:')")
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() != "basic" or not credentials or len(header) > _MAX_HEADER:
        raise _unauthorized("malformed_authorization", "expected 'Basic base64(<key>:)'")
    try:
        decoded = b64decode(credentials.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise _unauthorized(
            "malformed_authorization", "the Basic credentials are not valid base64 UTF-8"
        ) from exc
    key = decoded.partition(":")[0]
    if not key:
        raise _unauthorized("missing_key", "the Basic user (the write key) is empty")
    record = ring.lookup(key)
    if record is None:
        raise _unauthorized("unknown_key", "this write key is not known to the collector")
    if record.revoked:
        raise ApiError(403, "revoked_key", "this write key has been revoked")
    return record
