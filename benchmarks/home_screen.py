"""Home screen benchmark: a catalog of 5 000 titles laid out in 40 rows, real widgets.

Measures, in one process (offscreen Qt platform unless QT_QPA_PLATFORM says otherwise):
- time to the first painted home screen (feed built, rows laid out, first row painted);
- GUI-thread frame times during a continuous scroll (page and rows moving every 16 ms for
  a few seconds, with visibility passes, impression timers and poster decodes running);
  reported as p50 / p99 / max interval between frames (goal: p99 under 16 ms of work);
- the cost of one visibility pass (goal: under 1 ms);
- resident memory (VmRSS) after the scroll.

Usage: python -m benchmarks.home_screen [--titles 5000] [--rows 40] [--seconds 4]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "results"


def _isolate() -> None:
    root = Path(tempfile.mkdtemp(prefix="reelscope-bench-"))
    for name in ("XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME"):
        os.environ[name] = str(root / name.lower())
    runtime = root / "runtime"
    runtime.mkdir(mode=0o700)
    os.environ["XDG_RUNTIME_DIR"] = str(runtime)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def _rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run(titles: int, rows: int, seconds: float) -> dict[str, float]:
    from PySide6.QtCore import QEvent, QObject, QTimer
    from PySide6.QtWidgets import QApplication

    from player.catalog import Catalog, CatalogItem
    from player.feed import FeedOptions, build_feed
    from player.history import HistoryEntry
    from player.paths import resources_dir
    from ui.home.home_view import HomeView

    app = QApplication.instance() or QApplication([])
    samples = resources_dir() / "samples"
    posters = sorted(str(p) for p in samples.glob("*.jpg"))
    genres = [f"Genre {n:02d}" for n in range(rows - 5)]
    # One poster file per title (links to the samples), so every poster is really decoded.
    poster_dir = Path(tempfile.mkdtemp(prefix="reelscope-posters-"))
    for n in range(titles):
        (poster_dir / f"{n:05d}.jpg").symlink_to(posters[n % len(posters)])
    items = tuple(
        CatalogItem(
            id=f"t{n:05d}",
            title=f"Title number {n}",
            media=str(samples / "colour-bars.mp4"),
            description="A synthetic title for the benchmark.",
            genres=(genres[n % len(genres)],),
            duration_ms=60_000 + n,
            poster=str(poster_dir / f"{n:05d}.jpg"),
            added=dt.date(2026, 1, 1) + dt.timedelta(days=n % 300),
        )
        for n in range(titles)
    )
    history = [HistoryEntry(f"t{n:05d}", 20_000, 60_000, 1e9 - n, 1 + n % 3) for n in range(40)]
    events: list[str] = []

    def track(event_type: str, _properties: object) -> str | None:
        events.append(event_type)
        return None

    per_row = -(-titles // (rows - 5))
    started = time.perf_counter()
    feed = build_feed(
        Catalog(items),
        history,
        seed=1,
        options=FeedOptions(max_items_per_row=per_row, max_genre_rows=rows - 5),
    )
    home = HomeView(track)
    home.resize(1280, 760)
    home.show_feed(feed, Catalog(items).by_id())
    painted: list[float] = []

    class PaintWatch(QObject):
        def eventFilter(self, _watched: QObject, event: QEvent) -> bool:  # noqa: N802
            if event.type() == QEvent.Type.Paint and not painted:
                painted.append(time.perf_counter())
            return False

    watch = PaintWatch()
    home.rows[0].viewport().installEventFilter(watch)
    home.show()
    home.activateWindow()
    while not painted:
        app.processEvents()
    first_paint_ms = (painted[0] - started) * 1000
    home.rows[0].viewport().removeEventFilter(watch)
    tiles = sum(len(row.items) for row in feed.rows)

    # Continuous scroll: every 16 ms the page moves 12 px and the row under the middle of the
    # view 40 px; the frame time is the interval between ticks (any stall shows up there).
    frames: list[float] = []
    last = [time.perf_counter()]
    bar = home.page.verticalScrollBar()
    direction = [1]

    def tick() -> None:
        now = time.perf_counter()
        frames.append((now - last[0]) * 1000)
        last[0] = now
        if bar.value() >= bar.maximum() or (bar.value() <= 0 and direction[0] < 0):
            direction[0] = -direction[0]
        bar.setValue(bar.value() + 12 * direction[0])
        middle = home.page.viewport().height() // 2
        for row in home.rows:
            y = row.mapTo(home.page.viewport(), row.rect().topLeft()).y()
            if y <= middle <= y + row.height():
                h = row.horizontalScrollBar()
                h.setValue(h.value() + 40 if h.value() < h.maximum() else 0)
                break

    timer = QTimer()
    timer.setInterval(16)
    timer.timeout.connect(tick)
    timer.start()
    busy: list[float] = []  # each processEvents() call: one uninterrupted stretch of GUI work
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        t0 = time.perf_counter()
        app.processEvents()
        busy.append((time.perf_counter() - t0) * 1000)
        time.sleep(0.0005)
    timer.stop()
    frames = frames[1:]

    decoded = sum(1 for _ in home.posters._pixmaps)
    still: list[float] = []
    for _ in range(300):
        t0 = time.perf_counter()
        home.monitor.run_pass()
        still.append((time.perf_counter() - t0) * 1000)
    passes: list[float] = []
    for step in range(300):
        bar.setValue((step * 37) % max(1, bar.maximum()))
        home.rows[step % len(home.rows)].horizontalScrollBar().setValue((step * 53) % 2000)
        t0 = time.perf_counter()
        home.monitor.run_pass()
        passes.append((time.perf_counter() - t0) * 1000)

    result = {
        "titles": float(titles),
        "rows": float(len(feed.rows)),
        "tiles": float(tiles),
        "first_paint_ms": first_paint_ms,
        "frame_interval_p50_ms": statistics.median(frames),
        "frame_interval_p99_ms": _pct(frames, 0.99),
        "frame_interval_max_ms": max(frames),
        "frames": float(len(frames)),
        "gui_stall_p99_ms": _pct(busy, 0.99),
        "gui_stall_max_ms": max(busy),
        "posters_decoded": float(decoded),
        "visibility_pass_still_median_ms": statistics.median(still),
        "visibility_pass_still_p99_ms": _pct(still, 0.99),
        "visibility_pass_after_scroll_median_ms": statistics.median(passes),
        "visibility_pass_after_scroll_p99_ms": _pct(passes, 0.99),
        "rss_mib": _rss_mib(),
        "impressions": float(events.count("impression")),
        "tile_visibility_spans": float(events.count("tile_visibility")),
    }
    home.shutdown()
    home.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--titles", type=int, default=5000)
    parser.add_argument("--rows", type=int, default=40)
    parser.add_argument("--seconds", type=float, default=4.0)
    args = parser.parse_args()
    _isolate()
    result = run(args.titles, args.rows, args.seconds)
    width = max(len(k) for k in result)
    print(f"{'metric':<{width}}  value")
    for key, value in result.items():
        print(f"{key:<{width}}  {value:,.3f}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(tz=dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS / f"home_screen-{stamp}.json"
    path.write_text(json.dumps({"platform": os.environ["QT_QPA_PLATFORM"], **result}, indent=1))
    print(f"saved {path.relative_to(REPO)}")


if __name__ == "__main__":
    main()
