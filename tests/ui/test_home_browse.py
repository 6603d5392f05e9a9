"""Browse to play and back, with a real `MainWindow`, real home widgets and a real libVLC engine
(dummy outputs): a click plays that title with the right `play_request`, Esc returns home to
the same scroll positions with Continue Watching refreshed, and a broken catalog entry is
reported while the rest is shown."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from player.catalog import load_catalog_file, load_sample_catalog
from player.engine import EngineEventKind
from player.history import WatchHistory
from player.library_scan import FolderScanner
from player.recents import RecentSources
from player.session_journal import SessionJournals
from ui.home.browse import BrowseController, CatalogLoader
from ui.home.home_view import HomeView
from ui.main_window import MainWindow
from ui.playback_telemetry import PlaybackTelemetry

from ..telemetry.track_recorder import Clock, Recorder
from .conftest import engine_factory


class Browse:
    def __init__(self, window: MainWindow, home: HomeView, controller: BrowseController) -> None:
        self.window, self.home, self.controller = window, home, controller


@pytest.fixture
def clock() -> Clock:
    return Clock(5_000_000.0)


@pytest.fixture
def events() -> Recorder:
    return Recorder()


@pytest.fixture
def browse(qtbot: QtBot, tmp_path: Path, clock: Clock, events: Recorder) -> Iterator[Browse]:
    home = HomeView(events, clock=clock)
    window = MainWindow(engine_factory, home, recents=RecentSources(tmp_path / "recent.json"))
    playback = PlaybackTelemetry(window, events, journals=SessionJournals(tmp_path / "sessions"))
    controller = BrowseController(home, window, WatchHistory(tmp_path / "history.json"), seed=11)
    controller.play_starting.connect(playback.prepare)
    qtbot.addWidget(window)
    window.resize(1000, 560)
    window.show()
    qtbot.waitExposed(window)
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=3000)
    yield Browse(window, home, controller)
    controller.shutdown()
    window.close()


def test_clicking_a_tile_plays_it_with_the_impression_id(
    qtbot: QtBot, browse: Browse, clock: Clock, events: Recorder
) -> None:
    browse.controller.set_catalog(load_sample_catalog())
    home = browse.home
    row = home.rows[0]
    home.monitor.run_pass()
    clock.now += 1000
    home.monitor.poll()
    tile = row.tile_model.tile(1)
    [impression] = [
        p
        for p in events.of("impression")
        if (p["row_id"], p["video_id"]) == (tile.ref.row_id, tile.item.id)
    ]
    qtbot.mouseClick(
        row.viewport(),
        Qt.MouseButton.LeftButton,
        pos=row.visualRect(row.model().index(1, 0)).center(),
    )
    qtbot.waitUntil(
        lambda: browse.window.pages.currentWidget() is browse.window.player, timeout=3000
    )
    assert browse.window.player.source == tile.item.media
    [request] = events.of("play_request")
    assert request["video_id"] == tile.item.id
    assert request["source"] == {
        "request_id": home.feed.request_id if home.feed else None,
        "row_id": tile.ref.row_id,
        "rank": 1,
        "impression_id": impression["impression_id"],
        "location": "home",
    }
    [served] = events.of("feed_served")
    assert served["request_id"] == request["source"]["request_id"]  # type: ignore[index]


def test_back_restores_scroll_positions_and_refreshes_continue_watching(
    qtbot: QtBot, browse: Browse, clock: Clock, events: Recorder
) -> None:
    catalog = load_sample_catalog()
    for copy in range(5):  # enough rows and tiles to scroll both ways
        catalog = type(catalog)(
            catalog.items
            + tuple(
                type(item)(f"{item.id}-{copy}", item.title, item.media, genres=(f"Extra {copy}",))
                for item in load_sample_catalog().items
            )
        )
    browse.controller.set_catalog(catalog)
    home = browse.home
    assert "continue_watching" not in [r.objectName() for r in home.rows]
    page = home.page.verticalScrollBar()
    qtbot.waitUntil(lambda: page.maximum() > 200, timeout=3000)
    page.setValue(200)
    row = home.row("genre:Extra 0")
    row.horizontalScrollBar().setValue(150)
    anchor = home.scroll_state().anchor_row_id
    y_before = home.row(anchor or "").mapTo(home.page.viewport(), row.rect().topLeft()).y()
    played = home.row("recently_added").tile_model.tile(0).item

    home.row("recently_added").tile_activated.emit(
        home.row("recently_added").tile_model.tile(0), "click"
    )
    qtbot.waitUntil(
        lambda: browse.window.pages.currentWidget() is browse.window.player, timeout=3000
    )
    player = browse.window.player
    times: list[int] = []
    player.engine_event.connect(
        lambda e: times.append(e.value) if e.kind is EngineEventKind.TIME_CHANGED else None
    )
    qtbot.waitUntil(lambda: player.engine.position_ms > 0, timeout=10_000)
    player.seek(6_000)
    qtbot.waitUntil(lambda: bool(times) and times[-1] >= 6_000, timeout=10_000)
    qtbot.keyClick(browse.window.player, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: browse.window.pages.currentWidget() is home, timeout=3000)

    continue_row = home.row("continue_watching")
    assert [t.item.id for t in continue_row.tile_model.tiles()] == [played.id]
    assert continue_row.tile_model.tile(0).progress > 0
    assert len(events.of("feed_served")) == 2
    assert len({p["request_id"] for p in events.of("feed_served")}) == 2
    qtbot.waitUntil(lambda: home.row("genre:Extra 0").scroll_offset() == 150, timeout=3000)
    new_anchor = home.row(anchor or "")
    qtbot.waitUntil(
        lambda: new_anchor.mapTo(home.page.viewport(), new_anchor.rect().topLeft()).y() == y_before,
        timeout=3000,
    )


def test_a_broken_catalog_entry_is_reported_and_the_rest_shown(
    browse: Browse, tmp_path: Path
) -> None:
    document = json.loads(load_sample_catalog_text())
    document["items"].insert(2, {"id": "broken", "media": "x.mp4"})
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps(document))
    # Media paths stay relative to the copy; only titles and the report matter here.
    browse.controller.set_catalog(load_catalog_file(path))
    home = browse.home
    shown = {t.item.id for row in home.rows for t in row.tile_model.tiles()}
    assert shown == {item["id"] for item in document["items"]} - {"broken"}
    assert home.notice.isVisible()
    assert "1 catalog entry was skipped" in home.notice.text()
    assert "entry 2: 'title' must be a non-empty string" in home.notice.text()


def load_sample_catalog_text() -> str:
    from player.paths import resources_dir

    return (resources_dir() / "catalog.json").read_text()


def test_a_library_folder_that_fails_to_scan_costs_only_its_own_titles(
    browse: Browse, qtbot: QtBot, tmp_path: Path, sample_clip: Path
) -> None:
    from player.vlc_engine import probe_media

    library = tmp_path / "library"
    library.mkdir()
    shutil.copy(sample_clip, library / "bars.mp4")
    (library / "gone.mp4").symlink_to(tmp_path / "deleted.mp4")  # a dangling symlink
    other = tmp_path / "other"
    other.mkdir()
    shutil.copy(sample_clip, other / "bars.mp4")
    blocked = tmp_path / "not-a-dir"
    blocked.write_text("a file where the cache dir should be")
    loaders: list[tuple[str, CatalogLoader]] = [
        ("samples", load_sample_catalog),
        (str(library), FolderScanner(library, probe=probe_media, cache_dir=tmp_path).scan),
        # Its whole scan raises (an OSError making the cache dir): only it goes missing.
        (str(other), FolderScanner(other, probe=probe_media, cache_dir=blocked).scan),
    ]

    with qtbot.waitSignal(browse.controller.catalog_loaded, timeout=30_000) as loaded:
        browse.controller.load_in_background(loaders)

    catalog = loaded.args[0]
    shown = {t.item.id for row in browse.home.rows for t in row.tile_model.tiles()}
    samples = {item.id for item in load_sample_catalog().items}
    (bars,) = [item for item in catalog.items if item.media == str(library / "bars.mp4")]
    assert shown == samples | {bars.id}
    problems = [str(p) for p in catalog.problems]
    assert len(problems) == 2
    assert f"{library / 'gone.mp4'}: No such file or directory" in problems[0]
    assert problems[1].startswith(f"{other} could not be loaded: ")
    assert "2 catalog entries were skipped" in browse.home.notice.text()
