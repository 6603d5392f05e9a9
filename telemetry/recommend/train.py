"""The trainer: reads the store, estimates the examination curve from the explored feeds,
weights every attributed play by the inverse of its slot's examination probability, fits an
implicit-feedback ALS model (`implicit`, conjugate-gradient ALS of Hu, Koren and Volinsky),
computes a position-corrected popularity per title for cold start, and writes the model file.

Confidence of a (device, title) pair: the sum over its attributed plays of
`(1 + watched_fraction) / θ̂(row, rank)` — a play from a barely examined slot says more about
the title than one from the first tile, and a watched-through play more than a sampled one.

Runs on the caller's thread (the CLI's main thread); `implicit` uses its own worker threads.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np

from telemetry.recommend.examination import estimate_examination, examination_at
from telemetry.recommend.model import Model, save_model
from telemetry.report.logged import Logs, read_logs

log = logging.getLogger("reelscope.recommend.train")

# Popularity smoothing: a title with few impressions is pulled toward the global rate.
PRIOR_IMPRESSIONS: Final = 5.0


@dataclass(frozen=True, slots=True)
class TrainOptions:
    factors: int = 16
    regularization: float = 0.05
    iterations: int = 15
    explore_depth: int = 8
    seed: int = 0
    threads: int = 1


@dataclass(frozen=True, slots=True)
class TrainResult:
    model: Model
    feeds: int
    impressions: int
    plays: int
    seconds: float


class EmptyStoreError(Exception):
    """Nothing to learn from: no feed with an attributed play."""


def train(logs: Logs, options: TrainOptions = TrainOptions()) -> TrainResult:
    """A model from logged feeds; `EmptyStoreError` when there is no play to learn from."""
    started = time.perf_counter()
    curve = estimate_examination(logs.feeds.values(), options.explore_depth)
    confidence: dict[tuple[str, str], float] = defaultdict(float)
    shown: Counter[str] = Counter()
    expected: dict[str, float] = defaultdict(float)  # Σ θ̂ over a title's impressions
    taken: Counter[str] = Counter()
    impressions = plays = 0
    for feed in logs.feeds.values():
        for cell, slot in feed.impressed():
            impressions += 1
            theta = examination_at(curve, cell)
            shown[slot.video_id] += 1
            expected[slot.video_id] += theta
            if slot.play_session_id is None:
                continue
            plays += 1
            taken[slot.video_id] += 1
            outcome = logs.plays.get(slot.play_session_id)
            watched = outcome.watched_fraction if outcome is not None else 0.0
            confidence[(feed.device_id, slot.video_id)] += (1.0 + watched) / theta
    if not confidence:
        raise EmptyStoreError("the store has no attributed play to learn from")
    item_ids = tuple(sorted(shown))
    user_ids = tuple(sorted({device for device, _ in confidence}))
    items = {v: i for i, v in enumerate(item_ids)}
    users = {d: i for i, d in enumerate(user_ids)}
    user_factors, item_factors = _fit(confidence, users, items, options)
    rate = sum(taken.values()) / max(1e-9, sum(expected.values()))
    popularity = np.array(
        [
            (taken[v] + PRIOR_IMPRESSIONS * rate) / (expected[v] + PRIOR_IMPRESSIONS)
            for v in item_ids
        ],
        dtype=np.float64,
    )
    version = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    info: dict[str, Any] = {
        "feeds": len(logs.feeds),
        "explored_feeds": sum(f.explored for f in logs.feeds.values()),
        "impressions": impressions,
        "plays": plays,
        "factors": options.factors,
        "trained_at": version,
    }
    model = Model(version, item_ids, item_factors, user_ids, user_factors, popularity, curve, info)
    return TrainResult(model, len(logs.feeds), impressions, plays, time.perf_counter() - started)


def _fit(
    confidence: dict[tuple[str, str], float],
    users: dict[str, int],
    items: dict[str, int],
    options: TrainOptions,
) -> tuple[np.ndarray[Any, np.dtype[np.float32]], np.ndarray[Any, np.dtype[np.float32]]]:
    from implicit.cpu.als import AlternatingLeastSquares
    from scipy.sparse import csr_matrix
    from threadpoolctl import threadpool_limits

    rows = np.fromiter((users[d] for d, _ in confidence), dtype=np.int32, count=len(confidence))
    cols = np.fromiter((items[v] for _, v in confidence), dtype=np.int32, count=len(confidence))
    values = np.fromiter(confidence.values(), dtype=np.float32, count=len(confidence))
    matrix = csr_matrix((values, (rows, cols)), shape=(len(users), len(items)))
    # implicit parallelises itself; BLAS threads on top of its own only contend (its advice,
    # checked when the model is made).
    with threadpool_limits(1, "blas"):
        model = AlternatingLeastSquares(
            factors=options.factors,
            regularization=options.regularization,
            iterations=options.iterations,
            random_state=options.seed,
            num_threads=options.threads,
        )
        model.fit(matrix, show_progress=False)
    return (
        np.asarray(model.user_factors, dtype=np.float32),
        np.asarray(model.item_factors, dtype=np.float32),
    )


def train_store(
    connection: sqlite3.Connection, path: Path, options: TrainOptions = TrainOptions()
) -> TrainResult:
    """Reads the store, trains, writes the model file atomically."""
    result = train(read_logs(connection), options)
    save_model(result.model, path)
    log.info(
        "model %s written to %s: %d feeds, %d impressions, %d plays, %.1f s",
        result.model.version,
        path,
        result.feeds,
        result.impressions,
        result.plays,
        result.seconds,
    )
    return result
