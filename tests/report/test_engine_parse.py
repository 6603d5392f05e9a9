"""The one parse of stored events into the engine tables (facts_views.sql), rule by rule, with
known answers: a collector store made by a real collector, crafted rows added with the
collector's own insert, mirrored by `open_engine`; and the same rows inserted into the
warehouse's `events` give the same facts and served rows."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import orjson
import pytest

from telemetry.collector.sqlite_sink import insert_events
from telemetry.contracts.clickhouse import Warehouse
from telemetry.contracts.stored import EventRow, store_url
from telemetry.report.engine import open_engine
from telemetry.warehouse.schema import apply_schema
from tests.collector.harness import batch, event, thread_collector

ABSENT = object()
# Property values as JSON text, and what each rule makes of them.
#         text                    int    int_lit size  str   first_part fatal
VALUES = [
    ("2",                         2,     2,      2,    None, 0,         0),
    ("2.0",                       2,     None,   2,    None, 0,         0),
    ("1e2",                       100,   None,   100,  None, 0,         0),
    ("2.5",                       None,  None,   None, None, 0,         0),
    ("-3",                        -3,    -3,     None, None, 0,         0),
    ("0",                         0,     0,      None, None, 1,         0),
    ("0.0",                       0,     None,   None, None, 1,         0),
    ("true",                      None,  None,   None, None, 0,         1),
    ("false",                     None,  None,   None, None, 1,         0),
    ('"2"',                       None,  None,   None, "2",  0,         0),
    ('""',                        None,  None,   None, "",   0,         0),
    ("null",                      None,  None,   None, None, 0,         0),
    (ABSENT,                      None,  None,   None, None, 1,         0),
    ("[1]",                       None,  None,   None, None, 0,         0),
    ('{"a": 1}',                  None,  None,   None, None, 0,         0),
    ("18446744073709551615",      None,  None,   None, None, 0,         0),
]  # fmt: skip
RULE_PROPS = (
    "position_ms", "duration_ms", "to_ms", "height", "window_width", "row_index", "rank",
    "ms_at_least_half_visible", "video_id", "category", "fatal", "part", "played_ms",
)  # fmt: skip


def _raw(kind: str, props_text: str | None) -> str:
    body = "" if props_text is None else f', "properties": {props_text}'
    return f'{{"type": "{kind}", "schema": 1{body}}}'


def _props(value: object) -> str:
    if value is ABSENT:
        return '{"note": "none of the rule properties"}'
    return "{" + ", ".join(f'"{name}": {value}' for name in RULE_PROPS) + "}"


class Rows:
    """Crafted store rows for one launch, numbered in order."""

    def __init__(self) -> None:
        self.rows: list[EventRow] = []

    def add(self, kind: str, raw: str, *, session: str | None = "S1", device: str = "dev") -> int:
        seq = len(self.rows) + 1
        self.rows.append(
            EventRow(
                "test", f"e-{seq}", kind, "reelscope", 1, device, "launch-1", seq, 1000 + seq,
                session, None, 5000, 5000, 5000, 5000, None, raw,
            )
        )  # fmt: skip
        return seq


def _crafted() -> tuple[Rows, dict[str, Any]]:
    rows, seqs = Rows(), {}
    for n, (text, *_) in enumerate(VALUES):
        seqs[f"value-{n}"] = rows.add("heartbeat", _raw("heartbeat", _props(text)))
    sources = {
        "object": '{"location": "home", "impression_id": "imp-1"}',
        "string": '"home"',
        "list": '["home", "imp-1"]',
        "wrong types": '{"location": 5, "impression_id": {"x": 1}}',
        "null": "null",
    }
    for name, source in sources.items():
        props = f'{{"video_id": "v1", "start_position_ms": 3000.0, "source": {source}}}'
        seqs[f"source {name}"] = rows.add("play_request", _raw("play_request", props))
    props = '{"video_id": "v1", "impression_id": "not in a source"}'
    seqs["source absent"] = rows.add("play_request", _raw("play_request", props))
    seqs["impression"] = rows.add(
        "impression",
        _raw(
            "impression",
            '{"impression_id": "imp-9", "request_id": "r1", "source": {"impression_id": "no"}}',
        ),
        session=None,
    )
    for name, props_text in {
        "props list": "[1, 2]",
        "props null": "null",
        "props string": '"x"',
        "props absent": None,
    }.items():
        seqs[name] = rows.add("heartbeat", _raw("heartbeat", props_text))
    seqs["invalid json"] = rows.add("heartbeat", '{"type": "heartbeat", "properties": {"a": 1},}')
    seqs["not an object"] = rows.add("heartbeat", "[1, 2]")
    tracks = '{"kind": "video", "from_track": 1, "to_track": 1.0, "height": 720}'
    seqs["tracks equal"] = rows.add("track_change", _raw("track_change", tracks))
    tracks = '{"kind": "video", "from_track": null, "to_track": "a", "height": 720}'
    seqs["tracks null"] = rows.add("track_change", _raw("track_change", tracks))
    seqs["tracks absent"] = rows.add("track_change", _raw("track_change", '{"kind": "video"}'))
    for name, props_text in {
        "order a": '{"position_ms": 5, "nested": {"x": 1, "y": 2}, "s": "t"}',
        "order b": '{"s": "t", "position_ms": 5, "nested": {"x": 1, "y": 2}}',
        "other value": '{"s": "t", "position_ms": 6, "nested": {"x": 1, "y": 2}}',
        "other nested": '{"s": "t", "position_ms": 5, "nested": {"x": 1, "y": 3}}',
    }.items():
        seqs[name] = rows.add("heartbeat", _raw("heartbeat", props_text))
    feed_rows = [
        {"row_id": "a", "row_index": 0, "items": [
            {"video_id": "v1"}, {"video_id": "v2"}, {"video_id": "v1"}, {"video_id": 5},
            {"video_id": None},
        ]},
        {"row_id": "float", "row_index": 1.0, "items": []},
        {"row_id": 7, "row_index": 1, "items": []},
        "junk",
        {"row_id": "empty string", "row_index": 4, "items": ""},
        {"row_id": "empty object", "row_index": 5, "items": {}},
        {"row_id": "string", "row_index": 6, "items": "x"},
        {"row_id": "no video_id", "row_index": 7, "items": [{"a": 1}]},
        {"row_id": "string item", "row_index": 8, "items": [{"video_id": "v3"}, "s"]},
        {"row_id": "no items", "row_index": 9},
        {"row_id": "null items", "row_index": 10, "items": None},
        {"row_id": "bool index", "row_index": True, "items": []},
        [1, 2],
        {"row_id": "b", "row_index": 13, "items": [{"video_id": "v3", "x": 1}], "extra": 1},
    ]  # fmt: skip
    props = orjson.dumps({"request_id": "r1", "rows": feed_rows}).decode()
    seqs["feed"] = rows.add("feed_served", _raw("feed_served", props), session=None)
    props = orjson.dumps({"request_id": 5, "rows": feed_rows[:1], "part": 1}).decode()
    seqs["feed bad request"] = rows.add("feed_served", _raw("feed_served", props), session=None)
    props = orjson.dumps({"request_id": "r2", "rows": {"a": 1}, "part": 0.0}).decode()
    seqs["feed rows object"] = rows.add("feed_served", _raw("feed_served", props), session=None)
    return rows, seqs


@pytest.fixture(scope="module")
def mirrored(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """A store written by a real collector (one posted event), then the crafted rows."""
    directory = tmp_path_factory.mktemp("parse")
    with thread_collector(directory) as running:
        posted = event(app_session_id="launch-0", device_id="dev", type="heartbeat")
        assert running.post(batch([posted])).status_code == 200
        db = running.db
    rows, seqs = _crafted()
    with closing(sqlite3.connect(db, isolation_level=None)) as connection:
        connection.execute("BEGIN")
        insert_events(connection, rows.rows)
        connection.execute("COMMIT")
    return db, seqs


SOURCES = ("object", "string", "list", "wrong types", "null", "absent")
FACT_COLUMNS = (
    "seq", "props_ok", "props_hash", "video_id", "start_position_ms", "location",
    "impression_id", "duration_ms", "position_ms", "to_ms", "fatal", "category", "from_track",
    "to_track", "height", "window_width", "played_ms", "request_id", "row_index", "rank",
    "half_visible_ms", "first_part",
)  # fmt: skip


def _facts(warehouse: Warehouse) -> dict[int, dict[str, Any]]:
    sql = f"SELECT {', '.join(FACT_COLUMNS)} FROM facts WHERE app_session_id = 'launch-1'"
    return {row[0]: dict(zip(FACT_COLUMNS, row, strict=True)) for row in warehouse.rows(sql)}


def _served(warehouse: Warehouse) -> list[list[Any]]:
    return list(
        warehouse.rows(
            "SELECT seq, request_id, position, row_id, row_index, video_ids, device_id"
            " FROM served_rows ORDER BY seq, position"
        )
    )


@pytest.fixture(scope="module")
def parsed(mirrored: tuple[Path, dict[str, Any]]) -> tuple[dict[int, Any], list[Any], Any]:
    db, seqs = mirrored
    with open_engine(store_url(db)) as warehouse:
        return _facts(warehouse), _served(warehouse), seqs


@pytest.mark.parametrize("case", range(len(VALUES)), ids=[str(v[0]) for v in VALUES])
def test_each_rule_reads_a_json_value_as_the_report_always_has(case: int, parsed: Any) -> None:
    facts, _, seqs = parsed
    text, as_int, as_int_lit, as_size, as_str, first_part, fatal = VALUES[case]
    row = facts[seqs[f"value-{case}"]]
    assert row["props_ok"] == 1
    assert (row["position_ms"], row["duration_ms"], row["to_ms"]) == (as_int,) * 3
    assert (row["row_index"], row["rank"], row["half_visible_ms"]) == (as_int_lit,) * 3
    assert (row["height"], row["window_width"]) == (as_size,) * 2
    assert (row["video_id"], row["category"]) == (as_str,) * 2
    assert row["first_part"] == first_part  # properties.get("part", 0) == 0
    assert row["fatal"] == fatal  # properties.get("fatal") is True
    # A JSON number, never a boolean (the facts header's rule).
    value = None if text is ABSENT or text in ("true", "false") else orjson.loads(str(text))
    assert row["played_ms"] == (float(value) if isinstance(value, int | float) else None)


def test_a_nested_source_counts_only_as_an_object_of_strs(parsed: Any) -> None:
    facts, _, seqs = parsed
    rows = {name: facts[seqs[f"source {name}"]] for name in SOURCES}
    found = {name: (row["location"], row["impression_id"]) for name, row in rows.items()}
    assert found == {
        "object": ("home", "imp-1"),
        "string": (None, None),
        "list": (None, None),
        "wrong types": (None, None),
        "null": (None, None),
        "absent": (None, None),
    }
    assert facts[seqs["source object"]]["start_position_ms"] == 3000  # 3000.0 is an int
    assert facts[seqs["source object"]]["video_id"] == "v1"
    assert facts[seqs["impression"]]["impression_id"] == "imp-9"
    assert facts[seqs["impression"]]["request_id"] == "r1"


@pytest.mark.parametrize(
    "name",
    ["props list", "props null", "props string", "props absent", "invalid json", "not an object"],
)
def test_properties_that_are_not_an_object_give_a_row_with_nothing_parsed(
    name: str, parsed: Any
) -> None:
    facts, _, seqs = parsed
    row = facts[seqs[name]]
    assert row["props_ok"] == 0
    assert row["props_hash"] == 0
    assert row["first_part"] == 0
    assert row["fatal"] == 0
    parsed_columns = set(FACT_COLUMNS) - {"seq", "props_ok", "props_hash", "fatal", "first_part"}
    assert {column: row[column] for column in parsed_columns} == {
        column: "" if column in ("from_track", "to_track") else None for column in parsed_columns
    }


def test_track_changes_keep_the_tracks_as_json_text_null_and_absent_empty(parsed: Any) -> None:
    facts, _, seqs = parsed
    tracks = {
        name: (facts[seqs[name]]["from_track"], facts[seqs[name]]["to_track"])
        for name in ("tracks equal", "tracks null", "tracks absent")
    }
    # 1 and 1.0 compare equal in Python, and print alike here.
    assert tracks == {
        "tracks equal": ("1", "1"),
        "tracks null": ("", '"a"'),
        "tracks absent": ("", ""),
    }
    assert facts[seqs["tracks equal"]]["height"] == 720


def test_the_properties_hash_ignores_top_level_key_order_only(parsed: Any) -> None:
    facts, _, seqs = parsed
    names = ("order a", "order b", "other value", "other nested")
    hashes = {name: facts[seqs[name]]["props_hash"] for name in names}
    assert hashes["order a"] == hashes["order b"] != 0
    assert len({hashes["order a"], hashes["other value"], hashes["other nested"]}) == 3


def test_served_rows_are_the_valid_rows_with_their_distinct_str_video_ids(parsed: Any) -> None:
    _, served, seqs = parsed
    feed = seqs["feed"]
    assert served == [
        [feed, "r1", 0, "a", 0, ["v1", "v2"], "dev"],
        [feed, "r1", 4, "empty string", 4, [], "dev"],
        [feed, "r1", 5, "empty object", 5, [], "dev"],
        [feed, "r1", 13, "b", 13, ["v3"], "dev"],
    ]
    facts = parsed[0]
    assert facts[feed]["first_part"] == 1  # no part
    assert facts[seqs["feed bad request"]]["first_part"] == 0  # part 1
    assert facts[seqs["feed rows object"]]["first_part"] == 1  # part 0.0
    assert facts[seqs["feed bad request"]]["request_id"] is None


def test_the_posted_events_context_joins_the_mirrored_contexts(mirrored: Any) -> None:
    db, _ = mirrored
    with closing(sqlite3.connect(db)) as connection:
        ((digest, text),) = connection.execute("SELECT hash, json FROM contexts").fetchall()
    with open_engine(store_url(db)) as warehouse:
        joined = list(
            warehouse.rows(
                "SELECT f.context_hash, c.json FROM facts AS f"
                " JOIN contexts AS c ON c.hash = f.context_hash WHERE f.app_session_id = 'launch-0'"
            )
        )
    assert joined == [[digest.hex(), text]]


def test_the_warehouse_path_parses_the_same_rows_the_same(
    mirrored: Any, parsed: Any, tmp_path: Path
) -> None:
    """The loader inserts the store's rows as `events` rows: the views give the same tables."""
    facts, served, _ = parsed
    rows, _ = _crafted()
    warehouse = Warehouse(f"chdb://{tmp_path / 'clickhouse'}")
    try:
        apply_schema(warehouse)
        warehouse.insert(
            "events",
            [orjson.dumps(row._asdict() | {"context_hash": None}) for row in rows.rows],
        )
        assert _facts(warehouse) == facts
        assert _served(warehouse) == served
    finally:
        warehouse.close()
