"""Queries of the read model, used by the api."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Connection, Select, Table, and_, case, func, or_, select

from tunestream.db.tables import api_calls, metric_points, resource_tags, training_jobs, tuning_jobs

TrainingJobSort = Literal["Name", "CreationTime", "Status", "FinalObjectiveMetricValue"]
TuningJobSort = Literal["Name", "CreationTime", "Status"]
Order = Literal["Ascending", "Descending"]


def get_tuning_job(conn: Connection, name: str, *, include_deleted: bool = False) -> dict[str, Any] | None:
    """A tuning job's row; a deleted one (DeleteHyperParameterTuningJob) only with include_deleted."""
    query = select(tuning_jobs).where(tuning_jobs.c.name == name)
    if not include_deleted:
        query = query.where(tuning_jobs.c.deleted_at.is_(None))
    row = conn.execute(query).mappings().first()
    return dict(row) if row else None


@dataclass(frozen=True)
class Listing:
    """A List* call's filters, sort and page, as ListHyperParameterTuningJobs and ListTrainingJobs
    share them; the time filters are strict (SageMaker's "after", "before"). `owner`: only that
    principal's tuning jobs (None: everyone's)."""

    sort_by: TuningJobSort
    order: Order
    offset: int
    limit: int
    status: str | None = None
    name_contains: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    modified_after: datetime | None = None
    modified_before: datetime | None = None
    owner: str | None = None


def _listed(query: Select[Any], table: Table, listing: Listing) -> Select[Any]:
    """`query` filtered, ordered (ties by name) and paged as `listing` says, on a table with name,
    status, created_at and last_modified_at."""
    if listing.status:
        query = query.where(table.c.status == listing.status)
    if listing.name_contains:
        query = query.where(table.c.name.contains(listing.name_contains, autoescape=True))
    for column, bound, after in (
        (table.c.created_at, listing.created_after, True),
        (table.c.created_at, listing.created_before, False),
        (table.c.last_modified_at, listing.modified_after, True),
        (table.c.last_modified_at, listing.modified_before, False),
    ):
        if bound is not None:
            query = query.where(column > bound if after else column < bound)
    column = {"Name": table.c.name, "CreationTime": table.c.created_at, "Status": table.c.status}[listing.sort_by]
    query = query.order_by(column.asc() if listing.order == "Ascending" else column.desc(), table.c.name.asc())
    return query.offset(listing.offset).limit(listing.limit)


def list_tuning_jobs(conn: Connection, listing: Listing) -> list[dict[str, Any]]:
    """Tuning jobs that are not deleted (and not the carriers of training jobs created alone)."""
    query = select(tuning_jobs).where(
        tuning_jobs.c.deleted_at.is_(None), tuning_jobs.c.standalone_training_job.is_(None)
    )
    if listing.owner is not None:
        query = query.where(tuning_jobs.c.owner == listing.owner)
    return [dict(r) for r in conn.execute(_listed(query, tuning_jobs, listing)).mappings()]


def training_job_status_counts(conn: Connection, tuning_job_name: str) -> dict[str, int]:
    """Counts by status; a Failed job that tunestream's fault ended counts as "FailedRetryable"."""
    status = case(
        (and_(training_jobs.c.status == "Failed", training_jobs.c.retryable), "FailedRetryable"),
        else_=training_jobs.c.status,
    )
    rows = conn.execute(
        select(status, func.count()).where(training_jobs.c.tuning_job_name == tuning_job_name).group_by(status)
    )
    return {status: count for status, count in rows}


def objective_status_counts(conn: Connection, tuning_job_name: str) -> dict[str, int]:
    rows = conn.execute(
        select(training_jobs.c.objective_status, func.count())
        .where(training_jobs.c.tuning_job_name == tuning_job_name)
        .group_by(training_jobs.c.objective_status)
    )
    return {status: count for status, count in rows}


def status_counts_of(conn: Connection, tuning_job_names: list[str]) -> dict[str, tuple[dict[str, int], dict[str, int]]]:
    """Training job and objective status counts of several tuning jobs in one query (list pages)."""
    status = case(
        (and_(training_jobs.c.status == "Failed", training_jobs.c.retryable), "FailedRetryable"),
        else_=training_jobs.c.status,
    )
    found: dict[str, tuple[dict[str, int], dict[str, int]]] = {name: ({}, {}) for name in tuning_job_names}
    if not tuning_job_names:
        return found
    rows = conn.execute(
        select(training_jobs.c.tuning_job_name, status, training_jobs.c.objective_status, func.count())
        .where(training_jobs.c.tuning_job_name.in_(tuning_job_names))
        .group_by(training_jobs.c.tuning_job_name, status, training_jobs.c.objective_status)
    )
    for name, job_status, objective_status, count in rows:
        counts, objectives = found[name]
        counts[job_status] = counts.get(job_status, 0) + count
        objectives[objective_status] = objectives.get(objective_status, 0) + count
    return found


def list_training_jobs(
    conn: Connection,
    tuning_job_name: str,
    *,
    status: str | None,
    sort_by: TrainingJobSort,
    order: Order,
    offset: int,
    limit: int,
    with_objective_only: bool = False,
) -> list[dict[str, Any]]:
    """with_objective_only: leave out training jobs without a final objective value (SageMaker's
    rule when sorting by FinalObjectiveMetricValue)."""
    column = {
        "Name": training_jobs.c.name,
        "CreationTime": training_jobs.c.created_at,
        "Status": training_jobs.c.status,
        "FinalObjectiveMetricValue": training_jobs.c.final_objective_value,
    }[sort_by]
    # Training jobs without an objective sort last in either order, as SageMaker lists them.
    ordering = column.asc().nulls_last() if order == "Ascending" else column.desc().nulls_last()
    query = select(training_jobs).where(training_jobs.c.tuning_job_name == tuning_job_name)
    if status:
        query = query.where(training_jobs.c.status == status)
    if with_objective_only:
        query = query.where(training_jobs.c.final_objective_value.is_not(None))
    query = query.order_by(ordering, training_jobs.c.index.asc()).offset(offset).limit(limit)
    return [dict(r) for r in conn.execute(query).mappings()]


def list_all_training_jobs(conn: Connection, listing: Listing) -> list[dict[str, Any]]:
    """ListTrainingJobs: every training job, of every tuning job (a deleted one's too, as SageMaker
    keeps them)."""
    query = select(training_jobs)
    if listing.owner is not None:
        owned = select(tuning_jobs.c.name).where(tuning_jobs.c.owner == listing.owner)
        query = query.where(training_jobs.c.tuning_job_name.in_(owned))
    return [dict(r) for r in conn.execute(_listed(query, training_jobs, listing)).mappings()]


def list_tags(conn: Connection, arn: str, *, offset: int, limit: int) -> list[dict[str, str]]:
    rows = conn.execute(
        select(resource_tags.c.key, resource_tags.c.value)
        .where(resource_tags.c.resource_arn == arn)
        .order_by(resource_tags.c.key)
        .offset(offset)
        .limit(limit)
    )
    return [{"Key": key, "Value": value} for key, value in rows]


def count_tags(conn: Connection, arn: str) -> int:
    return int(conn.execute(select(func.count()).where(resource_tags.c.resource_arn == arn)).scalar_one())


def resource_of_arn(conn: Connection, arn: str) -> tuple[str, str] | None:
    """("tuning job" or "training job", the name of the tuning job it is or belongs to) when the ARN
    names one that exists (a deleted tuning job does not)."""
    found = conn.execute(
        select(tuning_jobs.c.name).where(and_(tuning_jobs.c.arn == arn, tuning_jobs.c.deleted_at.is_(None)))
    ).first()
    if found is not None:
        return "tuning job", found[0]
    found = conn.execute(select(training_jobs.c.tuning_job_name).where(training_jobs.c.arn == arn)).first()
    if found is not None:
        return "training job", found[0]
    return None


def get_training_job(conn: Connection, name: str) -> dict[str, Any] | None:
    row = conn.execute(select(training_jobs).where(training_jobs.c.name == name)).mappings().first()
    return dict(row) if row else None


def metric_series(conn: Connection, training_job_name: str) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(metric_points.c.metric_name, metric_points.c.step, metric_points.c.value, metric_points.c.at)
        .where(metric_points.c.training_job_name == training_job_name)
        .order_by(metric_points.c.metric_name, metric_points.c.step)
    ).mappings()
    return [dict(r) for r in rows]


def final_metrics(conn: Connection, training_job_name: str) -> list[dict[str, Any]]:
    """The last value of each metric: SageMaker's FinalMetricDataList."""
    latest = (
        select(metric_points.c.metric_name, func.max(metric_points.c.step).label("step"))
        .where(metric_points.c.training_job_name == training_job_name)
        .group_by(metric_points.c.metric_name)
        .subquery()
    )
    rows = conn.execute(
        select(metric_points.c.metric_name, metric_points.c.value, metric_points.c.at).join(
            latest,
            and_(
                metric_points.c.metric_name == latest.c.metric_name,
                metric_points.c.step == latest.c.step,
                metric_points.c.training_job_name == training_job_name,
            ),
        )
    ).mappings()
    return [dict(r) for r in rows]


def api_calls_of(conn: Connection, tuning_job_name: str) -> list[dict[str, Any]]:
    """The audit trail of a tuning job, oldest first."""
    rows = conn.execute(
        select(api_calls)
        .where(api_calls.c.tuning_job_name == tuning_job_name)
        .order_by(api_calls.c.at.asc(), api_calls.c.event_id.asc())
    ).mappings()
    return [dict(r) for r in rows]


def unpublished_api_calls(conn: Connection, topic_prefix: str) -> list[dict[str, Any]]:
    """The outbox of the api publishing on `topic_prefix`'s topics (rows stored before outboxes had
    owners are anyone's)."""
    owned = or_(api_calls.c.outbox_topic_prefix == topic_prefix, api_calls.c.outbox_topic_prefix.is_(None))
    rows = conn.execute(
        select(api_calls).where(api_calls.c.published_at.is_(None), owned).order_by(api_calls.c.at)
    ).mappings()
    return [dict(r) for r in rows]


def unpublished_tuning_jobs(conn: Connection, topic_prefix: str) -> list[dict[str, Any]]:
    """As unpublished_api_calls, for the jobs themselves."""
    owned = or_(tuning_jobs.c.outbox_topic_prefix == topic_prefix, tuning_jobs.c.outbox_topic_prefix.is_(None))
    rows = conn.execute(select(tuning_jobs).where(tuning_jobs.c.published_at.is_(None), owned)).mappings()
    return [dict(r) for r in rows]


def succeeded_training_jobs(conn: Connection, tuning_job_names: list[str]) -> list[dict[str, Any]]:
    """Training jobs of these tuning jobs that reported the objective (warm-start observations)."""
    rows = conn.execute(
        select(
            training_jobs.c.tuning_job_name,
            training_jobs.c.name,
            training_jobs.c.tuned_hyperparameters,
            training_jobs.c.final_objective_value,
            training_jobs.c.definition_name,
        )
        .where(
            and_(
                training_jobs.c.tuning_job_name.in_(tuning_job_names),
                training_jobs.c.objective_status == "Succeeded",
                training_jobs.c.final_objective_value.is_not(None),
            )
        )
        .order_by(training_jobs.c.tuning_job_name, training_jobs.c.index)
    ).mappings()
    return [dict(r) for r in rows]


def best_training_job(conn: Connection, tuning_job_names: list[str], maximize: bool) -> dict[str, Any] | None:
    """The best training job among several tuning jobs (OverallBestTrainingJob with warm start)."""
    order = training_jobs.c.final_objective_value.desc() if maximize else training_jobs.c.final_objective_value.asc()
    row = (
        conn.execute(
            select(training_jobs)
            .where(
                and_(
                    training_jobs.c.tuning_job_name.in_(tuning_job_names),
                    training_jobs.c.objective_status == "Succeeded",
                    training_jobs.c.final_objective_value.is_not(None),
                )
            )
            .order_by(order, training_jobs.c.tuning_job_name, training_jobs.c.index)
            .limit(1)
        )
        .mappings()
        .first()
    )
    return dict(row) if row else None


def training_jobs_in_order(conn: Connection, tuning_job_name: str) -> list[dict[str, Any]]:
    """Every training job of a tuning job, in the order the suggester proposed them (analytics)."""
    query = (
        select(training_jobs)
        .where(training_jobs.c.tuning_job_name == tuning_job_name)
        .order_by(training_jobs.c.index.asc(), training_jobs.c.name.asc())
    )
    return [dict(r) for r in conn.execute(query).mappings()]


def metric_points_of_tuning_job(
    conn: Connection, tuning_job_name: str, metric_name: str | None = None
) -> list[dict[str, Any]]:
    """Every metric point of every training job of a tuning job, by training job, metric and step."""
    query = (
        select(
            metric_points.c.training_job_name,
            metric_points.c.metric_name,
            metric_points.c.step,
            metric_points.c.value,
            metric_points.c.at,
        )
        .join(training_jobs, training_jobs.c.name == metric_points.c.training_job_name)
        .where(training_jobs.c.tuning_job_name == tuning_job_name)
    )
    if metric_name is not None:
        query = query.where(metric_points.c.metric_name == metric_name)
    query = query.order_by(training_jobs.c.index, metric_points.c.metric_name, metric_points.c.step)
    return [dict(r) for r in conn.execute(query).mappings()]
