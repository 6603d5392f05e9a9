"""A disk that fills, for real: the outbox on a small tmpfs (the tests run as root, in CI too)
filled to the last byte by a filler file. Memory stays bounded by bytes, every event tracked
is delivered or counted as dropped, an acknowledgement that cannot be written does not send
its batch again, and the file gives back the space a long offline backlog took."""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from telemetry.client.client import TelemetryClient
from telemetry.client.status import SyncStatus

from .conftest import MakeClient, client_config
from .samples import heartbeat
from .scripted_collector import Received, Reply, ScriptedCollector
from .waiting import wait_until


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "--lazy", str(mount)], check=True)


def fill(disk: Path) -> Path:
    """Write a filler file until the filesystem has no byte left."""
    filler = disk / "filler"
    chunk = b"\0" * 65536
    with open(filler, "wb", buffering=0) as file:
        for size in (65536, 4096, 512, 1):
            try:
                while True:
                    file.write(chunk[:size])
            except OSError:
                continue
    return filler


def writer_done() -> bool:
    return not any(t.name == "reelscope-telemetry-writer" for t in threading.enumerate())


def test_a_full_disk_bounds_memory_and_every_event_is_delivered_or_counted(
    small_disk: Path, tmp_path: Path, collector: ScriptedCollector
) -> None:
    config = client_config(
        tmp_path,
        collector.url,
        outbox_path=small_disk / "outbox.sqlite3",
        strict=False,
        max_queue_bytes=1024 * 1024,
    )
    client = TelemetryClient(config)
    client.start()
    tracked = 3000
    first = client.track("heartbeat", heartbeat(0))
    assert client.flush(5.0)  # the outbox, its log and the reserve exist
    filler = fill(small_disk)
    pad = "x" * 2000
    accepted = [client.track("heartbeat", heartbeat(n, pad)) for n in range(tracked)]
    kept = [event_id for event_id in accepted if event_id is not None]
    # ~2.2 KB each: the byte bound (1 MiB) refuses the rest instead of holding them all
    # (the count bound, 50 000, took all 3000); a few groups may have been committed first.
    assert 400 <= len(kept) <= 2 * 1024 * 1024 // 2000
    client.close(timeout=0.5)
    wait_until(writer_done, what="the writer thread to give up at exit")
    filler.unlink()

    relaunched = TelemetryClient(config)
    relaunched.start()
    try:
        later = relaunched.track("heartbeat", heartbeat(0))  # the drop counts travel with it
        assert relaunched.flush(5.0)
    finally:
        relaunched.close()
    assert set(collector.stored) == {first, later}
    # Everything tracked while the disk was full was lost, and all of it is accounted for:
    # refused by the queue's byte bound, or accepted and lost at exit.
    assert collector.drops == {"queue_full": tracked - len(kept), "disk_full": len(kept)}


def test_an_acknowledgement_that_cannot_be_written_does_not_resend_the_batch(
    small_disk: Path, make_client: MakeClient, collector: ScriptedCollector
) -> None:
    filler: list[Path] = []

    def fill_then_accept(_: Received) -> Reply:
        if not filler:
            filler.append(fill(small_disk))  # full while the request is in flight
        return Reply()

    collector.default = fill_then_accept
    errors: list[SyncStatus] = []
    client = make_client(outbox_path=small_disk / "outbox.sqlite3", flush_interval=60.0)
    client.add_status_listener(
        lambda s: errors.append(s) if "full" in (s.last_error or "") else None
    )
    sent = {client.track("heartbeat", heartbeat(n)) for n in range(300)}
    client.sync_now()
    wait_until(lambda: len({s.retry_at for s in errors}) >= 3, what="three retries")
    # Retried: the acknowledgement, not the request.
    assert max(collector.copies.values()) == 1
    filler[0].unlink()
    wait_until(lambda: client.status().pending == 0, what="the acknowledgement written")
    assert max(collector.copies.values()) == 1
    assert set(collector.stored) == sent


def test_the_outbox_gives_back_the_space_of_a_delivered_backlog(
    make_client: MakeClient, collector: ScriptedCollector
) -> None:
    collector.stop()  # offline
    client = make_client(
        history_max_rows=10, backoff_base=0.05, backoff_cap=0.1, max_queue_bytes=64 << 20
    )
    pad = "x" * 2000
    for n in range(6000):
        client.track("heartbeat", heartbeat(n, pad))
    assert client.flush(0.5) is False
    path = client.outbox_path
    assert path.stat().st_size > 12 * 1024 * 1024
    collector.start()
    wait_until(lambda: collector.stored_count() == 6000, timeout=30, what="the backlog sent")
    wait_until(lambda: client.status().pending == 0, what="the last acknowledgement")
    wait_until(
        lambda: path.stat().st_size + os.stat(f"{path}-wal").st_size < 2 * 1024 * 1024,
        what="the file compacted",
    )
