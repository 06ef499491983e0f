"""The REST routes (tunestream's own JSON API): thin wrappers around `operations`, which the
SageMaker protocol (sagemaker_protocol.py) shares; liveness and readiness probes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from tunestream.api import operations as ops
from tunestream.api.contract import Readiness, errors
from tunestream.api.dependencies import CallerDep, StateDep
from tunestream.api.errors import parse_json_body, reject_nul
from tunestream.api.outages import RETRY_AFTER_S, readiness
from tunestream.health import readiness_body

# The list filters take ISO 8601 or epoch seconds (pydantic parses both); the spec says so.
Timestamp = Annotated[
    datetime,
    WithJsonSchema(
        {"anyOf": [{"type": "string", "format": "date-time"}, {"type": "number"}]},
        mode="validation",
    ),
]


class _RestList(BaseModel):
    """What the REST lists' query strings change in SageMaker's List* inputs: newest first, 100 a
    page, times as ISO 8601 or epoch seconds; a parameter the route does not know is ignored, as web
    APIs do."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    SortOrder: Literal["Ascending", "Descending"] = "Descending"
    MaxResults: int = Field(default=100, ge=1, le=100)
    CreationTimeAfter: Timestamp | None = None
    CreationTimeBefore: Timestamp | None = None
    LastModifiedTimeAfter: Timestamp | None = None
    LastModifiedTimeBefore: Timestamp | None = None


class TuningJobsQuery(_RestList, ops.ListTuningJobsInput):
    model_config = _RestList.model_config
    SortBy: Literal["Name", "CreationTime", "Status"] = "CreationTime"


class TrainingJobsQuery(_RestList, ops.ListAllTrainingJobsInput):
    model_config = _RestList.model_config


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


def tuning_jobs_router() -> APIRouter:
    router = APIRouter()

    @router.post("/tuning-jobs", responses=errors(403, 409))
    async def create_tuning_job(request: Request, st: StateDep, who: CallerDep) -> dict[str, str]:
        body = parse_json_body(await request.body(), "ValidationException")
        reject_nul(body)
        return await ops.create_tuning_job(st, who, body)

    @router.get("/tuning-jobs", responses=errors())
    def list_tuning_jobs(st: StateDep, who: CallerDep, query: Annotated[TuningJobsQuery, Query()]) -> dict[str, Any]:
        return ops.list_tuning_jobs(st, who, query)

    @router.get("/tuning-jobs/{name}", responses=errors(404, 405))
    def describe(name: str, st: StateDep, who: CallerDep) -> dict[str, Any]:
        return ops.describe_tuning_job(st, who, name)

    @router.get("/tuning-jobs/{name}/training-jobs", responses=errors(404))
    def list_training_jobs(
        name: str,
        st: StateDep,
        who: CallerDep,
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
        return ops.list_training_jobs(st, who, query)

    @router.post("/tuning-jobs/{name}/stop", responses=errors(403, 404))
    async def stop(name: str, st: StateDep, who: CallerDep) -> dict[str, str]:
        return await ops.stop_tuning_job(st, who, name)

    @router.delete("/tuning-jobs/{name}", responses=errors(403, 404, 405, 409))
    async def delete(name: str, st: StateDep, who: CallerDep) -> dict[str, Any]:
        return await ops.delete_tuning_job(st, who, name)

    @router.get("/tuning-jobs/{name}/api-calls", responses=errors(404))
    def api_calls(name: str, st: StateDep, who: CallerDep) -> dict[str, Any]:
        """The audit trail: every mutating call on this tuning job (who, what, when, the answer)."""
        return ops.api_calls(st, who, name)

    return router


def training_jobs_router() -> APIRouter:
    router = APIRouter()

    @router.post("/training-jobs", responses=errors(403, 409))
    async def create_training_job(request: Request, st: StateDep, who: CallerDep) -> dict[str, str]:
        body = parse_json_body(await request.body(), "ValidationException")
        reject_nul(body)
        return await ops.create_training_job(st, who, body)

    @router.get("/training-jobs", responses=errors())
    def list_all_training_jobs(
        st: StateDep, who: CallerDep, query: Annotated[TrainingJobsQuery, Query()]
    ) -> dict[str, Any]:
        """ListTrainingJobs: every training job across tuning jobs, newest first by default."""
        return ops.list_all_training_jobs(st, who, query)

    @router.get("/training-jobs/{name}", responses=errors(404))
    def describe_training(name: str, st: StateDep, who: CallerDep) -> dict[str, Any]:
        return ops.describe_training_job(st, who, name)

    @router.get("/training-jobs/{name}/metrics", responses=errors(404))
    def metrics(name: str, st: StateDep, who: CallerDep) -> dict[str, Any]:
        return ops.training_job_metrics(st, who, name)

    @router.get("/training-jobs/{name}/logs", response_class=PlainTextResponse, responses=errors(404))
    def logs(name: str, st: StateDep, who: CallerDep) -> PlainTextResponse:
        return PlainTextResponse(ops.training_job_log(st, who, name))

    @router.post("/training-jobs/{name}/stop", responses=errors(403, 404))
    async def stop_training_job(name: str, st: StateDep, who: CallerDep) -> dict[str, str]:
        """StopTrainingJob: this training job ends as Stopped; its tuning job goes on."""
        return await ops.stop_training_job(st, who, name)

    return router


def principal_router() -> APIRouter:
    router = APIRouter()

    @router.get("/whoami", responses=errors())
    def whoami(who: CallerDep) -> dict[str, str]:
        """The principal the credential sent belongs to, and its role (admin, member or viewer)."""
        return ops.whoami(who)

    return router


def rest_routers() -> list[APIRouter]:
    """One router per resource; every route but the probes needs a principal (dependencies.CallerDep)."""
    return [health_router(), principal_router(), tuning_jobs_router(), training_jobs_router()]
