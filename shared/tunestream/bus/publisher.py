"""Producing events: acks from all in-sync replicas, idempotent, keyed by tuning job name."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, KafkaTimeoutError, TopicAlreadyExistsError

from tunestream.events.topics import JOB_TOPIC_RETENTION_MS, PARTITIONS, Topics
from tunestream.events.v1 import EventBase, encode

log = logging.getLogger(__name__)
RETRY_DELAYS_S = (0.2, 0.5, 1.0, 2.0, 5.0)


def _retriable(exc: BaseException) -> bool:
    # KafkaTimeoutError: no metadata or no ack within request_timeout_ms, e.g. while the broker restarts.
    return isinstance(exc, KafkaTimeoutError) or (isinstance(exc, KafkaError) and exc.retriable)


class Publisher:
    def __init__(self, bootstrap_servers: str, topics: Topics, client_id: str) -> None:
        self._topics = topics
        self._producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap_servers,
            client_id=client_id,
            acks="all",
            enable_idempotence=True,
            linger_ms=2,
        )

    async def start(self) -> None:
        await self._producer.start()

    async def stop(self) -> None:
        await self._producer.stop()

    async def broker_metadata(self) -> None:
        """Asks a broker for the cluster's metadata (a real round trip, not the cached copy)."""
        await self._producer.client.fetch_all_metadata()

    async def partitions_for(self, topic: str) -> set[int]:
        """The topic's partition ids, waiting for metadata if need be."""
        return set(await self._producer.partitions_for(topic))

    async def publish(self, events: Sequence[EventBase]) -> None:
        """Send events and wait until Kafka has acknowledged every one of them.

        While the broker is away (a restart, a network cut) the send is retried, from the first event
        not acknowledged onwards and in order, for as long as it takes: the service waits instead of
        dying. Events resent after an unclear failure are copies with the same deterministic ids,
        which every consumer drops.
        """
        pending = list(events)
        failures = 0
        while pending:
            acked = await self._send(pending)
            if acked == len(pending):
                return
            pending = pending[acked:]
            delay = RETRY_DELAYS_S[min(failures, len(RETRY_DELAYS_S) - 1)]
            failures += 1
            log.warning("Kafka did not acknowledge %d events; sending them again in %.1fs", len(pending), delay)
            await asyncio.sleep(delay)

    def outbox(self) -> Outbox:
        """Events sent as they come and acknowledged together (`Outbox.flush`)."""
        return Outbox(self)

    async def _send_one(self, e: EventBase) -> asyncio.Future[object]:
        return await self._producer.send(
            self._topics.for_event(e.type),  # type: ignore[attr-defined]
            value=encode(e),
            key=e.partition_key().encode(),
        )

    async def _send(self, events: Sequence[EventBase]) -> int:
        """Send in order; how many events from the first were acknowledged (raises if not retriable)."""
        futures: list[asyncio.Future[object]] = []
        error: BaseException | None = None
        for e in events:
            try:
                futures.append(await self._send_one(e))
            except KafkaError as exc:
                error = exc
                break
        results = await asyncio.gather(*futures, return_exceptions=True)
        acked = next((i for i, r in enumerate(results) if isinstance(r, BaseException)), len(results))
        if acked < len(results):
            error = results[acked]  # type: ignore[assignment]
        if error is not None:
            if not _retriable(error):
                raise error
            log.warning("Kafka send failed: %r", error)
        return acked


class Outbox:
    """The outputs of several events (a service loop's batch): each is handed to the producer at once,
    and `flush` waits for all acknowledgements together, so a batch of N events costs one round trip
    to the broker instead of N. Exactly as `Publisher.publish` of all of them in order: after a failure,
    everything from the first unacknowledged event onwards is sent again, in order."""

    def __init__(self, publisher: Publisher) -> None:
        self._publisher = publisher
        self._events: list[EventBase] = []
        self._futures: list[asyncio.Future[object]] = []
        self._error: BaseException | None = None

    async def add(self, events: Sequence[EventBase]) -> None:
        for e in events:
            self._events.append(e)
            if self._error is None:
                try:
                    self._futures.append(await self._publisher._send_one(e))
                except KafkaError as exc:  # sent again by flush, from here on
                    self._error = exc

    async def flush(self) -> None:
        results = await asyncio.gather(*self._futures, return_exceptions=True)
        acked = next((i for i, r in enumerate(results) if isinstance(r, BaseException)), len(results))
        failed = results[acked] if acked < len(results) else self._error
        pending, self._events, self._futures, self._error = self._events[acked:], [], [], None
        if not pending:
            return
        assert isinstance(failed, BaseException)
        error: BaseException = failed
        if not _retriable(error):
            raise error
        log.warning("Kafka send failed: %r; sending %d events again", error, len(pending))
        await asyncio.sleep(RETRY_DELAYS_S[0])
        await self._publisher.publish(pending)


# A topic is kept on at most this many brokers; with 3, a write needs 2 copies (min.insync.replicas).
MAX_REPLICATION = 3


def replication_for(brokers: int, wanted: int = 0) -> tuple[int, int]:
    """(replication factor, min.insync.replicas) for a cluster of `brokers`: `wanted`, or (0) as many
    copies as the cluster has brokers up to MAX_REPLICATION; writes need 2 copies once there are 3,
    so one broker may die with no acknowledged event lost and none refused."""
    factor = wanted if wanted > 0 else min(MAX_REPLICATION, max(1, brokers))
    return factor, 2 if factor >= 3 else 1


async def ensure_topics(
    bootstrap_servers: str,
    topics: Topics,
    partitions: int = PARTITIONS,
    retention_ms: int = JOB_TOPIC_RETENTION_MS,
    replication: int = 0,
) -> None:
    """Create tunestream's topics with equal partition counts (a job's events share a partition number),
    their retention (`Topics.config`) and replication (`replication_for`); topics that exist already
    keep their configuration."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        factor, min_isr = replication_for(len((await admin.describe_cluster())["brokers"]), replication)
        missing = [
            NewTopic(
                t,
                num_partitions=partitions,
                replication_factor=factor,
                topic_configs={**topics.config(t, retention_ms), "min.insync.replicas": str(min_isr)},
            )
            for t in topics.all()
            if t not in existing
        ]
        if missing:
            # Another service may create them at the same moment.
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(missing)
    finally:
        await admin.close()
