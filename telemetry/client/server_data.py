"""Talking to the collector on the viewer's behalf, outside the event pipeline: checking that a
collector URL and write key work ("Test connection" in Settings), and deleting every event of
this device from the server ("Delete my data from the server").

Test connection makes two requests and changes nothing on the server:
1. `GET /readyz`: the URL points at a Reelscope collector whose storage is writable;
2. `POST /v1/batch` with an empty batch: the collector checks the key before it reads the
   body, so 401/403 mean the key is refused, and its 400 `empty_batch` answer means the key
   was accepted and nothing was stored.

Blocking calls with connect and read timeouts: call them from a worker thread, never the GUI
thread. Any thread; no shared state.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import quote

import orjson

from telemetry.client.config import insecure_allowed_from_env, insecure_refusal
from telemetry.client.request_body import basic_auth
from telemetry.contracts.device_proof import DEVICE_SECRET_HEADER

if TYPE_CHECKING:
    import requests

TIMEOUT: tuple[float, float] = (3.05, 10.0)


class ServerDataError(Exception):
    """A request to the collector failed; the message is for the viewer."""


@dataclass(frozen=True, slots=True)
class ConnectionCheck:
    """The outcome of "Test connection": `ok`, and a sentence saying what was found."""

    ok: bool
    message: str


def _reason(response: requests.Response) -> str:
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return f"{response.status_code}: {body['message']}"
    return f"HTTP {response.status_code}"


def _code(response: requests.Response) -> str | None:
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return None
    code = body.get("code") if isinstance(body, dict) else None
    return code if isinstance(code, str) else None


def check_connection(endpoint: str, write_key: str) -> ConnectionCheck:
    import requests  # ~100 ms to import: only when the viewer asks (on a worker thread)

    base = endpoint.rstrip("/")
    refusal = insecure_refusal(base, insecure_allowed_from_env())
    if refusal is not None:
        return ConnectionCheck(False, f"Not connected: {refusal}.")
    with requests.Session() as session:
        try:
            ready = session.get(f"{base}/readyz", timeout=TIMEOUT)
        except requests.RequestException as exc:
            return ConnectionCheck(False, f"Could not reach {base}: {exc}")
        if ready.status_code == 404:
            return ConnectionCheck(False, f"{base} answers, but it is not a Reelscope collector.")
        if ready.status_code != 200:
            return ConnectionCheck(False, f"The collector is not ready ({_reason(ready)}).")
        try:
            probe = session.post(
                f"{base}/v1/batch",
                data=orjson.dumps({"sent_at": time.time_ns() // 1_000_000, "batch": []}),
                headers={
                    "Authorization": basic_auth(write_key),
                    "Content-Type": "application/json",
                },
                timeout=TIMEOUT,
            )
        except requests.RequestException as exc:
            return ConnectionCheck(False, f"The collector stopped answering: {exc}")
    return _judge_key_probe(probe)


def _judge_key_probe(probe: requests.Response) -> ConnectionCheck:
    if probe.status_code in (401, 403):
        return ConnectionCheck(False, f"The collector refused the write key ({_reason(probe)}).")
    if probe.status_code == 429:
        return ConnectionCheck(True, "Connected; the key works (the collector asks to slow down).")
    if probe.status_code == 400 and _code(probe) == "empty_batch":
        return ConnectionCheck(True, "Connected: the collector is ready and accepts the key.")
    return ConnectionCheck(False, f"Unexpected answer from the collector ({_reason(probe)}).")


def delete_device_data(endpoint: str, write_key: str, device_id: str, device_secret: str) -> int:
    """Delete every event of `device_id` stored under this key, proving with `device_secret`
    that it is this device (`telemetry.contracts.device_proof`); returns how many went.
    Raises `ServerDataError` when the collector is unreachable or refuses."""
    import requests

    refusal = insecure_refusal(endpoint, insecure_allowed_from_env())
    if refusal is not None:
        raise ServerDataError(f"Not sent: {refusal}.")
    url = f"{endpoint.rstrip('/')}/v1/devices/{quote(device_id, safe='')}/events"
    headers = {"Authorization": basic_auth(write_key), DEVICE_SECRET_HEADER: device_secret}
    try:
        response = requests.delete(url, headers=headers, timeout=TIMEOUT)
    except requests.RequestException as exc:
        raise ServerDataError(f"Could not reach the collector: {exc}") from exc
    if response.status_code in (401, 403):
        raise ServerDataError(f"The collector refused the write key ({_reason(response)}).")
    if response.status_code != 200:
        raise ServerDataError(f"The collector could not delete the data ({_reason(response)}).")
    try:
        deleted = orjson.loads(response.content)["deleted"]
    except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
        raise ServerDataError("The collector's answer could not be read.") from exc
    if not isinstance(deleted, int):
        raise ServerDataError("The collector's answer could not be read.")
    return deleted
