"""Real collectors on 127.0.0.1 for the collector tests (in a thread or a child process).

Also the helpers to build events and batches, post them, and read what was stored.

Thread collectors start in milliseconds and suit most checks; a child process is used where the
test needs signals (SIGKILL, SIGTERM), another user, or the server's own memory figures.
Nothing sleeps to synchronise: `wait_until` polls a condition until a deadline.
"""

from __future__ import annotations

import base64
import gzip as gzip_module
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests

from telemetry.collector.config import ENV_PREFIX, load_config
from telemetry.collector.keys import KeyFile
from telemetry.collector.server import build_server
from telemetry.contracts.device_proof import DEVICE_SECRET_HEADER
from telemetry.contracts.stored import open_store_readonly
from telemetry.host.services import host_services
from tests.telemetry.waiting import wait_until

REPO = Path(__file__).resolve().parents[2]
KEY = "test-write-key-0123456789"
OTHER_KEY = "other-write-key-0123456789"
REVOKED_KEY = "revoked-write-key-0123456789"
ADMIN_KEY = "admin-write-key-0123456789"


def free_port() -> int:
    with closing(socket.socket()) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def auth(key: str) -> str:
    return "Basic " + base64.b64encode(f"{key}:".encode()).decode()


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def event(**overrides: Any) -> dict[str, Any]:
    """A valid Reelscope event with a fresh id."""
    body: dict[str, Any] = {
        "event_id": str(uuid.uuid4()),
        "type": "heartbeat",
        "schema": 1,
        "time": now_ms(),
        "mono_ms": 1000,
        "seq": 1,
        "app_session_id": "app-session-1",
        "device_id": "device-1",
        "properties": {"position_ms": 1000},
    }
    body.update(overrides)
    return body


def batch(events: list[Any], **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "sent_at": now_ms(),
        "context": {"app": {"name": "reelscope", "version": "0.1.0"}, "locale": "en_GB"},
        "batch": events,
    }
    body.update(overrides)
    return body


def make_keys(directory: Path) -> Path:
    path = directory / "keys.json"
    if path.exists():
        return path
    keys = KeyFile(path)
    keys.add("test", KEY)
    keys.add("other", OTHER_KEY)
    keys.add("revoked", REVOKED_KEY)
    keys.revoke("revoked")
    keys.add("admin", ADMIN_KEY, admin=True)
    return path


@dataclass
class Running:
    """A running collector and helpers to talk to it and read what it stored."""

    url: str
    db: Path
    keys: Path
    session: requests.Session = field(default_factory=requests.Session)

    def post(
        self,
        body: Any,
        *,
        key: str | None = KEY,
        gzip: bool = False,
        headers: dict[str, str] | None = None,
        timeout: float = 10.0,
    ) -> requests.Response:
        # The standard library, unlike orjson, writes integers past 64 bits (tests send some).
        data = body if isinstance(body, bytes | bytearray) else json.dumps(body).encode()
        sent = {"Content-Type": "application/json"}
        if gzip:
            data = gzip_module.compress(data)
            sent["Content-Encoding"] = "gzip"
        if key is not None:
            sent["Authorization"] = auth(key)
        sent.update(headers or {})
        return self.session.post(f"{self.url}/v1/batch", data=data, headers=sent, timeout=timeout)

    def delete_device(
        self, device_id: str, *, key: str | None = KEY, secret: str | None = None
    ) -> requests.Response:
        """DELETE a device's data, proving it with `secret` when given."""
        headers = {} if key is None else {"Authorization": auth(key)}
        if secret is not None:
            headers[DEVICE_SECRET_HEADER] = secret
        return self.session.delete(
            f"{self.url}/v1/devices/{quote(device_id, safe='')}/events",
            headers=headers,
            timeout=10,
        )

    def query(self, sql: str, *parameters: Any) -> list[tuple[Any, ...]]:
        with closing(open_store_readonly(f"sqlite:///{self.db}")) as connection:
            return connection.execute(sql, parameters).fetchall()

    def count(self, where: str = "1", *parameters: Any) -> int:
        (value,) = self.query(f"SELECT count(*) FROM events WHERE {where}", *parameters)[0]
        return int(value)

    def close(self) -> None:
        self.session.close()


@contextmanager
def thread_collector(directory: Path, **settings: Any) -> Iterator[Running]:
    """A collector served by uvicorn on a thread of this process."""
    directory.mkdir(parents=True, exist_ok=True)
    keys = make_keys(directory) if "keys" not in settings else Path(settings["keys"])
    db = directory / "events.db"
    overrides = {"port": free_port(), "db": f"sqlite:///{db}", "keys": str(keys), **settings}
    config = load_config(environ={}, overrides=overrides)
    server = build_server(config, host_services(config))
    thread = threading.Thread(target=server.run, name="test-collector", daemon=True)
    thread.start()
    wait_until(lambda: server.started or not thread.is_alive(), what="collector start")
    assert server.started, "the collector did not start"
    running = Running(f"http://127.0.0.1:{overrides['port']}", db, keys)
    try:
        yield running
    finally:
        running.close()
        server.should_exit = True
        thread.join(30)
        assert not thread.is_alive()


@dataclass
class Child:
    running: Running
    process: subprocess.Popen[bytes]
    log: Path

    def signal(self, number: int) -> None:
        os.kill(self.process.pid, number)


@contextmanager
def child_collector(
    directory: Path, prefix: list[str] | None = None, **settings: Any
) -> Iterator[Child]:
    """A collector in its own process, started with the real CLI and configured by environment."""
    directory.mkdir(parents=True, exist_ok=True)
    keys = make_keys(directory) if "keys" not in settings else Path(settings.pop("keys"))
    db = Path(settings.pop("db_path", directory / "events.db"))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(ENV_PREFIX)}
    env.update({ENV_PREFIX + name.upper(): str(value) for name, value in settings.items()})
    env["PYTHONPATH"] = str(REPO)
    log = directory / "collector.log"
    command = [
        *(prefix or []), sys.executable, "-m", "telemetry.host.cli", "serve",
        "--port", str(port), "--db", f"sqlite:///{db}", "--keys", str(keys),
    ]  # fmt: skip
    with log.open("wb") as sink:
        process = subprocess.Popen(
            command, cwd=REPO, env=env, stdout=sink, stderr=subprocess.STDOUT
        )
    running = Running(f"http://127.0.0.1:{port}", db, keys)

    def healthy() -> bool:
        assert process.poll() is None, log.read_text()
        try:
            return running.session.get(f"{running.url}/healthz", timeout=1).ok
        except requests.ConnectionError:
            return False

    try:
        wait_until(healthy, timeout=20, what="child collector health")
        yield Child(running, process, log)
    finally:
        running.close()
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
        process.wait(10)


def open_raw(running: Running) -> socket.socket:
    host, port = running.url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=10)


def sqlite_connect(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path, isolation_level=None)
