"""Analytics export routes: a tuning job's training jobs table and metric series as JSON, CSV or Parquet."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
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
from tunestream.api.dependencies import CallerDep
from tunestream.api.operations import readable_tuning_job
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


def analytics_router() -> APIRouter:
    router = APIRouter()

    @router.get("/tuning-jobs/{name}/analytics/training-jobs", responses=errors(404))
    def training_jobs_export(
        name: str, who: CallerDep, engine: Engine = Depends(_engine), format: ExportFormat = "json"
    ) -> Response:
        """One row per training job: tuned values, status, FinalObjectiveValue, timings, stop reasons."""
        with engine.connect() as conn:
            tuning = readable_tuning_job(conn, who, name)
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
        name: str,
        who: CallerDep,
        engine: Engine = Depends(_engine),
        format: ExportFormat = "json",
        MetricName: str | None = None,
    ) -> Response:
        """Every metric point of every training job: TrainingJobName, MetricName, Step, Value, Timestamp."""
        with engine.connect() as conn:
            readable_tuning_job(conn, who, name)
            points = reads.metric_points_of_tuning_job(conn, name, MetricName)
        return _respond(name, "Metrics", metrics_table(points), format, {})

    return router
