"""The privacy reader: read-only views of the outbox for the settings and privacy windows
(pending and sent events, counts, dead letters, drops, the export), each call on its own
read-only connection. An absent or damaged outbox reads as empty; an event whose stored body no
longer parses is listed marked `unreadable`.

Threads: any thread may call. Each view runs inside the fork gate
(`telemetry.client.fork_gate`): a fork waits for it to finish.
"""

from __future__ import annotations

import functools
import logging
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Final, ParamSpec, TypeVar, cast

import orjson

from telemetry.client.fork_gate import gated
from telemetry.client.outbox_file import is_corruption
from telemetry.client.outbox_schema import DEAD_LETTER, SCHEMA_VERSION

_log = logging.getLogger("reelscope.telemetry.outbox")

PENDING: Final = "pending"
SENT: Final = "sent"
REFUSED: Final = "refused"


@dataclass(frozen=True, slots=True)
class LocalEvent:
    """An event recorded on this device: `pending` (waiting to be sent), `sent` or `refused`
    (in the history, with the collector's `outcome` and the time of its answer)."""

    seq: int
    event_id: str
    event: dict[str, object]
    status: str
    outcome: str | None
    acked_ms: int | None


UNREADABLE: Final = "unreadable"  # marks an event whose stored body no longer parses


def parse_body(body: object, event_id: str, event_type: str) -> dict[str, object]:
    """The stored event as a JSON object, or a stand-in marked `unreadable` when the body was
    damaged on disk: the privacy window lists it rather than failing on the whole table."""
    try:
        event = orjson.loads(body) if isinstance(body, (bytes, str)) else None
    except orjson.JSONDecodeError:
        event = None
    if isinstance(event, dict):
        return event
    return {"event_id": event_id, "type": event_type, UNREADABLE: True}


def _local_event(row: tuple[int, str, str, bytes, str | None, int | None]) -> LocalEvent:
    """A row of (seq, event_id, type, body, outcome, acked_ms)."""
    seq, event_id, event_type, body, outcome, acked = row
    status = PENDING if outcome is None else REFUSED if outcome == DEAD_LETTER else SENT
    return LocalEvent(seq, event_id, parse_body(body, event_id, event_type), status, outcome, acked)


_T = TypeVar("_T")
_P = ParamSpec("_P")


def _empty_if_corrupt(
    empty: Callable[[], object],
) -> Callable[[Callable[_P, _T]], Callable[_P, _T]]:
    """A reader view that shows `empty()` instead of raising when the file is damaged (the
    writer moves such a file aside as soon as it trips over it)."""

    def decorate(view: Callable[_P, _T]) -> Callable[_P, _T]:
        @functools.wraps(view)
        def safe(*args: _P.args, **kwargs: _P.kwargs) -> _T:
            try:
                return view(*args, **kwargs)
            except sqlite3.DatabaseError as exc:
                if not is_corruption(exc):
                    raise
                _log.warning("telemetry outbox unreadable (%s): shown as empty", exc)
                return cast(_T, empty())

        return safe

    return decorate


class OutboxReader:
    """Read-only views for the settings/privacy window. Each call opens its own read-only
    connection, so any thread may call; an absent outbox reads as empty, a damaged one too,
    and an event whose stored body no longer parses is listed marked `unreadable`."""

    def __init__(self, path: Path) -> None:
        self._path = path

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection | None]:
        """The view's connection; the view's whole body runs inside the fork gate."""
        if not self._path.exists():
            yield None
            return
        uri = f"{self._path.resolve().as_uri()}?mode=ro"
        with gated(), closing(sqlite3.connect(uri, uri=True, timeout=5.0)) as conn:
            # The writer creates the tables and sets user_version in one transaction: version 0
            # is a file that exists but whose schema is not committed yet, i.e. still empty. An
            # older version is a file the writer has not upgraded yet (it does so when it opens
            # the file, before anything is sent): it reads as empty for those few moments too,
            # rather than failing on the tables it lacks.
            (version,) = conn.execute("PRAGMA user_version").fetchone()
            yield conn if version >= SCHEMA_VERSION else None

    @_empty_if_corrupt(list)
    def recent_events(self, limit: int = 100) -> list[dict[str, object]]:
        """The newest pending events, newest first, as the JSON objects that will be sent."""
        with self._connect() as conn:
            if conn is None:
                return []
            rows = conn.execute(
                "SELECT event_id, type, body FROM events CROSS JOIN bodies USING (seq)"
                " ORDER BY seq DESC LIMIT ?",
                (limit,),
            )
            return [parse_body(body, event_id, type_) for event_id, type_, body in rows]

    @_empty_if_corrupt(list)
    def local_events(self, limit: int = 100) -> list[LocalEvent]:
        """The newest events on this device, pending and in the history, newest first."""
        with self._connect() as conn:
            if conn is None:
                return []
            rows = conn.execute(
                "SELECT * FROM"
                " (SELECT seq, event_id, type, body, NULL, NULL FROM events CROSS JOIN bodies"
                " USING (seq) ORDER BY seq DESC LIMIT ?)"
                " UNION ALL SELECT * FROM (SELECT seq, event_id, type, body, outcome, acked_ms"
                " FROM history CROSS JOIN bodies USING (seq) ORDER BY seq DESC LIMIT ?)"
                " ORDER BY 1 DESC LIMIT ?",
                (limit, limit, limit),
            )
            return [_local_event(row) for row in rows]

    @_empty_if_corrupt(dict)
    def counts_by_type(self) -> dict[str, int]:
        """Events on this device by type, pending and in the history."""
        with self._connect() as conn:
            if conn is None:
                return {}
            return dict(
                conn.execute(
                    "SELECT type, COUNT(*) FROM"
                    " (SELECT type FROM events UNION ALL SELECT type FROM history) GROUP BY type"
                )
            )

    @_empty_if_corrupt(lambda: dict.fromkeys((PENDING, SENT, REFUSED), 0))
    def counts_by_status(self) -> dict[str, int]:
        """Events on this device: `pending`, `sent` and `refused` (the last two as far as the
        history reaches)."""
        counts = dict.fromkeys((PENDING, SENT, REFUSED), 0)
        with self._connect() as conn:
            if conn is None:
                return counts
            conn.execute("BEGIN")
            (counts[PENDING],) = conn.execute("SELECT rows FROM stats WHERE id = 0").fetchone()
            for refused, count in conn.execute(
                "SELECT outcome = ?, COUNT(*) FROM history GROUP BY 1", (DEAD_LETTER,)
            ):
                counts[REFUSED if refused else SENT] = count
            return counts

    @_empty_if_corrupt(list)
    def dead_letters(self, limit: int = 100) -> list[dict[str, object]]:
        """The newest refused events with the collector's status, code and message."""
        with self._connect() as conn:
            return [] if conn is None else _dead_letters(conn, limit)

    @_empty_if_corrupt(dict)
    def drops(self) -> dict[str, int]:
        """Dropped events not yet reported to the collector, by reason."""
        with self._connect() as conn:
            return {} if conn is None else dict(conn.execute("SELECT reason, count FROM drops"))

    @_empty_if_corrupt(lambda: {"events": [], "history": [], "dead_letter": [], "drops": {}})
    def export(self) -> dict[str, object]:
        """All local telemetry data as one JSON-ready document (one consistent snapshot):
        `events` (pending, oldest first), `history` (sent and refused, oldest first, each with
        its status, outcome and `acked_ms`), `dead_letter` and `drops`."""
        with self._connect() as conn:
            if conn is None:
                return {"events": [], "history": [], "dead_letter": [], "drops": {}}
            conn.execute("BEGIN")
            events = [
                parse_body(body, event_id, type_)
                for event_id, type_, body in conn.execute(
                    "SELECT event_id, type, body FROM events CROSS JOIN bodies USING (seq)"
                    " ORDER BY seq"
                )
            ]
            history = [
                {
                    "event": local.event,
                    "status": local.status,
                    "outcome": local.outcome,
                    "acked_ms": local.acked_ms,
                }
                for local in (
                    _local_event(row)
                    for row in conn.execute(
                        "SELECT seq, event_id, type, body, outcome, acked_ms FROM history"
                        " CROSS JOIN bodies USING (seq) ORDER BY seq"
                    )
                )
            ]
            return {
                "events": events,
                "history": history,
                "dead_letter": _dead_letters(conn, -1),
                "drops": dict(conn.execute("SELECT reason, count FROM drops")),
            }


def _dead_letters(conn: sqlite3.Connection, limit: int) -> list[dict[str, object]]:
    rows = conn.execute(
        "SELECT event_id, type, body, status, code, message, failed_ms FROM dead_letter"
        " ORDER BY seq DESC LIMIT ?",
        (limit,),
    )
    return [
        {
            "event": parse_body(body, event_id, type_),
            "status": status,
            "code": code,
            "message": message,
            "failed_ms": failed,
        }
        for event_id, type_, body, status, code, message, failed in rows
    ]
