"""Fixtures for the collector tests; the machinery lives in `harness.py`."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .harness import Running, thread_collector


@pytest.fixture(scope="module")
def collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """One collector shared by a test module; tests use fresh event and device ids."""
    with thread_collector(tmp_path_factory.mktemp("collector")) as running:
        yield running
