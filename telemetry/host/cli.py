"""`reelscope-collector`: run the collector host (ingestion, the feed, scheduled training), or
manage write keys. Runs on the main thread.

    reelscope-collector [--config FILE] serve [--host H] [--port P] [--db URL] [--keys PATH]
                        [--train-every SECONDS]
    reelscope-collector keys [--keys PATH] add --name NAME [--key VALUE] [--admin]
    reelscope-collector keys [--keys PATH] revoke ID_OR_NAME
    reelscope-collector keys [--keys PATH] list

Settings come from defaults, then `--config` (TOML), then REELSCOPE_COLLECTOR_* variables, then
flags. `keys add` prints the new key once; it is stored only as a SHA-256 digest. An `--admin`
key may also delete any device's data. `serve` refuses to start (exit 2) without its keys file
or on a store written by a newer collector.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from telemetry.collector.config import CollectorConfig, load_config
from telemetry.collector.keys import KeyFile


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="reelscope-collector", description=__doc__.split("\n")[0])
    parser.add_argument("--config", type=Path, help="TOML settings file")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the ingestion server")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--db", help="storage URL, e.g. sqlite:///var/reelscope/events.db")
    serve.add_argument("--keys", help="keys file")
    serve.add_argument("--log-level")
    serve.add_argument(
        "--train-every",
        dest="train_every_s",
        type=float,
        metavar="SECONDS",
        help="retrain the recommender's model on this schedule (default: never)",
    )

    keys = commands.add_parser("keys", help="manage write keys")
    keys.add_argument("--keys", help="keys file")
    actions = keys.add_subparsers(dest="action", required=True)
    add = actions.add_parser("add", help="add a key and print it")
    add.add_argument("--name", required=True)
    add.add_argument("--key", help="use this key instead of a random one (development)")
    add.add_argument(
        "--admin", action="store_true", help="may delete any device's data (operators)"
    )
    revoke = actions.add_parser("revoke", help="revoke a key by id or name (answers 403 after)")
    revoke.add_argument("id_or_name")
    actions.add_parser("list", help="list keys (ids, names, dates; never the keys)")
    return parser


def _keys(arguments: argparse.Namespace, config: CollectorConfig) -> int:
    keys = KeyFile(Path(config.keys))
    try:
        if arguments.action == "add":
            record, key, created = keys.add(arguments.name, arguments.key, admin=arguments.admin)
            if created:
                print(f"added {record.id} ({record.name}); the key, shown only now:")
            else:
                print(f"{record.id} ({record.name}) already has this key")
            print(key)
        elif arguments.action == "revoke":
            record = keys.revoke(arguments.id_or_name)
            print(f"revoked {record.id} ({record.name})")
        else:
            for record in keys.load():
                state = f"revoked {record.revoked_at}" if record.revoked else "active"
                state += ", admin" if record.admin else ""
                print(f"{record.id}\t{record.name}\tcreated {record.created_at}\t{state}")
    except ValueError as exc:
        print(f"reelscope-collector: {exc}", file=sys.stderr)
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    arguments = _parser().parse_args(argv)
    overrides = {
        name: getattr(arguments, name, None)
        for name in ("host", "port", "db", "keys", "log_level", "train_every_s")
    }
    try:
        config = load_config(arguments.config, overrides=overrides)
    except (OSError, ValueError) as exc:
        print(f"reelscope-collector: {exc}", file=sys.stderr)
        return 2
    if arguments.command == "keys":
        return _keys(arguments, config)
    from telemetry.collector.accesslog import configure_logging
    from telemetry.collector.server import serve
    from telemetry.collector.sqlite_sink import SchemaTooNewError
    from telemetry.host.services import host_services

    configure_logging(config.log_level, config.log_json)
    try:
        serve(config, host_services(config))
    except (OSError, ValueError, SchemaTooNewError) as exc:
        print(f"reelscope-collector: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
