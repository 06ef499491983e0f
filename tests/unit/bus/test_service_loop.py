"""ServiceLoop against an in-memory consumer: rebuild, what is reacted to, commits, batches, ticks."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import TopicPartition

from tunestream.bus.loop import ServiceLoop
from tunestream.events.v1 import Event, EventBase, TuningJobStopRequested, TuningJobStopRequestedData, encode

TP = TopicPartition("t.jobs", 0)


def stop_event(i: int) -> TuningJobStopRequested:
    return TuningJobStopRequested(
        event_id=f"in-{i}", tuning_job_name=f"job-{i}", payload=TuningJobStopRequestedData(reason=f"r{i}")
    )


@dataclass
class Message:
    value: bytes | None
    offset: int


class FakeConsumer:
    """One topic partition held in memory, with a consumer group's committed offset."""

    def __init__(self, values: list[bytes], committed: int | None = None) -> None:
        self.messages = [Message(v, i) for i, v in enumerate(values)]
        self.committed_offset = committed
        self.position_ = 0
        self.commits: list[int] = []
        self.listener: Any = None
        self.assigned = False  # as a real group member: nothing is fetched before the assignment
        self.end_offset_calls = 0

    def append(self, value: bytes) -> None:
        self.messages.append(Message(value, len(self.messages)))

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def subscribe(self, topics: Sequence[str], listener: Any) -> None:
        self.listener = listener

        async def join_group() -> None:
            await asyncio.sleep(0.02)
            self.assigned = True
            await listener.on_partitions_assigned({TP})

        self._joining = asyncio.get_running_loop().create_task(join_group())

    def assign(self, partitions: Sequence[TopicPartition]) -> None: ...

    def assignment(self) -> set[TopicPartition]:
        return {TP}

    async def getmany(self, *partitions: TopicPartition, timeout_ms: int = 0, max_records: int = 500) -> Any:
        batch = self.messages[self.position_ : self.position_ + max_records] if self.assigned else []
        if not batch:
            await asyncio.sleep(0.01)
            return {}
        self.position_ += len(batch)
        return {TP: batch}

    async def end_offsets(self, partitions: Sequence[TopicPartition]) -> dict[TopicPartition, int]:
        self.end_offset_calls += 1
        return {TP: len(self.messages)}

    async def committed(self, tp: TopicPartition) -> int | None:
        return self.committed_offset

    async def seek_to_beginning(self, *partitions: TopicPartition) -> None:
        self.position_ = 0

    async def position(self, tp: TopicPartition) -> int:
        return self.position_

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.position_ = offset

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self.commits.append(offsets[TP])
        self.committed_offset = offsets[TP]


class FakeOutbox:
    def __init__(self, sink: list[str]) -> None:
        self.sink, self.held = sink, []  # type: list[str], list[str]

    async def add(self, events: Sequence[EventBase]) -> None:
        self.held.extend(e.event_id for e in events)

    async def flush(self) -> None:
        self.sink.extend(self.held)
        self.held = []


class FakePublisher:
    def __init__(self) -> None:
        self.sent: list[str] = []

    def outbox(self) -> FakeOutbox:
        return FakeOutbox(self.sent)

    async def publish(self, events: Sequence[EventBase]) -> None:
        self.sent.extend(e.event_id for e in events)


class Recorder:
    """A handler that answers each event with one output event and counts its reconciles."""

    replays_history = True
    tick_s: float | None = None

    def __init__(self) -> None:
        self.applied: list[str] = []
        self.reacted: list[str] = []
        self.reconciles = 0

    def apply(self, event: Event) -> None:
        self.applied.append(event.event_id)

    async def react(self, event: Event) -> Sequence[EventBase]:
        self.reacted.append(event.event_id)
        return [stop_event(int(event.event_id.split("-")[1]) + 1000)]

    async def reconcile(self) -> Sequence[EventBase]:
        self.reconciles += 1
        return []


class BatchRecorder(Recorder):
    def __init__(self) -> None:
        super().__init__()
        self.batches: list[list[str]] = []

    async def react_batch(self, events: Sequence[Event]) -> Sequence[EventBase]:
        self.batches.append([e.event_id for e in events])
        return []


class Watcher(Recorder):
    tick_s = 0.0

    def __init__(self) -> None:
        super().__init__()
        self.reachable: list[bool] = []

    def kafka_reachable(self, answers: bool) -> None:
        self.reachable.append(answers)


async def run_until(loop: ServiceLoop, done: Any, timeout_s: float = 5.0) -> None:
    task = asyncio.create_task(loop.run())
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not done():
        assert asyncio.get_running_loop().time() < deadline, "the loop did not get there"
        await asyncio.sleep(0.01)
    loop.stop()
    await asyncio.wait_for(task, 5)


def make_loop(handler: Any, consumer: FakeConsumer, publisher: FakePublisher) -> ServiceLoop:
    return ServiceLoop(
        name="test",
        bootstrap_servers="unused:1",
        group_id="g",
        topics=[TP.topic],
        handler=handler,
        publisher=publisher,  # type: ignore[arg-type]
        consumer=consumer,  # type: ignore[arg-type]
    )


def test_rebuild_applies_everything_and_reacts_only_past_the_committed_offset() -> None:
    async def scenario() -> tuple[Recorder, FakeConsumer, FakePublisher]:
        consumer = FakeConsumer([encode(stop_event(i)) for i in range(5)], committed=3)
        handler, publisher = Recorder(), FakePublisher()
        loop = make_loop(handler, consumer, publisher)
        await run_until(loop, lambda: loop.caught_up.is_set() and consumer.commits)
        return handler, consumer, publisher

    handler, consumer, publisher = asyncio.run(scenario())
    assert handler.applied == [f"in-{i}" for i in range(5)]
    assert handler.reacted == ["in-3", "in-4"]
    assert publisher.sent == ["in-1003", "in-1004"]
    assert handler.reconciles == 1
    assert consumer.commits == [5]


def test_live_events_are_applied_reacted_sent_then_committed_and_garbage_is_skipped() -> None:
    async def scenario() -> tuple[Recorder, FakeConsumer, FakePublisher]:
        consumer = FakeConsumer([], committed=None)
        handler, publisher = Recorder(), FakePublisher()
        loop = make_loop(handler, consumer, publisher)
        task = asyncio.create_task(loop.run())
        while not loop.caught_up.is_set():
            await asyncio.sleep(0.01)
        consumer.append(encode(stop_event(7)))
        consumer.append(b"not an event")
        consumer.append(encode(stop_event(8)))
        while not consumer.commits or consumer.commits[-1] < 3:
            await asyncio.sleep(0.01)
        loop.stop()
        await asyncio.wait_for(task, 5)
        return handler, consumer, publisher

    handler, consumer, publisher = asyncio.run(scenario())
    assert handler.applied == handler.reacted == ["in-7", "in-8"]
    assert publisher.sent == ["in-1007", "in-1008"]
    assert consumer.commits[-1] == 3  # past the undecodable message too


def test_a_batch_handler_takes_each_fetched_batch_at_once() -> None:
    async def scenario() -> tuple[BatchRecorder, FakeConsumer]:
        consumer = FakeConsumer([], committed=None)
        handler, publisher = BatchRecorder(), FakePublisher()
        handler.replays_history = False
        loop = make_loop(handler, consumer, publisher)
        for i in range(3):
            consumer.append(encode(stop_event(i)))
        await run_until(loop, lambda: consumer.commits)
        return handler, consumer

    handler, consumer = asyncio.run(scenario())
    assert handler.batches == [["in-0", "in-1", "in-2"]]
    assert handler.reacted == []
    assert consumer.commits == [3]


def test_a_broker_watcher_hears_before_each_reconcile() -> None:
    async def scenario() -> Watcher:
        consumer = FakeConsumer([], committed=None)
        handler = Watcher()
        loop = make_loop(handler, consumer, FakePublisher())
        await run_until(loop, lambda: len(handler.reachable) >= 2)
        return handler

    handler = asyncio.run(scenario())
    assert handler.reachable[:2] == [True, True]
    assert handler.reconciles >= 2
