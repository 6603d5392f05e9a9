"""The Kafka sink: every stored thing becomes a record on one topic; 200 only once all are acked.

Request tasks (event loop) call `write`/`delete_device`/`check_ready`. `write` hands the batch's
records to librdkafka (`produce` never blocks: it queues) and awaits a future that the delivery
reports resolve. Delivery reports are served on this sink's own poll thread, which hands the
verdict back to the event loop with `call_soon_threadsafe`. The producer is idempotent with
`acks=all`, so an acknowledgement means every in-sync replica has the record and librdkafka's
own retries never write a second copy.

The sink keeps no state between requests: any number of collector processes can produce to the
same topic. It therefore cannot tell a retried event from a new one, and every valid event is
answered as accepted; copies collapse in ClickHouse (ReplacingMergeTree on (key_id, event_id),
read with FINAL). A broker that cannot be reached fails the batch's deliveries after
`store_timeout_s`, which answers 503 + Retry-After; records that did reach the log before the
failure are harmless, the client's retry is then a copy that collapses.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from telemetry.collector.config import CollectorConfig
from telemetry.collector.errors import StorageUnavailableError
from telemetry.collector.store import BatchWrite, WriteResult
from telemetry.contracts.kafka_records import Record, delete_record, drop_record, event_record
from telemetry.contracts.kafka_url import PRODUCER_FIXED, KafkaTarget
from telemetry.contracts.stored import ContextRow

log = logging.getLogger("reelscope.collector.kafka")

# The event loop's deadline is a little later than librdkafka's, so the broker's verdict (a
# failed delivery, with its reason) is what answers, not a bare timeout.
_VERDICT_MARGIN_S = 1.0


def _context_json(contexts: dict[bytes, ContextRow], digest: bytes | None) -> str | None:
    row = None if digest is None else contexts.get(digest)
    return None if row is None else row.json


class _Delivery:
    """Counts one batch's delivery reports (poll thread) and resolves its future (event loop)."""

    def __init__(
        self, records: int, future: asyncio.Future[None], sink: KafkaSink, generation: int
    ) -> None:
        self._generation = generation
        self._remaining = records
        self._future = future
        self._loop = future.get_loop()
        self._sink = sink
        self._error: KafkaError | None = None

    def report(self, error: KafkaError | None, _: Message) -> None:
        self._sink.settled(1)
        if error is not None and self._error is None:
            self._error = error
            self._sink.failed(error, self._generation)
        self._remaining -= 1
        if self._remaining == 0 and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._resolve)

    def abandon(self, unsent: int) -> None:
        """Records that never reached librdkafka's queue will get no report; the request has
        failed already, so the verdict on the ones that did is not awaited."""
        self._sink.settled(unsent)
        self._remaining -= unsent
        self._future.cancel()

    def _resolve(self) -> None:
        if self._future.done():
            return
        if self._error is None:
            self._future.set_result(None)
        else:
            self._future.set_exception(
                StorageUnavailableError(f"the event log did not take the batch ({self._error})")
            )


class KafkaSink:
    """`kafka://brokers/topic`: an idempotent producer, acks=all, one poll thread."""

    def __init__(self, target: KafkaTarget, config: CollectorConfig) -> None:
        self._target = target
        self._config = config
        self._pending = 0
        self._pending_lock = threading.Lock()
        self._stopping = threading.Event()
        self._producer: Producer | None = None
        self._generation = 0
        self._broken: KafkaError | None = None
        self._thread = threading.Thread(target=self._poll, name="collector-kafka", daemon=True)

    def start(self) -> None:
        self._producer = self._new_producer()
        self._thread.start()

    def _new_producer(self) -> Producer:
        self._generation += 1
        generation = self._generation

        def on_error(error: KafkaError) -> None:
            if error.fatal():
                self.failed(error, generation)

        settings: dict[str, Any] = {
            "bootstrap.servers": self._target.bootstrap,
            "client.id": "reelscope-collector",
            # A few ms of batching across concurrent requests, like SQLite's group commits.
            "linger.ms": 5,
            "compression.type": "lz4",
            # A broker back from an outage is used within a second (librdkafka's default
            # backoff grows to 10 s, and every request meanwhile answers 503).
            "reconnect.backoff.max.ms": 1000,
            **self._target.settings,
            **PRODUCER_FIXED,
            "delivery.timeout.ms": max(1000, int(self._config.store_timeout_s * 1000)),
            "error_cb": on_error,
            "logger": log,
        }
        return Producer(settings)

    def _poll(self) -> None:
        while not self._stopping.is_set():
            producer = self._producer
            assert producer is not None
            try:
                producer.poll(0.1)
            except KafkaException as exc:
                # confluent-kafka raises the producer's fatal error from poll as well.
                self._note_fatal(exc, producer)
            if self._broken is not None:
                self._replace(producer)

    def _note_fatal(self, exc: KafkaException, producer: Producer) -> None:
        error = exc.args[0] if exc.args else None
        if isinstance(error, KafkaError) and error.fatal() and producer is self._producer:
            self.failed(error, self._generation)
        else:
            log.warning("producer error: %s", exc)

    def failed(self, error: KafkaError, generation: int) -> None:
        """A delivery failed or the producer hit a fatal error (any thread)."""
        # Only the current producer's failures matter; a replaced one's are expected.
        if generation == self._generation:
            self._broken = error

    def _replace(self, failed: Producer) -> None:
        """After a failed delivery, the idempotent producer's sequence state may no longer match
        the broker's (records timed out mid-flight; a broker that lost or fenced the producer
        id): rather than trust librdkafka's epoch bump, which brokers implement unevenly, start
        a fresh producer. Whatever the old one still holds is purged, which answers 503 to its
        requests; their retries are copies that collapse downstream."""
        log.warning("a delivery failed (%s); starting a new producer", self._broken)
        self._producer = self._new_producer()
        self._broken = None
        failed.purge()
        failed.flush(0)

    def settled(self, records: int) -> None:
        with self._pending_lock:
            self._pending -= records

    async def _produce(self, records: list[Record]) -> None:
        producer = self._producer
        if producer is None:
            raise StorageUnavailableError("the event log is not connected yet")
        with self._pending_lock:
            if self._pending + len(records) > self._config.max_pending_events:
                raise StorageUnavailableError("the collector is behind on writes")
            self._pending += len(records)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        delivery = _Delivery(len(records), future, self, self._generation)
        topic = self._target.topic
        for sent, record in enumerate(records):
            try:
                producer.produce(topic, record.value, record.key, on_delivery=delivery.report)
            except (BufferError, KafkaException) as exc:
                if isinstance(exc, KafkaException):
                    self._note_fatal(exc, producer)
                delivery.abandon(len(records) - sent)
                raise StorageUnavailableError(
                    f"the event log did not take the batch ({exc})"
                ) from None
        try:
            await asyncio.wait_for(future, self._config.store_timeout_s + _VERDICT_MARGIN_S)
        except TimeoutError as exc:
            raise StorageUnavailableError("the event log did not acknowledge in time") from exc

    async def write(self, batch: BatchWrite) -> WriteResult:
        contexts = batch.contexts
        records = [
            event_record(row, _context_json(contexts, row.context_hash)) for row in batch.rows
        ]
        records.extend(drop_record(drop) for drop in batch.drops)
        await self._produce(records)
        # No local state: a copy cannot be told from a new event here (it collapses downstream).
        return WriteResult(len(batch.rows), 0)

    async def delete_device(self, key_id: str, device_id: str) -> int:
        """Queue the deletion behind the device's events; the loader applies it. Answers 0:
        how many events it removes is known only when the loader runs it."""
        await self._produce([delete_record(key_id, device_id, time.time_ns() // 1_000_000)])
        return 0

    async def check_ready(self) -> None:
        await asyncio.to_thread(self._check_topic)

    def _check_topic(self) -> None:
        producer = self._producer
        if producer is None:
            raise StorageUnavailableError("the event log is not connected yet")
        timeout = min(5.0, self._config.store_timeout_s)
        try:
            metadata = producer.list_topics(self._target.topic, timeout=timeout)
        except KafkaException as exc:
            raise StorageUnavailableError(f"the event log cannot be reached ({exc})") from None
        topic = metadata.topics.get(self._target.topic)
        if topic is None or topic.error is not None or not topic.partitions:
            raise StorageUnavailableError(f"the topic {self._target.topic} is not available")
        if any(partition.leader < 0 for partition in topic.partitions.values()):
            raise StorageUnavailableError("a partition of the event log has no leader")

    def close(self) -> None:
        """Wait for every queued record's verdict (bounded), then stop polling."""
        producer = self._producer
        if producer is None:
            return
        left = producer.flush(self._config.store_timeout_s)
        if left:
            log.warning("%d records had no delivery verdict at shutdown", left)
        self._stopping.set()
        self._thread.join()
