"""`reelscope-report`: the figures of `events-and-metrics.md` from the collector's store, as
terminal tables (default), JSON (`--json`) or a self-contained HTML file with charts (`--html`).

    reelscope-report [--store sqlite:///path | --db PATH] [--since ISO] [--until ISO]
                     [--app-version V] [--os NAME] [--title VIDEO_ID]
                     [--json] [--html FILE] [--sessions N] [--titles N]

`--sessions N` and `--titles N` bound the lists of play sessions (the N most recent) and of
titles (the N most watched): by default tables show 20 of each (HTML 50 titles) and JSON all
of them; given, they bound JSON as well (the live dashboard asks for none, as it shows none).

The command installed as `reelscope-report` is this one with the recommender's counterfactual
evaluation added (`telemetry.host.report_cli`, `--evaluate`). A store that is missing, corrupt
or not a collector store is a one-line error (exit status 2), never a traceback. Runs on the
main thread.
"""

from __future__ import annotations

import argparse
import dataclasses
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
    store_url,
)
from telemetry.report.compute import compute_report
from telemetry.report.metrics import Report
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


def parser() -> argparse.ArgumentParser:
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
        "--sessions",
        type=_count,
        metavar="N",
        help="the N most recent play sessions listed (default: 20 in tables, all in JSON)",
    )
    parser.add_argument(
        "--titles",
        type=_count,
        metavar="N",
        help="the N most watched titles listed (default: 20 in text, 50 in HTML, all in JSON)",
    )
    return parser


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"not a count (0, 1, 2 ...): {text!r}")
    return value


def _or(value: int | None, default: int) -> int:
    return default if value is None else value


def bounded(report: Report, sessions: int | None, titles: int | None) -> Report:
    """The report with at most `sessions` play sessions (the most recent, in the report's
    order: oldest first) and `titles` titles (the most watched); None keeps them all."""
    if sessions is not None:
        report = dataclasses.replace(
            report, sessions=report.sessions[max(0, len(report.sessions) - sessions) :]
        )
    if titles is not None:
        report = dataclasses.replace(report, titles=report.titles[:titles])
    return report


def report_url(args: argparse.Namespace) -> str:
    """The store the arguments name: --db, --store, $REELSCOPE_COLLECTOR_DB or the default."""
    if args.db is not None:
        return store_url(args.db)
    return str(args.store or os.environ.get(STORE_URL_ENV, DEFAULT_STORE_URL))


def run(args: argparse.Namespace) -> int:
    """The report for parsed arguments: printed, written, or a one-line error (exit 2)."""
    url = report_url(args)
    filters = Filters(
        since=args.since,
        until=args.until,
        app_version=args.app_version,
        os=args.os,
        video_id=args.title,
    )
    try:
        report = compute_report(url, filters)
    except StoreError as exc:
        print(f"reelscope-report: {exc}", file=sys.stderr)
        return 2
    if args.html is not None:
        try:
            page = render_html(report, sessions=_or(args.sessions, 20), titles=_or(args.titles, 50))
            args.html.write_text(page, encoding="utf-8")
        except OSError as exc:
            print(f"reelscope-report: cannot write {args.html}: {exc.strerror}", file=sys.stderr)
            return 2
    if args.json:
        shown = bounded(report, args.sessions, args.titles)
        options = orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS  # picture heights are ints
        sys.stdout.buffer.write(orjson.dumps(shown, option=options) + b"\n")
    elif args.html is None:
        text = render_text(report, sessions=_or(args.sessions, 20), titles=_or(args.titles, 20))
        sys.stdout.write(text)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return run(parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
