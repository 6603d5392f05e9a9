"""`reelscope-report`: the report (`telemetry.report.cli`), and with `--evaluate` the
recommender's counterfactual estimate of a candidate policy from logged explored feeds
(`telemetry.recommend.evaluate`: IPS, SNIPS, DR with 95 % intervals).

    reelscope-report [report options, see telemetry/report/cli.py]
    reelscope-report --evaluate rerank|popularity --model FILE [--variant NAME]...
                     [--explore-depth N] [--store URL | --db PATH] [--json]

The report itself imports only the contracts; this command is where the two meet. A missing
model or store is a one-line error (exit status 2). Runs on the main thread.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import orjson

from telemetry.contracts.stored import StoreError, open_report_store
from telemetry.report import cli as report_cli


def _parser() -> argparse.ArgumentParser:
    parser = report_cli.parser()
    evaluation = parser.add_argument_group("counterfactual evaluation")
    evaluation.add_argument(
        "--evaluate",
        choices=("rerank", "popularity"),
        help="estimate a candidate policy's take rate from logged explored feeds",
    )
    evaluation.add_argument("--model", type=Path, help="model file for --evaluate")
    evaluation.add_argument(
        "--variant", action="append", default=[], help="with --evaluate: only these variants' feeds"
    )
    evaluation.add_argument("--explore-depth", type=int, default=8, help="with --evaluate")
    return parser


def _evaluate(args: argparse.Namespace, url: str) -> int:
    from telemetry.recommend.evaluate import evaluate_store, render_evaluation
    from telemetry.recommend.model import ModelError

    if args.model is None:
        print("reelscope-report: --evaluate needs --model FILE", file=sys.stderr)
        return 2
    try:
        connection = open_report_store(url)
    except StoreError as exc:
        print(f"reelscope-report: {exc}", file=sys.stderr)
        return 2
    try:
        result = evaluate_store(
            connection, args.evaluate, args.model, depth=args.explore_depth, variants=args.variant
        )
    except ModelError as exc:
        print(f"reelscope-report: {exc}", file=sys.stderr)
        return 2
    finally:
        connection.close()
    if args.json:
        sys.stdout.buffer.write(orjson.dumps(result, option=orjson.OPT_INDENT_2) + b"\n")
    else:
        sys.stdout.write(render_evaluation(result))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.evaluate is not None:
        return _evaluate(args, report_cli.report_url(args))
    return report_cli.run(args)


if __name__ == "__main__":
    sys.exit(main())
