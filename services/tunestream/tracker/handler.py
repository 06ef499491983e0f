"""The tracker's event handler: one PostgreSQL transaction per fetched batch of events, each event
deduplicated by its id. A batch whose transaction fails for a reason other than PostgreSQL being away
is written again one event per transaction, so a bad event fails alone, as it did unbatched."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError, OperationalError

from tunestream.db import writes
from tunestream.events.v1 import (
    ApiCallRecorded,
    Event,
    EventBase,
    MetricReported,
    ObjectiveCollected,
    TrainingJobAssigned,
    TrainingJobAttemptFailed,
    TrainingJobFinished,
    TrainingJobProposed,
    TrainingJobStarted,
    TrainingJobStopRequested,
    TrainingOutputLogged,
    TuningJobEnded,
    TuningJobStopRequested,
    TuningJobSubmitted,
)
from tunestream.objstore.base import ObjectStore
from tunestream.objstore.outages import store_unavailable
from tunestream.training_logs import log_uri, render_log

log = logging.getLogger(__name__)
RETRY_DELAYS_S = (0.2, 0.5, 1.0, 2.0, 5.0)


def _database_away(exc: Exception) -> bool:
    """PostgreSQL restarting or unreachable (not a bug in the write): wait for it and write again."""
    return isinstance(exc, OperationalError) or (isinstance(exc, DBAPIError) and exc.connection_invalidated)


class TrackerHandler:
    # PostgreSQL holds the state; a restart resumes from the committed offsets.
    replays_history = False
    tick_s: float | None = None

    def __init__(self, engine: Engine, store: ObjectStore, bucket: str) -> None:
        self._engine = engine
        self._store = store
        self._bucket = bucket

    def apply(self, event: Event) -> None:
        pass

    async def react(self, event: Event) -> Sequence[EventBase]:
        await self._write_waiting_out_outages([event])
        return []

    async def react_batch(self, events: Sequence[Event]) -> Sequence[EventBase]:
        # A commit per event made the tracker fall behind a busy job: 8+ events per training job,
        # each a round trip and an fsync. One transaction per fetched batch writes the same rows.
        try:
            await self._write_waiting_out_outages(events)
        except Exception as exc:  # PostgreSQL or S3 being away was waited out above: this is one bad event
            # Only the error's type: SQLAlchemy's message carries the statement's parameters (user values).
            log.warning("batch of %d events failed (%s); writing them one by one", len(events), type(exc).__name__)
            for event in events:
                await self._write_waiting_out_outages([event])
        return []

    async def _write_waiting_out_outages(self, events: Sequence[Event]) -> None:
        # The events' offsets are committed only after this returns, so waiting out a PostgreSQL restart
        # here loses nothing; the transaction either committed (claim_event drops the retry) or not.
        # The S3 store is waited out the same way: a finished job's log is uploaded inside the
        # transaction, which rolls back when the upload fails and is written again, whole, later.
        failures = 0
        while True:
            try:
                await asyncio.to_thread(self.write, events)
                return
            except Exception as exc:
                if isinstance(exc, DBAPIError) and _database_away(exc):
                    away, why = "PostgreSQL", str(exc.orig or exc).splitlines()[0]
                elif store_unavailable(exc):
                    away, why = "the S3 store", type(exc).__name__
                else:
                    raise
                delay = RETRY_DELAYS_S[min(failures, len(RETRY_DELAYS_S) - 1)]
                failures += 1
                log.warning(
                    "%s unavailable writing %s (%s); retrying in %.1fs",
                    away,
                    events[0].event_id if len(events) == 1 else f"{len(events)} events",
                    why,
                    delay,
                )
                await asyncio.sleep(delay)

    async def reconcile(self) -> Sequence[EventBase]:
        return []

    def write(self, events: Sequence[Event]) -> None:
        """Writes the events in one transaction, each at most once (by its id). Replay calls this too."""
        with self._engine.begin() as conn:
            for event in events:
                if writes.claim_event(conn, event.event_id, event.occurred_at):
                    writer = _WRITERS.get(type(event))
                    if writer is not None:
                        writer(self, conn, event)

    def _tuning_job_submitted(self, conn: Connection, event: TuningJobSubmitted) -> None:
        job = event.tuning_job_name
        at = event.occurred_at
        request = event.payload.request
        writes.insert_tuning_job(
            conn,
            name=job,
            strategy=request.HyperParameterTuningJobConfig.Strategy,
            request=request.model_dump(mode="json", exclude_none=True),
            random_seed=event.payload.random_seed,
            created_at=event.payload.created_at,
            owner=event.payload.owner,
            standalone_training_job=event.payload.training_job,
            standalone_inert_members=event.payload.training_job_inert_members,
        )
        writes.mark_published(conn, job, at)

    def _api_call_recorded(self, conn: Connection, event: ApiCallRecorded) -> None:
        writes.insert_api_call(conn, event)
        # Seen on Kafka, so published, whether or not the api lived to mark it.
        writes.mark_api_calls_published(conn, [event.event_id], event.occurred_at)

    def _tuning_job_stop_requested(self, conn: Connection, event: TuningJobStopRequested) -> None:
        job = event.tuning_job_name
        at = event.occurred_at
        writes.set_tuning_job_stopping(conn, job, at)

    def _tuning_job_ended(self, conn: Connection, event: TuningJobEnded) -> None:
        job = event.tuning_job_name
        at = event.occurred_at
        details = event.payload.completion_details
        writes.end_tuning_job(
            conn,
            job,
            event.payload.status,
            event.payload.reason,
            at,
            details.model_dump(mode="json", exclude_none=True) if details else None,
        )

    def _training_job_proposed(self, conn: Connection, event: TrainingJobProposed) -> None:
        job = event.tuning_job_name
        at = event.occurred_at
        spec = event.payload.spec
        writes.record_proposal(
            conn,
            name=spec.training_job_name,
            tuning_job_name=job,
            index=spec.index,
            tuned=spec.tuned_hyperparameters,
            hyperparameters=spec.hyperparameters,
            reason=event.payload.reason,
            at=at,
            details=event.payload.details,
            definition_name=spec.definition_name,
        )

    def _training_job_stop_requested(self, conn: Connection, event: TrainingJobStopRequested) -> None:
        at = event.occurred_at
        stop = event.payload
        numbers = {"Rule": stop.rule, "Step": stop.step, "Value": stop.value, "Cutoff": stop.cutoff}
        writes.record_stop_requested(
            conn,
            stop.training_job_name,
            stop.reason,
            {k: v for k, v in numbers.items() if v is not None} or None,
            at,
        )

    def _training_job_assigned(self, conn: Connection, event: TrainingJobAssigned) -> None:
        job = event.tuning_job_name
        at = event.occurred_at
        assigned = event.payload
        writes.record_assigned(
            conn,
            name=assigned.training_job_name,
            tuning_job_name=job,
            launcher_id=assigned.launcher_id,
            gpus=assigned.gpus,
            at=at,
        )

    def _training_job_attempt_failed(self, conn: Connection, event: TrainingJobAttemptFailed) -> None:
        job = event.tuning_job_name
        at = event.occurred_at
        lost = event.payload
        writes.record_attempt_failed(
            conn,
            name=lost.training_job_name,
            tuning_job_name=job,
            attempt=lost.attempt,
            launcher_id=lost.launcher_id,
            reason=lost.reason,
            at=at,
        )

    def _training_job_started(self, conn: Connection, event: TrainingJobStarted) -> None:
        job = event.tuning_job_name
        at = event.occurred_at
        started = event.payload
        writes.record_started(
            conn,
            name=started.training_job_name,
            tuning_job_name=job,
            launcher_id=started.launcher_id,
            pid=started.pid,
            at=at,
            attempt=started.attempt,
        )

    def _training_output_logged(self, conn: Connection, event: TrainingOutputLogged) -> None:
        logged = event.payload
        writes.record_log_batch(
            conn,
            name=logged.training_job_name,
            seq=logged.seq,
            first_line=logged.first_line,
            lines=[line.model_dump(mode="json", exclude_none=True) for line in logged.lines],
        )

    def _training_job_finished(self, conn: Connection, event: TrainingJobFinished) -> None:
        job = event.tuning_job_name
        at = event.occurred_at
        done = event.payload
        uri = log_uri(self._bucket, job, done.training_job_name)
        # Batches precede Finished in the same partition, so the log is complete here.
        self._store.put_bytes(uri, render_log(writes.log_lines_of(conn, done.training_job_name)), "text/plain")
        writes.record_finished(
            conn,
            name=done.training_job_name,
            tuning_job_name=job,
            status=done.status.value,
            secondary_status=done.secondary_status,
            exit_code=done.exit_code,
            failure_reason=done.failure_reason,
            model_artifact_s3_uri=done.model_artifact_s3_uri,
            log_s3_uri=uri,
            at=at,
            retryable=done.retryable,
        )

    def _metric_reported(self, conn: Connection, event: MetricReported) -> None:
        metric = event.payload
        writes.record_metric(
            conn,
            name=metric.training_job_name,
            metric=metric.metric_name,
            step=metric.step,
            value=metric.value,
            at=metric.at,
        )

    def _objective_collected(self, conn: Connection, event: ObjectiveCollected) -> None:
        job = event.tuning_job_name
        at = event.occurred_at
        objective = event.payload
        writes.record_objective(
            conn,
            name=objective.training_job_name,
            tuning_job_name=job,
            objective_status=objective.objective_status.value,
            value=objective.objective_value,
            reason=objective.objective_reason,
            at=at,
        )


# Each event type and the method that writes it; events of other types are claimed and not written.
_WRITERS: dict[type[EventBase], Callable[[TrackerHandler, Connection, Any], None]] = {
    TuningJobSubmitted: TrackerHandler._tuning_job_submitted,
    TuningJobStopRequested: TrackerHandler._tuning_job_stop_requested,
    ApiCallRecorded: TrackerHandler._api_call_recorded,
    TuningJobEnded: TrackerHandler._tuning_job_ended,
    TrainingJobProposed: TrackerHandler._training_job_proposed,
    TrainingJobStopRequested: TrackerHandler._training_job_stop_requested,
    TrainingJobAssigned: TrackerHandler._training_job_assigned,
    TrainingJobAttemptFailed: TrackerHandler._training_job_attempt_failed,
    TrainingJobStarted: TrackerHandler._training_job_started,
    TrainingOutputLogged: TrackerHandler._training_output_logged,
    TrainingJobFinished: TrackerHandler._training_job_finished,
    MetricReported: TrackerHandler._metric_reported,
    ObjectiveCollected: TrackerHandler._objective_collected,
}
