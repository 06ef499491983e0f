"""FastAPI application: POST accepts a tuning job, GETs read the tracker's tables."""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import WithJsonSchema
from sqlalchemy import Connection

from tunestream.api import operations as ops
from tunestream.api.analytics_routes import analytics_router
from tunestream.api.dashboard import router as dashboard_router
from tunestream.api.errors import ApiError, install_error_handlers, not_found, reject_nul
from tunestream.api.operations import State, submitted_event
from tunestream.api.operations import in_tx as _in_tx
from tunestream.api.operations import with_conn as _with_conn
from tunestream.api.outages import RETRY_AFTER_S, readiness
from tunestream.api.sagemaker_protocol import install_sagemaker_protocol
from tunestream.api.warm_start import parent_observations
from tunestream.bus.publisher import Publisher, ensure_topics
from tunestream.config import Settings
from tunestream.db import reads, writes
from tunestream.db.engine import make_engine
from tunestream.definitions import CreateTuningJobRequest
from tunestream.events.topics import Topics
from tunestream.events.v1 import TuningJobSubmitted
from tunestream.objstore.factory import make_object_store
from tunestream.training_logs import render_log

log = logging.getLogger(__name__)
OUTBOX_INTERVAL_S = 5.0


def _state(request: Request) -> State:
    state: State = request.app.state.ts
    return state


StateDep = Annotated[State, Depends(_state)]
# The list filters take ISO 8601 or epoch seconds (pydantic parses both); the spec says so.
Timestamp = Annotated[
    datetime,
    WithJsonSchema(
        {"anyOf": [{"type": "string", "format": "date-time"}, {"type": "number"}]},
        mode="validation",
    ),
]


def stored_submitted_event(conn: Connection, row: dict[str, Any]) -> TuningJobSubmitted:
    """The event for a stored job; parents' results are read again (they no longer change)."""
    request = CreateTuningJobRequest.model_validate(row["request"])
    return submitted_event(
        row["name"], request, row["random_seed"], row["created_at"], parent_observations(conn, request)
    )


async def republish_unpublished(state: State) -> None:
    """Outbox: a job stored but not yet acknowledged by Kafka (api crashed between) is sent again."""
    rows = await asyncio.to_thread(_with_conn, state.engine, reads.unpublished_tuning_jobs)
    for row in rows:
        event = await asyncio.to_thread(_with_conn, state.engine, stored_submitted_event, row)
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


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(settings.database_url.get_secret_value())
        topics = Topics(settings.topic_prefix)
        await ensure_topics(settings.kafka_bootstrap_servers, topics, retention_ms=settings.topic_retention_ms)
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
    app.include_router(dashboard_router)  # the web dashboard: /, /dashboard/ (its assets need no token)

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
    install_sagemaker_protocol(app, settings)
    app.include_router(analytics_router(auth))

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        """Alive: the process answers HTTP (whatever its dependencies do)."""
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz(st: StateDep) -> JSONResponse:
        """Ready: PostgreSQL, Kafka and the S3 store each answered a probe just now."""
        probes = await readiness(st.settings, st.engine, st.publisher)
        ready = all(p.ok for p in probes.values())
        body = {
            "status": "ready" if ready else "unavailable",
            "dependencies": {k: p.as_dict() for k, p in probes.items()},
        }
        headers = {} if ready else {"Retry-After": str(RETRY_AFTER_S)}
        return JSONResponse(body, status_code=200 if ready else 503, headers=headers)

    @app.post("/tuning-jobs", dependencies=auth)
    async def create_tuning_job(request: Request, st: StateDep) -> dict[str, str]:
        raw = await request.body()
        try:
            body = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ApiError(400, "ValidationException", f"request body is not valid JSON: {exc}") from None
        except RecursionError:
            raise ApiError(400, "ValidationException", "request body is nested too deeply") from None
        reject_nul(body)
        return await ops.create_tuning_job(st, body)

    @app.get("/tuning-jobs", dependencies=auth)
    def list_tuning_jobs(
        st: StateDep,
        StatusEquals: Literal["Completed", "InProgress", "Failed", "Stopped", "Stopping"] | None = None,
        NameContains: str | None = None,
        SortBy: Literal["Name", "CreationTime", "Status"] = "CreationTime",
        SortOrder: Literal["Ascending", "Descending"] = "Descending",
        MaxResults: Annotated[int, Query(ge=1, le=100)] = 100,
        NextToken: str | None = None,
        CreationTimeAfter: Timestamp | None = None,
        CreationTimeBefore: Timestamp | None = None,
        LastModifiedTimeAfter: Timestamp | None = None,
        LastModifiedTimeBefore: Timestamp | None = None,
    ) -> dict[str, Any]:
        query = ops.ListTuningJobsInput(
            StatusEquals=StatusEquals,
            NameContains=NameContains,
            SortBy=SortBy,
            SortOrder=SortOrder,
            MaxResults=MaxResults,
            NextToken=NextToken,
            CreationTimeAfter=CreationTimeAfter,
            CreationTimeBefore=CreationTimeBefore,
            LastModifiedTimeAfter=LastModifiedTimeAfter,
            LastModifiedTimeBefore=LastModifiedTimeBefore,
        )
        return ops.list_tuning_jobs(st, query)

    @app.get("/tuning-jobs/{name}", dependencies=auth)
    def describe(name: str, st: StateDep) -> dict[str, Any]:
        return ops.describe_tuning_job(st, name)

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
        query = ops.ListTrainingJobsInput(
            HyperParameterTuningJobName=name,
            StatusEquals=StatusEquals,
            SortBy=SortBy,
            SortOrder=SortOrder,
            MaxResults=MaxResults,
            NextToken=NextToken,
        )
        return ops.list_training_jobs(st, query)

    @app.post("/tuning-jobs/{name}/stop", dependencies=auth)
    async def stop(name: str, st: StateDep) -> dict[str, str]:
        return await ops.stop_tuning_job(st, name)

    @app.delete("/tuning-jobs/{name}", dependencies=auth)
    def delete(name: str, st: StateDep) -> dict[str, Any]:
        return ops.delete_tuning_job(st, name)

    @app.get("/training-jobs/{name}", dependencies=auth)
    def describe_training(name: str, st: StateDep) -> dict[str, Any]:
        return ops.describe_training_job(st, name)

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
