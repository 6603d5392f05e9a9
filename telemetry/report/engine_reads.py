"""The events the report's Python passes still read, from the engine tables: the batch
contexts, the feature events (`features.py`) and the feeds, impressions and plays of launches
that served an experiment's variant (`logged.py`, `experiments.py`). Each event once: the first
copy of each (app_session_id, seq) by (received_at, key_id, event_id), as the figures' SQL
keeps it.

Call from the one thread that owns the `Warehouse`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from telemetry.contracts.clickhouse import Warehouse
from telemetry.report.features import FEATURE_EVENTS, FeatureRow
from telemetry.report.logged import TYPES, LogRow
from telemetry.report.queries import Context, parse_context

_FEATURES_SQL: Final = (
    "SELECT app_session_id, type, mono_ms, corrected_time, context_hash, play_session_id, raw"
    " FROM facts WHERE type IN {types:Array(String)}"
    " ORDER BY app_session_id, seq, received_at, key_id, event_id LIMIT 1 BY app_session_id, seq"
)
# Launches that served a variant, and the later launches that ended their play sessions.
_EXPERIMENTS_SQL: Final = (
    "WITH launches AS (SELECT DISTINCT app_session_id FROM facts"
    " WHERE type = 'feed_served' AND variant IS NOT NULL),"
    " plays AS (SELECT DISTINCT play_session_id FROM facts"
    " WHERE type = 'play_request' AND app_session_id IN launches)"
    " SELECT type, device_id, app_session_id, mono_ms, play_session_id, corrected_time, raw"
    " FROM (SELECT * FROM facts WHERE type IN {types:Array(String)}"
    " AND (app_session_id IN launches OR (type = 'session_end' AND play_session_id IN plays))"
    " ORDER BY app_session_id, seq, received_at, key_id, event_id LIMIT 1 BY app_session_id, seq"
    ") ORDER BY received_at, app_session_id, seq"
)


def contexts(engine: Warehouse) -> dict[bytes, Context]:
    """Every stored batch context by hash: app version and OS name."""
    found: dict[bytes, Context] = {}
    for digest, text in engine.rows("SELECT hash, any(json) FROM contexts GROUP BY hash"):
        context = parse_context(text)
        if context is not None:
            found[bytes.fromhex(digest)] = context
    return found


def feature_rows(engine: Warehouse) -> Iterator[FeatureRow]:
    """The events of the types `features.count_features` reads."""
    for launch, kind, mono, corrected, digest, session, raw in engine.rows(
        _FEATURES_SQL, {"types": list(FEATURE_EVENTS)}
    ):
        context = None if digest is None else bytes.fromhex(digest)
        yield (launch, kind, mono, corrected, context, session, raw)


def experiment_rows(engine: Warehouse) -> Iterator[LogRow]:
    """What `logged.logs_from_rows` reads, for the launches that served a variant, in arrival
    order (a feed before its impressions, a crash-recovered end after its play)."""
    for kind, device, launch, mono, session, corrected, raw in engine.rows(
        _EXPERIMENTS_SQL, {"types": list(TYPES)}
    ):
        row: LogRow = (kind, device, launch, mono, session, corrected, raw)
        yield row
