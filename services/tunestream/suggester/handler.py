"""The suggester's event handler: folds events into per-job state and asks it for decisions."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import datetime

from tunestream.events.v1 import (
    Event,
    EventBase,
    MetricReported,
    ObjectiveCollected,
    TrainingJobAssigned,
    TrainingJobProposed,
    TrainingJobStopRequested,
    TuningJobEnded,
    TuningJobStopRequested,
    TuningJobSubmitted,
    utcnow,
)
from tunestream.suggester.state import TuningJobState
from tunestream.validation import InvalidTuningJob

log = logging.getLogger(__name__)


class SuggesterHandler:
    replays_history = True
    # Ticks let ResourceLimits.MaxRuntimeInSeconds end a tuning job while no event arrives.
    tick_s: float | None = 1.0

    def __init__(self, clock: Callable[[], datetime] = utcnow) -> None:
        self._clock = clock
        self.jobs: dict[str, TuningJobState] = {}
        self._early: dict[str, list[Event]] = {}

    def apply(self, event: Event) -> None:
        name = event.tuning_job_name
        if isinstance(event, TuningJobSubmitted):
            if name in self.jobs:
                return
            try:
                p = event.payload
                self.jobs[name] = TuningJobState.create(p.request, p.random_seed, p.created_at, p.warm_start)
            except InvalidTuningJob as exc:
                log.error("tuning job %s cannot be run: %s", name, exc)
                return
            # Events of other topics can be read before the job's submission during a rebuild.
            for early in self._early.pop(name, []):
                self._apply_to(self.jobs[name], early)
            return
        job = self.jobs.get(name)
        if job is None:
            self._early.setdefault(name, []).append(event)
            return
        self._apply_to(job, event)

    @staticmethod
    def _apply_to(job: TuningJobState, event: Event) -> None:
        if isinstance(event, MetricReported):
            if event.payload.metric_name == job.objective_metric:
                job.add_metric(event.payload.training_job_name, event.payload.step, event.payload.value)
        elif isinstance(event, TrainingJobProposed):
            job.proposals.setdefault(event.payload.spec.index, event.payload.spec)
        elif isinstance(event, ObjectiveCollected):
            job.results.setdefault(event.payload.training_job_name, event.payload)
        elif isinstance(event, TuningJobStopRequested):
            if job.stop_requested is None:
                job.stop_requested = event.payload.reason
        elif isinstance(event, TrainingJobStopRequested):
            job.stops_sent.add(event.payload.training_job_name)
        elif isinstance(event, TuningJobEnded):
            job.ended = True

    async def react(self, event: Event) -> Sequence[EventBase]:
        job = self.jobs.get(event.tuning_job_name)
        if job is None:
            return []
        if isinstance(event, TrainingJobAssigned):  # placement is the scheduler's; it frees no slot
            return []
        if isinstance(event, MetricReported):
            # The most frequent event, and it frees no slot and ends nothing (results come as
            # ObjectiveCollected; the time budget is checked every tick): only early stopping is owed.
            if event.payload.metric_name != job.objective_metric:
                return []
            return job.on_objective(event.payload.training_job_name)
        # A model-based proposal takes up to seconds: keep the event loop (and Kafka heartbeats) free.
        # Events are handled one at a time, so nothing else touches the state meanwhile.
        return await asyncio.to_thread(job.decide, self._clock())

    async def reconcile(self) -> Sequence[EventBase]:
        outputs: list[EventBase] = []
        for job in self.jobs.values():
            if not job.ended:
                outputs.extend(await asyncio.to_thread(job.decide, self._clock()))
        return outputs
