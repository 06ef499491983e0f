"""FastAPI application: POST accepts a tuning job, GETs read the tracker's tables."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Query, Request
from fastapi.responses import PlainTextResponse
from sqlalchemy import Connection, Engine

from tunestream.api.errors import ApiError, install_error_handlers, not_found
from tunestream.api.shapes import describe_training_job, describe_tuning_job, training_job_summary, tuning_job_summary
from tunestream.api.warm_start import parent_observations
from tunestream.bus.publisher import Publisher, ensure_topics
from tunestream.config import Settings
from tunestream.db import reads, writes
from tunestream.db.engine import make_engine
from tunestream.definitions import CreateTuningJobRequest
from tunestream.events.topics import Topics
from tunestream.events.v1 import (
    TuningJobStopRequested,
    TuningJobStopRequestedData,
    TuningJobSubmitted,
    TuningJobSubmittedData,
)
from tunestream.naming import tuning_job_arn
from tunestream.objstore.factory import make_object_store
from tunestream.tracker.artifacts import render_log
from tunestream.validation import validate_request

log = logging.getLogger(__name__)
ENDED = ("Completed", "Failed", "Stopped")
PUBLISH_TIMEOUT_S = 10.0
OUTBOX_INTERVAL_S = 5.0


class State:
    def __init__(self, settings: Settings, engine: Engine, publisher: Publisher) -> None:
        self.settings, self.engine, self.publisher = settings, engine, publisher


def _state(request: Request) -> State:
    state: State = request.app.state.ts
    return state


StateDep = Annotated[State, Depends(_state)]


def _token(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"o": offset}).encode()).decode()


def _offset(token: str | None) -> int:
    if not token:
        return 0
    try:
        offset = int(json.loads(base64.urlsafe_b64decode(token.encode()))["o"])
    except (ValueError, KeyError, TypeError):
        raise ApiError(400, "ValidationException", "NextToken is not a token this api returned") from None
    if offset < 0:
        raise ApiError(400, "ValidationException", "NextToken is not a token this api returned")
    return offset


def submitted_event(conn: Connection, row: dict[str, Any]) -> TuningJobSubmitted:
    """The event for a stored job; parents' results are read again (they no longer change)."""
    request = CreateTuningJobRequest.model_validate(row["request"])
    return TuningJobSubmitted(
        event_id=f"{row['name']}:submitted",
        tuning_job_name=row["name"],
        payload=TuningJobSubmittedData(
            request=request,
            random_seed=row["random_seed"],
            created_at=row["created_at"],
            warm_start=parent_observations(conn, request),
        ),
    )


async def republish_unpublished(state: State) -> None:
    """Outbox: a job stored but not yet acknowledged by Kafka (api crashed between) is sent again."""
    rows = await asyncio.to_thread(_with_conn, state.engine, reads.unpublished_tuning_jobs)
    for row in rows:
        event = await asyncio.to_thread(_with_conn, state.engine, submitted_event, row)
        await state.publisher.publish([event])
        await asyncio.to_thread(_in_tx, state.engine, writes.mark_published, row["name"], datetime.now(UTC))
        log.info("republished tuning job %s", row["name"])


async def _outbox_loop(state: State) -> None:
    while True:
        try:
            await republish_unpublished(state)
        except Exception:
            log.exception("outbox: republishing failed; retrying in %.0fs", OUTBOX_INTERVAL_S)
        await asyncio.sleep(OUTBOX_INTERVAL_S)


def _with_conn(engine: Engine, fn: Any, *args: Any, **kwargs: Any) -> Any:
    with engine.connect() as conn:
        return fn(conn, *args, **kwargs)


def _in_tx(engine: Engine, fn: Any, *args: Any, **kwargs: Any) -> Any:
    with engine.begin() as conn:
        return fn(conn, *args, **kwargs)


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(settings.database_url.get_secret_value())
        topics = Topics(settings.topic_prefix)
        await ensure_topics(settings.kafka_bootstrap_servers, topics)
        publisher = Publisher(settings.kafka_bootstrap_servers, topics, client_id="tunestream-api")
        await publisher.start()
        app.state.ts = State(settings, engine, publisher)
        outbox = asyncio.create_task(_outbox_loop(app.state.ts))
        try:
            yield
        finally:
            outbox.cancel()
            await publisher.stop()
            engine.dispose()

    app = FastAPI(title="tunestream", version="0.1.0", lifespan=lifespan)
    install_error_handlers(app)

    def authorized(request: Request) -> None:
        expected = settings.api_token.get_secret_value() if settings.api_token else None
        if not expected:
            return
        given = request.headers.get("authorization", "")
        if not secrets.compare_digest(given.encode(), f"Bearer {expected}".encode()):
            raise ApiError(
                401, "UnauthorizedException", "missing or wrong bearer token (Authorization: Bearer <token>)"
            )

    auth = [Depends(authorized)]

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/tuning-jobs", dependencies=auth)
    async def create_tuning_job(request: Request, st: StateDep) -> dict[str, str]:
        raw = await request.body()
        try:
            body = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ApiError(400, "ValidationException", f"request body is not valid JSON: {exc}") from None
        if not isinstance(body, dict):
            raise ApiError(400, "ValidationException", "request body must be a JSON object")
        job = CreateTuningJobRequest.model_validate(body)
        validate_request(job)
        warm_start = await asyncio.to_thread(_with_conn, st.engine, parent_observations, job)
        name = job.HyperParameterTuningJobName
        seed = job.HyperParameterTuningJobConfig.RandomSeed
        if seed is None:
            seed = secrets.randbelow(2**31 - 1)
        created_at = datetime.now(UTC)
        inserted = await asyncio.to_thread(
            _in_tx,
            st.engine,
            writes.insert_tuning_job,
            name=name,
            strategy=job.HyperParameterTuningJobConfig.Strategy,
            request=job.model_dump(mode="json", exclude_none=True),
            random_seed=seed,
            created_at=created_at,
        )
        if not inserted:
            raise ApiError(409, "ResourceInUse", f"tuning job {name!r} already exists")
        event = TuningJobSubmitted(
            event_id=f"{name}:submitted",
            tuning_job_name=name,
            payload=TuningJobSubmittedData(request=job, random_seed=seed, created_at=created_at, warm_start=warm_start),
        )
        try:
            await asyncio.wait_for(st.publisher.publish([event]), timeout=PUBLISH_TIMEOUT_S)
        except Exception:
            # Stored, so accepted: the outbox loop sends it once Kafka answers again.
            log.exception("tuning job %s stored; publishing it is deferred to the outbox", name)
        else:
            await asyncio.to_thread(_in_tx, st.engine, writes.mark_published, name, datetime.now(UTC))
        return {"HyperParameterTuningJobArn": tuning_job_arn(name)}

    @app.get("/tuning-jobs", dependencies=auth)
    def list_tuning_jobs(
        st: StateDep,
        StatusEquals: Literal["Completed", "InProgress", "Failed", "Stopped", "Stopping"] | None = None,
        NameContains: str | None = None,
        SortBy: Literal["Name", "CreationTime", "Status"] = "CreationTime",
        SortOrder: Literal["Ascending", "Descending"] = "Descending",
        MaxResults: Annotated[int, Query(ge=1, le=100)] = 100,
        NextToken: str | None = None,
    ) -> dict[str, Any]:
        offset = _offset(NextToken)
        with st.engine.connect() as conn:
            rows = reads.list_tuning_jobs(
                conn,
                status=StatusEquals,
                name_contains=NameContains,
                sort_by=SortBy,
                order=SortOrder,
                offset=offset,
                limit=MaxResults + 1,
            )
            summaries = [
                tuning_job_summary(
                    r, reads.training_job_status_counts(conn, r["name"]), reads.objective_status_counts(conn, r["name"])
                )
                for r in rows[:MaxResults]
            ]
        result: dict[str, Any] = {"HyperParameterTuningJobSummaries": summaries}
        if len(rows) > MaxResults:
            result["NextToken"] = _token(offset + MaxResults)
        return result

    @app.get("/tuning-jobs/{name}", dependencies=auth)
    def describe(name: str, st: StateDep) -> dict[str, Any]:
        with st.engine.connect() as conn:
            row = reads.get_tuning_job(conn, name)
            if row is None:
                raise not_found("tuning job", name)
            best = (
                reads.get_training_job(conn, row["best_training_job_name"]) if row["best_training_job_name"] else None
            )
            overall = None
            warm = row["request"].get("WarmStartConfig")
            if warm:
                objective = row["request"]["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"]
                parents = [p["HyperParameterTuningJobName"] for p in warm["ParentHyperParameterTuningJobs"]]
                overall = reads.best_training_job(conn, [name, *parents], objective["Type"] == "Maximize")
            counts, objectives = reads.training_job_status_counts(conn, name), reads.objective_status_counts(conn, name)
            return describe_tuning_job(row, counts, objectives, best, overall)

    @app.get("/tuning-jobs/{name}/training-jobs", dependencies=auth)
    def list_training_jobs(
        name: str,
        st: StateDep,
        StatusEquals: Literal["InProgress", "Completed", "Failed", "Stopping", "Stopped"] | None = None,
        SortBy: Literal["Name", "CreationTime", "Status", "FinalObjectiveMetricValue"] = "Name",
        SortOrder: Literal["Ascending", "Descending"] = "Ascending",
        MaxResults: Annotated[int, Query(ge=1, le=100)] = 100,
        NextToken: str | None = None,
    ) -> dict[str, Any]:
        offset = _offset(NextToken)
        with st.engine.connect() as conn:
            tuning = reads.get_tuning_job(conn, name)
            if tuning is None:
                raise not_found("tuning job", name)
            rows = reads.list_training_jobs(
                conn, name, status=StatusEquals, sort_by=SortBy, order=SortOrder, offset=offset, limit=MaxResults + 1
            )
        objective = tuning["request"]["HyperParameterTuningJobConfig"].get("HyperParameterTuningJobObjective") or {}
        result: dict[str, Any] = {
            "TrainingJobSummaries": [training_job_summary(r, objective) for r in rows[:MaxResults]]
        }
        if len(rows) > MaxResults:
            result["NextToken"] = _token(offset + MaxResults)
        return result

    @app.post("/tuning-jobs/{name}/stop", dependencies=auth)
    async def stop(name: str, st: StateDep) -> dict[str, str]:
        row = await asyncio.to_thread(_with_conn, st.engine, reads.get_tuning_job, name)
        if row is None:
            raise not_found("tuning job", name)
        if row["status"] in ENDED:
            raise ApiError(400, "ValidationException", f"tuning job {name!r} has already ended ({row['status']})")
        await st.publisher.publish(
            [
                TuningJobStopRequested(
                    event_id=f"{name}:stop-requested",
                    tuning_job_name=name,
                    payload=TuningJobStopRequestedData(reason="StopHyperParameterTuningJob requested by the user"),
                )
            ]
        )
        return {"HyperParameterTuningJobStatus": "Stopping"}

    @app.get("/training-jobs/{name}", dependencies=auth)
    def describe_training(name: str, st: StateDep) -> dict[str, Any]:
        with st.engine.connect() as conn:
            row = reads.get_training_job(conn, name)
            if row is None:
                raise not_found("training job", name)
            tuning = reads.get_tuning_job(conn, row["tuning_job_name"])
            return describe_training_job(row, tuning, reads.final_metrics(conn, name))

    @app.get("/training-jobs/{name}/metrics", dependencies=auth)
    def metrics(name: str, st: StateDep) -> dict[str, Any]:
        with st.engine.connect() as conn:
            if reads.get_training_job(conn, name) is None:
                raise not_found("training job", name)
            points = reads.metric_series(conn, name)
        return {
            "TrainingJobName": name,
            "Metrics": [
                {
                    "MetricName": p["metric_name"],
                    "Step": p["step"],
                    "Value": p["value"],
                    "Timestamp": p["at"].isoformat(),
                }
                for p in points
            ],
        }

    @app.get("/training-jobs/{name}/logs", dependencies=auth, response_class=PlainTextResponse)
    def logs(name: str, st: StateDep) -> PlainTextResponse:
        with st.engine.connect() as conn:
            row = reads.get_training_job(conn, name)
            if row is None:
                raise not_found("training job", name)
            if row["log_s3_uri"]:
                text = make_object_store(st.settings).get_bytes(row["log_s3_uri"])
            else:  # still running: what the tracker has so far
                text = render_log(writes.log_lines_of(conn, name))
        return PlainTextResponse(text.decode(errors="replace"))

    return app
