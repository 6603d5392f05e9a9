"""`python -m tools.fleet`: run the fleet simulation, print the table, exit 1 if a goal is
missed. Main thread."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tools.fleet.run import FleetOptions, run_fleet


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.fleet", description=__doc__)
    parser.add_argument("--clients", type=int, default=FleetOptions.clients)
    parser.add_argument(
        "--duration",
        type=float,
        default=FleetOptions.duration_s,
        help="seconds of recording, faults included",
    )
    parser.add_argument("--seed", type=int, default=FleetOptions.seed)
    parser.add_argument("--work-dir", type=Path, help="keep the run's files here")
    parser.add_argument("--json", type=Path, help="write the report here")
    arguments = parser.parse_args()
    report = run_fleet(
        FleetOptions(
            clients=arguments.clients,
            duration_s=arguments.duration,
            seed=arguments.seed,
            work_dir=arguments.work_dir,
            json_path=arguments.json,
        )
    )
    print(report.table())
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
