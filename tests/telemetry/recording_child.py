"""A child process for the crash test: records events as fast as a real player might (one
every ~0.5 ms, every 97th a critical `session_end`) until it is killed, publishing the seq of
the last `track()` that returned in a small memory-mapped file.

Usage: recording_child.py <outbox> <settings> <endpoint> <progress-file>
Prints its app session id on the first line once recording is about to start.
"""

from __future__ import annotations

import mmap
import sys
import time
from pathlib import Path

from telemetry.client.client import TelemetryClient
from telemetry.client.config import TelemetryConfig


def main() -> None:
    outbox, settings, endpoint, progress_path = sys.argv[1:5]
    client = TelemetryClient(
        TelemetryConfig(
            consent_before_choice=True,  # a viewer who opted in
            endpoint=endpoint,
            write_key="crash-test",
            outbox_path=Path(outbox),
            settings_path=Path(settings),
            flush_interval=0.05,
            strict=True,
        )
    )
    client.start()
    with open(progress_path, "r+b") as file:
        progress = mmap.mmap(file.fileno(), 8)
    print(client.app_session_id, flush=True)
    properties = {
        "play_session_id": "crash",
        "position_ms": 0,
        "played_ms": 10,
        "stall_ms": 0,
        "displayed_pictures": 1,
        "lost_pictures": 0,
        "lost_audio_buffers": 0,
        "demux_bitrate": 1.0,
    }
    seq = 0
    while True:
        seq += 1
        if seq % 97 == 0:
            client.track("session_end", {"play_session_id": "crash", "reason": "user_stop"})
        else:
            client.track("heartbeat", {**properties, "position_ms": seq})
        progress[:8] = seq.to_bytes(8, "little")
        time.sleep(0.0005)


if __name__ == "__main__":
    main()
