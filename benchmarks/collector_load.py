"""Load generator for `benchmarks/collector.py`: runs in its own process, prints JSON results.

    python benchmarks/collector_load.py batches URL KEY --events 100 --seconds 8 --connections 8
    python benchmarks/collector_load.py bombs URL KEY --seconds 5 --connections 8

`batches` posts gzip Reelscope batches with fresh event ids on keep-alive connections and
reports accepted events, request count and per-request latencies. The hostile modes send, as
fast as they can: `bombs`, gzip bodies of 1 MiB that inflate to 1 GiB (413); `objects`, 5 KB
gzip bodies inflating to 5 MiB of `{}` (1.7 million objects if parsed; 413); `heads`, 64 MiB
of request headers per connection (431 after 16 KiB); `contexts`, Segment batches whose
7 KB batch context would be copied into each of 500 messages (stored once).
"""

from __future__ import annotations

import argparse
import base64
import gzip
import http.client
import json
import socket
import statistics
import threading
import time
import uuid
import zlib
from urllib.parse import urlsplit

import orjson


def batch_body(size: int, device: str) -> bytes:
    now = time.time_ns() // 1_000_000
    prefix = uuid.uuid4().hex
    events = [
        {
            "event_id": f"{prefix}-{index}",
            "type": "heartbeat",
            "schema": 1,
            "time": now,
            "mono_ms": index,
            "seq": index + 1,
            "app_session_id": prefix,
            "device_id": device,
            "properties": {
                "play_session_id": prefix,
                "position_ms": index * 10_000,
                "played_ms": 10_000,
                "stall_ms": 0,
                "displayed_pictures": 250,
                "lost_pictures": 0,
                "demux_bitrate": 4.2,
            },
        }
        for index in range(size)
    ]
    body = {
        "sent_at": now,
        "context": {
            "app": {"name": "reelscope", "version": "0.1.0"},
            "os": {"name": "Linux", "version": "6.1"},
            "libvlc_version": "3.0.21",
            "locale": "en_GB",
            "screen": {"width": 1920, "height": 1080},
        },
        "batch": events,
    }
    return gzip.compress(orjson.dumps(body), compresslevel=1)


def _bomb() -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = b" " * (1024 * 1024)
    parts = [compressor.compress(b"[")]
    parts += [compressor.compress(block) for _ in range(1024)]
    parts.append(compressor.compress(b"]") + compressor.flush())
    return b"".join(parts)


def _objects() -> bytes:
    objects = b"[" + b"{}," * ((5 * 1024 * 1024 - 4096) // 3) + b"{}]"
    body = b'{"sent_at": %d, "batch": [{"event_id": "x", "properties": {"x": %s}}]}' % (
        time.time_ns() // 1_000_000,
        objects,
    )
    return gzip.compress(body, compresslevel=9)


def _contexts() -> bytes:
    messages = [
        {
            "messageId": uuid.uuid4().hex,
            "type": "track",
            "event": "Played",
            "anonymousId": "bench",
            "context": {"n": n},
        }
        for n in range(500)
    ]
    context = {"app": {"name": "bench"}, "blob": "x" * 7000}
    return gzip.compress(orjson.dumps({"batch": messages, "context": context}))


def _heads(host: str, port: int, key: str, deadline: float) -> dict[int, int]:
    """Connections that send a huge header until the server answers; statuses seen."""
    statuses: dict[int, int] = {}
    block = b"a" * 65536
    while time.perf_counter() < deadline:
        with socket.create_connection((host, port), timeout=10) as connection:
            connection.sendall(b"POST /v1/batch HTTP/1.1\r\nHost: c\r\nX-Padding: ")
            try:
                for _ in range(1024):
                    connection.sendall(block)
            except OSError:
                pass
            try:
                answer = connection.recv(65536)
            except OSError:
                answer = b""
        status = int(answer[9:12]) if answer.startswith(b"HTTP/1.1 ") else 0
        statuses[status] = statuses.get(status, 0) + 1
    return statuses


def run(
    mode: str, url: str, key: str, *, events: int, seconds: float, connections: int
) -> dict[str, object]:
    parts = urlsplit(url)
    headers = {
        "Content-Type": "application/json",
        "Content-Encoding": "gzip",
        "Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode(),
    }
    bodies = {"bombs": _bomb, "objects": _objects, "contexts": _contexts}
    bomb = bodies[mode]() if mode in bodies else b""
    latencies: list[float] = []
    accepted = 0
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    start = threading.Barrier(connections + 1)
    deadline = 0.0

    def worker() -> None:
        nonlocal accepted
        if mode == "heads":
            start.wait()
            seen = _heads(parts.hostname or "127.0.0.1", parts.port or 80, key, deadline)
            with lock:
                for status, count in seen.items():
                    statuses[status] = statuses.get(status, 0) + count
                    latencies.extend([0.0] * count)
            return
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
        device = uuid.uuid4().hex
        mine: list[float] = []
        mine_accepted = 0
        mine_statuses: dict[int, int] = {}
        start.wait()
        while time.perf_counter() < deadline:
            body = bomb if bomb else batch_body(events, device)
            began = time.perf_counter()
            connection.request("POST", parts.path or "/v1/batch", body, headers)
            response = connection.getresponse()
            payload = response.read()
            mine.append(time.perf_counter() - began)
            mine_statuses[response.status] = mine_statuses.get(response.status, 0) + 1
            if response.status == 200:
                mine_accepted += json.loads(payload)["accepted"]
        connection.close()
        with lock:
            latencies.extend(mine)
            accepted += mine_accepted
            for status, count in mine_statuses.items():
                statuses[status] = statuses.get(status, 0) + count

    threads = [threading.Thread(target=worker) for _ in range(connections)]
    for thread in threads:
        thread.start()
    began = time.perf_counter()
    deadline = began + seconds
    start.wait()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    latencies.sort()
    return {
        "mode": mode,
        "events_per_batch": events,
        "connections": connections,
        "seconds": elapsed,
        "requests": len(latencies),
        "statuses": statuses,
        "accepted": accepted,
        "events_per_s": accepted / elapsed,
        "p50_ms": statistics.median(latencies) * 1000 if latencies else None,
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000 if latencies else None,
        "body_bytes": len(bomb),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["batches", "bombs", "objects", "heads", "contexts"])
    parser.add_argument("url")
    parser.add_argument("key")
    parser.add_argument("--events", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--connections", type=int, default=8)
    arguments = parser.parse_args()
    result = run(
        arguments.mode,
        arguments.url + "/v1/batch",
        arguments.key,
        events=arguments.events,
        seconds=arguments.seconds,
        connections=arguments.connections,
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
