"""An HTTP server on 127.0.0.1 for playback tests: serves media files at a paced byte rate,
with an optional silence (the server stops sending for a while at a byte offset), byte ranges
(libVLC seeks inside an MP4 with `Range` requests), and 404 for anything unknown.

It also logs, per response, when each chunk left the server, so a test can see a stall from
the server's side. The pacing waits are the throttle itself, not test synchronisation.

Threads: one server thread plus one thread per connection; `start()`/`close()` from the test.
"""

from __future__ import annotations

import contextlib
import re
import struct
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

_RANGE = re.compile(r"bytes=(\d+)-(\d*)")
_CHUNK_S = 0.05  # pace in 50 ms slices: smooth enough that libVLC sees a steady trickle


@dataclass(frozen=True, slots=True)
class Pacing:
    """How a file is sent: `rate` bytes/s (None = as fast as possible), and a silence of
    `silence_s` seconds once the response has sent `silence_at` bytes of the file."""

    rate: float | None = None
    silence_at: int | None = None
    silence_s: float = 0.0


@dataclass(slots=True)
class Silence:
    """When the server actually went quiet and spoke again (monotonic seconds)."""

    began: float
    ended: float


@dataclass(slots=True)
class _Route:
    data: bytes
    pacing: Pacing
    silences: list[Silence] = field(default_factory=list)


class MediaServer:
    """Serves registered files under `http://127.0.0.1:<port>/<name>`."""

    def __init__(self) -> None:
        self._routes: dict[str, _Route] = {}
        self._lock = threading.Lock()
        routes, lock = self._routes, self._lock

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                """Quiet: libVLC probes and reconnects; the test log is not the place."""

            def do_GET(self) -> None:
                with lock:
                    route = routes.get(self.path.lstrip("/"))
                if route is None:
                    self.send_error(404, "Not Found")
                    return
                size = len(route.data)
                start, end = 0, size - 1
                match = _RANGE.fullmatch(self.headers.get("Range", ""))
                if match:
                    start = int(match.group(1))
                    end = int(match.group(2)) if match.group(2) else end
                    if start >= size:
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{size}")
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
                else:
                    self.send_response(200)
                self.send_header("Content-Type", "video/mp4")
                self.send_header("Accept-Ranges", "bytes")
                self.send_header("Content-Length", str(end - start + 1))
                self.end_headers()
                # libVLC closes connections when it seeks or stops.
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    _send(self.wfile, route, start, end + 1)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def add(self, name: str, path: Path, pacing: Pacing | None = None) -> str:
        """Serve `path` as `/<name>`; returns its URL."""
        with self._lock:
            self._routes[name] = _Route(path.read_bytes(), pacing or Pacing())
        return self.url(name)

    def add_folder(self, prefix: str, folder: Path, pacing: Pacing | None = None) -> None:
        """Serve every file under `folder` as `/<prefix>/<relative path>` (an HLS ladder)."""
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                self.add(f"{prefix}/{path.relative_to(folder).as_posix()}", path, pacing)

    def url(self, name: str) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/{name}"

    def silences(self, name: str) -> list[Silence]:
        with self._lock:
            return list(self._routes[name].silences)

    def __enter__(self) -> MediaServer:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


def _send(out: object, route: _Route, start: int, stop: int) -> None:
    pacing = route.pacing
    write = out.write  # type: ignore[attr-defined]
    if pacing.rate is None and pacing.silence_at is None:
        write(route.data[start:stop])
        return
    chunk = max(1024, int((pacing.rate or 1_000_000) * _CHUNK_S))
    began = time.monotonic()
    sent = 0
    position = start
    silence_pending = pacing.silence_at is not None and start < pacing.silence_at
    while position < stop:
        limit = stop
        if silence_pending and pacing.silence_at is not None:
            limit = min(limit, pacing.silence_at)
        piece = route.data[position : min(limit, position + chunk)]
        if piece:
            write(piece)
            out.flush()  # type: ignore[attr-defined]
            position += len(piece)
            sent += len(piece)
        if silence_pending and position == pacing.silence_at:
            silence_pending = False
            quiet = Silence(time.monotonic(), 0.0)
            time.sleep(pacing.silence_s)
            quiet.ended = time.monotonic()
            route.silences.append(quiet)
            began += quiet.ended - quiet.began
        if pacing.rate is not None:
            ahead = began + sent / pacing.rate - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)


def mdat_offset(path: Path) -> int:
    """Where an MP4's media data starts (after `moov`: the clips are +faststart), so a test can
    put a silence at a byte offset inside the pictures."""
    data, offset = path.read_bytes(), 0
    while offset < len(data):
        size, kind = struct.unpack(">I4s", data[offset : offset + 8])
        if kind == b"mdat":
            return offset
        offset += size
    raise AssertionError(f"no mdat in {path}")
