"""Inline SVG charts for the HTML report, drawn in Python: bars, a line over time, a heat map and
a funnel. No scripts, no external files: each function returns one `<svg>` element as text,
with every label escaped.

Pure code; any thread.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from html import escape
from typing import Final

WIDTH: Final = 720
FONT: Final = 'font-family="system-ui, sans-serif" font-size="11"'
BAR: Final = "#3b6fd8"
MUTED: Final = "#6b7280"
LABEL_PX: Final = 64


def _svg(height: int, body: list[str], label: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{escape(label)}" {FONT}>'
        + "".join(body)
        + "</svg>"
    )


def _text(x: float, y: float, text: str, anchor: str = "start", fill: str = "#111") -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" fill="{fill}">{escape(text)}</text>'
    )


def _empty(label: str) -> str:
    return _svg(40, [_text(10, 24, "no data", fill=MUTED)], label)


def column_chart(
    labels: Sequence[str],
    values: Sequence[float],
    *,
    label: str,
    value_text: Callable[[float], str],
) -> str:
    """Vertical bars, one per label (a histogram when the labels are ranges)."""
    if not values or max(values) <= 0:
        return _empty(label)
    height, top, bottom, left = 220, 20, 40, 10
    plot = height - top - bottom
    step = (WIDTH - 2 * left) / len(values)
    peak = max(values)
    every = math.ceil(LABEL_PX / step)  # one axis label per LABEL_PX, so they never overlap
    body = []
    for i, (name, value) in enumerate(zip(labels, values, strict=True)):
        h = plot * value / peak
        x = left + i * step
        body.append(
            f'<rect x="{x + 1:.1f}" y="{top + plot - h:.1f}" width="{max(step - 2, 1):.1f}" '
            f'height="{h:.1f}" fill="{BAR}"><title>{escape(name)}: '
            f"{escape(value_text(value))}</title></rect>"
        )
        if value:
            body.append(_text(x + step / 2, top + plot - h - 4, value_text(value), "middle"))
        if i % every == 0:
            body.append(_text(x + step / 2, height - bottom + 14, name, "middle", MUTED))
    return _svg(height, body, label)


def bar_chart(
    labels: Sequence[str],
    values: Sequence[float],
    *,
    label: str,
    value_text: Callable[[float], str],
) -> str:
    """Horizontal bars, largest first as given; labels on the left."""
    if not values or max(values) <= 0:
        return _empty(label)
    row, left, right = 22, 200, 110
    height = row * len(values) + 10
    peak = max(values)
    body = []
    for i, (name, value) in enumerate(zip(labels, values, strict=True)):
        y = 5 + i * row
        w = (WIDTH - left - right) * value / peak
        short = name if len(name) <= 30 else name[:29] + "…"
        body.append(_text(left - 6, y + 14, short, "end"))
        body.append(
            f'<rect x="{left}" y="{y + 3}" width="{max(w, 1):.1f}" height="{row - 6}" '
            f'fill="{BAR}"><title>{escape(name)}</title></rect>'
        )
        body.append(_text(left + w + 6, y + 14, value_text(value)))
    return _svg(height, body, label)


def line_chart(
    labels: Sequence[str],
    values: Sequence[float | None],
    *,
    label: str,
    value_text: Callable[[float], str],
) -> str:
    """A line through the points that have a value, with dots and the peak labelled."""
    known = [v for v in values if v is not None]
    if not known:
        return _empty(label)
    height, top, bottom, left, right = 220, 24, 40, 60, 50
    plot = height - top - bottom
    peak = max(known) or 1.0
    step = (WIDTH - left - right) / max(len(values) - 1, 1)
    every = math.ceil(LABEL_PX * 1.5 / step)
    points = []
    body = [
        f'<line x1="{left}" y1="{top + plot}" x2="{WIDTH - right}" y2="{top + plot}" '
        f'stroke="{MUTED}"/>',
        _text(left - 6, top + 4, value_text(peak), "end", MUTED),
        _text(left - 6, top + plot + 4, value_text(0.0), "end", MUTED),
    ]
    for i, value in enumerate(values):
        x = left + i * step if len(values) > 1 else left + (WIDTH - left - right) / 2
        if i % every == 0:
            body.append(_text(x, height - bottom + 14, labels[i], "middle", MUTED))
        if value is None:
            continue
        y = top + plot - plot * value / peak
        points.append(f"{x:.1f},{y:.1f}")
        body.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{BAR}"><title>'
            f"{escape(labels[i])}: {escape(value_text(value))}</title></circle>"
        )
    if len(points) > 1:
        body.insert(0, f'<polyline points="{" ".join(points)}" fill="none" stroke="{BAR}"/>')
    return _svg(height, body, label)


def heat_map(
    cells: dict[tuple[int, int], float | None],
    *,
    label: str,
    value_text: Callable[[float], str],
    max_rows: int = 20,
    max_ranks: int = 20,
) -> str:
    """Rows down, ranks across; darker is higher, large cells show the value in percent.
    Empty cells had no impressions."""
    if not cells:
        return _empty(label)
    rows = sorted({r for r, _ in cells})[:max_rows]
    ranks = sorted({k for _, k in cells})[:max_ranks]
    left, top, size = 60, 30, min(32, (WIDTH - 70) // max(len(ranks), 1))
    height = top + size * len(rows) + 10
    peak = max((v for v in cells.values() if v is not None), default=0.0) or 1.0
    body = [_text(4, 14, "row \\ rank", fill=MUTED)]
    for j, rank in enumerate(ranks):
        body.append(_text(left + j * size + size / 2, top - 6, str(rank), "middle", MUTED))
    for i, row in enumerate(rows):
        y = top + i * size
        body.append(_text(left - 8, y + size / 2 + 4, str(row), "end", MUTED))
        for j, rank in enumerate(ranks):
            value = cells.get((row, rank))
            if value is None:
                continue
            shade = 0.08 + 0.92 * value / peak
            body.append(
                f'<rect x="{left + j * size}" y="{y}" width="{size - 1}" height="{size - 1}" '
                f'fill="{BAR}" fill-opacity="{shade:.2f}"><title>row {row}, rank {rank}: '
                f"{escape(value_text(value))}</title></rect>"
            )
            if size >= 30:
                ink = "#fff" if shade > 0.5 else "#111"
                body.append(_text(left + j * size + size / 2, y + size / 2 + 4,
                                  f"{value * 100:.0f}", "middle", ink))  # fmt: skip
    return _svg(height, body, label)


def funnel(stages: Sequence[tuple[str, int]], *, label: str) -> str:
    """Stages as centred bars, each with its count and its share of the first stage."""
    if not stages or stages[0][1] <= 0:
        return _empty(label)
    row, first = 36, stages[0][1]
    height = row * len(stages) + 10
    body = []
    for i, (name, count) in enumerate(stages):
        w = (WIDTH - 260) * count / first
        y = 5 + i * row
        body.append(
            f'<rect x="{(WIDTH - w) / 2:.1f}" y="{y}" width="{max(w, 1):.1f}" '
            f'height="{row - 8}" fill="{BAR}" fill-opacity="{1 - i * 0.15:.2f}"/>'
        )
        body.append(_text(10, y + 18, name))
        body.append(_text(WIDTH - 10, y + 18, f"{count} ({count / first:.1%})", "end"))
    return _svg(height, body, label)
