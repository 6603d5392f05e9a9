"""Known answers of the browse SQL (`telemetry/report/browse_sql.py`), one rule per test:
hand-made launches stored as `facts`/`served_rows` rows in chdb, the figures written out.
The Python fold they once were checked against is gone; these rules are the reference."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from telemetry.contracts.clickhouse import Warehouse
from telemetry.report.browse_sql import BrowseRows, browse_figures
from telemetry.report.metrics import LineFigures, RowReach, titles
from telemetry.report.queries import Filters

from .facts_rows import Stored, engine_tables, insert

T0 = 1_700_000_000_000
MIN = 60_000
CONTEXTS = {
    "aa01": {"app": {"version": "1.0"}, "os": {"name": "Linux"}},
    "aa02": {"app": {"version": "1.1"}, "os": {"name": "Windows"}},
}


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Warehouse]:
    with engine_tables(tmp_path_factory.mktemp("known") / "clickhouse") as opened:
        yield opened


def figures(
    warehouse: Warehouse, events: list[Stored], filters: Filters | None = None
) -> BrowseRows:
    for table in ("facts", "served_rows", "contexts"):
        warehouse.command(f"TRUNCATE TABLE {table}")
    insert(warehouse, events, CONTEXTS)
    return browse_figures(warehouse, filters or Filters())


class Launch:
    """Events of one launch, seq 1, 2, ... (or as given), one minute apart by default."""

    def __init__(self, name: str = "launch-a", **defaults: Any) -> None:
        self.name = name
        self.defaults = defaults
        self.events: list[Stored] = []

    def add(
        self,
        kind: str,
        props: Any,
        *,
        seq: int | None = None,
        mono: int | None = None,
        **extra: Any,
    ) -> Stored:
        seq = seq if seq is not None else (self.events[-1].seq + 1 if self.events else 1)
        mono = mono if mono is not None else seq * MIN
        fields = {"time": T0 + mono, **self.defaults, **extra}
        event = Stored(self.name, seq, kind, mono, props, **fields)
        self.events.append(event)
        return event

    def feed(self, request: str, rows: list[Any], part: int | None = None, **kw: Any) -> Stored:
        props: dict[str, Any] = {"request_id": request, "rows": rows}
        if part is not None:
            props["part"] = part
        return self.add("feed_served", props, **kw)

    def impression(self, tile: str, iid: str, index: int, rank: Any, **kw: Any) -> Stored:
        """An impression of the tile "request/row/video"."""
        request, row, video = tile.split("/")
        props = {
            "request_id": request,
            "row_id": row,
            "video_id": video,
            "impression_id": iid,
            "row_index": index,
            "rank": rank,
        }
        return self.add("impression", props, **kw)

    def tile(self, request: str, row: str, video: str, half: Any, **kw: Any) -> Stored:
        props = {
            "request_id": request,
            "row_id": row,
            "video_id": video,
            "ms_at_least_half_visible": half,
        }
        return self.add("tile_visibility", props, **kw)

    def play(self, session: str, video: str, iid: str | None, **kw: Any) -> Stored:
        source = {"location": "home"} if iid is None else {"location": "home", "impression_id": iid}
        return self.add(
            "play_request", {"video_id": video, "source": source}, play_session_id=session, **kw
        )


def row(row_id: str, index: Any, *videos: Any) -> dict[str, Any]:
    return {"row_id": row_id, "row_index": index, "items": [{"video_id": v} for v in videos]}


def test_the_least_copy_is_kept_and_the_others_are_duplicates(warehouse: Warehouse) -> None:
    a = Launch()
    a.feed("r1", [row("w", 0, "v1")])
    first = a.impression("r1/w/v1", "i1", 0, 0)
    # The same impression under another key arrived first, its clock outside the time range.
    early = replace(
        first,
        key_id="key-2",
        event_id="e-2",
        received_at=first.received_at - 5,
        corrected_time=T0 - 10 * MIN,
    )
    got = figures(warehouse, [*a.events, early, first], Filters(since=T0))  # `first` twice
    assert got.quality.duplicates == 1
    assert got.quality.events == 2
    assert got.browse.impressions == 0  # the kept copy is outside the range
    assert figures(warehouse, [*a.events, early], Filters()).browse.impressions == 1


def test_a_repeat_under_a_new_seq_counts_once(warehouse: Warehouse) -> None:
    a = Launch()
    feed = a.feed("r1", [row("w", 0, "v1")])
    a.impression("r1/w/v1", "i1", 0, 0)
    span = a.tile("r1", "w", "v1", 400)
    a.add("tile_visibility", span.properties, mono=span.mono_ms)  # the same span again
    a.add("feed_served", feed.properties, mono=feed.mono_ms)
    a.tile("r1", "w", "v1", 400)  # another span of the same length: counts
    got = figures(warehouse, a.events)
    assert got.quality.repeats == 2
    assert got.browse.feeds == 1
    assert got.browse.dwell_median_ms == 800


def test_lost_seqs_clock_skew_launches_and_devices(warehouse: Warehouse) -> None:
    a = Launch("launch-a", device_id=None)
    a.add("heartbeat", {}, seq=1, corrected_time=T0 + MIN + 999)
    a.add("heartbeat", {}, seq=2, device_id="dev-late", corrected_time=T0 + 2 * MIN - 1000)
    a.add("heartbeat", {}, seq=5, corrected_time=T0 + 5 * MIN + 7000)
    b = Launch("launch-b", device_id="dev-b")
    b.add("heartbeat", {}, seq=3)
    c = Launch("launch-c", device_id="dev-c")
    c.add("heartbeat", {}, seq=1, time=T0 - 100 * MIN)  # never selected below
    got = figures(warehouse, a.events + b.events + c.events, Filters(since=T0))
    q = got.quality
    assert (q.app_sessions, q.events, q.lost_events, q.skew_corrected) == (2, 4, 2 + 2, 2)
    assert q.devices == {"dev-b"}  # launch-a's first event has no device


def test_one_impression_per_tile_the_first_valid_one(warehouse: Warehouse) -> None:
    a = Launch()
    a.feed("r1", [row("w", 0, "v1", "v2")])
    a.impression("r1/w/v1", "bad", 0, 2.0)  # rank not an int literal: no impression
    a.impression("r1/w/v1", "i1", 0, 3)
    a.impression("r1/w/v1", "i2", 0, 1)  # the same tile again
    a.impression("r1/w/v2", "i3", 0, 1, play_session_id="ps-x")  # not a browse event
    a.add("impression", [])  # properties not an object
    got = figures(warehouse, a.events)
    assert [(c.row, c.rank, c.impressions) for c in got.browse.cells] == [(0, 3, 1)]
    assert got.browse.reach_by_row == [RowReach(0, 2, 1, 0.5, 3, 3)]


def test_a_play_takes_the_impression_it_names_within_30_minutes(warehouse: Warehouse) -> None:
    a = Launch()
    a.feed("r1", [row("w", 0, "v1", "v2", "v3", "v4")])
    a.impression("r1/w/v1", "i1", 0, 0, mono=10 * MIN)
    a.impression("r1/w/v2", "i2", 0, 1, mono=10 * MIN)
    a.impression("r1/w/v3", "i3", 0, 2, mono=10 * MIN)
    a.impression("r1/w/v4", "i3", 0, 3, mono=11 * MIN)  # i3 again: the last one named
    a.play("p0", "v2", "i2", mono=9 * MIN)  # before the impression
    a.play("p1", "v1", "i1", mono=40 * MIN)  # exactly 30 minutes after: taken
    a.play("p2", "v1", "i1", mono=41 * MIN)  # i1 already taken
    a.play("p3", "v2", "i2", mono=40 * MIN + 1)  # 30 min + 1 ms after: not taken
    a.play("p4", "v4", "i3", mono=12 * MIN)
    a.play("p5", "v2", None, mono=13 * MIN)
    a.play("p5", "v2", "i2", mono=14 * MIN)  # its session's first request named nothing
    got = figures(warehouse, a.events)
    assert got.attributed == {("launch-a", "p1"), ("launch-a", "p4")}
    assert [(c.rank, c.impressions, c.plays) for c in got.browse.cells] == [
        (0, 1, 1),
        (1, 1, 0),
        (2, 1, 0),
        (3, 1, 1),
    ]
    assert got.titles["v4"].attributed_plays == 1
    assert got.titles["v3"].attributed_plays == 0


def test_a_feed_in_parts_is_one_feed_its_rows_joined(warehouse: Warehouse) -> None:
    a = Launch()
    a.feed("r1", [row("w", 0, "v1", "v1", "v2"), "oops", {"row_id": "x"}], part=0)
    a.feed("r1", [row("w", 5, "v2", "v3"), row("z", 2.0, "v9"), row("y", 1, "v4")], part=1)
    a.feed("r2", [row("w", 0, "v7")], part=0, play_session_id="ps")  # not a browse event
    got = figures(warehouse, a.events)
    b = got.browse
    assert (b.feeds, b.served) == (1, 4)
    assert [(r.row, r.served) for r in b.reach_by_row] == [(0, 3), (1, 1)]
    assert {t: x.served for t, x in got.titles.items()} == {"v1": 1, "v2": 1, "v3": 1, "v4": 1}


def test_reach_deepest_rank_and_nearest_rank_medians(warehouse: Warehouse) -> None:
    events = []
    for n, (deepest, dwells) in enumerate([(1, [0]), (3, [100]), (4, [300]), (6, [700])]):
        a = Launch(f"launch-{n}")
        a.feed("r1", [row("w", 0, "v1", "v2", "v3")])
        a.impression("r1/w/v1", "i1", 0, 0)
        a.impression("r1/w/v9", "i2", 0, deepest)  # not a served video
        a.tile("r1", "w", "v9", dwells[0])
        events += a.events
    got = figures(warehouse, events)
    b = got.browse
    assert b.reach_by_row == [RowReach(0, 12, 4, 4 / 12, 6, 3)]
    assert b.dwell_median_ms == 0  # eight dwells: 0 x5, 100, 300, 700: the 4th
    assert b.by_rank == [
        LineFigures(0, 4, 0, 0.0, 0),
        LineFigures(1, 1, 0, 0.0, 0),
        LineFigures(3, 1, 0, 0.0, 100),
        LineFigures(4, 1, 0, 0.0, 300),
        LineFigures(6, 1, 0, 0.0, 700),
    ]
    assert (b.served_never_seen, b.reach.rate) == (8, 4 / 12)


def test_the_deepest_rank_of_a_feed_row_is_its_first_impression_of_that_rank(
    warehouse: Warehouse,
) -> None:
    a = Launch()
    a.impression("r1/w/v1", "i1", 3, 5)
    a.impression("r1/w/v2", "i2", 4, 5)  # the same rank later, another row_index
    got = figures(warehouse, a.events)
    assert [(r.row, r.deepest_rank_max) for r in got.browse.reach_by_row] == [(3, 5)]


def test_expected_plays_from_the_global_take_rate_per_cell(warehouse: Warehouse) -> None:
    a = Launch()
    for n in range(4):  # cell (0, 0): 4 impressions, 1 play; cell (0, 1): 2, 2 plays
        a.impression(f"r1/w/v{n}", f"i{n}", 0, 0)
    a.impression("r2/w/v0", "j0", 0, 1)
    a.impression("r2/w/v1", "j1", 0, 1)
    a.play("p0", "v0", "i0")
    a.play("p1", "v0", "j0")
    a.play("p2", "v1", "j1")
    got = figures(warehouse, a.events)
    v0, v1 = got.titles["v0"], got.titles["v1"]
    assert (v0.impressions, v0.attributed_plays, v0.expected_plays) == (2, 2, 0.25 + 1.0)
    by_title = {t.video_id: t for t in titles([], got.titles)}
    assert by_title["v0"].position_corrected_take_rate == 2 / 1.25
    assert (v1.attributed_plays, v1.expected_plays) == (1, 1.25)
    assert got.browse.take_rate == 3 / 6


def test_filters_time_app_version_os_and_video(warehouse: Warehouse) -> None:
    a = Launch(context_hash="aa01")
    a.feed("r1", [row("w", 0, "v1", "v2")])
    a.impression("r1/w/v1", "i1", 0, 0)
    a.impression("r1/w/v2", "i2", 0, 1, context_hash="aa02")
    a.impression("r1/w/v3", "i3", 0, 2, corrected_time=T0 + 100 * MIN)
    a.impression("r1/w/v4", "i4", 0, 3, context_hash="ffff")  # an unknown context
    events = a.events

    def counted(filters: Filters) -> list[int]:
        return [c.rank for c in figures(warehouse, events, filters).browse.cells]

    assert counted(Filters()) == [0, 1, 2, 3]
    assert counted(Filters(until=T0 + 100 * MIN)) == [0, 1, 3]
    assert counted(Filters(app_version="1.0")) == [0, 2]
    assert counted(Filters(os="Windows")) == [1]
    assert counted(Filters(video_id="v2")) == [1]
    got = figures(warehouse, events, Filters(video_id="v2"))
    assert (got.browse.served, got.browse.reach.count, set(got.titles)) == (1, 1, {"v2"})
    # A launch is in the data-quality counts when any of its events is selected.
    assert figures(warehouse, events, Filters(os="Windows")).quality.events == 5
    assert figures(warehouse, events, Filters(os="Mac")).quality.app_sessions == 0


def test_no_events_no_figures(warehouse: Warehouse) -> None:
    got = figures(warehouse, [])
    assert got.browse.cells == []
    assert got.browse.take_rate is None
    assert got.titles == {}
    assert got.attributed == set()
    assert got.quality.app_sessions == 0
    assert got.quality.devices == frozenset()
