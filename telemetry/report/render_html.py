"""The report as one self-contained HTML file: inline CSS and inline SVG charts (startup
distribution, rebuffer ratio over time, take-rate heat map of row by rank, watch time per title,
the served -> seen -> played -> completed funnel), then the tables. Nothing is fetched: it opens
offline and can be mailed as it is. Every value from the store is escaped.

Pure code; any thread.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from html import escape

from telemetry.report import charts, tables
from telemetry.report.metrics import Report
from telemetry.report.tables import Table, features_table, ms, number, percent

_CSS = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 24px auto; max-width: 1100px;
       color: #111; padding: 0 16px; }
h1 { font-size: 22px; margin-bottom: 4px; } h2 { font-size: 17px; margin-top: 32px; }
h3 { font-size: 15px; margin-top: 20px; }
.muted { color: #6b7280; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(200px, 1fr)); gap: 10px; }
.card { border: 1px solid #e5e7eb; border-radius: 8px; padding: 10px 12px; }
.card b { display: block; font-size: 18px; }
table { border-collapse: collapse; margin: 8px 0; font-size: 13px; }
th, td { border-bottom: 1px solid #e5e7eb; padding: 4px 10px; text-align: right; }
th:first-child, td:first-child { text-align: left; }
figure { margin: 12px 0; } figcaption { font-weight: 600; margin-bottom: 4px; }
"""


def _heading(t: Table) -> str:
    tag = "h2" if t.major else "h3"
    title = f"{t.title} ({t.note})" if t.note else t.title
    return f"<{tag}>{escape(title)}</{tag}>"


def _table(t: Table) -> str:
    if not t.rows:
        return ""
    head = "".join(f"<th>{escape(h)}</th>" for h in t.headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in row) + "</tr>" for row in t.rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _section(t: Table) -> str:
    """A sub-table with its heading; nothing when it has no rows."""
    return f"{_heading(t)}\n{_table(t)}" if t.rows else ""


def _cards(items: Sequence[tuple[str, str]]) -> str:
    return (
        '<div class="cards">'
        + "".join(
            f'<div class="card"><span class="muted">{escape(k)}</span><b>{escape(v)}</b></div>'
            for k, v in items
        )
        + "</div>"
    )


def _figure(caption: str, svg: str) -> str:
    return f"<figure><figcaption>{escape(caption)}</figcaption>{svg}</figure>"


def _bucket_label(low: int, high: int | None) -> str:
    return f"≥{ms(low)}" if high is None else ms(low)


def _charts(report: Report) -> list[str]:
    q, b = report.qoe, report.browse
    hist = q.startup_histogram
    over_time = q.rebuffer_over_time
    day = bool(over_time) and over_time[0].width >= 24 * 3600 * 1000
    fmt = "%m-%d" if day else "%m-%d %H:00"
    titles = [t for t in report.titles if t.watch_ms > 0][:20]
    return [
        _figure(
            "Startup time distribution",
            charts.column_chart(
                [_bucket_label(x.low, x.high) for x in hist],
                [x.count for x in hist],
                label="startup time histogram",
                value_text=lambda v: f"{v:.0f}",
            ),
        ),
        _figure(
            "Rebuffer ratio over time (by session start, UTC)",
            charts.line_chart(
                [datetime.fromtimestamp(p.start / 1000, UTC).strftime(fmt) for p in over_time],
                [p.rebuffer_ratio for p in over_time],
                label="rebuffer ratio over time",
                value_text=lambda v: percent(v, 2),
            ),
        ),
        _figure(
            "Take rate by row (down) and rank (across)",
            charts.heat_map(
                {(c.row, c.rank): c.take_rate for c in b.cells},
                label="take rate heat map",
                value_text=lambda v: percent(v, 1),
            ),
        ),
        _figure(
            "Watch time per title (top 20)",
            charts.bar_chart(
                [t.video_id for t in titles],
                [t.watch_ms for t in titles],
                label="watch time per title",
                value_text=ms,
            ),
        ),
        _figure(
            "Funnel: served → seen → played → completed",
            charts.funnel(
                [
                    ("served", b.funnel.served),
                    ("seen (impression)", b.funnel.seen),
                    ("played", b.funnel.played),
                    ("completed", b.funnel.completed),
                ],
                label="browse funnel",
            ),
        ),
    ]


def render_html(report: Report, *, sessions: int = 20, titles: int = 50) -> str:
    """The whole report as an HTML document; `sessions` caps the per-session table, `titles`
    the titles table."""
    q, b = report.qoe, report.browse
    startup_chart, rebuffer_chart, heat_map, titles_chart, funnel_chart = _charts(report)
    qoe, browse, watched = tables.qoe(report), tables.browse(report), tables.titles(report, titles)
    quality, recent = tables.data_quality(report), tables.play_sessions(report, sessions)
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<title>Reelscope report</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>Reelscope report</h1>",
        f'<p class="muted">{escape(tables.filters_line(report))}. Times in UTC.</p>',
        _heading(qoe),
        _cards(
            [
                ("startup p50 / p95", f"{ms(q.startup.p50)} / {ms(q.startup.p95)}"),
                ("rebuffer ratio", percent(q.rebuffer_ratio, 2)),
                ("stalls per minute", number(q.rebuffer_per_minute)),
                ("seek latency p50 / p95", f"{ms(q.seek_latency.p50)} / {ms(q.seek_latency.p95)}"),
                ("exits before video start", percent(q.exits_before_video_start.rate)),
                ("video start failures", percent(q.video_start_failures.rate)),
                ("playback failures", percent(q.playback_failures.rate)),
                ("completion rate", percent(q.completion.rate)),
                ("watch time", ms(q.watch_ms)),
                ("plays / attempts", f"{q.plays} / {q.attempts}"),
            ]
        ),
        startup_chart,
        rebuffer_chart,
        _table(qoe),
        _heading(browse),
        _cards(
            [
                ("impressions", str(b.impressions)),
                ("take rate", percent(b.take_rate, 2)),
                ("reach", percent(b.reach.rate)),
                ("served but never seen", str(b.served_never_seen)),
                ("impression dwell (median)", ms(b.dwell_median_ms)),
                ("feeds served", str(b.feeds)),
            ]
        ),
        heat_map,
        funnel_chart,
        _table(browse),
        _section(tables.by_row(report)),
        _section(tables.by_rank(report)),
        *(_section(t) for t in tables.experiments(report)),
        _heading(watched),
        titles_chart,
        _table(watched),
        _section(features_table(report.features)),
        _heading(quality),
        _table(quality),
        _section(recent),
        "</body></html>\n",
    ]
    return "\n".join(part for part in parts if part)
