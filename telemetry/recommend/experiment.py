"""Experiment settings and assignment: which variant a device is in (a stable hash of the device
id, so a device stays in its variant across feeds, launches and collector restarts), which
policy each variant serves, and how much of the traffic is explored.

The operator's file is TOML:

    [experiment]
    name = "home-2026-12"        # part of the hash: a new experiment reshuffles devices
    exploration = 0.05           # share of feeds whose rows are shuffled at random
    explore_depth = 8            # how many leading items of a row a shuffle reorders
    model = "/var/reelscope/model.npz"

    [[experiment.variants]]
    name = "control"
    policy = "rules"
    weight = 50

    [[experiment.variants]]
    name = "treatment"
    policy = "model"
    weight = 45

    [[experiment.variants]]        # a small randomised bucket: every feed explored, so
    name = "random"                # counterfactual estimates have low-variance weights
    policy = "rules"
    weight = 5
    exploration = 1.0

Built once (main thread) and read-only afterwards; any thread.
"""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

# rules: today's local rows; model: a Top Picks row, then the rule rows re-ranked by the model;
# rerank: the rule rows with only each row's explored window re-ranked (policy.py).
POLICIES: Final = frozenset({"rules", "model", "rerank"})
# Hash buckets: weights are resolved to 1/10 000 of the traffic.
BUCKETS: Final = 10_000


class ExperimentConfigError(ValueError):
    """The operator's experiment file is unreadable or inconsistent."""


@dataclass(frozen=True, slots=True)
class Variant:
    name: str
    policy: str
    weight: float
    exploration: float | None = None  # None: the experiment's share


@dataclass(frozen=True, slots=True)
class ExperimentConfig:
    name: str = "default"
    variants: tuple[Variant, ...] = (Variant("control", "rules", 1.0),)
    exploration: float = 0.05
    explore_depth: int = 8
    model: str | None = None

    def __post_init__(self) -> None:
        if not self.variants:
            raise ExperimentConfigError("an experiment needs at least one variant")
        names = [v.name for v in self.variants]
        if len(set(names)) != len(names):
            raise ExperimentConfigError(f"variant names repeat: {names}")
        for variant in self.variants:
            if variant.policy not in POLICIES:
                raise ExperimentConfigError(
                    f"variant {variant.name!r}: policy {variant.policy!r} is not one of "
                    f"{sorted(POLICIES)}"
                )
            if not variant.weight >= 0:
                raise ExperimentConfigError(f"variant {variant.name!r}: weight must be >= 0")
            if variant.exploration is not None and not 0.0 <= variant.exploration <= 1.0:
                raise ExperimentConfigError(
                    f"variant {variant.name!r}: exploration must be a share between 0 and 1"
                )
        if sum(v.weight for v in self.variants) <= 0:
            raise ExperimentConfigError("the variants' weights add up to 0")
        if not 0.0 <= self.exploration <= 1.0:
            raise ExperimentConfigError("exploration must be a share between 0 and 1")
        if self.explore_depth < 2:
            raise ExperimentConfigError("explore_depth must be at least 2")

    def exploration_of(self, variant: Variant) -> float:
        return self.exploration if variant.exploration is None else variant.exploration

    def assign(self, device_id: str) -> Variant:
        """The device's variant: its hash bucket against the variants' cumulative weights."""
        bucket = bucket_of(f"{self.name}\x00{device_id}")
        total = sum(v.weight for v in self.variants)
        edge = 0.0
        for variant in self.variants:
            edge += variant.weight / total * BUCKETS
            if bucket < edge:
                return variant
        return self.variants[-1]


def bucket_of(text: str) -> int:
    """A stable bucket in [0, BUCKETS): BLAKE2b, not `hash()`, which changes per process."""
    digest = hashlib.blake2b(text.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % BUCKETS


def load_experiment_config(path: Path) -> ExperimentConfig:
    """Reads the operator's TOML file (see the module docstring)."""
    try:
        with path.open("rb") as handle:
            document = tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ExperimentConfigError(f"{path}: {exc}") from exc
    table: dict[str, Any] = document.get("experiment", document)
    known = {"name", "variants", "exploration", "explore_depth", "model"}
    unknown = sorted(set(table) - known)
    if unknown:
        raise ExperimentConfigError(f"{path}: unknown settings {', '.join(unknown)}")
    try:
        variants = tuple(
            Variant(
                str(v["name"]),
                str(v.get("policy", "rules")),
                float(v.get("weight", 1)),
                None if v.get("exploration") is None else float(v["exploration"]),
            )
            for v in table.get("variants", [{"name": "control", "policy": "rules"}])
        )
        model = table.get("model")
        if model is not None:
            model = str(Path(model) if Path(model).is_absolute() else path.parent / model)
        return ExperimentConfig(
            name=str(table.get("name", "default")),
            variants=variants,
            exploration=float(table.get("exploration", 0.05)),
            explore_depth=int(table.get("explore_depth", 8)),
            model=model,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ExperimentConfigError(f"{path}: {exc}") from exc
