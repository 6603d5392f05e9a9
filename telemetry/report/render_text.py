"""The report as terminal tables (the default output), and the number formats shared with the
HTML report.

Pure code; any thread.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from telemetry.report.metrics import Distribution, Rate, Report, percentile

NONE = "–"


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


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Columns padded to their widest cell; text left-aligned, the rest right-aligned."""
    cells = [[str(c) for c in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    numeric = [
        all(not isinstance(row[i], str) or row[i] == NONE for row in rows)
        for i in range(len(headers))
    ]
    lines = []
    for n, row in enumerate(cells):
        padded = [
            cell.rjust(widths[i]) if numeric[i] else cell.ljust(widths[i])
            for i, cell in enumerate(row)
        ]
        lines.append("  ".join(padded).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


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


def render_text(report: Report, *, sessions: int = 20) -> str:
    """The whole report; `sessions` caps the per-session table (most recent first)."""
    q, b, d = report.qoe, report.browse, report.quality
    out = [
        "Reelscope report (UTC)",
        filters_line(report),
        "",
        "QUALITY OF EXPERIENCE",
        table(
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
            ],
        ),
        "",
        "BROWSE",
        table(
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
        ),
    ]
    if b.by_row:
        out += [
            "",
            "Take rate and reach by row",
            table(
                ["row", "served", "seen", "reach", "deepest rank max/median", "impressions",
                 "plays", "take rate", "dwell median"],
                [
                    [
                        line.index,
                        reach.served if reach else 0,
                        reach.seen if reach else 0,
                        percent(reach.reach) if reach else NONE,
                        f"{_opt(reach.deepest_rank_max)}/{_opt(reach.deepest_rank_median)}"
                        if reach
                        else NONE,
                        line.impressions,
                        line.plays,
                        percent(line.take_rate, 2),
                        ms(line.dwell_median_ms),
                    ]
                    for line in b.by_row
                    for reach in [next((r for r in b.reach_by_row if r.row == line.index), None)]
                ],
            ),
            "",
            "Take rate by rank",
            table(
                ["rank", "impressions", "plays", "take rate", "dwell median"],
                [
                    [line.index, line.impressions, line.plays, percent(line.take_rate, 2),
                     ms(line.dwell_median_ms)]
                    for line in b.by_rank
                ],
            ),
        ]  # fmt: skip
    if report.titles:
        out += [
            "",
            "TITLES (most watched first, top 20)",
            table(
                ["title", "sessions", "plays", "completed", "watch time", "served", "seen",
                 "impressions", "plays from impr.", "expected", "position-corrected"],
                [
                    [t.video_id, t.sessions, t.plays, t.completed, ms(t.watch_ms), t.served,
                     t.seen, t.impressions, t.attributed_plays, number(t.expected_plays),
                     number(t.position_corrected_take_rate)]
                    for t in report.titles[:20]
                ],
            ),
        ]  # fmt: skip
    out += [
        "",
        "DATA QUALITY",
        table(
            ["figure", "value"],
            [
                ["launches (app sessions)", d.app_sessions],
                ["devices", d.devices],
                ["events read", d.events],
                ["events lost (gaps in seq)", d.lost_events],
                ["drops reported by clients", _counts(d.drops_reported, total=True)],
                ["duplicates absorbed by the collector", d.duplicates_absorbed_by_collector],
                ["duplicates absorbed by the report", d.duplicates_absorbed_by_report],
                ["clock-skew corrections (>= 1 s)", d.clock_skew_corrections],
                ["session ends without a play_request", d.sessions_without_request],
                ["non-Reelscope events ignored", d.foreign_events_ignored],
            ],
        ),
    ]
    if report.sessions and sessions > 0:
        shown = report.sessions[-sessions:][::-1]
        out += [
            "",
            f"PLAY SESSIONS ({len(shown)} most recent of {len(report.sessions)})",
            table(
                ["started", "title", "startup", "stalls", "stalled", "seeks", "seek p50",
                 "playing", "watch", "watched", "completed", "end", "failure"],
                [
                    [moment(s.started_at), s.video_id or NONE, ms(s.startup_ms), s.stall_count,
                     ms(s.rebuffer_ms), s.seek_count,
                     ms(percentile(s.seek_latencies_ms, 50)), ms(s.playing_ms), ms(s.watch_ms),
                     ms(s.content_watched_ms), "yes" if s.completed else "no",
                     s.end_reason or "no end", s.failure_category or NONE]
                    for s in shown
                ],
            ),
        ]  # fmt: skip
    return "\n".join(out) + "\n"


def _counts(values: dict[str, int], *, total: bool = False) -> str:
    if not values:
        return "0" if total else NONE
    text = ", ".join(f"{name} {count}" for name, count in values.items())
    return f"{sum(values.values())} ({text})" if total else text


def _opt(value: int | None) -> str:
    return NONE if value is None else str(value)
