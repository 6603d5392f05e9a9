"""Write keys over HTTP and on the command line: missing, malformed, unknown, revoked, hidden."""

from __future__ import annotations

import base64
import hmac
import json
import logging
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from telemetry.collector import keys as keys_module
from telemetry.collector.keys import KeyFile, KeyRing

from .harness import (
    KEY,
    OTHER_KEY,
    REPO,
    REVOKED_KEY,
    Running,
    batch,
    event,
    thread_collector,
    wait_until,
)


@pytest.mark.parametrize(
    ("header", "code"),
    [
        (None, "missing_key"),
        ("Bearer abc", "malformed_authorization"),
        ("Basic", "malformed_authorization"),
        ("Basic !!!not-base64!!!", "malformed_authorization"),
        ("Basic " + base64.b64encode(b"\xff\xfe:").decode(), "malformed_authorization"),
        ("Basic " + base64.b64encode(b":password").decode(), "missing_key"),
        ("Basic " + base64.b64encode(b"no-such-key:").decode(), "unknown_key"),
    ],
)
def test_bad_credentials_answer_401_with_a_challenge(
    collector: Running, header: str | None, code: str
) -> None:
    headers = {} if header is None else {"Authorization": header}
    answer = collector.post(batch([event()]), key=None, headers=headers)
    assert answer.status_code == 401
    assert answer.json()["code"] == code
    assert answer.headers["WWW-Authenticate"].startswith("Basic")


def test_revoked_key_answers_403_and_stores_nothing(collector: Running) -> None:
    item = event()
    answer = collector.post(batch([item]), key=REVOKED_KEY)
    assert answer.status_code == 403
    assert answer.json()["code"] == "revoked_key"
    assert collector.count("event_id = ?", item["event_id"]) == 0


def test_revoking_a_key_takes_effect_without_a_restart(tmp_path: Path) -> None:
    with thread_collector(tmp_path) as running:
        assert running.post(batch([event()]), key=OTHER_KEY).status_code == 200
        KeyFile(running.keys).revoke("other")
        wait_until(
            lambda: running.post(batch([event()]), key=OTHER_KEY).status_code == 403,
            what="the revocation to be picked up",
        )
        assert running.post(batch([event()])).status_code == 200


def test_the_key_never_appears_in_answers_or_logs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with thread_collector(tmp_path) as running:
        answers = [
            running.post(batch([event()])),
            running.post(batch([event(type="Not Snake")])),
            running.post(b"{", key=KEY),
            running.post(batch([event()]), key=REVOKED_KEY),
            running.post(batch([event()]), key=KEY + "x"),
        ]
    assert [a.status_code for a in answers] == [200, 200, 400, 403, 401]
    for answer in answers:
        assert KEY not in answer.text
        assert REVOKED_KEY not in answer.text
    logged = "\n".join(f"{r.getMessage()} {vars(r)}" for r in caplog.records)
    assert "reelscope.collector.access" in logged
    for secret in (KEY, REVOKED_KEY, base64.b64encode(f"{KEY}:".encode()).decode()):
        assert secret not in logged


def test_lookup_compares_every_key_whatever_matches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "keys.json"
    keys = KeyFile(path)
    for index in range(5):
        keys.add(f"k{index}", f"key-number-{index}")
    ring = KeyRing(path)
    calls: list[int] = []
    real = hmac.compare_digest

    def counting(a: bytes, b: bytes) -> bool:
        calls.append(1)
        return real(a, b)

    monkeypatch.setattr(keys_module.hmac, "compare_digest", counting)
    for candidate in ("key-number-0", "key-number-4", "absent"):
        calls.clear()
        ring.lookup(candidate)
        assert len(calls) == 5
    record = ring.lookup("key-number-4")
    assert record is not None
    assert record.name == "k4"


def _cli(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "telemetry.host.cli", *arguments],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_keys_cli_adds_lists_and_revokes_without_storing_keys(tmp_path: Path) -> None:
    path = str(tmp_path / "keys.json")
    added = _cli("keys", "--keys", path, "add", "--name", "laptop")
    assert added.returncode == 0, added.stderr
    generated = added.stdout.strip().splitlines()[-1]
    assert len(generated) >= 24
    explicit = _cli("keys", "--keys", path, "add", "--name", "dev", "--key", "dev-key-1")
    assert explicit.returncode == 0
    again = _cli("keys", "--keys", path, "add", "--name", "dev", "--key", "dev-key-1")
    assert again.returncode == 0
    assert "already" in again.stdout
    clash = _cli("keys", "--keys", path, "add", "--name", "other", "--key", "dev-key-1")
    assert clash.returncode == 1
    stored = Path(path).read_text()
    assert generated not in stored
    assert "dev-key-1" not in stored
    assert stat.S_IMODE(Path(path).stat().st_mode) == 0o600
    assert len(json.loads(stored)["keys"]) == 2
    listed = _cli("keys", "--keys", path, "list")
    assert "laptop" in listed.stdout
    assert "dev" in listed.stdout
    assert generated not in listed.stdout
    assert "dev-key-1" not in listed.stdout
    assert _cli("keys", "--keys", path, "revoke", "laptop").returncode == 0
    assert "revoked" in _cli("keys", "--keys", path, "list").stdout
    assert _cli("keys", "--keys", path, "revoke", "laptop").returncode == 1
