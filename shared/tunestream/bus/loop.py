"""The loop every service runs: consume -> handler -> produce -> commit.

Stateful services (suggester, launcher, collector) keep their state in memory and rebuild it at
start: when partitions are assigned, the loop reads them from the beginning up to their current
end. Every event is `apply`d (state only); events at or after the group's committed offset, which
were never fully handled, are then `react`ed to, and `reconcile` runs once over the rebuilt state.
After that each new event is applied and reacted to, and its outputs are sent; once the outputs of a
fetched batch are all acknowledged by Kafka, the batch's offset is committed. Outputs carry
deterministic ids, so work redone after a crash produces copies that consumers recognise and drop.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError
from pydantic import ValidationError

from tunestream.bus.publisher import Publisher
from tunestream.events.v1 import Event, EventBase, decode

log = logging.getLogger(__name__)


class Handler(Protocol):
    """A service's logic, called by ServiceLoop; it never touches Kafka itself."""

    replays_history: bool
    tick_s: float | None

    def apply(self, event: Event) -> None:
        """Fold an event into the state. Idempotent: applying an event twice changes nothing."""

    async def react(self, event: Event) -> Sequence[EventBase]:
        """Side effects and output events for an event already applied."""
        ...

    async def reconcile(self) -> Sequence[EventBase]:
        """Outputs owed by the current state (after a rebuild, and every tick_s seconds)."""
        ...


@runtime_checkable
class BatchHandler(Protocol):
    """A handler that takes each fetched batch at once (the tracker: one transaction per batch)
    instead of one `react` per live event."""

    async def react_batch(self, events: Sequence[Event]) -> Sequence[EventBase]: ...


@runtime_checkable
class BrokerWatcher(Protocol):
    """A handler that judges others by their silence (the scheduler) and so must know, before each
    `reconcile`, whether it could hear them at all: is the broker answering?"""

    def kafka_reachable(self, answers: bool) -> None: ...


class _Assignments(ConsumerRebalanceListener):
    def __init__(self) -> None:
        self.changed = asyncio.Event()

    async def on_partitions_revoked(self, revoked: object) -> None:
        pass

    async def on_partitions_assigned(self, assigned: object) -> None:
        self.changed.set()


class ServiceLoop:
    def __init__(
        self,
        *,
        name: str,
        bootstrap_servers: str,
        group_id: str | None,
        topics: Sequence[str],
        handler: Handler,
        publisher: Publisher,
        consumer: AIOKafkaConsumer | None = None,
    ) -> None:
        self.name = name
        self._handler = handler
        self._publisher = publisher
        self.topics = list(topics)
        self._grouped = group_id is not None
        self._assignments = _Assignments()
        # `consumer` is for tests (a fake broker); a service always gets its own consumer.
        self._consumer = consumer or AIOKafkaConsumer(
            bootstrap_servers=bootstrap_servers,
            group_id=group_id,
            client_id=f"{group_id or 'tunestream'}-{name}",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            max_poll_interval_ms=600_000,
        )
        self.caught_up = asyncio.Event()
        # When the loop last came back from Kafka (monotonic): /readyz tells a stalled loop by it.
        self.last_poll: float | None = None
        self._stopping = asyncio.Event()

    async def run(self) -> None:
        await self._consumer.start()
        if self._grouped:
            self._consumer.subscribe(self.topics, listener=self._assignments)
        else:
            # Without a group every instance reads every partition; its state is all it needs.
            self._consumer.assign(
                [
                    TopicPartition(topic, partition)
                    for topic in self.topics
                    for partition in sorted(await self._publisher.partitions_for(topic))
                ]
            )
            self._assignments.changed.set()
        try:
            await self._run()
        finally:
            await self._consumer.stop()

    def stop(self) -> None:
        self._stopping.set()

    async def _run(self) -> None:
        last_tick = time.monotonic()
        tick = self._handler.tick_s
        while not self._stopping.is_set():
            if self._assignments.changed.is_set():
                self._assignments.changed.clear()
                if self._handler.replays_history:
                    try:
                        await self._catch_up()
                    except IllegalStateError as exc:
                        # The assignment changed under the rebuild; rebuild again for the new one.
                        log.warning("%s: partitions moved during rebuild (%s); rebuilding", self.name, exc)
                        self._assignments.changed.set()
                        continue
                self.caught_up.set()
            batches = await self._consumer.getmany(timeout_ms=200, max_records=500)
            self.last_poll = time.monotonic()
            if self._handler.replays_history and self._assignments.changed.is_set():
                # The group (re)assigned partitions inside this getmany, and what it returned was
                # fetched from the committed offsets: handled now, it would meet a state not yet rebuilt
                # (a restarted collector reported "no objective" for finished jobs this way). The
                # rebuild reads these events again and handles the ones past the committed offset.
                continue
            react_batch = self._handler.react_batch if isinstance(self._handler, BatchHandler) else None
            for tp, messages in batches.items():
                # Outputs go to the producer as each event is handled; their acknowledgements are
                # awaited once for the partition's batch, before its offset is committed.
                outbox = self._publisher.outbox()
                events = [e for m in messages if (e := self._decode(m.value, tp, m.offset)) is not None]
                for event in events:
                    self._handler.apply(event)
                    if react_batch is None:
                        await outbox.add(await self._handler.react(event))
                if react_batch is not None and events:
                    await outbox.add(await react_batch(events))
                await outbox.flush()
                await self._commit({tp: messages[-1].offset + 1})
            if tick is not None and time.monotonic() - last_tick >= tick:
                last_tick = time.monotonic()
                if isinstance(self._handler, BrokerWatcher):
                    self._handler.kafka_reachable(await self._broker_answers())
                await self._publisher.publish(await self._handler.reconcile())

    async def _catch_up(self) -> None:
        partitions = sorted(self._consumer.assignment(), key=lambda tp: (tp.topic, tp.partition))
        if not partitions:
            return
        started = time.monotonic()
        ends = await self._consumer.end_offsets(partitions)
        # Ungrouped, nothing is owed for past events: reconcile derives every output from the state.
        committed = (
            {tp: (await self._consumer.committed(tp)) or 0 for tp in partitions} if self._grouped else dict(ends)
        )
        await self._consumer.seek_to_beginning(*partitions)
        pending: list[Event] = []
        replayed = 0
        remaining = {tp for tp in partitions if ends[tp] > 0}
        while remaining:
            batches = await self._consumer.getmany(*remaining, timeout_ms=500, max_records=2000)
            for tp, messages in batches.items():
                for message in messages:
                    if message.offset >= ends[tp]:
                        break
                    event = self._decode(message.value, tp, message.offset)
                    if event is None:
                        continue
                    self._handler.apply(event)
                    replayed += 1
                    if message.offset >= committed[tp]:
                        pending.append(event)
            for tp in list(remaining):
                if await self._consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
        # Anything read past the snapshot is read again as live traffic.
        for tp in partitions:
            self._consumer.seek(tp, ends[tp])
        outbox = self._publisher.outbox()
        for event in pending:
            await outbox.add(await self._handler.react(event))
        await outbox.flush()
        await self._publisher.publish(await self._handler.reconcile())
        await self._commit({tp: ends[tp] for tp in partitions if ends[tp] > 0})
        log.info(
            "%s rebuilt state from %d events (%d not yet handled) in %.2fs",
            self.name,
            replayed,
            len(pending),
            time.monotonic() - started,
        )

    async def _broker_answers(self, timeout_s: float = 1.0) -> bool:
        partitions = list(self._consumer.assignment())
        if not partitions:
            return False
        try:
            await asyncio.wait_for(self._consumer.end_offsets(partitions), timeout_s)
        except (TimeoutError, KafkaError) as exc:
            log.warning("%s: Kafka does not answer (%s)", self.name, type(exc).__name__)
            return False
        return True

    async def _commit(self, offsets: dict[TopicPartition, int]) -> None:
        if not self._grouped:
            return
        # After a rebalance some partitions may be gone; their events will be handled again by the new
        # owner, which is safe because every handler is idempotent.
        assigned = self._consumer.assignment()
        owned = {tp: offset for tp, offset in offsets.items() if tp in assigned}
        if not owned:
            return
        try:
            await self._consumer.commit(owned)
        except (CommitFailedError, IllegalStateError) as exc:
            log.warning("%s could not commit offsets (%s); the events will be seen again", self.name, exc)

    def _decode(self, value: bytes | None, tp: TopicPartition, offset: int) -> Event | None:
        try:
            return decode(value or b"")
        except ValidationError as exc:
            # A message no schema knows cannot be handled by retrying; skip it and say where it is.
            log.error("%s skipped undecodable message at %s:%d: %s", self.name, tp.topic, offset, exc)
            return None
