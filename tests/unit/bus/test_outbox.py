"""Outbox: outputs of a batch sent as they come, acknowledged together, resent in order after a failure."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest
from aiokafka.errors import KafkaTimeoutError, UnsupportedVersionError

from tunestream.bus import publisher as publisher_module
from tunestream.bus.publisher import Outbox
from tunestream.events.v1 import EventBase, LauncherHeartbeat, LauncherHeartbeatData


def event(i: int) -> EventBase:
    return LauncherHeartbeat(
        event_id=f"e{i}",
        tuning_job_name="",
        payload=LauncherHeartbeatData(
            launcher_id="l", incarnation="x", backends=["process"], slots=1, gpus=[], running=[], interval_s=1.0
        ),
    )


class FakePublisher:
    """Acknowledges every send except those listed in `fail` (once each, with `error`)."""

    def __init__(self, fail: set[str] = frozenset(), error: BaseException | None = None) -> None:  # type: ignore[assignment]
        self.fail = set(fail)
        self.error = error or KafkaTimeoutError()
        self.sent: list[str] = []
        self.published: list[list[str]] = []

    async def _send_one(self, e: EventBase) -> asyncio.Future[object]:
        self.sent.append(e.event_id)
        future: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        if e.event_id in self.fail:
            self.fail.discard(e.event_id)
            future.set_exception(self.error)
        else:
            future.set_result(None)
        return future

    async def publish(self, events: Sequence[EventBase]) -> None:
        self.published.append([e.event_id for e in events])


@pytest.fixture(autouse=True)
def no_retry_delay(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(publisher_module, "RETRY_DELAYS_S", (0.0,))


async def test_sends_at_once_and_waits_once() -> None:
    fake = FakePublisher()
    outbox = Outbox(fake)  # type: ignore[arg-type]
    await outbox.add([event(1), event(2)])
    await outbox.add([])
    await outbox.add([event(3)])
    assert fake.sent == ["e1", "e2", "e3"]
    await outbox.flush()
    assert fake.published == []
    await outbox.flush()  # empty again: nothing to do


async def test_failure_resends_from_first_unacknowledged_in_order() -> None:
    fake = FakePublisher(fail={"e2"})
    outbox = Outbox(fake)  # type: ignore[arg-type]
    for i in (1, 2, 3, 4):
        await outbox.add([event(i)])
    await outbox.flush()
    assert fake.published == [["e2", "e3", "e4"]]


async def test_non_retriable_failure_raises() -> None:
    fake = FakePublisher(fail={"e1"}, error=UnsupportedVersionError())
    outbox = Outbox(fake)  # type: ignore[arg-type]
    await outbox.add([event(1)])
    with pytest.raises(UnsupportedVersionError):
        await outbox.flush()


async def test_send_error_stops_sending_and_resends_the_rest() -> None:
    class Refusing(FakePublisher):
        async def _send_one(self, e: EventBase) -> Any:
            if e.event_id == "e2":
                raise KafkaTimeoutError()
            return await super()._send_one(e)

    fake = Refusing()
    outbox = Outbox(fake)  # type: ignore[arg-type]
    for i in (1, 2, 3):
        await outbox.add([event(i)])
    assert fake.sent == ["e1"]
    await outbox.flush()
    assert fake.published == [["e2", "e3"]]
