"""`reelscope-train`: fit the recommender from the collector's store and write the model file
the feed service serves from (it picks a new file up on the next request).

    reelscope-train [--store sqlite:///path | --db PATH] --model PATH
                    [--factors N] [--iterations N] [--explore-depth N] [--seed N]
                    [--threads N] [--every SECONDS]

`--every` keeps training on a schedule (the collector host's cron or systemd timer can run it
instead). A store without a single attributed play is not an error worth a traceback: the
trainer says so and leaves any existing model in place (exit status 1). Main thread.
"""

from __future__ import annotations

import argparse
import logging
import os
import sqlite3
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from telemetry.contracts.stored import (
    DEFAULT_STORE_URL,
    STORE_URL_ENV,
    StoreError,
    open_report_store,
    store_url,
)
from telemetry.recommend.train import EmptyStoreError, TrainOptions, train_store


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="reelscope-train", description=__doc__.split("\n")[0])
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--store", help="storage URL (default: the collector's, sqlite:///...)")
    where.add_argument("--db", type=Path, help="path of the collector's SQLite file")
    parser.add_argument("--model", type=Path, required=True, help="model file to write")
    defaults = TrainOptions()
    parser.add_argument("--factors", type=int, default=defaults.factors)
    parser.add_argument("--iterations", type=int, default=defaults.iterations)
    parser.add_argument("--explore-depth", type=int, default=defaults.explore_depth)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--threads", type=int, default=defaults.threads)
    parser.add_argument("--every", type=float, metavar="SECONDS", help="train on a schedule")
    return parser


def _once(url: str, model: Path, options: TrainOptions) -> int:
    try:
        connection = open_report_store(url)
    except StoreError as exc:
        print(f"reelscope-train: {exc}", file=sys.stderr)
        return 2
    try:
        result = train_store(connection, model, options)
    except EmptyStoreError as exc:
        print(f"reelscope-train: {exc}; no model written", file=sys.stderr)
        return 1
    except sqlite3.DatabaseError as exc:
        print(f"reelscope-train: cannot read the store ({exc})", file=sys.stderr)
        return 2
    finally:
        connection.close()
    print(
        f"model {result.model.version}: {result.feeds} feeds, {result.impressions} impressions,"
        f" {result.plays} plays, {len(result.model.user_ids)} devices,"
        f" {len(result.model.item_ids)} titles, {result.seconds:.2f} s -> {model}"
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if args.db is not None:
        url = store_url(args.db)
    else:
        url = args.store or os.environ.get(STORE_URL_ENV, DEFAULT_STORE_URL)
    options = TrainOptions(
        factors=args.factors,
        iterations=args.iterations,
        explore_depth=args.explore_depth,
        seed=args.seed,
        threads=args.threads,
    )
    if args.every is None:
        return _once(url, args.model, options)
    while True:  # until interrupted: a schedule, not synchronisation
        _once(url, args.model, options)
        time.sleep(args.every)


if __name__ == "__main__":
    sys.exit(main())
