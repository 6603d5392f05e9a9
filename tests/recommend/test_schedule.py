"""Training on a schedule in the collector: with an injected clock (moved, then poked; no
sleeps), the real `reelscope-train` child process trains on the real store a small simulated
population filled over HTTP, writes the model file, and the running collector's feed service
serves the model variant from the next request on, while requests keep being answered. An
empty store writes no model, says why, and the rules stay in service."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from telemetry.collector.config import load_config
from telemetry.host.feed_route import FeedRoute
from telemetry.recommend.schedule import TrainingSchedule, collector_schedule, trainer_command
from tests.collector.harness import make_keys, thread_collector
from tests.recommend.population import Population
from tests.recommend.test_feed_api import get, write_experiment
from tests.telemetry.waiting import wait_until

from ..telemetry.track_recorder import Clock

TRAINING_S = 120.0  # the child's whole run, on a shared machine


def test_the_schedule_trains_at_its_tick_and_the_feed_serves_the_new_model(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="reelscope.recommend")
    population = Population(seed=5, size=24)
    catalog = population.write_catalog(tmp_path / "catalog.json")
    model = tmp_path / "model.npz"
    experiment = write_experiment(tmp_path / "experiment.toml", model)
    settings = {"catalog": str(catalog), "experiment": str(experiment), "rate_limit_per_s": 0}
    with thread_collector(tmp_path, **settings) as running:
        store = f"sqlite:///{running.db}"
        clock = Clock(0.0)
        schedule = TrainingSchedule(trainer_command(store, model, 6), 60.0, clock=clock)
        schedule.start()
        try:
            # Before the first tick: an empty store, and nothing trains.
            assert get(running, device_id="d").json()["fallback_reason"].startswith("no model")
            population.run(running, 3)
            clock.now = 59.0
            schedule.poke()
            assert not schedule.wait_for_runs(1, 0.2)
            clock.now = 60.0
            schedule.poke()
            assert schedule.wait_for_runs(1, TRAINING_S), schedule.last_outcome
            assert schedule.last_outcome.startswith("model "), schedule.last_outcome
            feed = get(running, device_id=population.viewers[0].device_id).json()
            assert feed["policy"] == "model"
            assert feed["fallback_reason"] is None
            assert feed["rows"][0]["track_id"].startswith("als/")
            # New viewers are cold starts until the next training knows them; run_now trains
            # at once, and the service swaps to the new file on its next request.
            newcomers = Population(seed=6, size=6)
            newcomers.run(running, 3)
            ids = [viewer.device_id for viewer in newcomers.viewers]

            def top_tracks() -> list[str]:
                return [get(running, device_id=i).json()["rows"][0]["track_id"] for i in ids]

            assert all(track.startswith("popularity/") for track in top_tracks())
            schedule.run_now()
            assert schedule.wait_for_runs(2, TRAINING_S), schedule.last_outcome
            wait_until(
                lambda: any(track.startswith("als/") for track in top_tracks()),
                what="the retrained model served",
            )
        finally:
            schedule.stop()
    messages = [r.getMessage() for r in caplog.records]
    assert any(m.startswith("scheduled training after") for m in messages)


def test_an_empty_store_writes_no_model_and_says_why(tmp_path: Path) -> None:
    model = tmp_path / "model.npz"
    with thread_collector(tmp_path) as running:
        schedule = TrainingSchedule(
            trainer_command(f"sqlite:///{running.db}", model, 6), 3600.0, clock=Clock(0.0)
        )
        schedule.start()
        try:
            schedule.run_now()
            assert schedule.wait_for_runs(1, TRAINING_S)
        finally:
            schedule.stop()
        assert get(running, device_id="d").status_code == 200
    assert "no model written" in schedule.last_outcome
    assert not model.exists()


def test_the_collector_schedules_training_only_when_asked(tmp_path: Path) -> None:
    experiment = write_experiment(tmp_path / "experiment.toml", tmp_path / "model.npz")
    keys = make_keys(tmp_path)
    db = f"sqlite:///{tmp_path / 'events.db'}"
    for every, wanted in ((0.0, False), (3600.0, True)):
        config = load_config(
            environ={},
            overrides={
                "db": db,
                "keys": str(keys),
                "experiment": str(experiment),
                "train_every_s": every,
            },
        )
        assert (FeedRoute(config).training is not None) is wanted
    no_model = load_config(environ={}, overrides={"db": db, "train_every_s": 60})
    assert collector_schedule(no_model.train_every_s, None, db) is None
    with pytest.raises(ValueError, match="positive"):
        TrainingSchedule(["true"], 0)
