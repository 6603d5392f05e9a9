"""The home page's rows with real widgets, offscreen: impressions by geometry and a fake clock,
wheel forwarding, keyboard navigation, details, activation."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from player.catalog import CatalogItem
from player.feed import Feed, FeedItem, FeedRow
from ui.home.home_view import HomeView
from ui.home.row_view import RowView

from ..telemetry.track_recorder import Clock, Recorder

ROWS = 6
PER_ROW = 30


def make_feed() -> tuple[Feed, dict[str, CatalogItem]]:
    items: dict[str, CatalogItem] = {}
    rows = []
    for r in range(ROWS):
        entries = []
        for rank in range(PER_ROW):
            video_id = f"v{r}-{rank}"
            items[video_id] = CatalogItem(
                video_id,
                f"Title {r}.{rank}",
                f"/nowhere/{video_id}.mp4",
                "About it",
                ("G",),
                90_000,
            )
            entries.append(FeedItem(video_id, rank))
        rows.append(FeedRow(f"r{r}", r, f"genre:G{r}", f"Row {r}", tuple(entries)))
    return Feed("req-1", "home", tuple(rows)), items


@pytest.fixture
def clock() -> Clock:
    return Clock(1_000_000.0)


@pytest.fixture
def events() -> Recorder:
    return Recorder()


@pytest.fixture
def home(qtbot: QtBot, clock: Clock, events: Recorder) -> Iterator[HomeView]:
    view = HomeView(events, clock=clock)
    qtbot.addWidget(view)
    view.resize(1200, 640)
    feed, items = make_feed()
    view.show_feed(feed, items)
    view.show()
    qtbot.waitExposed(view)
    view.activateWindow()
    qtbot.waitUntil(view.isActiveWindow, timeout=3000)
    yield view
    view.shutdown()


def settle(home: HomeView, clock: Clock, ms: float = 1000) -> None:
    home.monitor.run_pass()
    clock.now += ms
    home.monitor.poll()


def expected_at_least_half(row: RowView, scroll: int) -> set[int]:
    """Ranks >= 50 % inside the row's viewport at horizontal offset `scroll`, from the layout
    constants (first tile's left edge and the pitch) measured at offset 0."""
    bar = row.horizontalScrollBar()
    bar.setValue(0)
    first = row.visualRect(row.model().index(0, 0))
    pitch = row.visualRect(row.model().index(1, 0)).left() - first.left()
    width = row.viewport().width()
    ranks = set()
    for rank in range(PER_ROW):
        left = first.left() + rank * pitch - scroll
        seen = min(left + first.width(), width) - max(left, 0)
        if seen / first.width() >= 0.5:
            ranks.add(rank)
    return ranks


def test_scrolling_a_row_by_a_known_distance_impresses_exactly_the_expected_tiles(
    home: HomeView, clock: Clock, events: Recorder
) -> None:
    row = home.row("r0")
    before = expected_at_least_half(row, 0)
    settle(home, clock)
    assert {rank for row_id, rank in events.impressed() if row_id == "r0"} == before
    impressed_rows = {row_id for row_id, _ in events.impressed()}
    assert "r0" in impressed_rows
    assert f"r{ROWS - 1}" not in impressed_rows  # below the fold
    already = events.impressed()

    distance = 700
    after = expected_at_least_half(row, distance)
    row.horizontalScrollBar().setValue(distance)
    settle(home, clock)
    new = events.impressed() - already
    assert new == {("r0", rank) for rank in after - before}
    assert after - before  # the scroll did reveal new tiles
    ids = [p["impression_id"] for p in events.of("impression")]
    assert len(ids) == len(set(ids))


def test_a_tile_at_49_percent_never_gets_an_impression(
    home: HomeView, clock: Clock, events: Recorder
) -> None:
    row = home.row("r0")
    first = row.visualRect(row.model().index(0, 0))
    pitch = row.visualRect(row.model().index(1, 0)).left() - first.left()
    width = row.viewport().width()
    # Find the first tile cut by the right edge and scroll so exactly 49 % of it shows.
    rank = next(r for r in range(PER_ROW) if first.left() + r * pitch + first.width() > width)
    scroll = first.left() + rank * pitch + round(first.width() * 0.49) - width
    row.horizontalScrollBar().setValue(scroll)
    settle(home, clock, 60_000)
    assert ("r0", rank) not in events.impressed()
    assert ("r0", rank - 1) in events.impressed()
    home.tracker.close()
    spans = [p for p in events.of("tile_visibility") if (p["row_id"], p["rank"]) == ("r0", rank)]
    assert [p["max_visible_fraction"] for p in spans] == [pytest.approx(0.49, abs=0.006)]
    assert spans[0]["ms_at_least_half_visible"] == 0  # logged all the same, for other rules


def test_minimising_the_window_pauses_every_timer(
    qtbot: QtBot, home: HomeView, clock: Clock, events: Recorder
) -> None:
    home.monitor.run_pass()
    clock.now += 600
    home.showMinimized()
    qtbot.waitUntil(home.isMinimized, timeout=3000)
    home.monitor.run_pass()
    assert home.tracker.next_deadline() is None
    clock.now += 30_000
    home.monitor.poll()
    assert events.of("impression") == []
    assert {p["end_reason"] for p in events.of("tile_visibility")} == {"window_inactive"}

    home.showNormal()
    home.activateWindow()
    qtbot.waitUntil(lambda: home.isActiveWindow() and not home.isMinimized(), timeout=3000)
    home.monitor.run_pass()
    clock.now += 399
    home.monitor.poll()
    assert events.of("impression") == []
    clock.now += 1
    home.monitor.poll()
    assert events.of("impression")


def test_tiles_that_flash_past_in_a_fast_scroll_get_none(
    home: HomeView, clock: Clock, events: Recorder
) -> None:
    row = home.row("r0")
    start = expected_at_least_half(row, 0)
    home.monitor.run_pass()
    end_offset = row.horizontalScrollBar().maximum()
    for offset in range(0, end_offset, 150):
        clock.now += 30
        row.horizontalScrollBar().setValue(offset)
        home.monitor.run_pass()
    row.horizontalScrollBar().setValue(end_offset)
    end = expected_at_least_half(row, end_offset)
    row.horizontalScrollBar().setValue(end_offset)
    settle(home, clock)
    r0 = {rank for row_id, rank in events.impressed() if row_id == "r0"}
    assert r0 == end
    flashed = set(range(PER_ROW)) - start - end
    assert flashed
    seen_flashed = {p["rank"] for p in events.of("tile_visibility") if p["row_id"] == "r0"}
    assert flashed <= seen_flashed  # spans were logged for them all the same


def test_vertical_wheel_over_a_row_scrolls_the_page(home: HomeView) -> None:
    row = home.row("r1")
    page_bar = home.page.verticalScrollBar()
    assert page_bar.maximum() > 0
    before = page_bar.value()
    pos = QPointF(row.viewport().rect().center())
    wheel = QWheelEvent(
        pos,
        QPointF(row.viewport().mapToGlobal(pos.toPoint())),
        QPoint(0, 0),
        QPoint(0, -120),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(row.viewport(), wheel)
    assert page_bar.value() > before
    assert row.horizontalScrollBar().value() == 0


def test_keyboard_moves_across_tiles_and_rows_and_enter_plays(
    qtbot: QtBot, home: HomeView, clock: Clock, events: Recorder
) -> None:
    home.setFocus()
    row0 = home.row("r0")
    qtbot.waitUntil(row0.hasFocus, timeout=3000)
    for _ in range(2):
        qtbot.keyClick(row0, Qt.Key.Key_Right)
    assert row0.currentIndex().row() == 2
    assert home.details.title.text() == "Title 0.2"
    assert "1:30" in home.details.meta.text()
    qtbot.keyClick(row0, Qt.Key.Key_Down)
    row1 = home.row("r1")
    assert row1.hasFocus()
    assert row1.currentIndex().row() == 2
    assert home.details.title.text() == "Title 1.2"
    clock.now += 250
    with qtbot.waitSignal(home.play_requested, timeout=2000) as blocker:
        qtbot.keyClick(row1, Qt.Key.Key_Return)
    item, source = blocker.args
    assert item.id == "v1-2"
    assert source["row_id"] == "r1"
    assert source["rank"] == 2
    assert source["request_id"] == "req-1"
    assert source["impression_id"] == home.tracker.impression_id(row1.tile_model.tile(2).ref)
    [play] = [p for p in events.of("tile_action") if p["action"] == "play"]
    assert (play["trigger"], play["dwell_ms"]) == ("enter", 250)
    qtbot.keyClick(row1, Qt.Key.Key_Up)
    assert row0.hasFocus()
    assert [p["action"] for p in events.of("tile_action")][-1] == "focus"


def test_arrows_appear_on_hover_and_scroll_smoothly(qtbot: QtBot, home: HomeView) -> None:
    row = home.row("r0")
    right = next(b for b in row.findChildren(type(row._right)) if b.text() == "›")
    assert not right.isVisible()
    qtbot.mouseMove(row.viewport(), row.viewport().rect().center())
    qtbot.waitUntil(right.isVisible, timeout=2000)
    values: list[int] = []
    row.horizontalScrollBar().valueChanged.connect(values.append)
    qtbot.mouseClick(right, Qt.MouseButton.LeftButton)
    target = row.viewport().width() - row.visualRect(row.model().index(0, 0)).width()
    qtbot.waitUntil(lambda: row.horizontalScrollBar().value() == target, timeout=3000)
    assert len(values) > 2  # animated, not a jump
    assert values == sorted(values)
