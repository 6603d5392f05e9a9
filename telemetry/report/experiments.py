"""The experiments section: per variant (the `variant` of each `feed_served`), take rate, plays
per feed, watch time per feed and completion with 95 % confidence intervals, the QoE guardrails
(startup, rebuffer ratio), and each variant against control as a relative lift with a plain
verdict ("treatment +12.3 % plays per feed, 95 % CI [+6.1 %, +18.9 %]").

Devices are the randomised units (the assignment hashes the device id), so every interval is
clustered by device: a ratio Σ_device x / Σ_device y with a delta-method standard error
(`telemetry.report.estimates`). Plays are the play sessions attributed to an impression of
the variant's feeds (the report's attribution rule) that reached a first frame; watch time and
completion are theirs, as the QoE section computes them.

Pure code; any thread.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final

from telemetry.report.estimates import Estimate, Lift, ratio_estimate, relative_lift
from telemetry.report.figures import Distribution
from telemetry.report.logged import LoggedFeed
from telemetry.report.queries import Filters
from telemetry.report.sessions import SessionFigures

CONTROL: Final = "control"


@dataclass(slots=True)
class VariantFigures:
    name: str
    devices: int
    feeds: int
    impressions: int
    plays: int
    take_rate: Estimate
    plays_per_feed: Estimate
    watch_ms_per_feed: Estimate
    completion: Estimate
    startup: Distribution
    rebuffer_ratio: Estimate


@dataclass(slots=True)
class Comparison:
    """One variant against control: relative lifts."""

    variant: str
    take_rate: Lift
    plays_per_feed: Lift
    watch_ms_per_feed: Lift
    completion: Lift


@dataclass(slots=True)
class Experiments:
    control: str
    variants: list[VariantFigures] = field(default_factory=list)
    comparisons: list[Comparison] = field(default_factory=list)
    verdicts: list[str] = field(default_factory=list)


@dataclass(slots=True)
class _Unit:
    """One device's sums in one variant."""

    feeds: int = 0
    impressions: int = 0
    taken: int = 0
    plays: int = 0
    watch_ms: int = 0
    completed: int = 0
    rebuffer_ms: int = 0
    streaming_ms: int = 0  # playing + rebuffering


def build_experiments(
    feeds: Iterable[LoggedFeed], sessions: Iterable[SessionFigures], filters: Filters
) -> Experiments | None:
    """The section, or None when no feed in range carries a variant."""
    by_session = {s.play_session_id: s for s in sessions}
    units: dict[str, dict[str, _Unit]] = defaultdict(lambda: defaultdict(_Unit))
    startups: dict[str, list[int]] = defaultdict(list)
    for feed in feeds:
        if feed.variant is None or not filters.in_time(feed.corrected_time):
            continue
        unit = units[feed.variant][feed.device_id]
        unit.feeds += 1
        for _, slot in feed.impressed():
            unit.impressions += 1
            if slot.play_session_id is None:
                continue
            unit.taken += 1
            session = by_session.get(slot.play_session_id)
            if session is None or not session.first_frame:
                continue
            unit.plays += 1
            unit.watch_ms += session.watch_ms
            unit.completed += session.completed
            unit.rebuffer_ms += session.rebuffer_ms
            unit.streaming_ms += session.playing_ms + session.rebuffer_ms
            if session.startup_ms is not None:
                startups[feed.variant].append(session.startup_ms)
    if not units:
        return None
    names = sorted(units, key=lambda n: (n != CONTROL, n))
    result = Experiments(control=names[0])
    for name in names:
        devices = list(units[name].values())
        result.variants.append(
            VariantFigures(
                name=name,
                devices=len(devices),
                feeds=sum(u.feeds for u in devices),
                impressions=sum(u.impressions for u in devices),
                plays=sum(u.plays for u in devices),
                take_rate=ratio_estimate((u.taken, u.impressions) for u in devices),
                plays_per_feed=ratio_estimate((u.plays, u.feeds) for u in devices),
                watch_ms_per_feed=ratio_estimate((u.watch_ms, u.feeds) for u in devices),
                completion=ratio_estimate((u.completed, u.plays) for u in devices),
                startup=Distribution.of(startups[name]),
                rebuffer_ratio=ratio_estimate((u.rebuffer_ms, u.streaming_ms) for u in devices),
            )
        )
    control = result.variants[0]
    for figures in result.variants[1:]:
        comparison = Comparison(
            figures.name,
            relative_lift(figures.take_rate, control.take_rate),
            relative_lift(figures.plays_per_feed, control.plays_per_feed),
            relative_lift(figures.watch_ms_per_feed, control.watch_ms_per_feed),
            relative_lift(figures.completion, control.completion),
        )
        result.comparisons.append(comparison)
        result.verdicts.append(verdict(figures.name, "plays per feed", comparison.plays_per_feed))
    return result


def signed_percent(value: float) -> str:
    return f"{value * 100:+.1f} %"


def verdict(variant: str, metric: str, lift: Lift) -> str:
    """The plain sentence for one lift."""
    if lift.value is None:
        return f"{variant}: {metric} cannot be compared (no data in one of the variants)"
    text = f"{variant} {signed_percent(lift.value)} {metric}"
    if lift.low is None or lift.high is None:
        return text + " (too few devices for a confidence interval)"
    text += f", 95 % CI [{signed_percent(lift.low)}, {signed_percent(lift.high)}]"
    if lift.significant:
        return text + (" — better than control" if lift.low > 0 else " — worse than control")
    return text + " — no clear difference from control (the interval includes 0)"
