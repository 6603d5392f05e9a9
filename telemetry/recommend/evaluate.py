"""`reelscope-report --evaluate POLICY` (`telemetry.host.report_cli`): a candidate policy's
take rate estimated from logged explored traffic (IPS, SNIPS, DR; `estimators.py`), printed
with 95 % intervals.

Policies: `rerank` (the rule rows' explored window re-ordered by `--model`'s scores, what the
`rerank` variant serves) and `popularity` (the same, by the model's cold-start popularity).
The `model` policy adds a row no logged feed showed, so logs cannot evaluate it.

Main thread (the report CLI).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path

from telemetry.recommend.estimators import Evaluation, Ranker, evaluate
from telemetry.recommend.model import load_model
from telemetry.report.estimates import Estimate
from telemetry.report.logged import LoggedFeed, read_logs

POLICIES = ("rerank", "popularity")


def evaluate_store(
    connection: sqlite3.Connection,
    policy: str,
    model_path: Path,
    *,
    depth: int,
    variants: Sequence[str] = (),
) -> Evaluation:
    """Raises ModelError for an unusable model file."""
    model = load_model(model_path)
    cold = policy == "popularity"

    def ranker(feed: LoggedFeed, titles: Sequence[str]) -> list[str]:
        device = "" if cold else feed.device_id
        scores = model.scores(device, titles, {})
        return [titles[i] for i in sorted(range(len(titles)), key=lambda i: -scores[i])]

    rank: Ranker = ranker
    feeds = [
        f for f in read_logs(connection).feeds.values() if not variants or f.variant in variants
    ]
    return evaluate(feeds, policy, rank, depth)


def _line(name: str, value: Estimate) -> str:
    if value.value is None:
        return f"  {name:<7} –"
    interval = (
        f", 95 % CI [{value.low * 100:.2f} %, {value.high * 100:.2f} %]"
        if value.low is not None and value.high is not None
        else ""
    )
    return f"  {name:<7} {value.value * 100:.2f} %{interval}"


def render_evaluation(result: Evaluation) -> str:
    lines = [
        f"Counterfactual take rate of policy {result.policy!r}: {result.feeds} logged feeds,"
        f" {result.slots} impressed slots, {result.matched} where the policy agrees with the log",
        _line("IPS", result.ips),
        _line("SNIPS", result.snips),
        _line("DR", result.dr),
        _line("logged", result.logged) + "  (the logging policy on the same slots)",
    ]
    return "\n".join(lines) + "\n"
