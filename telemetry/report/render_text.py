"""The report as terminal tables (the default output): lays out what `tables` says, columns
padded, numbers right-aligned.

Pure code; any thread.
"""

from __future__ import annotations

from collections.abc import Sequence

from telemetry.report import tables
from telemetry.report.metrics import Report
from telemetry.report.tables import NONE, Cell, Table, features_table


def table(headers: Sequence[str], rows: Sequence[Sequence[Cell]]) -> str:
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


def _section(t: Table) -> list[str]:
    if not t.rows:
        return []
    title = t.title.upper() if t.major else t.title
    return ["", f"{title} ({t.note})" if t.note else title, table(t.headers, t.rows)]


def render_text(report: Report, *, sessions: int = 20, titles: int = 20) -> str:
    """The whole report; `sessions` caps the per-session table (most recent first), `titles`
    the titles table (most watched first)."""
    out = ["Reelscope report (UTC)", tables.filters_line(report)]
    for t in (
        tables.qoe(report),
        tables.browse(report),
        tables.by_row(report),
        tables.by_rank(report),
        *tables.experiments(report),
        tables.titles(report, titles),
        features_table(report.features),
        tables.data_quality(report),
        tables.play_sessions(report, sessions),
    ):
        out += _section(t)
    return "\n".join(out) + "\n"
