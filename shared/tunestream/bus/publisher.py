"""Producing events: acks from all in-sync replicas, idempotent, keyed by tuning job name."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from tunestream.events.topics import JOB_TOPIC_RETENTION_MS, PARTITIONS, Topics
from tunestream.events.v1 import EventBase, encode

log = logging.getLogger(__name__)


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

    async def partitions_for(self, topic: str) -> set[int]:
        """The topic's partition ids, waiting for metadata if need be."""
        return set(await self._producer.partitions_for(topic))

    async def publish(self, events: Sequence[EventBase]) -> None:
        """Send events and wait until Kafka has acknowledged every one of them."""
        if not events:
            return
        futures = [
            await self._producer.send(
                self._topics.for_event(e.type),  # type: ignore[attr-defined]
                value=encode(e),
                key=e.partition_key().encode(),
            )
            for e in events
        ]
        await asyncio.gather(*futures)


async def ensure_topics(
    bootstrap_servers: str,
    topics: Topics,
    partitions: int = PARTITIONS,
    retention_ms: int = JOB_TOPIC_RETENTION_MS,
) -> None:
    """Create tunestream's topics with equal partition counts (a job's events share a partition number)
    and their retention (`Topics.config`); topics that exist already keep their configuration."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(
                t,
                num_partitions=partitions,
                replication_factor=1,
                topic_configs=topics.config(t, retention_ms),
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
