"""The counterfactual value of a candidate policy from logged feeds (IPS, self-normalised IPS,
doubly robust; `reelscope-report --evaluate`), each a ratio with the delta-method interval of
`telemetry.report.estimates`.

Counterfactual take rate of a policy π that re-orders each logged row's explored window (the
first `depth` items; beyond it π keeps the logged order). For each impressed slot s = (row,
rank) of a logged feed, with logged title a_s, its logged propensity p_s and played r_s:

    w_s  = [π puts a_s at s] / p_s
    IPS  = Σ_s w_s·r_s / Σ_s 1
    SNIPS= Σ_s w_s·r_s / Σ_s w_s
    DR   = Σ_s (q̂(π_s, s) + w_s·(r_s - q̂(a_s, s))) / Σ_s 1

with q̂(title, s) = θ̂(s)·ρ̂(title), the examination curve times the title's position-corrected
take rate (the direct-method model). Sums run over feeds, so each is a ratio clustered by feed.
Assumptions (docs/recommendations.md): a play depends only on the title and its slot, not on
the other tiles; the impressed slots do not depend on which titles fill them.

Pure code; any thread.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from telemetry.recommend.examination import estimate_examination, examination_at
from telemetry.report.estimates import Estimate, ratio_estimate
from telemetry.report.logged import Cell, LoggedFeed

# A policy's order for one logged row window: (feed, the window's titles) -> titles re-ordered.
Ranker = Callable[[LoggedFeed, Sequence[str]], list[str]]


@dataclass(frozen=True, slots=True)
class Evaluation:
    policy: str
    feeds: int
    slots: int
    matched: int  # impressed slots where the policy agrees with what was logged
    ips: Estimate
    snips: Estimate
    dr: Estimate
    logged: Estimate  # the logging policy's own take rate on the same slots


def evaluate(feeds: Iterable[LoggedFeed], policy: str, ranker: Ranker, depth: int) -> Evaluation:
    """The counterfactual take rate of `ranker` over the explored window of logged feeds that
    carry propensities (feeds built by the app itself carry none and are left out)."""
    usable = [f for f in feeds if f.source == "server" and f.rules_only]
    curve = estimate_examination(usable, depth)
    relevance = _relevance(usable, curve, depth)
    ips: list[tuple[float, float]] = []
    snips: list[tuple[float, float]] = []
    dr: list[tuple[float, float]] = []
    logged: list[tuple[float, float]] = []
    slots = matched = 0
    for feed in usable:
        target = _target_slots(feed, ranker, depth)
        gain = weight = direct = played = 0.0
        count = 0
        for cell, slot in feed.impressed():
            if cell[1] >= depth or slot.propensity is None or cell not in target:
                continue
            count += 1
            reward = float(slot.played)
            agrees = target[cell] == slot.video_id
            matched += agrees
            w = agrees / slot.propensity
            theta = examination_at(curve, cell)
            q_logged = theta * relevance(slot.video_id)
            q_target = theta * relevance(target[cell])
            gain += w * reward
            weight += w
            direct += q_target + w * (reward - q_logged)
            played += reward
        if count:
            slots += count
            ips.append((gain, count))
            snips.append((gain, weight))
            dr.append((direct, count))
            logged.append((played, count))
    return Evaluation(
        policy,
        len(ips),
        slots,
        matched,
        ratio_estimate(ips),
        ratio_estimate(snips),
        ratio_estimate(dr),
        ratio_estimate(logged),
    )


def _target_slots(feed: LoggedFeed, ranker: Ranker, depth: int) -> dict[Cell, str]:
    rows: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for (row, rank), slot in feed.slots.items():
        if rank < depth:
            rows[row].append((rank, slot.video_id))
    target: dict[Cell, str] = {}
    for row, window in rows.items():
        titles = [video for _, video in sorted(window)]
        for rank, video in enumerate(ranker(feed, titles)):
            target[(row, rank)] = video
    return target


def _relevance(
    feeds: Sequence[LoggedFeed], curve: dict[Cell, float], depth: int
) -> Callable[[str], float]:
    """ρ̂(title): plays over examination-weighted impressions, smoothed toward the mean."""
    plays: Counter[str] = Counter()
    exposure: dict[str, float] = defaultdict(float)
    for feed in feeds:
        for cell, slot in feed.impressed():
            if cell[1] < depth:
                plays[slot.video_id] += slot.played
                exposure[slot.video_id] += examination_at(curve, cell)
    mean = sum(plays.values()) / max(1e-9, sum(exposure.values()))
    prior = 5.0

    def relevance(video_id: str) -> float:
        return (plays[video_id] + prior * mean) / (exposure.get(video_id, 0.0) + prior)

    return relevance
