"""The scheduler's event handler: the Fleet, asked for decisions after each relevant event and on ticks.

It reads every partition of its topics (no consumer group share), so any number of schedulers can
run; where two assign the same attempt, the first assignment in the log wins for every reader.
"""

from __future__ import annotations

from collections.abc import Sequence

from tunestream.events.v1 import (
    Event,
    EventBase,
    LauncherHeartbeat,
    TrainingJobAttemptFailed,
    TrainingJobFinished,
    TrainingJobProposed,
    TrainingJobStopRequested,
)
from tunestream.scheduler.fleet import Fleet


class SchedulerHandler:
    replays_history = True

    def __init__(self, fleet: Fleet, tick_s: float = 0.5) -> None:
        self.fleet = fleet
        # Ticks notice silent launchers: a dead one sends nothing that would wake the handler.
        self.tick_s: float | None = tick_s

    def apply(self, event: Event) -> None:
        self.fleet.apply(event)

    async def react(self, event: Event) -> Sequence[EventBase]:
        if isinstance(
            event,
            TrainingJobProposed | TrainingJobFinished | TrainingJobAttemptFailed | TrainingJobStopRequested,
        ):
            return self.fleet.decide()
        if isinstance(event, LauncherHeartbeat):
            self.fleet.confirm(event.payload.launcher_id)
            return self.fleet.decide() if self.fleet.queue else []
        return []

    def kafka_reachable(self, ok: bool) -> None:
        """Told by the loop before every tick whether the broker answered (see Fleet.broker_reachable)."""
        self.fleet.broker_reachable(ok)

    async def reconcile(self) -> Sequence[EventBase]:
        return self.fleet.decide()
