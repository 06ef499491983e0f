"""The REST routes (tunestream's own JSON API): thin wrappers around `operations`, which the
SageMaker protocol (sagemaker_protocol.py) shares; liveness and readiness probes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.params import Depends as DependsParam
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import WithJsonSchema

from tunestream.api import operations as ops
from tunestream.api.contract import Readiness, errors
from tunestream.api.errors import parse_json_body, reject_nul
from tunestream.api.operations import State
from tunestream.api.outages import RETRY_AFTER_S, readiness
from tunestream.health import readiness_body


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


def health_router() -> APIRouter:
    """Liveness and readiness: no token, as orchestrators probe them."""
    router = APIRouter()

    @router.get("/healthz")
    def healthz() -> dict[str, str]:
        """Alive: the process answers HTTP (whatever its dependencies do)."""
        return {"status": "ok"}

    @router.get(
        "/readyz",
        response_model=Readiness,
        responses={503: {"model": Readiness, "description": "a dependency does not answer (see Retry-After)"}},
    )
    async def readyz(st: StateDep) -> JSONResponse:
        """Ready: PostgreSQL, Kafka and the S3 store each answered a probe just now."""
        status, body = readiness_body(await readiness(st.settings, st.engine, st.publisher))
        headers = {} if status == 200 else {"Retry-After": str(RETRY_AFTER_S)}
        return JSONResponse(body, status_code=status, headers=headers)

    return router


def tuning_jobs_router(auth: list[DependsParam]) -> APIRouter:
    router = APIRouter()

    @router.post("/tuning-jobs", dependencies=auth, responses=errors(409))
    async def create_tuning_job(request: Request, st: StateDep) -> dict[str, str]:
        body = parse_json_body(await request.body(), "ValidationException")
        reject_nul(body)
        return await ops.create_tuning_job(st, body)

    @router.get("/tuning-jobs", dependencies=auth, responses=errors())
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

    @router.get("/tuning-jobs/{name}", dependencies=auth, responses=errors(404, 405))
    def describe(name: str, st: StateDep) -> dict[str, Any]:
        return ops.describe_tuning_job(st, name)

    @router.get("/tuning-jobs/{name}/training-jobs", dependencies=auth, responses=errors(404))
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

    @router.post("/tuning-jobs/{name}/stop", dependencies=auth, responses=errors(404))
    async def stop(name: str, st: StateDep) -> dict[str, str]:
        return await ops.stop_tuning_job(st, name)

    @router.delete("/tuning-jobs/{name}", dependencies=auth, responses=errors(404, 405, 409))
    def delete(name: str, st: StateDep) -> dict[str, Any]:
        return ops.delete_tuning_job(st, name)

    return router


def training_jobs_router(auth: list[DependsParam]) -> APIRouter:
    router = APIRouter()

    @router.get("/training-jobs", dependencies=auth, responses=errors())
    def list_all_training_jobs(
        st: StateDep,
        StatusEquals: Literal["InProgress", "Completed", "Failed", "Stopping", "Stopped"] | None = None,
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
        """ListTrainingJobs: every training job across tuning jobs, newest first by default."""
        query = ops.ListAllTrainingJobsInput(
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
        return ops.list_all_training_jobs(st, query)

    @router.get("/training-jobs/{name}", dependencies=auth, responses=errors(404))
    def describe_training(name: str, st: StateDep) -> dict[str, Any]:
        return ops.describe_training_job(st, name)

    @router.get("/training-jobs/{name}/metrics", dependencies=auth, responses=errors(404))
    def metrics(name: str, st: StateDep) -> dict[str, Any]:
        return ops.training_job_metrics(st, name)

    @router.get(
        "/training-jobs/{name}/logs", dependencies=auth, response_class=PlainTextResponse, responses=errors(404)
    )
    def logs(name: str, st: StateDep) -> PlainTextResponse:
        return PlainTextResponse(ops.training_job_log(st, name))

    @router.post("/training-jobs/{name}/stop", dependencies=auth, responses=errors(404))
    async def stop_training_job(name: str, st: StateDep) -> dict[str, str]:
        """StopTrainingJob: this training job ends as Stopped; its tuning job goes on."""
        return await ops.stop_training_job(st, name)

    return router


def rest_routers(auth: list[DependsParam]) -> list[APIRouter]:
    """One router per resource; `auth` guards all but the probes."""
    return [health_router(), tuning_jobs_router(auth), training_jobs_router(auth)]
