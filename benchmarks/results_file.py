"""Where a benchmark run's figures are saved: `benchmarks/results/NAME-<UTC stamp>.json`
(not committed). Called from a benchmark's main thread."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def save_results(name: str, results: dict[str, Any]) -> Path:
    """Write `results` as indented JSON to a new stamped file; print and return its path."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    target = RESULTS / f"{name}-{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}.json"
    target.write_text(json.dumps(results, indent=2) + "\n")
    print(f"results: {target}")
    return target
