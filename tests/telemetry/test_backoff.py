"""The retry schedule's math: full jitter under an exponential ceiling, a cap, Retry-After."""

from __future__ import annotations

import email.utils

import pytest

from telemetry.client.backoff import RETRYABLE_STATUSES, backoff_delay, parse_retry_after


def test_ceiling_doubles_then_caps() -> None:
    delays = [backoff_delay(n, base=2.0, cap=300.0, jitter=lambda: 1.0) for n in range(10)]
    assert delays == [2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 300.0, 300.0]
    assert backoff_delay(10_000, base=2.0, cap=300.0, jitter=lambda: 1.0) == 300.0


def test_full_jitter_spans_zero_to_the_ceiling() -> None:
    assert backoff_delay(3, base=2.0, cap=300.0, jitter=lambda: 0.0) == 0.0
    assert backoff_delay(3, base=2.0, cap=300.0, jitter=lambda: 0.25) == 4.0


def test_retry_after_is_a_floor_not_a_ceiling() -> None:
    assert backoff_delay(0, base=2.0, cap=300.0, jitter=lambda: 0.5, retry_after=30.0) == 30.0
    assert backoff_delay(7, base=2.0, cap=300.0, jitter=lambda: 1.0, retry_after=3.0) == 256.0


def test_retry_after_seconds_and_dates() -> None:
    now = 1_800_000_000.0
    assert parse_retry_after("7", now=now, limit=3600) == 7.0
    date = email.utils.formatdate(now + 90, usegmt=True)
    assert parse_retry_after(date, now=now, limit=3600) == pytest.approx(90.0)
    past = email.utils.formatdate(now - 90, usegmt=True)
    assert parse_retry_after(past, now=now, limit=3600) == 0.0
    assert parse_retry_after("999999", now=now, limit=3600) == 3600.0
    assert parse_retry_after(None, now=now, limit=3600) is None
    assert parse_retry_after("soon", now=now, limit=3600) is None


def test_retryable_statuses_follow_segments_split() -> None:
    for status in (408, 410, 429, 460, 500, 502, 503, 504, 599):
        assert status in RETRYABLE_STATUSES
    for status in (400, 401, 403, 404, 413, 422, 501, 505):
        assert status not in RETRYABLE_STATUSES
