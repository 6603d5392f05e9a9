"""Estimates with 95 % confidence intervals: a ratio metric clustered by unit, and the relative
lift of one estimate over another. The experiments section uses them; so does the recommender's
counterfactual evaluation (`telemetry.recommend.estimators`).

Ratios: V = Σ_u X_u / Σ_u Y_u over independent units u (devices in an experiment, feeds in
counterfactual evaluation); its standard error by the delta method is
sqrt(n / (n - 1) · Σ_u (X_u - V·Y_u)²) / Σ_u Y_u, and the 95 % interval V ± 1.96·se.

Pure code; any thread.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

Z95: Final = 1.959964


@dataclass(frozen=True, slots=True)
class Estimate:
    value: float | None
    low: float | None
    high: float | None
    se: float | None
    units: int


def ratio_estimate(pairs: Iterable[tuple[float, float]]) -> Estimate:
    """Σx / Σy over units with a delta-method 95 % interval (None values without data)."""
    xs, ys = [], []
    for x, y in pairs:
        xs.append(x)
        ys.append(y)
    n, total_y = len(xs), sum(ys)
    if not n or total_y <= 0:
        return Estimate(None, None, None, None, n)
    value = sum(xs) / total_y
    if n < 2:
        return Estimate(value, None, None, None, n)
    residual = sum((x - value * y) ** 2 for x, y in zip(xs, ys, strict=True))
    se = math.sqrt(n / (n - 1) * residual) / total_y
    return Estimate(value, value - Z95 * se, value + Z95 * se, se, n)


@dataclass(frozen=True, slots=True)
class Lift:
    """Treatment over control, relative: +0.12 is 12 % more."""

    value: float | None
    low: float | None
    high: float | None

    @property
    def significant(self) -> bool:
        return self.low is not None and self.high is not None and (self.low > 0 or self.high < 0)


def relative_lift(treatment: Estimate, control: Estimate) -> Lift:
    """(T / C) - 1 with a 95 % interval from the log ratio's delta-method variance."""
    t, c = treatment, control
    if not t.value or not c.value or t.value <= 0 or c.value <= 0:
        return Lift(None, None, None)
    ratio = t.value / c.value
    if t.se is None or c.se is None:
        return Lift(ratio - 1, None, None)
    se = math.sqrt((t.se / t.value) ** 2 + (c.se / c.value) ** 2)
    log_ratio = math.log(ratio)
    return Lift(ratio - 1, math.exp(log_ratio - Z95 * se) - 1, math.exp(log_ratio + Z95 * se) - 1)
