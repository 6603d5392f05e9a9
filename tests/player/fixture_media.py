"""Test media made with ffmpeg at test time, once per test session, small and quick to make:
moving pictures (ffmpeg's `testsrc2`, a picture that changes every frame) with a tone, so that
a frozen picture is a real freeze and libVLC's picture counters move only when it shows one.

- `clip()`: 12 s, 320x180, 25 fps, H.264 + AAC, MP4 with the index first;
- `truncated()`: the first half of that file's bytes (what a broken download leaves);
- `text_mkv()`: a text file named `.mkv`;
- `transport_stream()`: the clip as MPEG-TS (libVLC reports its time in ~1 s steps);
- `size_change_ts()`: one TS stream whose picture size changes from 320x180 to 640x360 mid-way
  (the engine must report the size shown now, not the first track it saw);
- `video_gap()`: 9 s, 320x180 MP4 whose video has no pictures from 3 s to 6 s while its
  audio goes on (a picture frozen for 3 s under a moving playhead);
- `hls_ladder()`: a 3-rendition HLS ladder (160x90, 320x180, 640x360 at 150k/400k/1.2M),
  1 s segments, 16 s, under one folder with `master.m3u8`.

Threads: the test's thread (a session-scoped fixture builds it lazily).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Final

FPS: Final = 25
CLIP_S: Final = 12
LADDER: Final = ((160, 90, 150_000), (320, 180, 400_000), (640, 360, 1_200_000))
LADDER_S: Final = 16
GAP_S: Final = 9
GAP: Final = (3, 6)  # seconds of `video_gap()` without pictures


def _ffmpeg(*args: str) -> None:
    command = [shutil.which("ffmpeg") or "ffmpeg", "-nostdin", "-v", "error", "-y", *args]
    subprocess.run(command, check=True, timeout=120)


def _source(seconds: float, size: str) -> list[str]:
    return [
        "-f", "lavfi", "-i", f"testsrc2=size={size}:rate={FPS}:duration={seconds}",
        "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=22050:duration={seconds}",
    ]  # fmt: skip


_H264: Final = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", str(FPS)]
_AAC: Final = ["-c:a", "aac", "-b:a", "32k"]


class FixtureMedia:
    """Makes each file on first use under `directory` and returns its path afterwards."""

    def __init__(self, directory: Path) -> None:
        self._dir = directory
        self._dir.mkdir(parents=True, exist_ok=True)

    def _made(self, name: str) -> tuple[Path, bool]:
        path = self._dir / name
        return path, path.exists()

    def clip(self) -> Path:
        path, done = self._made("clip.mp4")
        if not done:
            _ffmpeg(*_source(CLIP_S, "320x180"), *_H264, *_AAC, "-movflags", "+faststart",
                    str(path))  # fmt: skip
        return path

    def truncated(self) -> Path:
        path, done = self._made("truncated.mp4")
        if not done:
            data = self.clip().read_bytes()
            path.write_bytes(data[: len(data) // 2])
        return path

    def text_mkv(self) -> Path:
        path, done = self._made("text.mkv")
        if not done:
            path.write_text("These are notes, not a video.\n" * 40)
        return path

    def transport_stream(self) -> Path:
        path, done = self._made("clip.ts")
        if not done:
            _ffmpeg("-i", str(self.clip()), "-c", "copy", "-f", "mpegts", str(path))
        return path

    def size_change_ts(self) -> Path:
        path, done = self._made("size-change.ts")
        if not done:
            parts = []
            for index, size in enumerate(("320x180", "640x360")):
                part = self._dir / f"size-change-{index}.ts"
                _ffmpeg(*_source(4, size), *_H264, *_AAC, "-output_ts_offset", str(4 * index),
                        "-f", "mpegts", str(part))  # fmt: skip
                parts.append(part.read_bytes())
            path.write_bytes(b"".join(parts))
        return path

    def video_gap(self) -> Path:
        path, done = self._made("video-gap.mp4")
        if not done:
            hole = f"select='not(between(t,{GAP[0]},{GAP[1]}))'"
            _ffmpeg(*_source(GAP_S, "320x180"), "-vf", hole, "-fps_mode", "passthrough",
                    *_H264, *_AAC, "-movflags", "+faststart", str(path))  # fmt: skip
        return path

    def hls_ladder(self) -> Path:
        """The folder; its `master.m3u8` lists the renditions `0/`, `1/`, `2/`."""
        folder = self._dir / "ladder"
        master = folder / "master.m3u8"
        if master.exists():
            return folder
        lines = ["#EXTM3U", "#EXT-X-VERSION:3"]
        for index, (width, height, bitrate) in enumerate(LADDER):
            out = folder / str(index)
            out.mkdir(parents=True, exist_ok=True)
            _ffmpeg(
                *_source(LADDER_S, f"{width}x{height}"), *_H264,
                "-b:v", str(bitrate), "-maxrate", str(bitrate), "-bufsize", str(bitrate),
                *_AAC, "-f", "hls", "-hls_time", "1", "-hls_playlist_type", "vod",
                "-hls_segment_filename", str(out / "s%03d.ts"), str(out / "index.m3u8"),
            )  # fmt: skip
            lines += [
                f"#EXT-X-STREAM-INF:BANDWIDTH={bitrate + 40_000},RESOLUTION={width}x{height}",
                f"{index}/index.m3u8",
            ]
        master.write_text("\n".join(lines) + "\n")
        return folder
