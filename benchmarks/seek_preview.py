"""Seek-bar preview benchmark on the 149 s feature sample (`harbour-nights.mkv`), real libVLC.

Measures, in one process (offscreen Qt platform unless QT_QPA_PLATFORM says otherwise):
- the time to make one 160 px picture at a fresh position, three ways: our reused
  `VlcThumbnailer` (one per title), a fresh `VlcThumbnailer` per picture, and the peer
  `ffmpeg -ss T -i clip -frames:v 1` (a process per picture, as simple thumbnailers do);
- hovering with the real `SeekPreview` on a 700 px seek bar, a pointer event every 16 ms, in
  two patterns: a steady sweep (4 px an event, across the bar and back `--passes` times: the
  worst case) and a scrub (jump to `--spots` places, wiggle ±12 px around each for 0.6 s, and
  come back to each once). Reported: hover events, pictures made, pool jobs, the share of hover
  events whose picture was in memory at once (the cache hit rate), and the GUI-thread time of
  each hover event (p50 / p99 / max; the goal is well under a 16 ms frame);
- the sweep again on a fresh cache over the same folder (a later run of the app): disk hits.

Usage: python -m benchmarks.seek_preview [--passes 4] [--pictures 12] [--spots 8]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.results_file import save_results

REPO = Path(__file__).resolve().parent.parent
CLIP = REPO / "resources" / "samples" / "harbour-nights.mkv"
BAR_PX = 700
STEP_PX = 4
FRAME_MS = 16


def _summary(values_ms: list[float]) -> dict[str, float]:
    ordered = sorted(values_ms)
    return {
        "p50_ms": round(statistics.median(ordered), 2),
        "p90_ms": round(ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))], 2),
        "p99_ms": round(ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))], 2),
        "max_ms": round(ordered[-1], 2),
    }


def make_times(pictures: int, folder: Path) -> dict[str, dict[str, float]]:
    from player.vlc_engine import VlcThumbnailer

    positions = [5_000 + i * (140_000 // pictures) for i in range(pictures)]
    reused: list[float] = []
    fresh: list[float] = []
    peer: list[float] = []
    thumbnailer = VlcThumbnailer(str(CLIP))
    try:
        for i, at in enumerate(positions):
            start = time.perf_counter()
            assert thumbnailer.thumbnail(at, folder / f"reused-{i}.png", 160)
            reused.append((time.perf_counter() - start) * 1000)
    finally:
        thumbnailer.release()
    for i, at in enumerate(positions):
        start = time.perf_counter()
        one = VlcThumbnailer(str(CLIP))
        try:
            assert one.thumbnail(at, folder / f"fresh-{i}.png", 160)
        finally:
            one.release()
        fresh.append((time.perf_counter() - start) * 1000)
    for i, at in enumerate(positions):
        start = time.perf_counter()
        subprocess.run(
            [
                *("ffmpeg", "-v", "error", "-y", "-ss", f"{at / 1000:.3f}", "-i", str(CLIP)),
                *("-frames:v", "1", "-vf", "scale=160:-1", str(folder / f"ffmpeg-{i}.png")),
            ],
            check=True,
        )
        peer.append((time.perf_counter() - start) * 1000)
    return {
        "reused_vlc_thumbnailer": _summary(reused),
        "fresh_vlc_thumbnailer_per_picture": _summary(fresh),
        "ffmpeg_process_per_picture": _summary(peer),
    }


def sweep_pattern(passes: int) -> list[int]:
    """A steady pointer: across the bar and back at 250 px/s (the worst case for a cache)."""
    xs = list(range(0, BAR_PX, STEP_PX))
    return [x for i in range(passes) for x in (xs if i % 2 == 0 else xs[::-1])]


def scrub_pattern(targets: int) -> list[int]:
    """Looking for a scene: jump to a spot, wiggle ±12 px around it for ~0.6 s, and come back
    to each spot once more later (a fixed seed: the same pattern every run)."""
    rng = random.Random(20)
    spots = [rng.randrange(20, BAR_PX - 20) for _ in range(targets)]
    visits = spots + rng.sample(spots, len(spots))
    return [spot + rng.randint(-12, 12) for spot in visits for _ in range(40)]


def hover_run(xs: list[int], cache_dir: Path) -> dict[str, Any]:
    from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
    from PySide6.QtGui import QMouseEvent
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    from player.thumbnail_cache import ThumbnailCache
    from ui.controls import SeekSlider
    from ui.seek_preview import SeekPreview

    slider = SeekSlider()
    slider.resize(BAR_PX, 30)
    slider.setMaximum(149_113)
    slider.show()
    preview = SeekPreview(slider, ThumbnailCache(cache_dir))
    preview.open_title(str(CLIP))
    handler_ms: list[float] = []
    instant = 0
    for x in xs:
        move = QMouseEvent(
            QEvent.Type.MouseMove,
            QPointF(x, 15),
            QPointF(slider.mapToGlobal(QPoint(x, 15))),
            Qt.MouseButton.NoButton,
            Qt.MouseButton.NoButton,
            Qt.KeyboardModifier.NoModifier,
        )
        hits = preview.cache.memory_hits
        start = time.perf_counter()
        QApplication.sendEvent(slider, move)
        handler_ms.append((time.perf_counter() - start) * 1000)
        instant += preview.cache.memory_hits > hits
        QTest.qWait(FRAME_MS)
    title = preview.title
    preview.shutdown()
    cache = preview.cache
    return {
        "hover_events": len(xs),
        "pictures_made": cache.misses,  # each miss on the pool is a picture made
        "pool_jobs": preview.jobs_started,
        "thumbnailers_made": title.thumbnailers_made if title else 0,
        "memory_hit_rate": round(instant / len(xs), 3),
        "disk_hits": cache.disk_hits,
        "disk_bytes": cache.disk_usage(),
        "gui_time_per_hover": _summary(handler_ms),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passes", type=int, default=4)
    parser.add_argument("--pictures", type=int, default=12)
    parser.add_argument("--spots", type=int, default=8)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="reelscope-bench-preview-"))
    runtime = root / "runtime"
    runtime.mkdir(mode=0o700)
    os.environ["XDG_RUNTIME_DIR"] = str(runtime)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    app = QApplication([])
    results: dict[str, Any] = {"clip": CLIP.name, "cpus": os.cpu_count()}
    results["make_one_picture"] = make_times(args.pictures, root)
    sweep, scrub = sweep_pattern(args.passes), scrub_pattern(args.spots)
    results["sweep_cold"] = hover_run(sweep, root / "sweep")
    results["sweep_next_run"] = hover_run(sweep, root / "sweep")  # same folder: disk hits
    results["scrub_cold"] = hover_run(scrub, root / "scrub")
    app.quit()
    for name, value in results.items():
        print(f"{name}: {value}")
    save_results("seek_preview", results)


if __name__ == "__main__":
    main()
