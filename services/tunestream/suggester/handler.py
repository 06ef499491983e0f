"""The suggester's event handler: folds events into per-job state and asks it for decisions."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from tunestream.events.v1 import (
    Event,
    EventBase,
    ObjectiveCollected,
    TrainingJobProposed,
    TrainingJobStopRequested,
    TuningJobEnded,
    TuningJobStopRequested,
    TuningJobSubmitted,
)
from tunestream.suggester.state import TuningJobState
from tunestream.validation import InvalidTuningJob

log = logging.getLogger(__name__)


class SuggesterHandler:
    replays_history = True
    tick_s: float | None = None

    def __init__(self) -> None:
        self.jobs: dict[str, TuningJobState] = {}
        self._early: dict[str, list[Event]] = {}

    def apply(self, event: Event) -> None:
        name = event.tuning_job_name
        if isinstance(event, TuningJobSubmitted):
            if name in self.jobs:
                return
            try:
                self.jobs[name] = TuningJobState.create(event.payload.request, event.payload.random_seed)
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
        if isinstance(event, TrainingJobProposed):
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
        return job.decide() if job else []

    async def reconcile(self) -> Sequence[EventBase]:
        outputs: list[EventBase] = []
        for job in self.jobs.values():
            outputs.extend(job.decide())
        return outputs
