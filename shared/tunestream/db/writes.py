"""Writes of the read model. Each function is idempotent: replaying an event changes nothing.

Events of one tuning job arrive on several topics, so their relative order is not guaranteed:
rows are upserted from whichever event comes first, and a finished training job never moves back
to InProgress.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, case, cast, delete, func, literal, select, update
from sqlalchemy.dialects.postgresql import JSONB, insert

from tunestream.db.tables import (
    api_calls,
    log_batches,
    metric_points,
    processed_events,
    resource_tags,
    training_jobs,
    tuning_jobs,
)
from tunestream.events.v1 import ApiCallRecorded
from tunestream.naming import training_job_arn, tuning_job_arn
from tunestream.trials import TERMINAL_STATUSES, better


def claim_event(conn: Connection, event_id: str, at: datetime) -> bool:
    """Record an event as processed; False when it was processed before (then do nothing)."""
    inserted = conn.execute(
        insert(processed_events)
        .values(event_id=event_id, processed_at=at)
        .on_conflict_do_nothing()
        .returning(processed_events.c.event_id)
    ).scalar()
    return inserted is not None


def insert_tuning_job(
    conn: Connection,
    *,
    name: str,
    strategy: str,
    request: dict[str, Any],
    random_seed: int,
    created_at: datetime,
    owner: str | None = None,
    outbox_topic_prefix: str | None = None,
    standalone_training_job: str | None = None,
    standalone_inert_members: list[str] | None = None,
) -> bool:
    """Insert a new tuning job row; False when the name is taken. The api that stores a job it has
    yet to publish names its topic prefix, so that only its outbox sends it. The carrier of a
    training job created alone (standalone_training_job) comes with that training job's row, so that
    DescribeTrainingJob answers as soon as CreateTrainingJob has, and the request's tags are its."""
    inserted = conn.execute(
        insert(tuning_jobs)
        .values(
            name=name,
            arn=tuning_job_arn(name),
            status="InProgress",
            strategy=strategy,
            request=request,
            random_seed=random_seed,
            created_at=created_at,
            last_modified_at=created_at,
            owner=owner,
            outbox_topic_prefix=outbox_topic_prefix,
            standalone_training_job=standalone_training_job,
            standalone_inert_members=standalone_inert_members if standalone_training_job else None,
        )
        .on_conflict_do_nothing()
        .returning(tuning_jobs.c.name)
    ).scalar()
    if inserted is None:
        return False
    arn = tuning_job_arn(name)
    if standalone_training_job is not None:
        arn = training_job_arn(standalone_training_job)
        static = request["TrainingJobDefinition"].get("StaticHyperParameters") or {}
        fields = {"hyperparameters": static, "tuned_hyperparameters": {}}
        _upsert_training_job(conn, standalone_training_job, name, created_at, fields, index=0)
    if request.get("Tags"):
        put_tags(conn, arn, request["Tags"])
    return True


def put_tags(conn: Connection, arn: str, tags: list[dict[str, str]]) -> None:
    """Adds tags to a resource; a key it already has takes the new value (as AddTags does)."""
    for tag in tags:
        statement = insert(resource_tags).values(resource_arn=arn, key=tag["Key"], value=tag.get("Value", ""))
        conn.execute(
            statement.on_conflict_do_update(
                index_elements=["resource_arn", "key"], set_={"value": tag.get("Value", "")}
            )
        )


def delete_tags(conn: Connection, arn: str, keys: list[str]) -> None:
    conn.execute(delete(resource_tags).where(resource_tags.c.resource_arn == arn, resource_tags.c.key.in_(keys)))


def delete_tuning_job(conn: Connection, name: str, at: datetime) -> bool:
    """Soft-delete a tuning job that has ended; False when no ended, undeleted job has that name.

    The row stays (deleted_at set): the name keys the job's events in Kafka, so it is never reused,
    and its training jobs stay describable, as in SageMaker. Late events still update the row.
    """
    deleted = conn.execute(
        update(tuning_jobs)
        .where(
            and_(
                tuning_jobs.c.name == name,
                tuning_jobs.c.status.in_(TERMINAL_STATUSES),
                tuning_jobs.c.deleted_at.is_(None),
            )
        )
        .values(deleted_at=at)
        .returning(tuning_jobs.c.name)
    ).scalar()
    return deleted is not None


def insert_api_call(conn: Connection, event: ApiCallRecorded, outbox_topic_prefix: str | None = None) -> None:
    """One audited api call: the api's own write, or the tracker's from the event, whichever comes first."""
    conn.execute(
        insert(api_calls)
        .values(
            event_id=event.event_id,
            tuning_job_name=event.tuning_job_name,
            at=event.occurred_at,
            outbox_topic_prefix=outbox_topic_prefix,
            **event.payload.model_dump(),
        )
        .on_conflict_do_nothing()
    )


def mark_api_calls_published(conn: Connection, event_ids: list[str], at: datetime) -> None:
    conn.execute(update(api_calls).where(api_calls.c.event_id.in_(event_ids)).values(published_at=at))


def mark_published(conn: Connection, name: str, at: datetime) -> None:
    conn.execute(update(tuning_jobs).where(tuning_jobs.c.name == name).values(published_at=at))


def set_tuning_job_stopping(conn: Connection, name: str, at: datetime) -> None:
    conn.execute(
        update(tuning_jobs)
        .where(and_(tuning_jobs.c.name == name, tuning_jobs.c.status == "InProgress"))
        .values(status="Stopping", last_modified_at=func.greatest(tuning_jobs.c.last_modified_at, at))
    )


def end_tuning_job(
    conn: Connection, name: str, status: str, reason: str, at: datetime, details: dict[str, Any] | None = None
) -> None:
    """Record the suggester's end of a tuning job; it shows once every training job's result is in.

    The suggester ends a tuning job after it saw every training job's ObjectiveCollected, but the
    tracker reads that topic independently of the one TuningJobEnded is on, so results may still be
    on their way: showing Completed before them would show a best training job that is not final.
    """
    conn.execute(
        update(tuning_jobs)
        .where(tuning_jobs.c.name == name)
        .values(end_status=status, end_reason=reason, end_details=details, end_at=at)
    )
    settle_end(conn, name)


def settle_end(conn: Connection, name: str) -> None:
    row = conn.execute(
        select(
            tuning_jobs.c.end_status, tuning_jobs.c.end_reason, tuning_jobs.c.end_details, tuning_jobs.c.end_at
        ).where(
            and_(
                tuning_jobs.c.name == name,
                tuning_jobs.c.end_status.is_not(None),
                tuning_jobs.c.status.not_in(TERMINAL_STATUSES),
            )
        )
    ).first()
    if row is None:
        return
    unsettled = conn.execute(
        select(func.count())
        .select_from(training_jobs)
        .where(
            and_(
                training_jobs.c.tuning_job_name == name,
                (training_jobs.c.objective_status == "Pending") | training_jobs.c.status.not_in(TERMINAL_STATUSES),
            )
        )
    ).scalar()
    if unsettled:
        return
    status, reason, details, at = row
    conn.execute(
        update(tuning_jobs)
        .where(tuning_jobs.c.name == name)
        .values(
            status=status,
            ended_at=at,
            last_modified_at=at,
            completion_reason=reason,
            failure_reason=reason if status == "Failed" else None,
            completion_details=details,
        )
    )


def _training_job_defaults(name: str, tuning_job_name: str, index: int, at: datetime) -> dict[str, Any]:
    return {
        "name": name,
        "tuning_job_name": tuning_job_name,
        "index": index,
        "arn": training_job_arn(name),
        "status": "InProgress",
        "secondary_status": "Starting",
        "objective_status": "Pending",
        "created_at": at,
        "last_modified_at": at,
    }


def _upsert_training_job(
    conn: Connection,
    name: str,
    tuning_job_name: str,
    at: datetime,
    fields: dict[str, Any],
    *,
    index: int | None = None,
    on_update: dict[str, Any] | None = None,
) -> None:
    """Insert the row with `fields`, or set `fields` (and `on_update`, which may use SQL) on the row
    another event created first."""
    values = _training_job_defaults(
        name, tuning_job_name, _training_job_index(name, tuning_job_name) if index is None else index, at
    )
    values.update(fields)
    stmt = insert(training_jobs).values(**values)
    changes: dict[str, Any] = {k: stmt.excluded[k] for k in fields}
    # Never backwards: events of several topics arrive in any order, the row shows the newest.
    changes["last_modified_at"] = func.greatest(training_jobs.c.last_modified_at, stmt.excluded.last_modified_at)
    changes.update(on_update or {})
    conn.execute(stmt.on_conflict_do_update(index_elements=[training_jobs.c.name], set_=changes))


def record_proposal(
    conn: Connection,
    *,
    name: str,
    tuning_job_name: str,
    index: int,
    tuned: dict[str, str],
    hyperparameters: dict[str, str],
    reason: str,
    at: datetime,
    details: dict[str, Any] | None = None,
    definition_name: str | None = None,
) -> None:
    _upsert_training_job(
        conn,
        name,
        tuning_job_name,
        at,
        {
            "definition_name": definition_name,
            "tuned_hyperparameters": tuned,
            "hyperparameters": hyperparameters,
            "proposal_reason": reason,
            "proposal_details": details or {},
        },
        index=index,
        # A later event may have created the row first; the proposal is what created the training job.
        on_update={
            "created_at": func.least(training_jobs.c.created_at, at),
            "last_modified_at": func.greatest(training_jobs.c.last_modified_at, at),
        },
    )


def _training_job_index(name: str, tuning_job_name: str) -> int:
    # <tuning job>-<NNN>-<hash>: the number is 1-based. A training job created alone is its carrier's only one.
    number = name.removeprefix(f"{tuning_job_name}-").split("-", 1)[0]
    return int(number) - 1 if name.startswith(f"{tuning_job_name}-") and number.isdigit() else 0


def record_stop_requested(
    conn: Connection, name: str, reason: str, details: dict[str, Any] | None, at: datetime
) -> None:
    # The row changes (its stop reason) whatever its status, so its time moves too; never backwards
    # (as _upsert_training_job). Bumping the time only while InProgress made it depend on whether the
    # job's end was written first: the live tracker and a replay, which reads the topics in another
    # order, then disagreed on last_modified_at.
    conn.execute(
        update(training_jobs)
        .where(training_jobs.c.name == name)
        .values(
            stop_reason=reason,
            stop_details=details,
            last_modified_at=func.greatest(training_jobs.c.last_modified_at, at),
        )
    )
    conn.execute(
        update(training_jobs)
        .where(and_(training_jobs.c.name == name, training_jobs.c.status == "InProgress"))
        .values(status="Stopping", secondary_status="Stopping")
    )


def record_assigned(
    conn: Connection, *, name: str, tuning_job_name: str, launcher_id: str, gpus: list[str], at: datetime
) -> None:
    _upsert_training_job(conn, name, tuning_job_name, at, {"launcher_id": launcher_id, "gpus": gpus})


def record_attempt_failed(
    conn: Connection, *, name: str, tuning_job_name: str, attempt: int, launcher_id: str, reason: str, at: datetime
) -> None:
    """An attempt lost to tunestream's fault; SageMaker shows a retried job as Starting again."""
    entry = {"Attempt": attempt + 1, "LauncherId": launcher_id, "Reason": reason, "At": at.isoformat()}
    _upsert_training_job(
        conn,
        name,
        tuning_job_name,
        at,
        {"attempts": [entry], "secondary_status": "Starting"},
        on_update={
            "attempts": training_jobs.c.attempts.op("||")(cast(literal(json.dumps([entry])), JSONB)),
            "secondary_status": case(
                (training_jobs.c.status.in_(TERMINAL_STATUSES), training_jobs.c.secondary_status), else_="Starting"
            ),
        },
    )


def record_started(
    conn: Connection, *, name: str, tuning_job_name: str, launcher_id: str, pid: int, at: datetime, attempt: int = 0
) -> None:
    entry = {"Attempt": attempt + 1, "At": at.isoformat()}
    _upsert_training_job(
        conn,
        name,
        tuning_job_name,
        at,
        {
            "started_at": at,
            "launcher_id": launcher_id,
            "pid": pid,
            "secondary_status": "Training",
            "attempt_starts": [entry],
        },
        on_update={
            "secondary_status": case(
                (training_jobs.c.status.in_(TERMINAL_STATUSES), training_jobs.c.secondary_status), else_="Training"
            ),
            "attempt_starts": training_jobs.c.attempt_starts.op("||")(cast(literal(json.dumps([entry])), JSONB)),
        },
    )


def record_log_batch(conn: Connection, *, name: str, seq: int, first_line: int, lines: list[dict[str, Any]]) -> None:
    conn.execute(
        insert(log_batches)
        .values(training_job_name=name, seq=seq, first_line=first_line, lines=lines)
        .on_conflict_do_nothing()
    )
    conn.execute(
        update(training_jobs)
        .where(training_jobs.c.name == name)
        .values(log_lines=func.greatest(training_jobs.c.log_lines, first_line + len(lines)))
    )


def record_finished(
    conn: Connection,
    *,
    name: str,
    tuning_job_name: str,
    status: str,
    secondary_status: str,
    exit_code: int | None,
    failure_reason: str | None,
    model_artifact_s3_uri: str | None,
    log_s3_uri: str | None,
    at: datetime,
    retryable: bool = False,
) -> None:
    _upsert_training_job(
        conn,
        name,
        tuning_job_name,
        at,
        {
            "status": status,
            "secondary_status": secondary_status,
            "exit_code": exit_code,
            "failure_reason": failure_reason,
            "model_artifact_s3_uri": model_artifact_s3_uri,
            "log_s3_uri": log_s3_uri,
            "ended_at": at,
            "retryable": retryable,
        },
    )
    settle_end(conn, tuning_job_name)


def record_metric(conn: Connection, *, name: str, metric: str, step: int, value: float, at: datetime) -> None:
    conn.execute(
        insert(metric_points)
        .values(training_job_name=name, metric_name=metric, step=step, value=value, at=at)
        .on_conflict_do_nothing()
    )


def record_objective(
    conn: Connection,
    *,
    name: str,
    tuning_job_name: str,
    objective_status: str,
    value: float | None,
    reason: str | None,
    at: datetime,
) -> None:
    _upsert_training_job(
        conn,
        name,
        tuning_job_name,
        at,
        {"objective_status": objective_status, "final_objective_value": value, "objective_reason": reason},
    )
    if objective_status == "Succeeded" and value is not None:
        _offer_best(conn, tuning_job_name, name, value)
    settle_end(conn, tuning_job_name)


def _offer_best(conn: Connection, tuning_job_name: str, name: str, value: float) -> None:
    """Make `name` the best training job if its objective beats the current best's (ties: the earlier
    training job). A training job's objective is recorded once, so comparing with the current best
    gives what a query over all of them would, without reading all of them for every objective
    (10,000 training jobs made that the tracker's largest cost)."""
    row = conn.execute(
        select(
            tuning_jobs.c.request["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"]["Type"].astext,
            training_jobs.c.final_objective_value,
            training_jobs.c.index,
        )
        .select_from(tuning_jobs.outerjoin(training_jobs, training_jobs.c.name == tuning_jobs.c.best_training_job_name))
        .where(tuning_jobs.c.name == tuning_job_name)
    ).first()
    if row is None:
        return
    objective_type, best_value, best_index = row
    if best_value is not None:
        index = conn.execute(select(training_jobs.c.index).where(training_jobs.c.name == name)).scalar_one()
        maximize = objective_type != "Minimize"
        if not (better(value, best_value, maximize) or (value == best_value and index < best_index)):
            return
    conn.execute(update(tuning_jobs).where(tuning_jobs.c.name == tuning_job_name).values(best_training_job_name=name))


def log_lines_of(conn: Connection, name: str) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(log_batches.c.lines).where(log_batches.c.training_job_name == name).order_by(log_batches.c.seq)
    )
    return [line for (lines,) in rows for line in lines]
