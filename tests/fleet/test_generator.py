"""The fleet's viewer: every event type of the vocabulary, each valid, at a person's pace, and
the same steps from the same seed."""

from __future__ import annotations

import itertools
import random
from collections import Counter

from telemetry.contracts.events import SPECS
from tools.fleet.generator import Step, Viewer


def _steps(seed: int, count: int) -> list[Step]:
    viewer = Viewer(random.Random(seed), lambda: 1_000_000)
    return [*itertools.islice(viewer.steps(), count), viewer.exit(60_000)]


def test_every_event_type_is_generated_and_valid() -> None:
    steps = _steps(7, 3000)
    for step in steps:
        assert SPECS[step.event_type].problem(step.properties) is None, step
    assert set(Counter(step.event_type for step in steps)) == set(SPECS)


def test_rates_are_a_persons_with_bursts() -> None:
    steps = _steps(11, 3000)
    seconds = sum(step.delay for step in steps)
    assert 0.3 < len(steps) / seconds < 3.0
    bursts = [index for index, step in enumerate(steps) if step.burst]
    assert len(bursts) > 20
    # A burst: several events within a fraction of a second.
    burst = steps[bursts[1] : bursts[1] + 5]
    assert sum(step.delay for step in burst[1:]) < 0.5


def test_a_seed_gives_the_same_viewer() -> None:
    first = [(s.delay, s.event_type, s.properties) for s in _steps(3, 200)]
    again = [(s.delay, s.event_type, s.properties) for s in _steps(3, 200)]
    assert first == again
