"""The serving policies: stable experiment assignment from the operator's file, and the exact
propensities of explored feeds (checked against the frequencies of many draws)."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from player.catalog import Catalog, CatalogItem
from telemetry.recommend.experiment import (
    ExperimentConfig,
    ExperimentConfigError,
    Variant,
    load_experiment_config,
)
from telemetry.recommend.model import Model
from telemetry.recommend.policy import serve

CONTROL = Variant("control", "rules", 1)


def catalog(n: int = 12) -> Catalog:
    return Catalog(
        tuple(
            CatalogItem(f"v{i}", f"Title {i}", f"/m/{i}.mp4", genres=("Drama",) if i % 2 else ())
            for i in range(n)
        )
    )


def test_assignment_is_stable_and_follows_the_weights(tmp_path: Path) -> None:
    path = tmp_path / "experiment.toml"
    path.write_text(
        '[experiment]\nname = "x"\nexploration = 0.1\nmodel = "model.npz"\n'
        '[[experiment.variants]]\nname = "control"\npolicy = "rules"\nweight = 80\n'
        '[[experiment.variants]]\nname = "treatment"\npolicy = "model"\nweight = 20\n'
    )
    config = load_experiment_config(path)
    assert config.model == str(tmp_path / "model.npz")
    assert config.exploration == 0.1
    counts = Counter(config.assign(f"device-{i}").name for i in range(20_000))
    assert counts["treatment"] / 20_000 == pytest.approx(0.2, abs=0.01)
    again = load_experiment_config(path)
    assert all(config.assign(f"d{i}") == again.assign(f"d{i}") for i in range(500))
    # A new experiment name reshuffles who is in which variant.
    other = ExperimentConfig(name="y", variants=config.variants)
    moved = sum(config.assign(f"d{i}") != other.assign(f"d{i}") for i in range(2000))
    assert moved > 400


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[experiment.variants]]\nname = "a"\npolicy = "magic"\n', "policy 'magic'"),
        ("[experiment]\nexploration = 2.0\n", "exploration"),
        ("[experiment]\ntypo = 1\n", "unknown settings typo"),
        ("not toml [", "experiment.toml"),
    ],
)
def test_bad_experiment_files_say_why(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "experiment.toml"
    path.write_text(text)
    with pytest.raises(ExperimentConfigError, match=message):
        load_experiment_config(path)


def test_explored_propensities_are_the_slot_frequencies() -> None:
    rng = random.Random(7)
    draws = 6000
    seen: Counter[tuple[str, int, str]] = Counter()
    logged: dict[tuple[str, int, str], float] = {}
    explored = 0
    for _ in range(draws):
        feed = serve(
            catalog(), [], device_id="d", variant=CONTROL, model=None,
            exploration=0.3, explore_depth=4, rng=rng,
        )  # fmt: skip
        explored += feed.explored
        for row in feed.rows:
            for item in row.items:
                key = (row.row_id, item.rank, item.video_id)
                seen[key] += 1
                assert logged.setdefault(key, item.propensity) == item.propensity
    assert explored / draws == pytest.approx(0.3, abs=0.02)
    for key, p in logged.items():
        assert seen[key] / draws == pytest.approx(p, abs=0.02), key
    # Per slot, the propensities of the items that can land there add up to 1.
    for row_id, rank in {(k[0], k[1]) for k in logged}:
        assert sum(p for k, p in logged.items() if k[:2] == (row_id, rank)) == pytest.approx(1)


def model(items: list[str], users: list[str]) -> Model:
    rng = np.random.default_rng(0)
    return Model(
        "m1",
        tuple(items),
        rng.normal(size=(len(items), 3)).astype(np.float32),
        tuple(users),
        rng.normal(size=(len(users), 3)).astype(np.float32),
        np.linspace(1, 0, len(items)),
    )


def test_model_variant_ranks_by_score_and_cold_starts_unknown_devices_and_titles() -> None:
    items = catalog()
    known = [i.id for i in items.items[:-1]]  # the last title is new: not in the model
    trained = model(known, ["d-known"])
    treatment = Variant("treatment", "model", 1)
    feed = serve(
        items, [], device_id="d-known", variant=treatment, model=trained,
        exploration=0.0, explore_depth=4, rng=random.Random(1),
    )  # fmt: skip
    top = feed.rows[0]
    assert top.track_id == "als/m1/top_picks"
    assert feed.policy == "model"
    assert feed.model_version == "m1"
    scores = trained.scores("d-known", [i.video_id for i in top.items], {})
    assert scores[:-1] == sorted(scores[:-1], reverse=True)
    cold = serve(
        items, [], device_id="d-new", variant=treatment, model=trained,
        exploration=0.0, explore_depth=4, rng=random.Random(1),
    )  # fmt: skip
    assert cold.rows[0].track_id == "popularity/m1/top_picks"
    assert [i.video_id for i in cold.rows[0].items][:3] == ["v0", "v1", "v2"]
    # The new title v11 (Drama) scores as its genre's known titles do, not as nothing.
    assert "v11" in [i.video_id for i in cold.rows[0].items]


def test_model_variant_without_a_model_serves_the_rules_and_says_why() -> None:
    feed = serve(
        catalog(), [], device_id="d", variant=Variant("treatment", "model", 1), model=None,
        exploration=0.0, explore_depth=4, rng=random.Random(1), fallback_reason="no model",
    )  # fmt: skip
    assert feed.policy == "rules"
    assert feed.variant == "treatment"
    assert feed.fallback_reason == "no model"
    assert all(row.track_id.startswith("rules/1/") for row in feed.rows)
