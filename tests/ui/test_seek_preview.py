"""Seek-bar previews offscreen on the feature sample with real libVLC: the picture and time at
the hovered position (checked against the frame ffmpeg extracts there), cache hits for nearby
hovers, coalesced requests, the thumbnailer released when the title closes, time only for a
stream."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QCursor, QImage, QMouseEvent
from PySide6.QtWidgets import QApplication, QWidget
from pytestqt.qtbot import QtBot

from player.engine import PlaybackState
from player.recents import RecentSources
from player.thumbnail_cache import ThumbnailCache, ThumbnailKey, preview_bucket_ms
from ui.controls import SeekSlider, format_ms
from ui.main_window import MainWindow
from ui.seek_preview import PICTURE_WIDTH, SeekPreview

from .conftest import engine_factory

SAMPLES = Path(__file__).resolve().parents[2] / "resources" / "samples"
FEATURE_CLIP = SAMPLES / "harbour-nights.mkv"  # 149 s: a slowly turning gradient and a clock
DURATION_MS = 149_113
TIMEOUT_MS = 10_000
# Mean absolute difference per 8-bit channel between the preview and ffmpeg's frame (both
# 160 px wide; the thumbnailer lands ~100 ms after its target). Measured: 0.27 at the same
# time, 2.4 one second off, 7.5 three seconds off, 88 a minute off.
SAME_FRAME_TOLERANCE = 2.0


@pytest.fixture
def window(qtbot: QtBot, tmp_path: Path) -> Iterator[MainWindow]:
    window = MainWindow(
        engine_factory,
        QWidget(),
        recents=RecentSources(tmp_path / "recent.json"),
        thumbnails=ThumbnailCache(tmp_path / "thumbnails"),
    )
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    yield window
    window.close()


def _play(qtbot: QtBot, window: MainWindow) -> SeekSlider:
    window.play(str(FEATURE_CLIP))
    slider = window.player.controls.seek_slider
    qtbot.waitUntil(
        lambda: (
            window.player.engine.state is PlaybackState.PLAYING
            and abs(slider.maximum() - DURATION_MS) < 1000
        ),
        timeout=TIMEOUT_MS,
    )
    return slider


def _hover(slider: SeekSlider, position_ms: int) -> int:
    """Move the pointer (no button) over `position_ms`; the position the slider reads there."""
    x = slider.mark_x(position_ms)
    y = slider.height() // 2
    move = QMouseEvent(
        QEvent.Type.MouseMove,
        QPointF(x, y),
        QPointF(slider.mapToGlobal(QPoint(x, y))),
        Qt.MouseButton.NoButton,
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(slider, move)
    return slider.value_at(x)


def _key(preview: SeekPreview, slider: SeekSlider, position_ms: int) -> ThumbnailKey:
    assert preview.title is not None
    return ThumbnailKey(preview.title.identity, preview_bucket_ms(position_ms, slider.maximum()))


def _ffmpeg_frame(at_ms: int, width: int, height: int, folder: Path) -> QImage:
    out = folder / f"ffmpeg-{at_ms}.png"
    subprocess.run(
        [
            *("ffmpeg", "-v", "error", "-y", "-ss", f"{at_ms / 1000:.3f}"),
            *("-i", str(FEATURE_CLIP), "-frames:v", "1", "-vf", f"scale={width}:{height}"),
            str(out),
        ],
        check=True,
        timeout=30,
    )
    return QImage(str(out))


def _mean_abs_difference(a: QImage, b: QImage) -> float:
    a = a.convertToFormat(QImage.Format.Format_RGB888)
    b = b.convertToFormat(QImage.Format.Format_RGB888)
    assert a.size() == b.size()
    total = count = 0
    for y in range(a.height()):
        line = a.width() * 3
        row_a, row_b = bytes(a.constScanLine(y))[:line], bytes(b.constScanLine(y))[:line]
        total += sum(abs(p - q) for p, q in zip(row_a, row_b, strict=True))
        count += line
    return total / count


def test_hovering_shows_the_picture_and_time_there_and_nearby_hovers_hit_the_cache(
    qtbot: QtBot, window: MainWindow, tmp_path: Path
) -> None:
    slider = _play(qtbot, window)
    preview = window.player.seek_preview
    position = _hover(slider, 40_200)
    key = _key(preview, slider, position)
    assert key.bucket_ms == 40_000
    qtbot.waitUntil(lambda: preview.shown == key, timeout=TIMEOUT_MS)
    popup = preview.popup
    assert popup.isVisible()
    assert popup.time_label.text() == format_ms(position) == "0:40"
    picture = popup.picture.pixmap().toImage()
    assert picture.width() == PICTURE_WIDTH
    assert picture.height() > 0
    assert (preview.cache.directory / key.file_name).stat().st_size > 0

    # The picture is of that moment: near ffmpeg's frame there, not one three seconds later.
    size = (picture.width(), picture.height())
    there = _mean_abs_difference(picture, _ffmpeg_frame(key.bucket_ms + 100, *size, tmp_path))
    later = _mean_abs_difference(picture, _ffmpeg_frame(key.bucket_ms + 3000, *size, tmp_path))
    assert there < SAME_FRAME_TOLERANCE < later, (there, later)

    # A hover elsewhere in the same bucket: from memory at once, no work for the thumbnailer.
    jobs, hits = preview.jobs_started, preview.cache.memory_hits
    nearby = _hover(slider, 40_800)
    assert nearby != position
    assert _key(preview, slider, nearby) == key
    assert (preview.jobs_started, preview.cache.memory_hits) == (jobs, hits + 1)
    assert preview.shown == key
    assert popup.time_label.text() == format_ms(nearby)

    # A damaged picture in the disk cache is made anew.
    damaged = ThumbnailKey(key.identity, 100_000)
    (preview.cache.directory / damaged.file_name).write_bytes(b"not a picture")
    _hover(slider, 100_200)
    qtbot.waitUntil(lambda: preview.shown == damaged, timeout=TIMEOUT_MS)
    assert (preview.cache.directory / damaged.file_name).read_bytes()[:4] == b"\x89PNG"

    QCursor.setPos(slider.mapToGlobal(QPoint(slider.width() // 2, -200)))  # off the bar
    QApplication.sendEvent(slider, QEvent(QEvent.Type.Leave))
    assert not popup.isVisible()


def test_moves_coalesce_into_the_latest_and_closing_the_title_releases_its_thumbnailer(
    qtbot: QtBot, window: MainWindow
) -> None:
    slider = _play(qtbot, window)
    preview = window.player.seek_preview
    jobs = preview.jobs_started
    # A sweep over 30 buckets while the first picture is made: only the last one waits.
    positions = [_hover(slider, 20_000 + i * 3000) for i in range(30)]
    last = _key(preview, slider, positions[-1])
    assert preview.jobs_started == jobs + 1
    qtbot.waitUntil(lambda: preview.shown == last, timeout=TIMEOUT_MS)
    assert preview.jobs_started == jobs + 2
    title = preview.title
    assert title is not None
    assert title.thumbnailers_made == 1
    assert len(list(preview.cache.directory.glob("*.png"))) == 2

    window.show_home()
    assert preview.title is None
    assert not preview.popup.isVisible()
    qtbot.waitUntil(lambda: title.released, timeout=TIMEOUT_MS)
    assert title.thumbnailers_made == 1


def test_a_stream_shows_the_time_only(qtbot: QtBot, tmp_path: Path) -> None:
    slider = SeekSlider()
    qtbot.addWidget(slider)
    slider.resize(600, 30)
    slider.setMaximum(60_000)
    slider.show()
    qtbot.waitExposed(slider)
    preview = SeekPreview(slider, ThumbnailCache(tmp_path / "thumbnails"), parent=slider)
    preview.open_title("http://127.0.0.1:9/live/stream.m3u8")
    position = _hover(slider, 30_000)
    assert preview.popup.isVisible()
    assert preview.popup.time_label.text() == format_ms(position)
    assert preview.popup.picture.isHidden()
    assert preview.jobs_started == 0
    assert preview.title is None
    preview.shutdown()
