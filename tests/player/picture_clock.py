"""The screen's truth for playback tests: libVLC draws every picture into memory (its `vmem`
video output, the callbacks python-vlc exposes) and this clock notes when each was shown and
what it showed, so a test can tell a new picture from a redisplay of a frozen one (libVLC
redisplays a still picture every 80 ms) and which frame of the media a picture is.

The callbacks run on libVLC's video output thread; they only append to a list. The test reads
the list once the play is over (or between steps, when only whole entries matter).
"""

from __future__ import annotations

import ctypes
import itertools
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any, Final

import numpy as np
import vlc

from player.vlc_engine import VlcEngine

_EVERY: Final = 6  # compare pictures on every 6th pixel of every 6th row: fast, still exact


def _small(frame: np.ndarray) -> np.ndarray:
    """A picture's fingerprint: B+G+R of a sparse grid of its pixels."""
    return frame[::_EVERY, ::_EVERY, :3].astype(np.int16).sum(axis=2)


class PictureClock:
    """Installs itself as `engine`'s video output at `width`x`height` (before the open)."""

    def __init__(self, engine: VlcEngine, width: int, height: int) -> None:
        self._buffer = (ctypes.c_ubyte * (width * height * 4))()
        pixels = np.frombuffer(self._buffer, dtype=np.uint8).reshape(height, width, 4)
        self.shown: list[tuple[float, np.ndarray]] = []  # (monotonic ms, fingerprint)
        address = ctypes.cast(self._buffer, ctypes.c_void_p).value

        @vlc.CallbackDecorators.VideoLockCb  # type: ignore[misc]
        def lock(_opaque: Any, planes: Any) -> None:
            planes[0] = address

        @vlc.CallbackDecorators.VideoUnlockCb  # type: ignore[misc]
        def unlock(_opaque: Any, _picture: Any, _planes: Any) -> None:
            """Nothing to release: one buffer, read in `display`."""

        @vlc.CallbackDecorators.VideoDisplayCb  # type: ignore[misc]
        def display(_opaque: Any, _picture: Any) -> None:
            self.shown.append((time.monotonic() * 1000.0, _small(pixels)))

        self._callbacks = (lock, unlock, display)  # kept alive as long as libVLC may call them
        player = engine._player  # the test reaches into the engine for its output only
        player.video_set_callbacks(lock, unlock, display, None)
        player.video_set_format("RV32", width, height, width * 4)

    def new_pictures(self) -> list[float]:
        """When each new picture (not a redisplay of the one before) was shown."""
        times, previous = [], None
        for at, picture in list(self.shown):
            if previous is None or not np.array_equal(picture, previous):
                times.append(at)
            previous = picture
        return times

    def longest_freeze(self) -> tuple[float, float]:
        """The longest time between two new pictures: (when it began, how long it lasted)."""
        times = self.new_pictures()
        gaps = [(b - a, a) for a, b in itertools.pairwise(times)]
        length, began = max(gaps)
        return began, length

    def moving_from(
        self, after: float, frames: range, reference: np.ndarray, frame_ms: float
    ) -> float:
        """When the picture started moving after `after` from one of the media's `frames`: the
        first new picture from there that the next new picture follows within 2.5 frames (a
        seek's first picture may stand still for a while before playback goes on)."""
        shown = [(at, p) for at, p in list(self.shown) if at > after]
        news = [
            (at, picture)
            for (at, picture), (_, before) in zip(shown, [(0.0, None), *shown], strict=False)
            if before is None or not np.array_equal(picture, before)
        ]
        for (at, picture), (next_at, _) in itertools.pairwise(news):
            if next_at - at <= 2.5 * frame_ms and _frame_of(picture, reference) in frames:
                return at
        raise AssertionError(f"no moving picture from frames {frames} after {after:.0f}")


def reference_frames(source: Path | str, width: int, height: int) -> np.ndarray:
    """Every frame of `source` decoded by ffmpeg, fingerprinted like the clock's pictures."""
    raw = subprocess.run(
        [shutil.which("ffmpeg") or "ffmpeg", "-nostdin", "-v", "error", "-i", str(source),
         "-s", f"{width}x{height}", "-f", "rawvideo", "-pix_fmt", "bgra", "-"],
        capture_output=True, check=True, timeout=120,
    ).stdout  # fmt: skip
    frames = np.frombuffer(raw, dtype=np.uint8).reshape(-1, height, width, 4)
    return np.stack([_small(frame) for frame in frames])


def _frame_of(picture: np.ndarray, reference: np.ndarray) -> int:
    """The index of the media frame a shown picture is closest to."""
    return int(np.abs(reference - picture[None]).mean(axis=(1, 2)).argmin())
