"""The loop closed on a simulated population (`population.py`) through the public HTTP API:

1. logging phase: every feed explored (a randomised bucket), the rule-based rows;
2. `reelscope-train` on the store: the examination curve and the ALS model;
3. experiment phase: control (rules), treatment (model), heldback (rerank: the rule rows with
   each row's visible window re-ordered by the model) and a small random bucket, 5 % explored.

Claims, with the margins and tolerances docs/recommendations.md states:
- treatment beats control on plays per feed by at least MARGIN, the 95 % CI above 0;
- the estimated examination curve θ̂(row, rank) / θ̂(row, 0) is within CURVE_TOLERANCE of
  the true one in every visible cell (mean absolute error under CURVE_MAE);
- the IPS, SNIPS and DR estimates of the heldback policy's take rate, from the random
  bucket's logs, have 95 % intervals that contain the policy's on-policy take rate (measured
  on its unexplored feeds), and the DR interval is narrower than half that value.

About 30 s on 2 shared cores: 3 200 feeds over HTTP; fewer do not pin the curve down.
"""

from __future__ import annotations

from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import pytest

from telemetry.contracts.stored import open_report_store
from telemetry.host import report_cli
from telemetry.recommend import train_cli
from telemetry.recommend.estimators import Evaluation, evaluate
from telemetry.recommend.model import Model, load_model
from telemetry.recommend.train import TrainOptions, train_store
from telemetry.report.compute import compute_report
from telemetry.report.logged import Logs, read_logs
from telemetry.report.metrics import Report
from telemetry.report.queries import Filters
from tests.collector.harness import thread_collector

from .population import RANK, VISIBLE_RANKS, VISIBLE_ROWS, Population

MARGIN = 0.15
CURVE_TOLERANCE = 0.25
CURVE_MAE = 0.08
DEPTH = VISIBLE_RANKS
VIEWERS = 400
FEEDS_PER_VIEWER = 4

LOGGING = f"""[experiment]
name = "logging"
explore_depth = {DEPTH}
[[experiment.variants]]
name = "logging"
policy = "rules"
exploration = 1.0
"""

EXPERIMENT = f"""[experiment]
name = "home-test"
exploration = 0.05
explore_depth = {DEPTH}
model = "model.npz"
[[experiment.variants]]
name = "control"
policy = "rules"
weight = 35
[[experiment.variants]]
name = "treatment"
policy = "model"
weight = 35
[[experiment.variants]]
name = "heldback"
policy = "rerank"
weight = 15
[[experiment.variants]]
name = "random"
policy = "rules"
weight = 15
exploration = 1.0
"""


@dataclass
class World:
    population: Population
    model: Model
    logs: Logs
    report: Report
    store: str
    directory: Path


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    directory = tmp_path_factory.mktemp("simulation")
    population = Population(seed=11, size=VIEWERS)
    catalog = population.write_catalog(directory / "catalog.json")
    logging_file = directory / "logging.toml"
    logging_file.write_text(LOGGING)
    experiment_file = directory / "experiment.toml"
    experiment_file.write_text(EXPERIMENT)
    common = {"catalog": str(catalog), "rate_limit_per_s": 0, "log_level": "WARNING"}
    with thread_collector(directory, experiment=str(logging_file), feed_seed=1, **common) as c:
        population.run(c, FEEDS_PER_VIEWER)
        store = f"sqlite:///{c.db}"
    with closing(open_report_store(store)) as connection:
        train_store(connection, directory / "model.npz", TrainOptions(explore_depth=DEPTH))
    with thread_collector(directory, experiment=str(experiment_file), feed_seed=2, **common) as c:
        population.run(c, FEEDS_PER_VIEWER)
    with closing(open_report_store(store)) as connection:
        logs = read_logs(connection)
    report = compute_report(store, Filters())
    model = load_model(directory / "model.npz")
    return World(population, model, logs, report, store, directory)


def test_the_examination_curve_is_recovered(world: World) -> None:
    curve = world.model.examination
    errors = []
    for row in range(VISIBLE_ROWS):
        for rank in range(VISIBLE_RANKS):
            estimate = curve[(row, rank)]
            truth = RANK[rank] / RANK[0]
            errors.append(abs(estimate - truth))
            assert estimate == pytest.approx(truth, abs=CURVE_TOLERANCE), (row, rank)
    assert sum(errors) / len(errors) < CURVE_MAE


def test_treatment_beats_control(world: World) -> None:
    experiments = world.report.experiments
    assert experiments is not None
    comparison = next(c for c in experiments.comparisons if c.variant == "treatment")
    lift = comparison.plays_per_feed
    assert lift.value is not None
    assert lift.value >= MARGIN, experiments.verdicts
    assert lift.low is not None
    assert lift.low > 0
    assert any(v.startswith("treatment +") for v in experiments.verdicts)
    by_name = {v.name: v for v in experiments.variants}
    assert by_name["treatment"].take_rate.value > by_name["control"].take_rate.value  # type: ignore[operator]
    assert by_name["control"].startup.p50 is not None
    assert by_name["control"].rebuffer_ratio.value is not None


def test_counterfactual_estimates_cover_the_on_policy_value(world: World) -> None:
    model = world.model
    logged = [f for f in world.logs.feeds.values() if f.variant == "random"]

    def rerank(feed: object, titles: list[str]) -> list[str]:
        scores = model.scores(feed.device_id, titles, {})  # type: ignore[attr-defined]
        order = sorted(range(len(titles)), key=lambda i: -scores[i])
        return [titles[i] for i in order]

    estimate: Evaluation = evaluate(logged, "rerank", rerank, DEPTH)
    played = impressed = 0
    for feed in world.logs.feeds.values():
        if feed.variant == "heldback" and not feed.explored:
            for (_, rank), slot in feed.impressed():
                if rank < DEPTH:
                    impressed += 1
                    played += slot.played
    on_policy = played / impressed
    for name in ("ips", "snips", "dr"):
        e = getattr(estimate, name)
        assert e.low <= on_policy <= e.high, (name, e, on_policy)
    # Not vacuous: the interval is narrower than half the value it estimates.
    assert estimate.dr.high - estimate.dr.low < 0.5 * on_policy  # type: ignore[operator]


def test_the_report_shows_experiments_and_evaluates_a_policy(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    assert report_cli.main(["--store", world.store]) == 0
    out = capsys.readouterr().out
    assert "EXPERIMENTS" in out
    assert "treatment +" in out
    assert "plays per feed, 95 % CI [" in out
    model = str(world.directory / "model.npz")
    arguments = ["--store", world.store, "--evaluate", "rerank", "--model", model]
    assert report_cli.main([*arguments, "--variant", "random", "--explore-depth", "6"]) == 0
    out = capsys.readouterr().out
    assert "Counterfactual take rate of policy 'rerank'" in out
    assert "DR " in out
    assert report_cli.main([*arguments[:-1], str(world.directory / "missing.npz")]) == 2


def test_training_an_empty_store_writes_no_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with thread_collector(tmp_path) as running:
        store = f"sqlite:///{running.db}"
    model = tmp_path / "model.npz"
    assert train_cli.main(["--store", store, "--model", str(model)]) == 1
    assert "no attributed play" in capsys.readouterr().err
    assert not model.exists()
    assert train_cli.main(["--db", str(tmp_path / "nothing.db"), "--model", str(model)]) == 2
