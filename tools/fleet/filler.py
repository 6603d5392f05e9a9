"""The store-full fault's filler: a tenant of its own (its write key, its device) that posts
ever smaller batches until the size-limited store refuses writes (503), then deletes its data
with its device proof, as the app does.

Threads: the fault's thread that uses it; `abort` ends its retries early.
"""

from __future__ import annotations

import http.client
import threading
import time
import uuid
import zlib

import orjson

from telemetry.contracts.device_proof import DEVICE_SECRET_HEADER, device_id_for, new_device_secret

# The filler proves its device id when it deletes its data, as the app does.
FILLER_SECRET = new_device_secret()
FILLER_DEVICE = device_id_for(FILLER_SECRET)


class StoreFiller:
    """Fills and frees the collector's store on 127.0.0.1:`port` under the write key whose
    `Authorization` header is `auth`."""

    def __init__(self, port: int, auth: str, max_db_bytes: int, abort: threading.Event) -> None:
        self._port = port
        self._auth = auth
        self._max_db_bytes = max_db_bytes
        self._abort = abort

    def fill(self) -> bool:
        """Fill the size-limited store until it refuses writes (503: full)."""
        full = False
        # Ever smaller batches, so what is left cannot take even a small client batch.
        for size, count in ((30_000, 100), (3_000, 100), (300, 10), (300, 1)):
            for _ in range(self._max_db_bytes // (count * size) + 5):
                if self._post(size, count) == 503:
                    full = True
                    break
        return full

    def _post(self, size: int, count: int) -> int:
        batch = [
            {
                "event_id": str(uuid.uuid4()),
                "type": "fleet_filler",
                "schema": 1,
                "time": int(time.time() * 1000),
                "mono_ms": 0,
                "seq": 1 + n,
                "app_session_id": FILLER_DEVICE,
                "device_id": FILLER_DEVICE,
                "properties": {"padding": "x" * size},
            }
            for n in range(count)
        ]
        body = orjson.dumps({"sent_at": int(time.time() * 1000), "batch": batch})
        return self._request(
            "POST",
            "/v1/batch",
            zlib.compress(body, 1, wbits=31),
            {"Content-Type": "application/json", "Content-Encoding": "gzip"},
        )

    def free(self) -> bool:
        """Delete the filler's data (a few tries); False if it could not be deleted."""
        for _ in range(5):
            path = f"/v1/devices/{FILLER_DEVICE}/events"
            if self._request("DELETE", path, headers={DEVICE_SECRET_HEADER: FILLER_SECRET}) == 200:
                return True
            self._abort.wait(1.0)
        return False

    def _request(
        self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> int:
        connection = http.client.HTTPConnection("127.0.0.1", self._port, timeout=30)
        try:
            connection.request(method, path, body, {"Authorization": self._auth, **(headers or {})})
            response = connection.getresponse()
            response.read()
            return response.status
        except OSError:
            return 0
        finally:
            connection.close()
