"""The scheduler's handler: which events wake the fleet's decisions, and what a tick and the broker
probe do. The decisions themselves are test_fleet.py's."""

from __future__ import annotations

import asyncio

from tests.unit.scheduler.test_fleet import Clock, beat, finished, proposed, spec
from tunestream.events.v1 import TrainingJobAssigned, TrainingJobAttemptFailed
from tunestream.scheduler.fleet import Fleet
from tunestream.scheduler.handler import SchedulerHandler


def handler() -> tuple[SchedulerHandler, Clock]:
    clock = Clock()
    return SchedulerHandler(Fleet(heartbeat_timeout_s=10, unplaceable_after_s=60, clock=clock), tick_s=0.5), clock


def step(h: SchedulerHandler, event: object) -> list[object]:
    h.apply(event)  # type: ignore[arg-type]
    return list(asyncio.run(h.react(event)))  # type: ignore[arg-type]


def test_a_proposal_is_placed_once_a_launcher_is_heard() -> None:
    h, _ = handler()
    assert step(h, proposed(spec(0))) == []  # nobody to run it yet
    (assigned,) = step(h, beat("l1"))
    assert isinstance(assigned, TrainingJobAssigned)
    assert assigned.payload.training_job_name == "tj-000" and assigned.payload.launcher_id == "l1"
    # The assignment read back changes nothing; a heartbeat with nothing queued decides nothing.
    assert step(h, assigned) == []
    assert step(h, finished("tj-000")) == []
    assert step(h, beat("l1")) == []


def test_the_broker_probe_reaches_the_fleet_before_its_ticks() -> None:
    h, clock = handler()
    h.kafka_reachable(True)
    step(h, beat("l1"))
    (assigned,) = step(h, proposed(spec(0)))
    h.apply(assigned)
    clock.now += 60
    h.kafka_reachable(False)  # the broker is away: the launcher's silence proves nothing
    assert asyncio.run(h.reconcile()) == []
    h.kafka_reachable(True)  # back: a full timeout for the launcher's buffered heartbeats first
    assert asyncio.run(h.reconcile()) == []
    out = []
    for _ in range(12):  # ticks as the loop runs them: a probe, then decisions
        clock.now += 1
        h.kafka_reachable(True)
        out += asyncio.run(h.reconcile())
    (lost,) = [e for e in out if isinstance(e, TrainingJobAttemptFailed)]
    assert lost.payload.training_job_name == "tj-000" and lost.payload.launcher_id == "l1"
