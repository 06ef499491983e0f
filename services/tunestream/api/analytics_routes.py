"""Analytics export routes: a tuning job's training jobs table and metric series as JSON, CSV or Parquet."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.params import Depends as DependsParam
from fastapi.responses import JSONResponse, Response
from sqlalchemy import Engine

from tunestream.analytics_tables import (
    MEDIA_TYPES,
    ExportFormat,
    Table,
    encode,
    metrics_table,
    to_records,
    training_jobs_table,
)
from tunestream.api.contract import errors
from tunestream.api.errors import not_found
from tunestream.db import reads


def _engine(request: Request) -> Engine:
    engine: Engine = request.app.state.ts.engine
    return engine


def _respond(name: str, what: str, table: Table, fmt: ExportFormat, extra: dict[str, Any]) -> Response:
    if fmt == "json":
        return JSONResponse({"TuningJobName": name, **extra, "Columns": list(table.columns), what: to_records(table)})
    suffix = "csv" if fmt == "csv" else "parquet"
    return Response(
        encode(table, fmt),
        media_type=MEDIA_TYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="{name}-{what.lower()}.{suffix}"'},
    )


def analytics_router(auth: list[DependsParam]) -> APIRouter:
    router = APIRouter(dependencies=auth)

    @router.get("/tuning-jobs/{name}/analytics/training-jobs", responses=errors(404))
    def training_jobs_export(name: str, engine: Engine = Depends(_engine), format: ExportFormat = "json") -> Response:
        """One row per training job: tuned values, status, FinalObjectiveValue, timings, stop reasons."""
        with engine.connect() as conn:
            tuning = reads.get_tuning_job(conn, name)
            if tuning is None:
                raise not_found("tuning job", name)
            rows = reads.training_jobs_in_order(conn, name)
        request = tuning["request"]
        objective = request["HyperParameterTuningJobConfig"].get("HyperParameterTuningJobObjective")
        table = training_jobs_table(request, rows)
        return _respond(
            name,
            "TrainingJobs",
            table,
            format,
            {"Objective": objective, "CreationTime": tuning["created_at"].isoformat()},
        )

    @router.get("/tuning-jobs/{name}/analytics/metrics", responses=errors(404))
    def metrics_export(
        name: str, engine: Engine = Depends(_engine), format: ExportFormat = "json", MetricName: str | None = None
    ) -> Response:
        """Every metric point of every training job: TrainingJobName, MetricName, Step, Value, Timestamp."""
        with engine.connect() as conn:
            if reads.get_tuning_job(conn, name) is None:
                raise not_found("tuning job", name)
            points = reads.metric_points_of_tuning_job(conn, name, MetricName)
        return _respond(name, "Metrics", metrics_table(points), format, {})

    return router
