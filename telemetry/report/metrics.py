"""The report's figures: aggregates over play sessions (quality of experience), browse figures
(engagement), and data quality, computed from merged `Partial`s. The definitions are those of
`events-and-metrics.md`; `docs/report.md` spells out every one.

Percentiles and medians are nearest-rank (`telemetry.report.figures`).

Pure code; any thread.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from telemetry.report.figures import Distribution, Rate, percentile, ratio
from telemetry.report.queries import Drop, Filters
from telemetry.report.renditions import RenditionFigures, aggregate
from telemetry.report.sessions import SessionFigures

if TYPE_CHECKING:
    from telemetry.report.experiments import Experiments
    from telemetry.report.features import Features

HOUR_MS: Final = 3_600_000
DAY_MS: Final = 24 * HOUR_MS
MAX_TIME_BUCKETS: Final = 72


@dataclass(slots=True)
class Bucket:
    """A histogram bar: values in [low, high); `high` None is open-ended."""

    low: int
    high: int | None
    count: int


@dataclass(slots=True)
class TimePoint:
    """Rebuffering of the sessions that started in [start, start + width)."""

    start: int
    width: int
    sessions: int
    rebuffer_ms: int
    playing_ms: int
    rebuffer_ratio: float | None


@dataclass(slots=True)
class Qoe:
    attempts: int
    plays: int
    startup: Distribution
    startup_histogram: list[Bucket]
    stalls: int
    rebuffer_ms: int
    playing_ms: int
    rebuffer_ratio: float | None
    rebuffer_per_minute: float | None
    seek_latency: Distribution
    exits_before_video_start: Rate
    video_start_failures: Rate
    playback_failures: Rate
    completion: Rate
    watch_ms: int
    content_watched_ms: int
    end_reasons: dict[str, int]
    failure_categories: dict[str, int]
    rebuffer_over_time: list[TimePoint]
    renditions: RenditionFigures


@dataclass(slots=True)
class CellFigures:
    """One (row, rank) position on the home screen."""

    row: int
    rank: int
    impressions: int
    plays: int
    take_rate: float | None
    dwell_median_ms: int | None


@dataclass(slots=True)
class LineFigures:
    """A whole row (or a whole rank across rows)."""

    index: int
    impressions: int
    plays: int
    take_rate: float | None
    dwell_median_ms: int | None


@dataclass(slots=True)
class RowReach:
    row: int
    served: int
    seen: int
    reach: float | None
    deepest_rank_max: int | None
    deepest_rank_median: int | None


@dataclass(slots=True)
class Funnel:
    served: int
    seen: int
    played: int
    completed: int


@dataclass(slots=True)
class Browse:
    feeds: int
    served: int
    impressions: int
    attributed_plays: int
    take_rate: float | None
    dwell_median_ms: int | None
    reach: Rate
    served_never_seen: int
    by_row: list[LineFigures]
    by_rank: list[LineFigures]
    cells: list[CellFigures]
    reach_by_row: list[RowReach]
    funnel: Funnel


@dataclass(frozen=True, slots=True)
class TitleBrowse:
    """One title's browse counts: served items, served items seen, counted impressions, plays
    attributed to them, and the plays expected from the global take rate at their cells."""

    served: int
    seen: int
    impressions: int
    attributed_plays: int
    expected_plays: float


@dataclass(frozen=True, slots=True)
class QualityCounts:
    """Data quality from the events: launches with a selected event (`app_sessions`, their
    `devices`, `events`, `lost_events` by seq gaps, `skew_corrected`), and over the whole
    store the copies the report absorbed (`duplicates`) and events recorded twice (`repeats`)."""

    app_sessions: int
    devices: frozenset[str]
    events: int
    lost_events: int
    duplicates: int
    repeats: int
    skew_corrected: int


@dataclass(slots=True)
class TitleFigures:
    video_id: str
    sessions: int
    plays: int
    completed: int
    watch_ms: int
    served: int
    seen: int
    impressions: int
    attributed_plays: int
    expected_plays: float
    position_corrected_take_rate: float | None


@dataclass(slots=True)
class DataQuality:
    app_sessions: int
    devices: int
    events: int
    lost_events: int
    drops_reported: dict[str, int]
    duplicates_absorbed_by_collector: int
    duplicates_absorbed_by_report: int
    # The same event recorded again under a new seq (same type, monotonic time, properties),
    # and crash-recovered ends of sessions their own launch had ended: counted once.
    events_recorded_twice: int
    clock_skew_corrections: int
    sessions_without_request: int
    foreign_events_ignored: int


@dataclass(slots=True)
class Report:
    filters: Filters
    qoe: Qoe
    browse: Browse
    titles: list[TitleFigures]
    quality: DataQuality
    sessions: list[SessionFigures] = field(default_factory=list)
    # Set by `compute_report` when feeds carry experiment variants (report/experiments.py).
    experiments: Experiments | None = None
    # Set by `compute_report` from a pass of its own (report/features.py).
    features: Features | None = None


def qoe(sessions: list[SessionFigures]) -> Qoe:
    """The quality-of-experience section over the selected sessions."""
    plays = [s for s in sessions if s.first_frame]
    startups = [s.startup_ms for s in sessions if s.startup_ms is not None]
    latencies = [latency for s in sessions for latency in s.seek_latencies_ms]
    rebuffer = sum(s.rebuffer_ms for s in sessions)
    playing = sum(s.playing_ms for s in sessions)
    stalls = sum(s.stall_count for s in sessions)
    failed_start = sum(1 for s in sessions if s.failure_phase == "startup")
    failed_playback = sum(1 for s in plays if s.failure_phase == "playback")
    exits = sum(1 for s in sessions if not s.first_frame and s.failure_category is None)
    return Qoe(
        attempts=len(sessions),
        plays=len(plays),
        startup=Distribution.of(startups),
        startup_histogram=_histogram(startups),
        stalls=stalls,
        rebuffer_ms=rebuffer,
        playing_ms=playing,
        rebuffer_ratio=ratio(rebuffer, playing + rebuffer),
        rebuffer_per_minute=ratio(stalls, playing / 60_000),
        seek_latency=Distribution.of(latencies),
        exits_before_video_start=Rate.of(exits, len(sessions)),
        video_start_failures=Rate.of(failed_start, len(sessions)),
        playback_failures=Rate.of(failed_playback, len(plays)),
        completion=Rate.of(sum(1 for s in plays if s.completed), len(plays)),
        watch_ms=sum(s.watch_ms for s in sessions),
        content_watched_ms=sum(s.content_watched_ms for s in sessions),
        end_reasons=dict(Counter(s.end_reason or "no_end" for s in sessions).most_common()),
        failure_categories=dict(
            Counter(s.failure_category for s in sessions if s.failure_category).most_common()
        ),
        rebuffer_over_time=_over_time(sessions),
        renditions=aggregate(
            [s.rendition_ms for s in sessions],
            sum(s.rendition_switches for s in sessions),
            playing,
            [s.scaling_ms for s in sessions],
        ),
    )


def _histogram(values: list[int]) -> list[Bucket]:
    """About 20 bars of a round width up to the 99th percentile, the rest in one open bar."""
    if not values:
        return []
    top = percentile(values, 99) or 0
    width = _round_width(max(top, 1) / 20)
    bars = top // width + 1
    counts = Counter(min(value // width, bars) for value in values)
    buckets = [Bucket(i * width, (i + 1) * width, counts.get(i, 0)) for i in range(bars)]
    if counts.get(bars):
        buckets.append(Bucket(bars * width, None, counts[bars]))
    return buckets


def _round_width(raw: float) -> int:
    """The smallest 1, 2 or 5 x 10^k at least `raw`."""
    scale = 1
    while True:
        for step in (1, 2, 5):
            if step * scale >= raw:
                return step * scale
        scale *= 10


def _over_time(sessions: list[SessionFigures]) -> list[TimePoint]:
    """Rebuffer ratio by the hour, or by the day when hours would be too many bars."""
    if not sessions:
        return []
    first, last = sessions[0].started_at, sessions[-1].started_at
    width = HOUR_MS if (last - first) // HOUR_MS < MAX_TIME_BUCKETS else DAY_MS
    totals: dict[int, list[int]] = {}
    for s in sessions:
        start = s.started_at - s.started_at % width
        bucket = totals.setdefault(start, [0, 0, 0])
        bucket[0] += 1
        bucket[1] += s.rebuffer_ms
        bucket[2] += s.playing_ms
    return [
        TimePoint(start, width, n, rebuffer, playing, ratio(rebuffer, rebuffer + playing))
        for start, (n, rebuffer, playing) in sorted(totals.items())
    ]


def titles(sessions: list[SessionFigures], browse: Mapping[str, TitleBrowse]) -> list[TitleFigures]:
    """Per title, most watched first: the play figures of its `sessions` beside its `browse`
    counts (the position-corrected take rate is attributed plays over expected plays: above 1,
    chosen more than its positions explain)."""
    by_title: dict[str, list[SessionFigures]] = {}
    for s in sessions:
        if s.video_id is not None:
            by_title.setdefault(s.video_id, []).append(s)
    nothing = TitleBrowse(0, 0, 0, 0, 0.0)
    result = []
    for title in set(by_title) | set(browse):
        own = by_title.get(title, [])
        counts = browse.get(title, nothing)
        result.append(
            TitleFigures(
                video_id=title,
                sessions=len(own),
                plays=sum(1 for s in own if s.first_frame),
                completed=sum(1 for s in own if s.completed),
                watch_ms=sum(s.watch_ms for s in own),
                served=counts.served,
                seen=counts.seen,
                impressions=counts.impressions,
                attributed_plays=counts.attributed_plays,
                expected_plays=counts.expected_plays,
                position_corrected_take_rate=ratio(counts.attributed_plays, counts.expected_plays),
            )
        )
    result.sort(key=lambda t: (-t.watch_ms, -t.impressions, t.video_id))
    return result


def quality(
    counts: QualityCounts,
    *,
    filters: Filters,
    drops: Iterable[Drop],
    collector_duplicates: int,
    foreign_events: int,
    orphans: int,
    repeated_ends: int,
) -> DataQuality:
    """Drops are counted when reported inside the time range; with an app version or OS filter,
    only those of the devices the selected launches came from."""
    by_device = filters.app_version is not None or filters.os is not None
    reported: Counter[str] = Counter()
    for drop in drops:
        if not filters.in_time(drop.received_at):
            continue
        if by_device and drop.device_id not in counts.devices:
            continue
        reported[drop.reason] += drop.dropped
    return DataQuality(
        app_sessions=counts.app_sessions,
        devices=len(counts.devices),
        events=counts.events,
        lost_events=counts.lost_events,
        drops_reported=dict(reported.most_common()),
        duplicates_absorbed_by_collector=collector_duplicates,
        duplicates_absorbed_by_report=counts.duplicates,
        events_recorded_twice=counts.repeats + repeated_ends,
        clock_skew_corrections=counts.skew_corrected,
        sessions_without_request=orphans,
        foreign_events_ignored=foreign_events,
    )
