"""Load generator for `benchmarks/collector.py`: runs in its own process, prints JSON results.

    python benchmarks/collector_load.py batches URL KEY --events 100 --seconds 8 --connections 8
    python benchmarks/collector_load.py bombs URL KEY --seconds 5 --connections 8

`batches` posts gzip Reelscope batches with fresh event ids on keep-alive connections and
reports accepted events, request count and per-request latencies. `bombs` posts gzip bodies of
1 MiB that inflate to 1 GiB (each one refused with 413) as fast as it can.
"""

from __future__ import annotations

import argparse
import base64
import gzip
import http.client
import json
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


def run(
    mode: str, url: str, key: str, *, events: int, seconds: float, connections: int
) -> dict[str, object]:
    parts = urlsplit(url)
    headers = {
        "Content-Type": "application/json",
        "Content-Encoding": "gzip",
        "Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode(),
    }
    bomb = _bomb() if mode == "bombs" else b""
    latencies: list[float] = []
    accepted = 0
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    start = threading.Barrier(connections + 1)
    deadline = 0.0

    def worker() -> None:
        nonlocal accepted
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
        device = uuid.uuid4().hex
        mine: list[float] = []
        mine_accepted = 0
        mine_statuses: dict[int, int] = {}
        start.wait()
        while time.perf_counter() < deadline:
            body = bomb if mode == "bombs" else batch_body(events, device)
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
    parser.add_argument("mode", choices=["batches", "bombs"])
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
