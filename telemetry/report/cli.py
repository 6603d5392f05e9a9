"""`reelscope-report`: the figures of `events-and-metrics.md` from the collector's store, as
terminal tables (default), JSON (`--json`) or a self-contained HTML file with charts (`--html`).

    reelscope-report [--store sqlite:///path | --db PATH] [--since ISO] [--until ISO]
                     [--app-version V] [--os NAME] [--title VIDEO_ID]
                     [--json] [--html FILE] [--sessions N] [--jobs N]
    reelscope-report --evaluate rerank|popularity --model FILE [--variant NAME]...
                     [--explore-depth N]

A store that is missing, corrupt or not a collector store is a one-line error (exit status 2),
never a traceback. Runs on the main thread.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import orjson

from telemetry.contracts.stored import (
    DEFAULT_STORE_URL,
    STORE_URL_ENV,
    StoreError,
    open_report_store,
    store_url,
)
from telemetry.report.compute import compute_report
from telemetry.report.queries import Filters
from telemetry.report.render_html import render_html
from telemetry.report.render_text import render_text


def parse_time(text: str) -> int:
    """ISO 8601 date or date-time to ms since the epoch; without a zone it is UTC."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 date or time: {text!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return round(moment.timestamp() * 1000)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="reelscope-report", description=__doc__.split("\n")[0])
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--store", help="storage URL (default: the collector's, sqlite:///...)")
    where.add_argument("--db", type=Path, help="path of the collector's SQLite file")
    parser.add_argument("--since", type=parse_time, help="from this time (ISO 8601, UTC default)")
    parser.add_argument("--until", type=parse_time, help="before this time (ISO 8601)")
    parser.add_argument("--app-version", help="only this app version")
    parser.add_argument("--os", help="only this OS name (Linux, Windows, Darwin)")
    parser.add_argument("--title", help="only this video id")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--html", type=Path, metavar="FILE", help="write an HTML report")
    parser.add_argument(
        "--sessions", type=int, default=20, help="play sessions listed in tables (default 20)"
    )
    parser.add_argument("--jobs", type=int, help="worker processes (default: by store size)")
    parser.add_argument(
        "--evaluate",
        choices=("rerank", "popularity"),
        help="estimate a candidate policy's take rate from logged explored feeds",
    )
    parser.add_argument("--model", type=Path, help="model file for --evaluate")
    parser.add_argument(
        "--variant", action="append", default=[], help="with --evaluate: only these variants' feeds"
    )
    parser.add_argument("--explore-depth", type=int, default=8, help="with --evaluate")
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
    if args.db is not None:
        url = store_url(args.db)
    else:
        url = args.store or os.environ.get(STORE_URL_ENV, DEFAULT_STORE_URL)
    if args.evaluate is not None:
        return _evaluate(args, url)
    filters = Filters(
        since=args.since,
        until=args.until,
        app_version=args.app_version,
        os=args.os,
        video_id=args.title,
    )
    try:
        report = compute_report(url, filters, jobs=args.jobs)
    except StoreError as exc:
        print(f"reelscope-report: {exc}", file=sys.stderr)
        return 2
    if args.html is not None:
        try:
            args.html.write_text(render_html(report, sessions=args.sessions), encoding="utf-8")
        except OSError as exc:
            print(f"reelscope-report: cannot write {args.html}: {exc.strerror}", file=sys.stderr)
            return 2
    if args.json:
        options = orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS  # picture heights are ints
        sys.stdout.buffer.write(orjson.dumps(report, option=options) + b"\n")
    elif args.html is None:
        sys.stdout.write(render_text(report, sessions=args.sessions))
    return 0


if __name__ == "__main__":
    sys.exit(main())
