"""The report's basic figures: nearest-rank percentiles, ratios, and the `Distribution` and
`Rate` values every section (metrics, experiments, tables) is made of.

The p-th percentile of n sorted values is the ceil(p/100 x n)-th, always a value that occurred.
Pure code; any thread.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


def percentile(values: Sequence[int], p: float) -> int | None:
    """Nearest-rank percentile of `values` (sorted or not); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(1, math.ceil(p / 100 * len(ordered))) - 1]


def ratio(part: float, whole: float) -> float | None:
    return part / whole if whole else None


@dataclass(slots=True)
class Distribution:
    count: int
    p50: int | None
    p95: int | None

    @classmethod
    def of(cls, values: Sequence[int]) -> Distribution:
        return cls(len(values), percentile(values, 50), percentile(values, 95))


@dataclass(slots=True)
class Rate:
    count: int
    total: int
    rate: float | None

    @classmethod
    def of(cls, count: int, total: int) -> Rate:
        return cls(count, total, ratio(count, total))
