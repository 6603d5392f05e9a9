"""The home feed: rows from catalog and history, ids and ranks, determinism under a seed."""

from __future__ import annotations

from pathlib import Path

from player.catalog import load_sample_catalog
from player.feed import FeedOptions, build_feed
from player.history import WatchHistory
from telemetry.contracts.events import SPECS


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


def _history(tmp_path: Path) -> WatchHistory:
    history = WatchHistory(tmp_path / "h.json", clock=_Clock())
    history.record_play("game-of-life")
    history.record_progress("game-of-life", 6_000, 10_000)
    history.record_play("ocean-drift")
    history.record_play("ocean-drift")
    history.mark_completed("ocean-drift")
    history.record_play("not-in-catalog")
    return history


def test_rows_tracks_and_ranks(tmp_path: Path) -> None:
    feed = build_feed(load_sample_catalog(), _history(tmp_path).entries(), seed=7)
    rows = {row.row_id: row for row in feed.rows}
    assert [row.row_index for row in feed.rows] == list(range(len(feed.rows)))
    assert list(rows)[:5] == [
        "continue_watching",
        "because_you_watched:ocean-drift",
        "because_you_watched:game-of-life",
        "recently_added",
        "most_watched",
    ]
    assert [i.video_id for i in rows["continue_watching"].items] == ["game-of-life"]
    assert [i.video_id for i in rows["most_watched"].items] == ["ocean-drift", "game-of-life"]
    assert rows["because_you_watched:ocean-drift"].title == "Because You Watched Ocean Drift"
    assert rows["because_you_watched:ocean-drift"].track_id == "because_you_watched"
    similar = [i.video_id for i in rows["because_you_watched:ocean-drift"].items]
    assert similar[0] == "sunset-hues"  # the same two genres: the closest match
    assert "ocean-drift" not in similar
    recent = [i.video_id for i in rows["recently_added"].items]
    # The newest first: the two feature samples were added last.
    assert recent[:4] == ["city-of-clocks", "harbour-nights", "rainbow-spin", "sunset-hues"]
    genre_rows = [row for row in feed.rows if row.track_id.startswith("genre:")]
    assert genre_rows[0].row_id == "genre:Abstract"  # the biggest genre first
    assert sorted(i.video_id for i in genre_rows[0].items) == [
        "cellular-dreams",
        "city-of-clocks",
        "mandelbrot-voyage",
        "rainbow-spin",
    ]
    for row in feed.rows:
        assert [i.rank for i in row.items] == list(range(len(row.items)))


def test_deterministic_under_a_seed(tmp_path: Path) -> None:
    catalog = load_sample_catalog()
    history = _history(tmp_path).entries()
    assert build_feed(catalog, history, seed=3) == build_feed(catalog, history, seed=3)
    others = {build_feed(catalog, history, seed=s).request_id for s in range(5)}
    assert len(others) == 5


def test_empty_history_has_no_personal_rows_and_options_cap_rows() -> None:
    feed = build_feed(
        load_sample_catalog(),
        [],
        seed=1,
        options=FeedOptions(max_items_per_row=2, max_genre_rows=3),
    )
    assert [row.track_id for row in feed.rows][:1] == ["recently_added"]
    assert len(feed.rows) == 4
    assert all(len(row.items) <= 2 for row in feed.rows)


def test_served_properties_validate_and_match_the_layout(tmp_path: Path) -> None:
    feed = build_feed(load_sample_catalog(), _history(tmp_path).entries(), seed=1)
    served = feed.served_properties()
    assert SPECS["feed_served"].problem(served) is None
    rows = served["rows"]
    assert isinstance(rows, list)
    assert [r["row_id"] for r in rows] == [row.row_id for row in feed.rows]
    assert rows[0]["items"] == [{"video_id": "game-of-life", "rank": 0}]
