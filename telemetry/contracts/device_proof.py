"""The device id as proof of ownership: it is derived from a secret only the device holds.

At first run the client makes a random secret (`new_device_secret`) and uses
`device_id_for(secret)` as its pseudonymous device id; both stay in its settings file. Asking
the collector to delete a device's data sends the secret (`DEVICE_SECRET_HEADER`): the collector
checks `proves(secret, device_id)`, so knowing a device id (it is in every event) is not enough
to delete that device's data. The collector stores nothing for this: the id itself is the check.

Pure functions; any thread, client or collector.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid

DEVICE_SECRET_HEADER = "X-Reelscope-Device-Secret"  # noqa: S105 - a header name
_PERSON = b"reelscope-device"
# A secret is a short token; anything longer is refused before it is hashed.
MAX_SECRET_CHARS = 128


def new_device_secret() -> str:
    return secrets.token_urlsafe(32)


def device_id_for(secret: str) -> str:
    """A UUID-shaped id that only the holder of `secret` can show to be theirs."""
    digest = hashlib.blake2b(secret.encode(), digest_size=16, person=_PERSON).digest()
    return str(uuid.UUID(bytes=digest))


def proves(secret: str, device_id: str) -> bool:
    """Whether `secret` is the one `device_id` was made from (constant time)."""
    if not 0 < len(secret) <= MAX_SECRET_CHARS:
        return False
    return hmac.compare_digest(device_id_for(secret).encode(), device_id.encode())
