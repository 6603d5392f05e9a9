"""`make bench`: every benchmark that fits in a few minutes, one after another, each beside
its named peers in the same run. Results print as tables and are saved in
`benchmarks/results/`.

The large ones are run by hand: `python -m benchmarks.report` (1 M and 10 M events; building
the 10 M store alone takes minutes and ~11 GB of disk), `python -m benchmarks.warehouse` and
`python -m benchmarks.recommend --events 1000000 10000000` (training on 10 M events too).
"""

from __future__ import annotations

import subprocess
import sys

QUICK = (
    ("startup", []),
    ("telemetry_client", []),
    ("collector", []),
    ("home_screen", []),
    ("seek_preview", []),
    ("report", ["--events", "1000000"]),
    ("dashboard", []),
    ("recommend", ["--events", "1000000"]),
)


def main() -> int:
    failed = []
    for name, args in QUICK:
        print(f"\n=== benchmarks.{name} {' '.join(args)}", flush=True)
        if subprocess.run([sys.executable, "-m", f"benchmarks.{name}", *args]).returncode:
            failed.append(name)
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
