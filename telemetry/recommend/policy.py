"""The serving policies: which rows and items a feed holds, and for every item the exact
probability (`propensity`) with which the serving policy put it in its slot.

- `rules`: today's local feed, `player.feed.build_feed`, seeded by the device (so a device's
  rows are stable between feeds) — the experiment's control.
- `model`: a "Top Picks" row of the model's highest-scoring titles, then the rule rows with
  each row re-ranked by the model's score (Continue Watching keeps its recency order). A device
  the model has never seen gets the cold-start path: popularity instead of ALS scores, and a
  title the model has not seen gets its genres' mean score (see `Model.scores`).
- `rerank`: the rule rows, with only each row's first `explore_depth` items re-ordered by the
  model's score. Every slot it fills is one the explored rule feeds can fill, so its value can
  be estimated from logged control traffic before it is served (`estimators.py`).

Exploration: with probability `exploration` a feed is *explored*: in every row the first
`k = min(explore_depth, len(row))` items are put in a uniformly random order. The marginal
probability that item i lands in slot j < k is then exactly

    p(i, j) = (1 - exploration) * [base order puts i at j] + exploration / k

and 1 for slots past k (never reordered). That is the `propensity` logged with each item; the
estimators in `estimators.py` divide by it.

Pure code; any thread. Randomness comes from the `random.Random` the caller passes.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from player.catalog import Catalog
from player.feed import CONTINUE_WATCHING, HOME, FeedOptions, build_feed
from player.history import HistoryEntry
from telemetry.recommend.experiment import Variant, bucket_of
from telemetry.recommend.model import ALGORITHM, Model

RULES_ALGORITHM = "rules"
RULES_VERSION = "1"
POPULARITY_ALGORITHM = "popularity"
TOP_PICKS = "top_picks"
_OPTIONS = FeedOptions()


def track_id(algorithm: str, version: str, track: str) -> str:
    """`<algorithm>/<version>/<track>`: which code made a row, at which version."""
    return f"{algorithm}/{version}/{track}"


@dataclass(frozen=True, slots=True)
class ServedItem:
    video_id: str
    rank: int
    propensity: float


@dataclass(frozen=True, slots=True)
class ServedRow:
    row_id: str
    row_index: int
    track_id: str
    title: str
    items: tuple[ServedItem, ...]


@dataclass(frozen=True, slots=True)
class ServedFeed:
    """One feed as `GET /v1/feed` answers it. `fallback_reason` says why a model variant got
    the rule-based rows (no model, a corrupt one); None when it got what it asked for."""

    request_id: str
    location: str
    variant: str
    policy: str
    explored: bool
    rows: tuple[ServedRow, ...]
    model_version: str | None = None
    fallback_reason: str | None = None

    def to_json(self) -> dict[str, object]:
        return {
            "request_id": self.request_id,
            "location": self.location,
            "source": "server",
            "variant": self.variant,
            "policy": self.policy,
            "explored": self.explored,
            "model_version": self.model_version,
            "fallback_reason": self.fallback_reason,
            "rows": [
                {
                    "row_id": row.row_id,
                    "row_index": row.row_index,
                    "track_id": row.track_id,
                    "title": row.title,
                    "items": [
                        {"video_id": i.video_id, "rank": i.rank, "propensity": i.propensity}
                        for i in row.items
                    ],
                }
                for row in self.rows
            ],
        }


# A row before exploration: (row_id, track_id, title, video ids in the policy's order).
_BaseRow = tuple[str, str, str, list[str]]


def serve(
    catalog: Catalog,
    history: Sequence[HistoryEntry],
    *,
    device_id: str,
    variant: Variant,
    model: Model | None,
    exploration: float,
    explore_depth: int,
    rng: random.Random,
    location: str = HOME,
    fallback_reason: str | None = None,
    options: FeedOptions = _OPTIONS,
) -> ServedFeed:
    """One feed for `device_id` under `variant`. A `model` variant without a `model` serves
    the rules (the caller says why in `fallback_reason`)."""
    rules = _rule_rows(catalog, history, device_id, options)
    if variant.policy != "rules" and model is not None:
        if variant.policy == "model":
            base = _model_rows(catalog, rules, device_id, model, options.max_items_per_row)
        else:
            base = rerank_rows(catalog, rules, device_id, model, explore_depth)
        policy, version, reason = variant.policy, model.version, None
    else:
        base, policy, version = rules, "rules", None
        reason = fallback_reason if variant.policy != "rules" else None
    explored = rng.random() < exploration
    rows: list[ServedRow] = []
    for row_id, track, title, video_ids in base:
        if not video_ids:
            continue
        items = _explore(video_ids, explored, exploration, explore_depth, rng)
        rows.append(ServedRow(row_id, len(rows), track, title, items))
    request_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    return ServedFeed(
        request_id, location, variant.name, policy, explored, tuple(rows), version, reason
    )


def _rule_rows(
    catalog: Catalog, history: Sequence[HistoryEntry], device_id: str, options: FeedOptions
) -> list[_BaseRow]:
    feed = build_feed(catalog, history, seed=bucket_of(device_id), options=options)
    return [
        (
            row.row_id,
            track_id(RULES_ALGORITHM, RULES_VERSION, row.track_id),
            row.title,
            [i.video_id for i in row.items],
        )
        for row in feed.rows
    ]


def _scores(catalog: Catalog, device_id: str, model: Model) -> dict[str, float]:
    genres: Mapping[str, Sequence[str]] = {item.id: item.genres for item in catalog.items}
    every = [item.id for item in catalog.items]
    return dict(zip(every, model.scores(device_id, every, genres), strict=True))


def _model_rows(
    catalog: Catalog, rules: list[_BaseRow], device_id: str, model: Model, limit: int
) -> list[_BaseRow]:
    score = _scores(catalog, device_id, model)
    every = list(score)
    known = model.knows_device(device_id)
    algorithm = ALGORITHM if known else POPULARITY_ALGORITHM
    title = "Top Picks for You" if known else "Popular on Reelscope"

    def ranked(video_ids: list[str]) -> list[str]:
        # Ties (equal scores) keep the rule order: sorted() is stable.
        return sorted(video_ids, key=lambda v: -score[v])

    rows: list[_BaseRow] = [
        (TOP_PICKS, track_id(algorithm, model.version, TOP_PICKS), title, ranked(every)[:limit])
    ]
    for row_id, rule_track, row_title, video_ids in rules:
        track = rule_track.split("/", 2)[2]
        if track == CONTINUE_WATCHING:
            rows.append((row_id, rule_track, row_title, video_ids))
        else:
            rows.append(
                (row_id, track_id(algorithm, model.version, track), row_title, ranked(video_ids))
            )
    return rows


def rerank_rows(
    catalog: Catalog, rules: Sequence[_BaseRow], device_id: str, model: Model, depth: int
) -> list[_BaseRow]:
    """The rule rows, each row's first `depth` items re-ordered by the model's score (stable:
    ties keep the rule order); the rest of each row as the rules left it."""
    score = _scores(catalog, device_id, model)
    algorithm = ALGORITHM if model.knows_device(device_id) else POPULARITY_ALGORITHM
    rows: list[_BaseRow] = []
    for row_id, rule_track, title, video_ids in rules:
        head = sorted(video_ids[:depth], key=lambda v: -score.get(v, 0.0))
        track = track_id(f"{algorithm}-rerank", model.version, rule_track.split("/", 2)[2])
        rows.append((row_id, track, title, head + video_ids[depth:]))
    return rows


def _explore(
    video_ids: list[str], explored: bool, exploration: float, depth: int, rng: random.Random
) -> tuple[ServedItem, ...]:
    k = min(depth, len(video_ids))
    order = list(video_ids)
    if explored:
        head = order[:k]
        rng.shuffle(head)
        order[:k] = head
    items = []
    for rank, video_id in enumerate(order):
        if rank < k and k > 1:
            propensity = (1.0 - exploration) * (video_ids[rank] == video_id) + exploration / k
        else:
            propensity = 1.0
        items.append(ServedItem(video_id, rank, propensity))
    return tuple(items)
