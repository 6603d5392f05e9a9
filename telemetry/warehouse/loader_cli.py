"""`reelscope-loader`: one consumer-group member copying the event log into ClickHouse.

    reelscope-loader --kafka kafka://broker:9092/reelscope-events \\
                     --warehouse clickhouse://user:password@host:8123/reelscope

Runs on the main thread until SIGTERM or SIGINT, which finish the batch in hand (inserted and
committed) and leave the group. Applies the DDL (clickhouse.sql) at start-up. Every flag has an
environment variable, `REELSCOPE_LOADER_<FLAG>` (KAFKA, WAREHOUSE, GROUP, MAX_BATCH).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from collections.abc import Sequence
from types import FrameType

ENV_PREFIX = "REELSCOPE_LOADER_"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="reelscope-loader", description=__doc__.split("\n")[0])
    env = os.environ.get
    parser.add_argument("--kafka", default=env(ENV_PREFIX + "KAFKA"), help="kafka://brokers/topic")
    parser.add_argument(
        "--warehouse",
        default=env(ENV_PREFIX + "WAREHOUSE"),
        help="clickhouse://user:password@host:8123/database, or chdb:///path (embedded)",
    )
    parser.add_argument("--group", default=env(ENV_PREFIX + "GROUP", "reelscope-loader"))
    parser.add_argument(
        "--max-batch",
        type=int,
        default=int(env(ENV_PREFIX + "MAX_BATCH", "10000")),
        help="records per insert (and per offset commit)",
    )
    parser.add_argument("--log-level", default="INFO")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = _parser().parse_args(argv)
    if not arguments.kafka or not arguments.warehouse:
        print("reelscope-loader: --kafka and --warehouse are required", file=sys.stderr)
        return 2
    from telemetry.contracts.clickhouse import Warehouse
    from telemetry.contracts.kafka_url import parse_kafka_url
    from telemetry.warehouse.loader import Loader, LoaderSettings
    from telemetry.warehouse.schema import apply_schema

    try:
        target = parse_kafka_url(arguments.kafka)
    except ValueError as exc:
        print(f"reelscope-loader: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=arguments.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    warehouse = Warehouse(arguments.warehouse)
    try:
        apply_schema(warehouse)
        loader = Loader(
            LoaderSettings(kafka=target, group=arguments.group, max_batch=arguments.max_batch),
            warehouse,
        )

        def _stop(signum: int, frame: FrameType | None) -> None:
            loader.stop()

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
        loader.run()
    finally:
        warehouse.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
