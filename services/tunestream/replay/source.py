"""Reading one tuning job's history from Kafka: its partition of each topic, from the beginning."""

from __future__ import annotations

from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.partitioner import DefaultPartitioner
from pydantic import ValidationError

from tunestream.events.topics import Topics
from tunestream.events.v1 import Event, decode


@dataclass
class JobHistory:
    """A tuning job's events per topic, each list in partition order (copies included)."""

    name: str
    jobs: list[Event] = field(default_factory=list)
    trials: list[Event] = field(default_factory=list)
    training: list[Event] = field(default_factory=list)
    metrics: list[Event] = field(default_factory=list)
    undecodable: int = 0

    def count(self) -> int:
        return len(self.jobs) + len(self.trials) + len(self.training) + len(self.metrics)


def partition_of(name: str, partitions: list[int]) -> int:
    """The partition the producers' default partitioner (murmur2 of the key) puts a job's events in."""
    return int(DefaultPartitioner()(name.encode(), sorted(partitions), sorted(partitions)))


async def _partition_counts(bootstrap_servers: str, topics: list[str]) -> dict[str, int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        described = await admin.describe_topics(topics)
    finally:
        await admin.close()
    return {d["topic"]: len(d["partitions"]) for d in described if not d.get("error_code")}


async def read_history(bootstrap_servers: str, topics: Topics, name: str) -> JobHistory:
    history = JobHistory(name)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
    )
    await consumer.start()
    try:
        wanted = {topics.jobs: history.jobs, topics.trials: history.trials}
        wanted.update({topics.training: history.training, topics.metrics: history.metrics})
        assignment: dict[TopicPartition, list[Event]] = {}
        counts = await _partition_counts(bootstrap_servers, list(wanted))
        for topic, sink in wanted.items():
            if not counts.get(topic):
                raise LookupError(f"topic {topic} does not exist")
            assignment[TopicPartition(topic, partition_of(name, list(range(counts[topic]))))] = sink
        consumer.assign(list(assignment))
        await consumer.seek_to_beginning(*assignment)
        ends = await consumer.end_offsets(list(assignment))
        remaining = {tp for tp in assignment if ends[tp] > 0}
        while remaining:
            batches = await consumer.getmany(*remaining, timeout_ms=500, max_records=5000)
            for tp, messages in batches.items():
                for message in messages:
                    if message.offset >= ends[tp]:
                        break
                    try:
                        event = decode(message.value or b"")
                    except ValidationError:
                        history.undecodable += 1
                        continue
                    if event.tuning_job_name == name:
                        assignment[tp].append(event)
            for tp in list(remaining):
                if await consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
    finally:
        await consumer.stop()
    return history
