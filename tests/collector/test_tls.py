"""HTTPS served by the collector itself (`ssl_certfile`, `ssl_keyfile`), with a self-signed
certificate made by the openssl CLI; and the client's refusal of plain http:// off this machine."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from telemetry.client.config import ALLOW_INSECURE_ENV, insecure_refusal
from telemetry.collector.config import ENV_PREFIX

from .harness import KEY, REPO, auth, batch, event, free_port, make_keys, wait_until


def _certificate(directory: Path) -> tuple[Path, Path]:
    openssl = shutil.which("openssl")
    assert openssl, "openssl is a test dependency (packaging/system-deps.sh)"
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert, key


def test_the_collector_serves_https_with_its_certificate(tmp_path: Path) -> None:
    cert, key = _certificate(tmp_path)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(ENV_PREFIX)}
    env |= {"PYTHONPATH": str(REPO), ENV_PREFIX + "SSL_CERTFILE": str(cert)}
    env[ENV_PREFIX + "SSL_KEYFILE"] = str(key)
    command = [
        sys.executable, "-m", "telemetry.host.cli", "serve", "--port", str(port),
        "--db", f"sqlite:///{tmp_path / 'events.db'}", "--keys", str(make_keys(tmp_path)),
    ]  # fmt: skip
    # A child process (the real CLI, configured by environment), stopped with SIGKILL: a TLS
    # connection's graceful close waits for the peer's close_notify, which tests need not wait.
    process = subprocess.Popen(command, cwd=REPO, env=env, stderr=subprocess.DEVNULL)
    url = f"https://127.0.0.1:{port}"
    try:
        with requests.Session() as session:
            # Else REQUESTS_CA_BUNDLE (set on many machines) would replace `verify`.
            session.trust_env = False
            session.verify = str(cert)

            def healthy() -> bool:
                assert process.poll() is None
                try:
                    return session.get(f"{url}/healthz", timeout=1).ok
                except requests.ConnectionError:
                    return False

            wait_until(healthy, timeout=20, what="the HTTPS collector")
            answer = session.post(
                f"{url}/v1/batch",
                json=batch([event()]),
                headers={"Authorization": auth(KEY)},
                timeout=10,
            )
            assert answer.json()["accepted"] == 1
            with pytest.raises(requests.exceptions.SSLError):
                requests.get(f"{url}/healthz", timeout=10)  # a certificate nobody vouched for
    finally:
        process.kill()
        process.wait(10)


@pytest.mark.parametrize(
    ("endpoint", "refused"),
    [
        ("http://collector.example:8765", True),
        ("http://192.0.2.10:8765", True),
        ("http://[2001:db8::1]:8765", True),
        ("http://127.0.0.1:8765", False),
        ("http://127.8.9.1:8765", False),
        ("http://localhost:8765", False),
        ("http://[::1]:8765", False),
        ("https://collector.example", False),
    ],
)
def test_plain_http_is_refused_only_off_this_machine(endpoint: str, refused: bool) -> None:
    reason = insecure_refusal(endpoint, allowed=False)
    assert (reason is not None) == refused
    if reason is not None:
        assert ALLOW_INSECURE_ENV in reason
    assert insecure_refusal(endpoint, allowed=True) is None
