"""What the report's tables say, for both renderers: each section's title, headers and rows as
plain values (text, or integers a renderer may right-align), and the number formats they use.
`render_text` lays these out as terminal tables and `render_html` as escaped HTML tables; neither
decides a label, a column or a value on its own.

Pure code; any thread.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeAlias

from telemetry.report.estimates import Estimate, Lift
from telemetry.report.experiments import signed_percent
from telemetry.report.features import NOT_AVAILABLE, Features
from telemetry.report.figures import Distribution, Rate, percentile
from telemetry.report.metrics import Report

NONE = "–"

Cell: TypeAlias = str | int


@dataclass(frozen=True, slots=True)
class Table:
    """One table. `note` qualifies the title (shown in parentheses); a section that is not
    `major` is a sub-table of the section before it. A table without rows is not shown."""

    title: str
    headers: list[str]
    rows: list[list[Cell]]
    note: str = ""
    major: bool = True


def ms(value: float | None) -> str:
    """A duration for people: 850 ms, 1.25 s, 3 min 20 s, 2 h 05 min."""
    if value is None:
        return NONE
    if value < 1000:
        return f"{value:.0f} ms"
    seconds = value / 1000
    if seconds < 60:
        return f"{seconds:.2f} s"
    if seconds < 3600:
        return f"{int(seconds // 60)} min {int(seconds % 60):02d} s"
    return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60):02d} min"


def percent(value: float | None, digits: int = 1) -> str:
    return NONE if value is None else f"{value * 100:.{digits}f} %"


def number(value: float | None, digits: int = 2) -> str:
    return NONE if value is None else f"{value:.{digits}f}"


def rate(value: Rate) -> str:
    return f"{percent(value.rate)} ({value.count}/{value.total})"


def distribution(value: Distribution) -> str:
    return f"p50 {ms(value.p50)}, p95 {ms(value.p95)} (n={value.count})"


def moment(epoch_ms: int | None) -> str:
    if epoch_ms is None:
        return NONE
    return datetime.fromtimestamp(epoch_ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")


def filters_line(report: Report) -> str:
    f = report.filters
    parts = [
        f"since {moment(f.since)}" if f.since is not None else "",
        f"until {moment(f.until)}" if f.until is not None else "",
        f"app version {f.app_version}" if f.app_version else "",
        f"OS {f.os}" if f.os else "",
        f"title {f.video_id}" if f.video_id else "",
    ]
    chosen = [p for p in parts if p]
    return "Filters: " + (", ".join(chosen) if chosen else "none (everything stored)")


def qoe(report: Report) -> Table:
    q = report.qoe
    return Table(
        "Quality of experience",
        ["figure", "value"],
        [
            ["play attempts", q.attempts],
            ["plays (first frame)", q.plays],
            ["startup time", distribution(q.startup)],
            ["rebuffer ratio", percent(q.rebuffer_ratio, 2)],
            ["rebuffer frequency", f"{number(q.rebuffer_per_minute)} stalls/min"],
            ["stalls", f"{q.stalls} ({ms(q.rebuffer_ms)} stalled)"],
            ["seek latency", distribution(q.seek_latency)],
            ["exits before video start", rate(q.exits_before_video_start)],
            ["video start failures", rate(q.video_start_failures)],
            ["playback failures", rate(q.playback_failures)],
            ["completion rate", rate(q.completion)],
            ["watch time", ms(q.watch_ms)],
            ["playing time", ms(q.playing_ms)],
            ["content watched", ms(q.content_watched_ms)],
            ["end reasons", _counts(q.end_reasons)],
            ["failure categories", _counts(q.failure_categories)],
            ["playing time by picture height", _heights(q.renditions.playing_ms_by_height)],
            [
                "rendition switches",
                f"{q.renditions.switches} ({number(q.renditions.switches_per_hour)} per hour "
                "of playing)",
            ],
            [
                "picture scaled up / down",
                f"{percent(q.renditions.upscaled_share)} / "
                f"{percent(q.renditions.downscaled_share)} of heartbeat playing time",
            ],
        ],
    )


def _heights(by_height: dict[int, int]) -> str:
    if not by_height:
        return NONE
    return ", ".join(f"{height}p {ms(value)}" for height, value in by_height.items())


def browse(report: Report) -> Table:
    b = report.browse
    return Table(
        "Browse",
        ["figure", "value"],
        [
            ["feeds served", b.feeds],
            ["items served", b.served],
            ["impressions", b.impressions],
            ["reach (served items seen)", rate(b.reach)],
            ["served but never seen", b.served_never_seen],
            ["plays from impressions", b.attributed_plays],
            ["take rate", percent(b.take_rate, 2)],
            ["impression dwell (median)", ms(b.dwell_median_ms)],
            [
                "funnel",
                f"served {b.funnel.served} -> seen {b.funnel.seen} -> played "
                f"{b.funnel.played} -> completed {b.funnel.completed}",
            ],
        ],
    )


def by_row(report: Report) -> Table:
    b = report.browse
    reach = {r.row: r for r in b.reach_by_row}
    rows: list[list[Cell]] = []
    for line in b.by_row:
        r = reach.get(line.index)
        rows.append(
            [
                line.index,
                r.served if r else 0,
                r.seen if r else 0,
                percent(r.reach) if r else NONE,
                f"{_opt(r.deepest_rank_max)}/{_opt(r.deepest_rank_median)}" if r else NONE,
                line.impressions,
                line.plays,
                percent(line.take_rate, 2),
                ms(line.dwell_median_ms),
            ]
        )
    return Table(
        "Take rate and reach by row",
        ["row", "served", "seen", "reach", "deepest rank max/median", "impressions", "plays",
         "take rate", "dwell median"],
        rows,
        major=False,
    )  # fmt: skip


def by_rank(report: Report) -> Table:
    return Table(
        "Take rate by rank",
        ["rank", "impressions", "plays", "take rate", "dwell median"],
        [
            [line.index, line.impressions, line.plays, percent(line.take_rate, 2),
             ms(line.dwell_median_ms)]
            for line in report.browse.by_rank
        ],
        major=False,
    )  # fmt: skip


def titles(report: Report, top: int) -> Table:
    """The `top` most watched titles."""
    return Table(
        "Titles",
        ["title", "sessions", "plays", "completed", "watch time", "served", "seen",
         "impressions", "plays from impressions", "expected plays", "position-corrected"],
        [
            [t.video_id, t.sessions, t.plays, t.completed, ms(t.watch_ms), t.served, t.seen,
             t.impressions, t.attributed_plays, number(t.expected_plays),
             number(t.position_corrected_take_rate)]
            for t in report.titles[:top]
        ],
        note=f"most watched first, top {top}",
    )  # fmt: skip


def data_quality(report: Report) -> Table:
    d = report.quality
    return Table(
        "Data quality",
        ["figure", "value"],
        [
            ["launches (app sessions)", d.app_sessions],
            ["devices", d.devices],
            ["events read", d.events],
            ["events lost (gaps in seq)", d.lost_events],
            ["drops reported by clients", _counts(d.drops_reported, total=True)],
            ["duplicates absorbed by the collector", d.duplicates_absorbed_by_collector],
            ["duplicates absorbed by the report", d.duplicates_absorbed_by_report],
            ["events recorded twice (counted once)", d.events_recorded_twice],
            ["clock-skew corrections (>= 1 s)", d.clock_skew_corrections],
            ["session ends without a play_request", d.sessions_without_request],
            ["non-Reelscope events ignored", d.foreign_events_ignored],
        ],
    )


def play_sessions(report: Report, limit: int) -> Table:
    """The `limit` most recent play sessions, newest first."""
    shown = report.sessions[-limit:][::-1] if limit > 0 else []
    return Table(
        "Play sessions",
        ["started", "title", "startup", "stalls", "stalled", "seeks", "seek p50", "playing",
         "watch", "watched", "completed", "end", "failure"],
        [
            [moment(s.started_at), s.video_id or NONE, ms(s.startup_ms), s.stall_count,
             ms(s.rebuffer_ms), s.seek_count, ms(percentile(s.seek_latencies_ms, 50)),
             ms(s.playing_ms), ms(s.watch_ms), ms(s.content_watched_ms),
             "yes" if s.completed else "no", s.end_reason or "no end",
             s.failure_category or NONE]
            for s in shown
        ],
        note=f"{len(shown)} most recent of {len(report.sessions)}",
    )  # fmt: skip


def _counts(values: dict[str, int], *, total: bool = False) -> str:
    if not values:
        return "0" if total else NONE
    text = ", ".join(f"{name} {count}" for name, count in values.items())
    return f"{sum(values.values())} ({text})" if total else text


def _opt(value: int | None) -> str:
    return NONE if value is None else str(value)


def _interval(value: Estimate, format_: Callable[[float | None], str]) -> str:
    if value.low is None or value.high is None:
        return format_(value.value)
    return f"{format_(value.value)} [{format_(value.low)}, {format_(value.high)}]"


def _lift(value: Lift) -> str:
    if value.value is None:
        return NONE
    if value.low is None or value.high is None:
        return signed_percent(value.value)
    return (
        f"{signed_percent(value.value)} [{signed_percent(value.low)}, {signed_percent(value.high)}]"
    )


def experiments(report: Report) -> list[Table]:
    """Per variant with 95 % CIs (clustered by device), then each variant against control."""
    section = report.experiments
    if section is None:
        return []
    per_variant = Table(
        "Experiments",
        ["variant", "devices", "feeds", "take rate", "plays / feed", "watch / feed",
         "completion", "startup p50", "rebuffer ratio"],
        [
            [
                v.name, v.devices, v.feeds,
                _interval(v.take_rate, percent),
                _interval(v.plays_per_feed, number),
                _interval(v.watch_ms_per_feed, ms),
                _interval(v.completion, percent),
                ms(v.startup.p50),
                _interval(v.rebuffer_ratio, lambda x: percent(x, 2)),
            ]
            for v in section.variants
        ],
        note="95 % CI in brackets, devices as units",
    )  # fmt: skip
    lifts = Table(
        f"Against {section.control}",
        ["variant", "take rate", "plays / feed", "watch / feed", "completion"],
        [
            [c.variant, _lift(c.take_rate), _lift(c.plays_per_feed),
             _lift(c.watch_ms_per_feed), _lift(c.completion)]
            for c in section.comparisons
        ],
        note="relative change, 95 % CI",
        major=False,
    )  # fmt: skip
    verdicts = Table("Verdict", ["verdict"], [[v] for v in section.verdicts], major=False)
    return [per_variant, lifts, verdicts]


def features_table(features: Features | None) -> Table:
    """The section for both renderers; no rows (not shown) for a store the pass did not read."""
    if features is None:
        return Table("Features", [], [])
    f, up = features, features.up_next
    take = NOT_AVAILABLE if up.take_rate is None else percent(up.take_rate)
    rows: list[list[str | int]] = [
        ["audio track changes", f.audio_track_changes],
        ["subtitle track changes", f.subtitle_track_changes],
        ["subtitle files added", f.subtitle_files_added],
        ["subtitle delay changes", f.subtitle_delay_changes],
        ["chapter seeks", f.chapter_seeks],
        ["screenshots", f.screenshots],
        ["A-B loops set", f.ab_loops_set],
        ["speed changes", f.speed_changes],
        ["up next served", up.served],
        ["up next shown", up.shown],
        [
            "up next chosen (click / autoplay)",
            f"{up.chosen} ({up.chosen_by_click} / {up.autoplayed})",
        ],
        ["up next dismissed", up.dismissed],
        ["up next take rate (chosen / shown)", take],
    ]
    return Table("Features", ["figure", "value"], rows)
