"""What a request can get wrong, on both sides of every limit: size, encoding, JSON, envelope,
each event, rate, method and media type. Every refusal is JSON with a stable code."""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
import requests

from .harness import KEY, OTHER_KEY, Running, auth, batch, event, now_ms, thread_collector

LIMIT = 4096


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """A collector with small body limits, so the boundaries are cheap to reach."""
    with thread_collector(
        tmp_path_factory.mktemp("small"), max_body_bytes=LIMIT, max_decompressed_bytes=2 * LIMIT
    ) as running:
        yield running


def padded(size: int) -> bytes:
    """A valid batch of exactly `size` bytes (JSON allows trailing whitespace)."""
    body = orjson.dumps(batch([event()]))
    assert len(body) <= size
    return body + b" " * (size - len(body))


def chunks(data: bytes, size: int = 1000) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def test_body_at_the_cap_is_stored_and_one_byte_over_is_413(small: Running) -> None:
    assert small.post(padded(LIMIT)).status_code == 200
    over = small.post(padded(LIMIT + 1))
    assert over.status_code == 413
    assert over.json()["code"] == "body_too_large"


def test_chunked_body_is_capped_while_it_arrives(small: Running) -> None:
    headers = {"Content-Type": "application/json", "Authorization": auth(KEY)}
    url = f"{small.url}/v1/batch"
    at_cap = small.session.post(url, data=chunks(padded(LIMIT)), headers=headers, timeout=10)
    assert at_cap.status_code == 200
    assert at_cap.json()["accepted"] == 1
    over = small.session.post(url, data=chunks(padded(LIMIT + 1)), headers=headers, timeout=10)
    assert over.status_code == 413
    huge = small.session.post(url, data=chunks(b" " * 10 * LIMIT), headers=headers, timeout=10)
    assert huge.status_code == 413


def test_inflated_size_is_capped_on_both_sides(small: Running) -> None:
    at_cap = small.post(padded(2 * LIMIT), gzip=True)
    assert at_cap.status_code == 200
    over = small.post(padded(2 * LIMIT + 1), gzip=True)
    assert over.status_code == 413
    assert over.json()["code"] == "decompressed_too_large"


def test_a_gzip_bomb_is_refused_while_inflating(collector: Running) -> None:
    bomb = gzip.compress(b"[" + b" " * (200 * 1024 * 1024) + b"]", compresslevel=9)
    assert len(bomb) < 1024 * 1024
    answer = collector.post(bomb, headers={"Content-Encoding": "gzip"})
    assert answer.status_code == 413
    assert answer.json()["code"] == "decompressed_too_large"


@pytest.mark.parametrize(
    "body",
    [
        b"not gzip at all",
        gzip.compress(orjson.dumps(batch([event()])))[:-12],
        gzip.compress(orjson.dumps(batch([event()]))) + b"trailing garbage",
        zlib.compress(b"{}"),
    ],
    ids=["garbage", "truncated", "trailing", "zlib-not-gzip"],
)
def test_corrupt_gzip_is_400(collector: Running, body: bytes) -> None:
    answer = collector.post(body, headers={"Content-Encoding": "gzip"})
    assert answer.status_code == 400
    assert answer.json()["code"] == "invalid_gzip"


@pytest.mark.parametrize("encoding", ["br", "deflate", "zstd", "gzip, br"])
def test_unknown_encodings_are_415(collector: Running, encoding: str) -> None:
    answer = collector.post(batch([event()]), headers={"Content-Encoding": encoding})
    assert answer.status_code == 415
    assert answer.json()["code"] == "unsupported_encoding"


@pytest.mark.parametrize("media_type", ["text/plain", "application/x-www-form-urlencoded", ""])
def test_wrong_content_type_is_415(collector: Running, media_type: str) -> None:
    answer = collector.post(batch([event()]), headers={"Content-Type": media_type})
    assert answer.status_code == 415
    assert answer.json()["code"] == "unsupported_media_type"


def test_content_type_parameters_are_accepted(collector: Running) -> None:
    answer = collector.post(
        batch([event()]), headers={"Content-Type": "application/json; charset=utf-8"}
    )
    assert answer.status_code == 200


@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE"])
def test_wrong_method_is_405_json(collector: Running, method: str) -> None:
    answer = collector.session.request(method, f"{collector.url}/v1/batch", timeout=10)
    assert answer.status_code == 405
    assert answer.headers["Allow"] == "POST"
    assert answer.json()["code"] == "method_not_allowed"


def test_unknown_path_is_404_json(collector: Running) -> None:
    answer = collector.session.get(f"{collector.url}/v2/nothing", timeout=10)
    assert answer.status_code == 404
    assert answer.json()["code"] == "not_found"


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 100_000 + b"]" * 100_000,
        b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
        b'{"sent_at": NaN, "batch": []}',
        b'{"sent_at": 1, "batch": [Infinity]}',
        b'{"sent_at": 1, "batch": [-Infinity]}',
        b'{"sent_at": 1, "batch": ["\xff\xfe"]}',
        b'{"sent_at": 1, "batch": [{"event_id": "\xc3"}]}',
        b"",
        b"{",
    ],
    ids=[
        "deep-arrays",
        "deep-objects",
        "nan",
        "inf",
        "-inf",
        "bad-utf8",
        "cut-utf8",
        "empty",
        "cut",
    ],
)
def test_malformed_json_is_400_not_500(collector: Running, body: bytes) -> None:
    answer = collector.post(body)
    assert answer.status_code == 400
    assert answer.json()["code"] == "invalid_json"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ([], "invalid_envelope"),
        ({"sent_at": 1}, "invalid_envelope"),
        ({"batch": {}, "sent_at": 1}, "invalid_envelope"),
        ({"batch": [event()]}, "invalid_envelope"),
        ({"batch": [event()], "sent_at": "now"}, "invalid_envelope"),
        ({"batch": [event()], "sent_at": 10**30}, "invalid_envelope"),
        ({"batch": [event()], "sent_at": 2**64 - 1}, "invalid_envelope"),
        ({"batch": [event()], "sent_at": 1, "context": []}, "invalid_envelope"),
        ({"batch": [event()], "sent_at": 1, "drops": {"full": -1}}, "invalid_envelope"),
        ({"batch": [event()], "sent_at": 1, "drops": {"full": 1.5}}, "invalid_envelope"),
        ({"batch": [], "sent_at": 1}, "empty_batch"),
    ],
)
def test_bad_envelopes_are_400(collector: Running, body: object, code: str) -> None:
    answer = collector.post(body)
    assert answer.status_code == 400
    assert answer.json()["code"] == code


def test_more_events_than_allowed_is_413(collector: Running) -> None:
    assert collector.post(batch([event() for _ in range(1000)])).status_code == 200
    answer = collector.post(batch([event() for _ in range(1001)]))
    assert answer.status_code == 413
    assert answer.json()["code"] == "too_many_events"


def _deep(levels: int) -> object:
    value: object = 1
    for _ in range(levels):
        value = {"x": value}
    return value


BAD_EVENTS = [
    ("not-an-object", ["just a string"], "invalid_event"),
    ("missing-id", [{k: v for k, v in event().items() if k != "event_id"}], "missing_field"),
    ("long-id", [event(event_id="x" * 65)], "invalid_field"),
    ("empty-id", [event(event_id="")], "invalid_field"),
    ("numeric-id", [event(event_id=7)], "invalid_field"),
    ("camel-type", [event(type="playRequest")], "invalid_field"),
    ("long-type", [event(type="a" * 65)], "invalid_field"),
    ("schema-zero", [event(schema=0)], "invalid_field"),
    ("time-string", [event(time="2024-01-01")], "invalid_field"),
    ("time-float", [event(time=1.5)], "invalid_field"),
    ("time-bool", [event(time=True)], "invalid_field"),
    ("time-huge", [event(time=10**30)], "invalid_field"),
    ("seq-huge", [event(seq=2**64 - 1)], "invalid_field"),
    ("seq-zero", [event(seq=0)], "invalid_field"),
    ("mono-negative", [event(mono_ms=-1)], "invalid_field"),
    ("no-device", [{k: v for k, v in event().items() if k != "device_id"}], "missing_field"),
    ("properties-list", [event(properties=[1])], "invalid_field"),
    ("future", [event(time=now_ms() + 2 * 3_600_000)], "time_in_future"),
    ("too-large", [event(properties={"blob": "x" * 33_000})], "event_too_large"),
    ("too-deep", [event(properties=_deep(32))], "too_deep"),
]


@pytest.mark.parametrize(
    ("bad", "code"), [(b, c) for _, b, c in BAD_EVENTS], ids=[i for i, _, _ in BAD_EVENTS]
)
def test_an_invalid_event_is_rejected_alone(
    collector: Running, bad: list[object], code: str
) -> None:
    good = [event(), event()]
    answer = collector.post(batch([good[0], *bad, good[1]]))
    assert answer.status_code == 200
    result = answer.json()
    assert result["accepted"] == 2
    assert [r["index"] for r in result["rejected"]] == [1]
    assert result["rejected"][0]["code"] == code
    assert result["rejected"][0]["message"]
    for item in good:
        assert collector.count("event_id = ?", item["event_id"]) == 1


def test_depth_just_under_the_limit_and_huge_numbers_in_properties_are_kept(
    collector: Running,
) -> None:
    deep = event(properties=_deep(31))  # the event itself is level 1: 32 in all
    big = event(properties={"big": 2**64 - 1, "bigger": 10**40, "neg": -(2**63)})
    answer = collector.post(batch([deep, big]))
    assert answer.json() == {"accepted": 2, "duplicates": 0, "rejected": []}
    (raw,) = collector.query("SELECT raw FROM events WHERE event_id = ?", big["event_id"])[0]
    assert orjson.loads(raw)["properties"]["big"] == 2**64 - 1


def test_rate_limit_is_per_key_and_checked_before_the_body(tmp_path: Path) -> None:
    with thread_collector(tmp_path, rate_limit_per_s=0.5, rate_limit_burst=2) as running:
        assert running.post(batch([event()])).status_code == 200
        assert running.post(batch([event()])).status_code == 200
        limited = running.post(b"corrupt gzip", headers={"Content-Encoding": "gzip"})
        assert limited.status_code == 429
        assert limited.json()["code"] == "rate_limited"
        assert int(limited.headers["Retry-After"]) >= 1
        assert running.post(batch([event()]), key=OTHER_KEY).status_code == 200
        unknown = running.post(batch([event()]), key="nobody")
        assert unknown.status_code == 401


def test_health_and_readiness(collector: Running) -> None:
    assert collector.session.get(f"{collector.url}/healthz", timeout=10).json() == {"status": "ok"}
    assert collector.session.get(f"{collector.url}/readyz", timeout=10).json() == {
        "status": "ready"
    }


def test_keep_alive_connection_serves_after_an_early_refusal(small: Running) -> None:
    session = requests.Session()
    try:
        for _ in range(3):
            refused = session.post(
                f"{small.url}/v1/batch",
                data=padded(3 * LIMIT),
                headers={"Content-Type": "application/json", "Authorization": auth(KEY)},
                timeout=10,
            )
            assert refused.status_code == 413
        ok = session.post(
            f"{small.url}/v1/batch",
            data=padded(LIMIT),
            headers={"Content-Type": "application/json", "Authorization": auth(KEY)},
            timeout=10,
        )
        assert ok.status_code == 200
    finally:
        session.close()
