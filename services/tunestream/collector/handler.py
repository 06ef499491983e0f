"""The collector's event handler.

State per training job: its extractor (counts and last values) and which log batches were seen.
Metric events are derived while applying a batch, so a replayed batch yields the same events with
the same ids; `react` publishes them only for batches handled live or not yet handled.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from tunestream.events import ids
from tunestream.events.v1 import (
    Event,
    EventBase,
    MetricReported,
    MetricReportedData,
    ObjectiveCollected,
    ObjectiveCollectedData,
    TrainingJobFinished,
    TrainingJobStarted,
    TrainingOutputLogged,
)
from tunestream.metric_values import MetricExtractor
from tunestream.trials import ObjectiveStatus, TrainingJobStatus


@dataclass
class _TrainingJob:
    tuning_job_name: str
    objective_metric_name: str
    extractor: MetricExtractor
    batches: dict[int, list[MetricReported]] = field(default_factory=dict)
    attempt: int = 0


class CollectorHandler:
    replays_history = True
    tick_s: float | None = None

    def __init__(self) -> None:
        self.jobs: dict[str, _TrainingJob] = {}

    def apply(self, event: Event) -> None:
        if isinstance(event, TrainingJobStarted):
            p = event.payload
            started = self.jobs.setdefault(
                p.training_job_name,
                _TrainingJob(
                    event.tuning_job_name,
                    p.objective_metric_name,
                    MetricExtractor(list(p.metric_definitions), step_offset=p.step_offset),
                    attempt=p.attempt,
                ),
            )
            if p.attempt > started.attempt:
                # A retried attempt runs the program again: its values count from where the launcher
                # says its start is (the resumed job's offset, or the step of a checkpoint of its own
                # that it restored), so values it repeats keep their steps (and ids) and a resource
                # limit is judged on the steps the program really reached.
                started.attempt = p.attempt
                started.extractor.counts.clear()
                started.extractor.step_offset = p.step_offset
        elif isinstance(event, TrainingOutputLogged):
            job = self.jobs.get(event.payload.training_job_name)
            if job is None or event.payload.seq in job.batches:
                return
            reported = []
            for line in event.payload.lines:
                for m in job.extractor.feed(line.text):
                    reported.append(
                        MetricReported(
                            event_id=ids.metric(event.payload.training_job_name, m.metric_name, m.step),
                            tuning_job_name=event.tuning_job_name,
                            payload=MetricReportedData(
                                training_job_name=event.payload.training_job_name,
                                metric_name=m.metric_name,
                                value=m.value,
                                step=m.step,
                                at=line.at,
                            ),
                        )
                    )
            job.batches[event.payload.seq] = reported

    async def react(self, event: Event) -> Sequence[EventBase]:
        if isinstance(event, TrainingOutputLogged):
            job = self.jobs.get(event.payload.training_job_name)
            return job.batches.get(event.payload.seq, []) if job else []
        if isinstance(event, TrainingJobFinished):
            objective = self._objective(event)
            job = self.jobs.get(event.payload.training_job_name)
            if job is not None:
                # Every batch before Finished has been reacted to; keep only which seqs were seen.
                job.batches = {seq: [] for seq in job.batches}
            return [objective]
        return []

    async def reconcile(self) -> Sequence[EventBase]:
        return []

    def _objective(self, event: TrainingJobFinished) -> ObjectiveCollected:
        p = event.payload
        job = self.jobs.get(p.training_job_name)
        value = job.extractor.last.get(job.objective_metric_name) if job else None
        bad = job.extractor.non_finite.get(job.objective_metric_name) if job else None
        if job is not None and not job.objective_metric_name:
            # A training job created alone (CreateTrainingJob): its metrics are all there is.
            value, status, reason = None, ObjectiveStatus.FAILED, "a training job created alone has no objective"
        elif bad is not None:  # a NaN/inf objective is a failed objective (SageMaker's rule), never the best
            assert job is not None
            value, status = None, ObjectiveStatus.FAILED
            reason = f"the objective metric {job.objective_metric_name!r} was not a finite number: {bad!r}"
        elif value is not None:
            status, reason = ObjectiveStatus.SUCCEEDED, None
        elif job is not None and job.objective_metric_name in job.extractor.unsupported:
            status = ObjectiveStatus.FAILED
            reason = (
                f"the objective metric {job.objective_metric_name!r} has a Regex RE2 cannot run "
                f"({job.extractor.unsupported[job.objective_metric_name]!r}); it was accepted before tunestream "
                "refused such regexes and is never matched"
            )
        elif p.status == TrainingJobStatus.COMPLETED:
            name = job.objective_metric_name if job else "objective"
            status = ObjectiveStatus.FAILED
            reason = (
                f"training job completed without printing the objective metric {name!r} "
                "(no output line matched its Regex)"
            )
        else:
            status, reason = (
                ObjectiveStatus.FAILED,
                f"training job {p.status.value.lower()} before reporting the objective",
            )
        return ObjectiveCollected(
            event_id=ids.objective(p.training_job_name),
            tuning_job_name=event.tuning_job_name,
            payload=ObjectiveCollectedData(
                training_job_name=p.training_job_name,
                status=p.status,
                failure_reason=p.failure_reason,
                objective_value=value,
                objective_status=status,
                objective_reason=reason,
            ),
        )
