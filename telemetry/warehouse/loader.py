"""The loader: one member of a Kafka consumer group that copies records into ClickHouse.

`Loader.run` is called on one thread (the CLI's main thread) and loops: take up to `max_batch`
records, insert them, and only then commit the consumer offsets, synchronously. A loader that
dies between the insert and the commit leaves its records uncommitted; whoever is given the
partition next inserts them again, and the copies collapse (every table is a ReplacingMergeTree
keyed by identity, see clickhouse.sql). So any number of loaders can run, be killed or be
restarted: nothing is lost, nothing counts twice. `stop` may be called from any thread or a
signal handler; the batch in hand is finished (inserted and committed) first.

A deletion request (`delete_device`) is applied in partition order: what came before it in the
batch is inserted first, then the device's rows are deleted, then the rest follows.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any

import orjson
from confluent_kafka import Consumer, KafkaError, Message, TopicPartition

from telemetry.contracts.clickhouse import Warehouse
from telemetry.contracts.kafka_records import MalformedRecordError, decode
from telemetry.contracts.kafka_url import KafkaTarget

log = logging.getLogger("reelscope.loader")

_DELETES = (
    "DELETE FROM events WHERE key_id = {key_id:String} AND device_id = {device_id:String}",
    "DELETE FROM client_drops WHERE key_id = {key_id:String} AND device_id = {device_id:String}",
    "DELETE FROM receipts WHERE key_id = {key_id:String} AND device_id = {device_id:String}",
    # The report's engine tables, filled from events by materialised views (facts_views.sql).
    "DELETE FROM facts WHERE key_id = {key_id:String} AND device_id = {device_id:String}",
    "DELETE FROM served_rows WHERE key_id = {key_id:String} AND device_id = {device_id:String}",
)


@dataclass(frozen=True)
class LoaderSettings:
    kafka: KafkaTarget
    group: str = "reelscope-loader"
    max_batch: int = 10_000
    poll_timeout_s: float = 1.0
    # How long a member may be silent before the group gives its partitions to another.
    session_timeout_ms: int = 10_000
    retry_delay_s: float = 1.0
    consumer: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Pending:
    """Rows for one insert per table, from consecutive records of a batch."""

    events: list[bytes] = field(default_factory=list)
    contexts: dict[str, bytes] = field(default_factory=dict)
    drops: list[bytes] = field(default_factory=list)
    receipts: list[bytes] = field(default_factory=list)

    def write(self, warehouse: Warehouse) -> None:
        # Receipts go last: a receipt without its event would count a copy that is not there.
        warehouse.insert("contexts", list(self.contexts.values()))
        warehouse.insert("events", self.events)
        warehouse.insert("client_drops", self.drops)
        warehouse.insert("receipts", self.receipts)


class Loader:
    def __init__(self, settings: LoaderSettings, warehouse: Warehouse) -> None:
        self._settings = settings
        self._warehouse = warehouse
        self._stopping = threading.Event()
        self._subscribed = False
        self.loaded = 0
        self.malformed = 0
        self._consumer = Consumer(
            {
                "bootstrap.servers": settings.kafka.bootstrap,
                "group.id": settings.group,
                "client.id": "reelscope-loader",
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
                "session.timeout.ms": settings.session_timeout_ms,
                "logger": log,
                **settings.kafka.settings,
                **settings.consumer,
            }
        )

    def subscribe(self) -> None:
        """Join the group (partitions are assigned during the following `step`s)."""
        if not self._subscribed:
            self._consumer.subscribe([self._settings.kafka.topic])
            self._subscribed = True

    def run(self) -> None:
        """Consume until `stop`; then leave the group (its partitions move to the others)."""
        self.subscribe()
        try:
            while not self._stopping.is_set():
                self.step()
        finally:
            self.close()

    def stop(self) -> None:
        self._stopping.set()

    def close(self) -> None:
        """Leave the group. Everything taken has been committed or will be loaded again."""
        self._consumer.close()

    def step(self) -> int:
        """One batch: consume, insert, commit. The number of records taken."""
        settings = self._settings
        messages = self._consumer.consume(settings.max_batch, settings.poll_timeout_s)
        records = [message for message in messages if self._usable(message)]
        if not records:
            return 0
        while True:
            try:
                self._load(records)
                break
            except Exception:
                log.exception("insert of %d records failed; retrying", len(records))
                if self._stopping.wait(settings.retry_delay_s):
                    # Not committed: whoever takes the partitions next loads them again.
                    return 0
        self._commit(records)
        self.loaded += len(records)
        return len(records)

    def _usable(self, message: Message) -> bool:
        error = message.error()
        if error is None:
            return True
        if error.code() != KafkaError._PARTITION_EOF:
            log.warning("consumer error: %s", error)
        return False

    def _load(self, records: list[Message]) -> None:
        pending = _Pending()
        for message in records:
            try:
                fields = decode(message.value())
            except MalformedRecordError as exc:
                # Skipped, not retried: a record no loader can read must not stop the partition.
                self.malformed += 1
                log.warning(
                    "skipping record %s/%d@%d: %s",
                    message.topic(), message.partition(), message.offset(), exc,
                )  # fmt: skip
                continue
            kind = fields["kind"]
            if kind == "event":
                pending.events.append(message.value() or b"")
                context = fields.get("context")
                digest = fields.get("context_hash")
                if context is not None and digest is not None:
                    pending.contexts[digest] = orjson.dumps({"hash": digest, "json": context})
                pending.receipts.append(
                    orjson.dumps(
                        {
                            "topic": message.topic(),
                            "kafka_partition": message.partition(),
                            "kafka_offset": message.offset(),
                            "key_id": fields["key_id"],
                            "device_id": fields.get("device_id"),
                        }
                    )
                )
            elif kind == "drop":
                pending.drops.append(message.value() or b"")
            else:
                pending.write(self._warehouse)
                pending = _Pending()
                device = {"key_id": fields["key_id"], "device_id": fields["device_id"]}
                for statement in _DELETES:
                    self._warehouse.command(statement, device)
        pending.write(self._warehouse)

    def _commit(self, records: list[Message]) -> None:
        """Commit the offset after the last record of each partition in the batch."""
        last: dict[tuple[str, int], int] = {}
        for message in records:
            key = (message.topic() or "", message.partition() or 0)
            last[key] = max(last.get(key, -1), message.offset() or 0)
        offsets = [TopicPartition(topic, part, end + 1) for (topic, part), end in last.items()]
        try:
            self._consumer.commit(offsets=offsets, asynchronous=False)
        except Exception:
            # The rows are in; if the group moved the partitions meanwhile, the next owner
            # loads these records again and the copies collapse.
            log.warning("offset commit failed after the insert", exc_info=True)
