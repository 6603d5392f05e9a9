"""Position bias: the probability that a viewer examines the tile at (row, rank), estimated
from the explored feeds, where every row's first `explore_depth` items were put in a uniformly
random order.

Under the position-based click model, P(play | impression at (row, rank), title) =
θ(row, rank) · relevance(title). In explored feeds every title is equally likely at every
explored rank of a row, so the mean relevance is the same at each of them and

    θ̂(row, rank) = take_rate(row, rank) / take_rate(row, 0)

estimates the examination probability relative to the row's first tile. (Shuffles never move a
title between rows, so how much less a lower row is examined is not identified; the trainer's
weights correct ranks within a row, which is where the serving policies differ.)

Pure code; any thread.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Final

from telemetry.report.logged import Cell, LoggedFeed

# A cell needs this many explored impressions to get its own estimate.
MIN_IMPRESSIONS: Final = 30
# θ̂ is floored here, so no training example weighs more than 1 / FLOOR.
FLOOR: Final = 0.1


def estimate_examination(feeds: Iterable[LoggedFeed], depth: int) -> dict[Cell, float]:
    """θ̂(row, rank) for the explored cells with enough impressions (row's rank 0 is 1.0).

    Each rank is compared with rank 0 *of the same rows*: a short row (three titles in
    Continue Watching) has no rank 5, and its titles are not the long rows' titles, so mixing
    them into rank 0's rate would bias the ratio."""
    shown: Counter[Cell] = Counter()
    taken: Counter[Cell] = Counter()
    first_shown: Counter[Cell] = Counter()
    first_taken: Counter[Cell] = Counter()
    for feed in feeds:
        if not feed.explored:
            continue
        rows: dict[int, dict[int, bool]] = {}
        for (row, rank), slot in feed.impressed():
            if rank < depth:
                rows.setdefault(row, {})[rank] = slot.played
        for row, ranks in rows.items():
            if 0 not in ranks:
                continue
            for rank, played in ranks.items():
                shown[(row, rank)] += 1
                taken[(row, rank)] += played
                first_shown[(row, rank)] += 1
                first_taken[(row, rank)] += ranks[0]
    curve: dict[Cell, float] = {}
    for cell, n in shown.items():
        if n < MIN_IMPRESSIONS or not first_taken[cell]:
            continue
        curve[cell] = (taken[cell] / n) / (first_taken[cell] / first_shown[cell])
    return curve


def examination_at(curve: Mapping[Cell, float], cell: Cell) -> float:
    """θ̂ for a cell, floored; a cell without an estimate takes its row's deepest estimated rank
    above it, and 1.0 when the row has none (no correction rather than a guess)."""
    row, rank = cell
    value = curve.get(cell)
    if value is None:
        above = [r for (w, r) in curve if w == row and r < rank]
        value = curve[(row, max(above))] if above else 1.0
    return max(FLOOR, min(1.0, value))
