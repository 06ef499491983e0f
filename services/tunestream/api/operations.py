"""The api's operations as plain functions.

The REST routes (`app.py`) and SageMaker's JSON 1.1 protocol (`sagemaker_protocol.py`) both call
these, so a job is validated, stored, published and read the same way whichever door it came in
by. Errors are `ApiError`s with the REST status; the JSON 1.1 protocol maps them onto SageMaker's.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import secrets
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import Engine

from tunestream.api import access
from tunestream.api.audit import api_call_event, audited
from tunestream.api.errors import ApiError, not_found
from tunestream.api.principals import Caller
from tunestream.api.shapes import all_training_jobs_summary, objective_of, training_job_summary, tuning_job_summary
from tunestream.api.shapes import describe_training_job as training_job_shape
from tunestream.api.shapes import describe_tuning_job as tuning_job_shape
from tunestream.api.warm_start import parent_observations
from tunestream.autotune import autotuned
from tunestream.bus.publisher import Publisher
from tunestream.config import Settings
from tunestream.db import reads, writes
from tunestream.definitions import CreateTrainingJobRequest, CreateTuningJobRequest
from tunestream.events import ids
from tunestream.events.v1 import (
    TrainingJobStopRequested,
    TrainingJobStopRequestedData,
    TuningJobStopRequested,
    TuningJobStopRequestedData,
    TuningJobSubmitted,
    TuningJobSubmittedData,
    WarmStartObservation,
)
from tunestream.field_errors import FieldError, InvalidTuningJob
from tunestream.naming import training_job_arn, tuning_job_arn
from tunestream.objstore.factory import make_object_store
from tunestream.request_members import training_inert_members
from tunestream.standalone import validate_training_job
from tunestream.training_logs import render_log
from tunestream.trials import TERMINAL_STATUSES
from tunestream.validation import validate_request, with_objective

log = logging.getLogger(__name__)
PUBLISH_TIMEOUT_S = 10.0

TuningJobStatus = Literal["Completed", "InProgress", "Failed", "Stopped", "Stopping", "Deleting", "DeleteFailed"]
TrainingJobStatus = Literal["InProgress", "Completed", "Failed", "Stopping", "Stopped", "Deleting"]


class State:
    def __init__(self, settings: Settings, engine: Engine, publisher: Publisher) -> None:
        self.settings, self.engine, self.publisher = settings, engine, publisher


def with_conn(engine: Engine, fn: Any, *args: Any, **kwargs: Any) -> Any:
    with engine.connect() as conn:
        return fn(conn, *args, **kwargs)


def in_tx(engine: Engine, fn: Any, *args: Any, **kwargs: Any) -> Any:
    with engine.begin() as conn:
        return fn(conn, *args, **kwargs)


def page_token(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"o": offset}).encode()).decode()


def paged(key: str, rows: list[Any], offset: int, limit: int, shape: Any = None) -> dict[str, Any]:
    """One page of a List* answer from `limit + 1` fetched rows (the extra one says a next page exists),
    each shown through `shape`."""
    page = rows[:limit]
    result: dict[str, Any] = {key: [shape(r) for r in page] if shape else page}
    if len(rows) > limit:
        result["NextToken"] = page_token(offset + limit)
    return result


def page_offset(token: str | None) -> int:
    if not token:
        return 0
    try:
        offset = int(json.loads(base64.urlsafe_b64decode(token.encode()))["o"])
    except (ValueError, KeyError, TypeError):
        raise ApiError(400, "ValidationException", "NextToken is not a token this api returned") from None
    if offset < 0:
        raise ApiError(400, "ValidationException", "NextToken is not a token this api returned")
    return offset


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _utc(value: datetime | None) -> datetime | None:
    # A time without a zone is UTC (botocore sends epoch seconds, which pydantic reads as UTC).
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


class ListTuningJobsInput(_Input):
    """ListHyperParameterTuningJobs; the defaults are SageMaker's (the REST route passes its own)."""

    StatusEquals: TuningJobStatus | None = None
    NameContains: str | None = Field(default=None, max_length=63)
    SortBy: Literal["Name", "CreationTime", "Status"] = "Name"
    SortOrder: Literal["Ascending", "Descending"] = "Ascending"
    MaxResults: int = Field(default=10, ge=1, le=100)
    NextToken: str | None = Field(default=None, max_length=8192)
    CreationTimeAfter: datetime | None = None
    CreationTimeBefore: datetime | None = None
    LastModifiedTimeAfter: datetime | None = None
    LastModifiedTimeBefore: datetime | None = None

    @field_validator("CreationTimeAfter", "CreationTimeBefore", "LastModifiedTimeAfter", "LastModifiedTimeBefore")
    @classmethod
    def _zone(cls, value: datetime | None) -> datetime | None:
        return _utc(value)


class ListTrainingJobsInput(_Input):
    """ListTrainingJobsForHyperParameterTuningJob, SageMaker's defaults."""

    HyperParameterTuningJobName: str = Field(min_length=1, max_length=32)
    StatusEquals: TrainingJobStatus | None = None
    SortBy: Literal["Name", "CreationTime", "Status", "FinalObjectiveMetricValue"] = "Name"
    SortOrder: Literal["Ascending", "Descending"] = "Ascending"
    MaxResults: int = Field(default=10, ge=1, le=100)
    NextToken: str | None = Field(default=None, max_length=8192)


class ListAllTrainingJobsInput(_Input):
    """ListTrainingJobs (every training job), SageMaker's defaults. Nothing here has a warm pool or a
    training plan, so filtering on either finds nothing."""

    StatusEquals: TrainingJobStatus | None = None
    NameContains: str | None = Field(default=None, max_length=63)
    SortBy: Literal["Name", "CreationTime", "Status"] = "CreationTime"
    SortOrder: Literal["Ascending", "Descending"] = "Ascending"
    MaxResults: int = Field(default=10, ge=1, le=100)
    NextToken: str | None = Field(default=None, max_length=8192)
    CreationTimeAfter: datetime | None = None
    CreationTimeBefore: datetime | None = None
    LastModifiedTimeAfter: datetime | None = None
    LastModifiedTimeBefore: datetime | None = None
    WarmPoolStatusEquals: Literal["Available", "Terminated", "Reused", "InUse"] | None = None
    TrainingPlanArnEquals: str | None = Field(default=None, max_length=2048)

    @field_validator("CreationTimeAfter", "CreationTimeBefore", "LastModifiedTimeAfter", "LastModifiedTimeBefore")
    @classmethod
    def _zone(cls, value: datetime | None) -> datetime | None:
        return _utc(value)


class TagShape(_Input):
    Key: str = Field(min_length=1, max_length=128)
    Value: str = Field(default="", max_length=256)


class ListTagsInput(_Input):
    ResourceArn: str = Field(min_length=1, max_length=256)
    MaxResults: int = Field(default=50, ge=50)
    NextToken: str | None = Field(default=None, max_length=8192)


class AddTagsInput(_Input):
    ResourceArn: str = Field(min_length=1, max_length=256)
    Tags: list[TagShape] = Field(max_length=50)


class DeleteTagsInput(_Input):
    ResourceArn: str = Field(min_length=1, max_length=256)
    TagKeys: list[str] = Field(min_length=1, max_length=50)


# SageMaker's limit on tags per resource.
MAX_TAGS = 50


class TuningJobNameInput(_Input):
    HyperParameterTuningJobName: str = Field(min_length=1, max_length=32)


class TrainingJobNameInput(_Input):
    TrainingJobName: str = Field(min_length=1, max_length=63)


# --- operations ------------------------------------------------------------------------------------


def submitted_event(
    name: str,
    request: CreateTuningJobRequest,
    random_seed: int,
    created_at: datetime,
    warm_start: list[WarmStartObservation],
    owner: str | None = None,
    training_job: str | None = None,
    training_job_inert_members: list[str] | None = None,
) -> TuningJobSubmitted:
    """The event that hands a stored tuning job to the services (sent at once, or later by the outbox)."""
    return TuningJobSubmitted(
        event_id=ids.submitted(name),
        tuning_job_name=name,
        payload=TuningJobSubmittedData(
            request=request,
            random_seed=random_seed,
            created_at=created_at,
            warm_start=warm_start,
            owner=owner,
            training_job=training_job,
            training_job_inert_members=training_job_inert_members or [],
        ),
    )


def readable_tuning_job(conn: Any, who: Caller, name: str, *, include_deleted: bool = False) -> dict[str, Any]:
    """The tuning job's row; not found also when it is not the caller's to see (access.py)."""
    row = reads.get_tuning_job(conn, name, include_deleted=include_deleted)
    if row is None or row["standalone_training_job"] or not access.may_read(who.principal, row["owner"]):
        raise not_found("tuning job", name)  # a training job's carrier (tunestream.standalone) is none
    return row


def readable_training_job(conn: Any, who: Caller, name: str) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """A training job's row and its tuning job's (a deleted one too); not found unless the caller may see it."""
    row = reads.get_training_job(conn, name)
    tuning = reads.get_tuning_job(conn, row["tuning_job_name"], include_deleted=True) if row else None
    if row is None or not access.may_read(who.principal, tuning["owner"] if tuning else None):
        raise not_found("training job", name)
    return row, tuning


def whoami(who: Caller) -> dict[str, str]:
    return {"Principal": who.principal.name, "Role": who.principal.role}


async def create_tuning_job(st: State, who: Caller, body: Any) -> dict[str, str]:
    """CreateHyperParameterTuningJob: validate, store, publish (or leave to the outbox). The job
    belongs to the caller's principal; the call is the first entry of its audit trail."""
    access.require_create(who.principal, "CreateHyperParameterTuningJob")
    if not isinstance(body, dict):
        raise ApiError(400, "ValidationException", "request body must be a JSON object")
    given = CreateTuningJobRequest.model_validate(body)
    if given.Autotune is not None and set(given.Autotune) - {"Mode"}:
        raise InvalidTuningJob([FieldError("Autotune", "mode-only", "Autotune has one member, Mode")])
    # Autotune's choices are made here, once: only the user's own JSON tells what was left unset.
    job = autotuned(with_objective(given))[0]
    validate_request(job)
    scope = access.owner_scope(who.principal)
    warm_start = await asyncio.to_thread(with_conn, st.engine, parent_observations, job, scope)
    name = job.HyperParameterTuningJobName
    seed = job.HyperParameterTuningJobConfig.RandomSeed
    if seed is None:
        seed = secrets.randbelow(2**31 - 1)
    if not await _store_and_publish(st, who, job, seed, warm_start, "CreateHyperParameterTuningJob", name):
        existing = await asyncio.to_thread(with_conn, st.engine, reads.get_tuning_job, name, include_deleted=True)
        if existing is not None and existing["deleted_at"] is not None:
            raise ApiError(
                409,
                "ResourceInUse",
                f"tuning job name {name!r} belonged to a tuning job deleted at "
                f"{existing['deleted_at'].isoformat()}; the events of that job are still kept under the name, "
                f"so it cannot be used again: choose another name",
            )
        raise ApiError(409, "ResourceInUse", f"tuning job {name!r} already exists")
    return {"HyperParameterTuningJobArn": tuning_job_arn(name)}


async def create_training_job(st: State, who: Caller, body: Any) -> dict[str, str]:
    """CreateTrainingJob: one training job outside any tuning job, carried through the services as
    a tuning job of one (tunestream.standalone); DescribeTrainingJob answers for it at once."""
    access.require_create(who.principal, "CreateTrainingJob")
    if not isinstance(body, dict):
        raise ApiError(400, "ValidationException", "request body must be a JSON object")
    request = CreateTrainingJobRequest.model_validate(body)
    carrier = validate_training_job(request)
    name = request.TrainingJobName
    taken = await asyncio.to_thread(with_conn, st.engine, reads.get_training_job, name)
    inert = training_inert_members(request.model_dump(mode="json", exclude_none=True))
    if taken is not None or not await _store_and_publish(
        st, who, carrier, 0, [], "CreateTrainingJob", name, training_job=(name, inert)
    ):
        raise ApiError(409, "ResourceInUse", f"training job {name!r} already exists")
    return {"TrainingJobArn": training_job_arn(name)}


async def _store_and_publish(
    st: State,
    who: Caller,
    job: CreateTuningJobRequest,
    seed: int,
    warm_start: list[WarmStartObservation],
    operation: str,
    resource: str,
    training_job: tuple[str, list[str]] | None = None,
) -> bool:
    """Store the job and the record of the call in one transaction, then publish both (or leave them
    to the outbox); False when the name is taken."""
    name = job.HyperParameterTuningJobName
    created_at = datetime.now(UTC)
    owner = who.principal.name
    call = api_call_event(who, operation, resource, name, 200, at=created_at)

    def insert(conn: Any) -> bool:
        stored = writes.insert_tuning_job(
            conn,
            name=name,
            strategy=job.HyperParameterTuningJobConfig.Strategy,
            request=job.model_dump(mode="json", exclude_none=True),
            random_seed=seed,
            created_at=created_at,
            owner=owner,
            outbox_topic_prefix=st.settings.topic_prefix,
            standalone_training_job=training_job[0] if training_job else None,
            standalone_inert_members=training_job[1] if training_job else None,
        )
        if stored:  # in the same transaction: no job without the record of who created it
            writes.insert_api_call(conn, call, st.settings.topic_prefix)
        return stored

    if not await asyncio.to_thread(in_tx, st.engine, insert):
        return False
    event = submitted_event(name, job, seed, created_at, warm_start, owner, *(training_job or (None, [])))
    try:
        await asyncio.wait_for(st.publisher.publish([event, call]), timeout=PUBLISH_TIMEOUT_S)
    except Exception:
        # Stored, so accepted: the outbox loop sends both once Kafka answers again.
        log.exception("%s %s stored; publishing it is deferred to the outbox", operation, resource)
    else:

        def mark(conn: Any) -> None:
            now = datetime.now(UTC)
            writes.mark_published(conn, name, now)
            writes.mark_api_calls_published(conn, [call.event_id], now)

        await asyncio.to_thread(in_tx, st.engine, mark)
    return True


def _listing(query: ListTuningJobsInput | ListAllTrainingJobsInput, who: Caller) -> reads.Listing:
    """The read model's listing for a List* call's input: one row more than a page, to tell whether
    another page follows; a member sees its own."""
    return reads.Listing(
        sort_by=query.SortBy,
        order=query.SortOrder,
        offset=page_offset(query.NextToken),
        limit=query.MaxResults + 1,
        status=query.StatusEquals,
        name_contains=query.NameContains,
        created_after=query.CreationTimeAfter,
        created_before=query.CreationTimeBefore,
        modified_after=query.LastModifiedTimeAfter,
        modified_before=query.LastModifiedTimeBefore,
        owner=access.owner_scope(who.principal),
    )


def list_tuning_jobs(st: State, who: Caller, query: ListTuningJobsInput) -> dict[str, Any]:
    """ListHyperParameterTuningJobs (deleted tuning jobs are never listed; a member sees its own)."""
    listing, limit = _listing(query, who), query.MaxResults
    with st.engine.connect() as conn:
        rows = reads.list_tuning_jobs(conn, listing)
        counts = reads.status_counts_of(conn, [r["name"] for r in rows[:limit]])
    return paged(
        "HyperParameterTuningJobSummaries",
        rows,
        listing.offset,
        limit,
        lambda r: tuning_job_summary(r, *counts[r["name"]]),
    )


def describe_tuning_job(st: State, who: Caller, name: str) -> dict[str, Any]:
    """DescribeHyperParameterTuningJob; a deleted tuning job is not found."""
    with st.engine.connect() as conn:
        row = readable_tuning_job(conn, who, name)
        best = reads.get_training_job(conn, row["best_training_job_name"]) if row["best_training_job_name"] else None
        overall = None
        warm = row["request"].get("WarmStartConfig")
        if warm:
            objective = row["request"]["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"]
            parents = [p["HyperParameterTuningJobName"] for p in warm["ParentHyperParameterTuningJobs"]]
            overall = reads.best_training_job(conn, [name, *parents], objective["Type"] == "Maximize")
        counts, objectives = reads.training_job_status_counts(conn, name), reads.objective_status_counts(conn, name)
        return tuning_job_shape(row, counts, objectives, best, overall)


def list_training_jobs(
    st: State, who: Caller, query: ListTrainingJobsInput, *, with_objective_only: bool = False
) -> dict[str, Any]:
    """ListTrainingJobsForHyperParameterTuningJob.

    with_objective_only leaves out training jobs without a final objective: the JSON 1.1 protocol
    sets it when sorting by FinalObjectiveMetricValue, as SageMaker documents; the REST route lists
    them last instead.
    """
    name = query.HyperParameterTuningJobName
    offset = page_offset(query.NextToken)
    limit = query.MaxResults
    with st.engine.connect() as conn:
        tuning = readable_tuning_job(conn, who, name)
        rows = reads.list_training_jobs(
            conn,
            name,
            status=query.StatusEquals,
            sort_by=query.SortBy,
            order=query.SortOrder,
            offset=offset,
            limit=limit + 1,
            with_objective_only=with_objective_only,
        )
    request = tuning["request"]
    return paged(
        "TrainingJobSummaries",
        rows,
        offset,
        limit,
        lambda r: training_job_summary(r, objective_of(request, r.get("definition_name"))),
    )


def list_all_training_jobs(st: State, who: Caller, query: ListAllTrainingJobsInput) -> dict[str, Any]:
    """ListTrainingJobs: TrainingJobSummary for every training job, across tuning jobs (a member's own)."""
    if query.WarmPoolStatusEquals is not None or query.TrainingPlanArnEquals is not None:
        return {"TrainingJobSummaries": []}
    listing = _listing(query, who)
    with st.engine.connect() as conn:
        rows = reads.list_all_training_jobs(conn, listing)
    return paged("TrainingJobSummaries", rows, listing.offset, query.MaxResults, all_training_jobs_summary)


def _tagged_resource(conn: Any, who: Caller, arn: str, *, visible_only: bool) -> tuple[str, str | None, bool]:
    """The tuning job a tagged ARN is or belongs to, its owner, and whether the caller may see it.
    Not found when there is none, or (visible_only) when it is not the caller's to see."""
    found = reads.resource_of_arn(conn, arn)
    tuning = reads.get_tuning_job(conn, found[1], include_deleted=True) if found else None
    visible = tuning is not None and access.may_read(who.principal, tuning["owner"])
    if found is None or tuning is None or (visible_only and not visible):
        raise _arn_not_found(arn)
    return found[1], tuning["owner"], visible


def _arn_not_found(arn: str) -> ApiError:
    return ApiError(
        400, "ResourceNotFound", f"no tuning job or training job has the ARN {arn!r} (tags are kept for those)"
    )


def list_tags(st: State, who: Caller, query: ListTagsInput) -> dict[str, Any]:
    """ListTags of a tuning job or training job, by key."""
    offset = page_offset(query.NextToken)
    with st.engine.connect() as conn:
        _tagged_resource(conn, who, query.ResourceArn, visible_only=True)
        tags = reads.list_tags(conn, query.ResourceArn, offset=offset, limit=query.MaxResults + 1)
    return paged("Tags", tags, offset, query.MaxResults)


async def add_tags(st: State, who: Caller, query: AddTagsInput) -> dict[str, Any]:
    """AddTags: a key the resource has takes the new value; "aws:" keys are AWS's own."""
    arn = query.ResourceArn
    tuning, owner, visible = await asyncio.to_thread(
        with_conn, st.engine, _tagged_resource, who, arn, visible_only=False
    )
    async with audited(st, who, "AddTags", arn, tuning):
        _require_change(who, "AddTags", arn, owner, visible, _arn_not_found(arn))
        reserved = [t.Key for t in query.Tags if t.Key.lower().startswith("aws:")]
        if reserved:
            raise ApiError(400, "ValidationException", f"Tags: keys starting with 'aws:' are reserved: {reserved}")
        tags = [t.model_dump() for t in query.Tags]

        def put(conn: Any) -> None:
            writes.put_tags(conn, arn, tags)
            if reads.count_tags(conn, arn) > MAX_TAGS:
                raise ApiError(400, "ValidationException", f"Tags: a resource has at most {MAX_TAGS} tags")

        await asyncio.to_thread(in_tx, st.engine, put)
    return {"Tags": tags}


async def delete_tags(st: State, who: Caller, query: DeleteTagsInput) -> dict[str, Any]:
    arn = query.ResourceArn
    tuning, owner, visible = await asyncio.to_thread(
        with_conn, st.engine, _tagged_resource, who, arn, visible_only=False
    )
    async with audited(st, who, "DeleteTags", arn, tuning):
        _require_change(who, "DeleteTags", arn, owner, visible, _arn_not_found(arn))
        await asyncio.to_thread(in_tx, st.engine, writes.delete_tags, arn, query.TagKeys)
    return {}


async def _owned(st: State, who: Caller, name: str) -> tuple[dict[str, Any], bool]:
    """The tuning job's row (not found when there is none) and whether the caller may see it."""
    row = await asyncio.to_thread(with_conn, st.engine, reads.get_tuning_job, name)
    if row is None or row["standalone_training_job"]:
        raise not_found("tuning job", name)
    return row, access.may_read(who.principal, row["owner"])


def _require_change(
    who: Caller, operation: str, what: str, owner: str | None, visible: bool, missing: ApiError | None = None
) -> None:
    """The caller may change `what`; else the refusal. Not visible to it: the answer for a resource
    that does not exist (`missing`, or a 404), but on the owner's record."""
    if not visible:
        raise missing or ApiError(404, "ResourceNotFound", f"{what} does not exist")
    if not access.may_change(who.principal, owner):
        raise access.denied(who.principal, operation, what)


async def stop_tuning_job(st: State, who: Caller, name: str) -> dict[str, str]:
    """StopHyperParameterTuningJob: the suggester stops the running training jobs and starts none."""
    row, visible = await _owned(st, who, name)
    async with audited(st, who, "StopHyperParameterTuningJob", name, name):
        _require_change(who, "StopHyperParameterTuningJob", f"tuning job {name!r}", row["owner"], visible)
        if row["status"] in TERMINAL_STATUSES:
            raise ApiError(400, "ValidationException", f"tuning job {name!r} has already ended ({row['status']})")
        await st.publisher.publish(
            [
                TuningJobStopRequested(
                    event_id=ids.tuning_job_stop_requested(name),
                    tuning_job_name=name,
                    payload=TuningJobStopRequestedData(reason="StopHyperParameterTuningJob requested by the user"),
                )
            ]
        )
        # Shown at once, as SageMaker does; the tracker's copy of this (from the event) changes nothing.
        await asyncio.to_thread(in_tx, st.engine, writes.set_tuning_job_stopping, name, datetime.now(UTC))
    return {"HyperParameterTuningJobStatus": "Stopping"}


async def stop_training_job(st: State, who: Caller, name: str) -> dict[str, str]:
    """StopTrainingJob: one training job of a tuning job ends as Stopped; the tuning job goes on, and
    the training job counts towards its limits as any stopped one does."""
    row = await asyncio.to_thread(with_conn, st.engine, reads.get_training_job, name)
    if row is None:
        raise not_found("training job", name)
    tuning = await asyncio.to_thread(
        with_conn, st.engine, reads.get_tuning_job, row["tuning_job_name"], include_deleted=True
    )
    owner = tuning["owner"] if tuning else None
    visible = access.may_read(who.principal, owner)
    async with audited(st, who, "StopTrainingJob", name, row["tuning_job_name"]):
        _require_change(who, "StopTrainingJob", f"training job {name!r}", owner, visible)
        if row["status"] in TERMINAL_STATUSES:
            raise ApiError(400, "ValidationException", f"training job {name!r} has already ended ({row['status']})")
        # The suggester's own stop of this training job (early stopping, winding down) has the same
        # event id: whichever comes first is the one every service acts on.
        await st.publisher.publish(
            [
                TrainingJobStopRequested(
                    event_id=ids.training_job_stop_requested(name),
                    tuning_job_name=row["tuning_job_name"],
                    payload=TrainingJobStopRequestedData(
                        training_job_name=name, reason="StopTrainingJob requested by the user"
                    ),
                )
            ]
        )
    return {"TrainingJobName": name, "TrainingJobStatus": "Stopping"}


def _delete(st: State, name: str) -> dict[str, Any]:
    deleted_at = datetime.now(UTC)
    with st.engine.begin() as conn:
        if writes.delete_tuning_job(conn, name, deleted_at):
            log.info("tuning job %s deleted", name)
            return {"HyperParameterTuningJobArn": tuning_job_arn(name), "DeletedAt": deleted_at.isoformat()}
        row = reads.get_tuning_job(conn, name)
    if row is None:
        raise not_found("tuning job", name)
    raise ApiError(
        409,
        "ResourceInUse",
        f"tuning job {name!r} is {row['status']}; only a Completed, Failed or Stopped tuning job can be deleted "
        f"(stop it first)",
    )


async def delete_tuning_job(st: State, who: Caller, name: str) -> dict[str, Any]:
    """DeleteHyperParameterTuningJob: only an ended job; its training jobs stay describable."""
    row, visible = await _owned(st, who, name)
    async with audited(st, who, "DeleteHyperParameterTuningJob", name, name):
        _require_change(who, "DeleteHyperParameterTuningJob", f"tuning job {name!r}", row["owner"], visible)
        result: dict[str, Any] = await asyncio.to_thread(_delete, st, name)
    return result


def describe_training_job(st: State, who: Caller, name: str) -> dict[str, Any]:
    """DescribeTrainingJob; also for training jobs of a deleted tuning job, as in SageMaker."""
    with st.engine.connect() as conn:
        row, tuning = readable_training_job(conn, who, name)
        return training_job_shape(row, tuning, reads.final_metrics(conn, name))


def training_job_metrics(st: State, who: Caller, name: str) -> dict[str, Any]:
    """Every metric value of a training job with its step and time."""
    with st.engine.connect() as conn:
        readable_training_job(conn, who, name)
        points = reads.metric_series(conn, name)
    return {
        "TrainingJobName": name,
        "Metrics": [
            {"MetricName": p["metric_name"], "Step": p["step"], "Value": p["value"], "Timestamp": p["at"].isoformat()}
            for p in points
        ],
    }


def training_job_log(st: State, who: Caller, name: str) -> str:
    """A training job's full output: from S3 once it finished, from PostgreSQL while it runs."""
    with st.engine.connect() as conn:
        row, _ = readable_training_job(conn, who, name)
        if row["log_s3_uri"]:
            text = make_object_store(st.settings).get_bytes(row["log_s3_uri"])
        else:  # still running: what the tracker has so far
            text = render_log(writes.log_lines_of(conn, name))
    return text.decode(errors="replace")


def api_calls(st: State, who: Caller, name: str) -> dict[str, Any]:
    """A tuning job's audit trail: every mutating call on it, oldest first (a deleted job's too)."""
    with st.engine.connect() as conn:
        readable_tuning_job(conn, who, name, include_deleted=True)
        rows = reads.api_calls_of(conn, name)
    return {
        "TuningJobName": name,
        "ApiCalls": [
            {
                "Time": r["at"].isoformat(),
                "Principal": r["principal"],
                "Role": r["role"],
                "Operation": r["operation"],
                "Resource": r["resource"],
                "Via": r["via"],
                "Status": r["status"],
                **({"Error": r["error"]} if r["error"] else {}),
                "RequestId": r["request_id"],
            }
            for r in rows
        ],
    }
