"""The feed service behind `GET /v1/feed`: assigns the device to its experiment variant, loads
(and reloads, when the file changes) the model, rebuilds the device's watch history from the
store for the rule-based rows, and serves a feed with propensities (`policy.serve`).

A model variant without a usable model (no file yet, a corrupt one, the `recommend` extra not
installed) is served the rule-based rows, with `fallback_reason` in the answer; the reason is
logged once each time it changes, not on every request.

Called from the collector's worker threads (`run_in_threadpool`), any number at once: the
model swap is under a lock, each thread has its own read-only store connection, and the random
source is shared under a lock when seeded (tests), per call otherwise.
"""

from __future__ import annotations

import logging
import os
import random
import sqlite3
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from player.catalog import Catalog, CatalogError, load_catalog_file, load_sample_catalog
from player.history import HistoryEntry
from telemetry.contracts.stored import open_store_readonly
from telemetry.recommend.experiment import (
    ExperimentConfig,
    ExperimentConfigError,
    load_experiment_config,
)
from telemetry.recommend.history import device_history
from telemetry.recommend.policy import ServedFeed, serve

if TYPE_CHECKING:
    from telemetry.recommend.model import Model

log = logging.getLogger("reelscope.recommend.service")


class FeedService:
    def __init__(
        self,
        catalog: Catalog,
        experiment: ExperimentConfig,
        *,
        store_url: str | None,
        seed: int | None = None,
    ) -> None:
        self.catalog = catalog
        self.experiment = experiment
        self._store_url = store_url
        self._model_path = Path(experiment.model) if experiment.model else None
        self._lock = threading.Lock()
        self._model: Model | None = None
        # Never a real file's stamp: the first request loads the model.
        self._model_stamp: tuple[int, int] | None = (-1, -1)
        self._fallback: str | None = "no model file is configured"
        self._rng = random.Random(seed) if seed is not None else None
        self._local = threading.local()

    def feed(self, key_id: str, device_id: str, location: str) -> ServedFeed:
        variant = self.experiment.assign(device_id)
        model, reason = self._current_model() if variant.policy != "rules" else (None, None)
        history = self._history(key_id, device_id)
        if self._rng is not None:
            with self._lock:
                rng = random.Random(self._rng.getrandbits(64))
        else:
            rng = random.Random(int.from_bytes(os.urandom(16), "big"))
        return serve(
            self.catalog,
            history,
            device_id=device_id,
            variant=variant,
            model=model,
            exploration=self.experiment.exploration_of(variant),
            explore_depth=self.experiment.explore_depth,
            rng=rng,
            location=location,
            fallback_reason=reason,
        )

    def _current_model(self) -> tuple[Model | None, str | None]:
        """The model, reloaded when the file's size or mtime changed; else why there is none."""
        path = self._model_path
        if path is None:
            return None, self._fallback
        try:
            info = path.stat()
            stamp: tuple[int, int] | None = (info.st_mtime_ns, info.st_size)
        except OSError:
            stamp = None
        with self._lock:
            if stamp != self._model_stamp:
                self._model_stamp = stamp
                self._model, reason = _load(path)
                if reason != self._fallback:
                    if self._model is not None:
                        log.info("serving model %s from %s", self._model.version, path)
                    else:
                        log.warning("model variant falls back to the rules: %s", reason)
                    self._fallback = reason
            return self._model, self._fallback

    def _history(self, key_id: str, device_id: str) -> list[HistoryEntry]:
        if self._store_url is None:
            return []
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        try:
            if connection is None:
                connection = open_store_readonly(self._store_url)
                self._local.connection = connection
            return device_history(connection, key_id, device_id)
        except sqlite3.Error as exc:
            # No history is a worse feed, not a failed one (the store may not exist yet).
            log.debug("no watch history for the feed: %s", exc)
            self._local.connection = None
            return []


def open_feed_service(
    catalog_file: str, experiment_file: str, feed_seed: int, store_url: str | None
) -> FeedService:
    """The service the collector's settings describe (`catalog`, `experiment` and `feed_seed`;
    empty names mean the sample catalog and no experiment, a negative seed a random one);
    ValueError says what is wrong."""
    try:
        catalog = load_catalog_file(Path(catalog_file)) if catalog_file else None
        catalog = catalog or load_sample_catalog()
        experiment = (
            load_experiment_config(Path(experiment_file)) if experiment_file else ExperimentConfig()
        )
    except (CatalogError, ExperimentConfigError) as exc:
        raise ValueError(str(exc)) from exc
    for problem in catalog.problems:
        log.warning("catalog entry skipped: %s", problem)
    seed = None if feed_seed < 0 else feed_seed
    return FeedService(catalog, experiment, store_url=store_url, seed=seed)


def _load(path: Path) -> tuple[Model | None, str | None]:
    try:
        from telemetry.recommend.model import ModelError, load_model
    except ImportError as exc:
        return None, f"the recommend extra is not installed ({exc.name})"
    try:
        return load_model(path), None
    except ModelError as exc:
        return None, str(exc)
