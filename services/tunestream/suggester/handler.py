"""The suggester's event handler: folds events into per-job state and asks it for decisions."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import datetime

from tunestream.events.early import EarlyEvents
from tunestream.events.v1 import (
    DecisionInputs,
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
from tunestream.strategies.base import propose_ahead
from tunestream.suggester.state import TuningJobState
from tunestream.trials import Proposal
from tunestream.validation import InvalidTuningJob

log = logging.getLogger(__name__)
# The job's inputs the suggester counts (see DecisionInputs): the jobs topic's and the metrics topic's.
JOB_INPUTS = (TuningJobSubmitted, TuningJobStopRequested)
METRIC_INPUTS = (MetricReported, ObjectiveCollected)
DECISIONS = (TrainingJobProposed, TrainingJobStopRequested, TuningJobEnded)


class SuggesterHandler:
    replays_history = True
    # Ticks let ResourceLimits.MaxRuntimeInSeconds end a tuning job while no event arrives.
    tick_s: float | None = 1.0

    def __init__(
        self, clock: Callable[[], datetime] = utcnow, busy_hint: Callable[[str], bool | None] | None = None
    ) -> None:
        self._clock = clock
        # Replay's answer to "was the proposal computed ahead still being computed?" per tuning job
        # (None: ask the computation), in place of the clock's.
        self.busy_hint = busy_hint
        self.jobs: dict[str, TuningJobState] = {}
        # Proposals being computed ahead, per tuning job: (index, the computation).
        self._ahead: dict[str, tuple[int, asyncio.Future[Proposal | None]]] = {}
        self._early = EarlyEvents()
        # Tuning jobs whose submission could not be run (refused by this version's validation).
        self.unrunnable: set[str] = set()
        # Per tuning job: events of the jobs topic and of the metrics topic applied so far.
        self.seen: dict[str, tuple[int, int]] = {}

    def apply(self, event: Event) -> None:
        name = event.tuning_job_name
        jobs, metrics = self.seen.get(name, (0, 0))
        if isinstance(event, JOB_INPUTS):
            self.seen[name] = (jobs + 1, metrics)
        elif isinstance(event, METRIC_INPUTS):
            self.seen[name] = (jobs, metrics + 1)
        if isinstance(event, TuningJobSubmitted):
            if name in self.jobs:
                return
            try:
                p = event.payload
                self.jobs[name] = TuningJobState.create(
                    p.request, p.random_seed, p.created_at, p.warm_start, p.training_job
                )
            except InvalidTuningJob as exc:
                log.error("tuning job %s cannot be run: %s", name, exc)
                # Nothing will ever apply its other events: hold none of them.
                self.unrunnable.add(name)
                self._early.forget(name)
                return
            # Events of other topics can be read before the job's submission during a rebuild.
            for early in self._early.release(name):
                self._apply_to(self.jobs[name], early)
            return
        job = self.jobs.get(name)
        if job is None:
            if name not in self.unrunnable:
                self._early.hold(name, event)
            return
        self._apply_to(job, event)

    @staticmethod
    def _apply_to(job: TuningJobState, event: Event) -> None:
        if isinstance(event, MetricReported):
            p = event.payload
            job.metric_reported(p.training_job_name, p.metric_name, p.step, p.value, p.at)
        elif isinstance(event, TrainingJobProposed):
            job.add_proposal(event.payload.spec, event.occurred_at)
        elif isinstance(event, ObjectiveCollected):
            job.add_result(event.payload, event.occurred_at)
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
            if not job.is_objective(event.payload.training_job_name, event.payload.metric_name):
                return []
            return self.stamp(job.name, job.on_objective(event.payload.training_job_name))
        return await self._decide(job)

    async def reconcile(self) -> Sequence[EventBase]:
        outputs: list[EventBase] = []
        for job in self.jobs.values():
            if not job.ended:
                outputs.extend(await self._decide(job))
        return outputs

    async def _decide(self, job: TuningJobState) -> list[EventBase]:
        # A model-based proposal takes up to seconds: keep the event loop (and Kafka heartbeats) free.
        # Events are handled one at a time, so nothing else touches the state meanwhile; a proposal
        # computed ahead only reads the history snapshot it was given, and lands before `decide`.
        # A strategy that can fill a slot without its model does not wait for it (model_busy).
        busy = await self._settle_ahead(job)
        now = self._clock()
        outputs = await asyncio.to_thread(job.decide, now, busy)
        outputs = self.stamp(job.name, outputs, now, model_busy=busy)
        request = job.ahead_request()
        if request is not None and not busy:
            index, history = request
            self._ahead[job.name] = (
                index,
                asyncio.ensure_future(asyncio.to_thread(propose_ahead, job.strategy, index, history)),
            )
        return outputs

    async def _settle_ahead(self, job: TuningJobState) -> bool:
        """Land the proposal computed ahead, waiting for it unless the strategy can do without
        (then True while it is still being computed). Replay says instead what the live suggester
        found (`busy_hint`), since that depended on the clock."""
        pending = self._ahead.get(job.name)
        if pending is None:
            return False
        index, computation = pending
        if job.proposes_while_busy:
            hint = self.busy_hint(job.name) if self.busy_hint is not None else None
            busy = not computation.done() if hint is None else hint
            if busy:
                return True
        del self._ahead[job.name]
        if computation.cancelled():  # its event loop was shut down (a stopping service)
            return False
        try:
            prepared = await computation
        except Exception:  # the proposal is then computed when due, as without proposing ahead
            log.exception("tuning job %s: proposing training job %d ahead failed", job.name, index)
            return False
        if prepared is not None:
            job.land_ahead(index, prepared)
        return False

    def stamp(
        self, name: str, outputs: Sequence[EventBase], now: datetime | None = None, model_busy: bool = False
    ) -> list[EventBase]:
        """Record on each decision what it saw (DecisionInputs) and, for `decide`, the `now` it was
        given (as occurred_at) and whether the proposal computed ahead was ready: all that
        `tunestream replay` needs to re-derive it."""
        jobs, metrics = self.seen.get(name, (0, 0))
        inputs = DecisionInputs(jobs=jobs, metrics=metrics, model_busy=model_busy)
        stamped: list[EventBase] = []
        for e in outputs:
            if isinstance(e, DECISIONS):
                update: dict[str, object] = {"payload": e.payload.model_copy(update={"inputs": inputs})}
                if now is not None:
                    update["occurred_at"] = now
                e = e.model_copy(update=update)
            stamped.append(e)
        return stamped
