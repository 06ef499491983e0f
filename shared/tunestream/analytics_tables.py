"""Flat tables of a tuning job, for export (CSV, Parquet, JSON) and plots.

Two tables: one row per training job (its tuned values typed by the search space, status,
objective, timings), and one row per metric point (training job, metric, step, value, time).
Column names follow SageMaker's HyperparameterTuningJobAnalytics where it has one.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from tunestream.definitions import ParameterRangesShape
from tunestream.space import CategoricalParam, ContinuousParam, IntegerParam, SearchSpace
from tunestream.validation import build_search_space

ExportFormat = Literal["json", "csv", "parquet"]
MEDIA_TYPES: dict[str, str] = {
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
    "parquet": "application/vnd.apache.parquet",
}

# Before the tuned values: identity and outcome; after them: timings and reasons.
LEAD_COLUMNS = (
    "TrainingJobName",
    "TrainingJobIndex",
    "TrainingJobStatus",
    "ObjectiveStatus",
    "FinalObjectiveValue",
)
TAIL_COLUMNS = (
    "CreationTime",
    "TrainingStartTime",
    "TrainingEndTime",
    "TrainingElapsedTimeSeconds",
    "FailureReason",
    "StopReason",
    "EarlyStoppingRule",
    "EarlyStoppingStep",
)
METRIC_COLUMNS = ("TrainingJobName", "MetricName", "Step", "Value", "Timestamp")


@dataclass(frozen=True)
class Table:
    """Rows of plain values (str, int, float, datetime, None) under fixed, ordered columns."""

    columns: tuple[str, ...]
    rows: list[dict[str, Any]]
    # Column name -> "string" | "int" | "float" | "timestamp": Parquet needs a type even for all-null columns.
    types: dict[str, str]


def search_space_of(request: dict[str, Any]) -> SearchSpace:
    ranges = request["HyperParameterTuningJobConfig"].get("ParameterRanges") or {}
    space, _ = build_search_space(ParameterRangesShape.model_validate(ranges))
    return space


def _typed(space: SearchSpace, tuned: dict[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for p in space.params:
        text = tuned.get(p.name)
        if text is None:
            values[p.name] = None
            continue
        try:
            if isinstance(p, IntegerParam):
                values[p.name] = int(text)
            elif isinstance(p, ContinuousParam):
                values[p.name] = float(text)
            else:
                values[p.name] = text
        except ValueError:  # a warm-start or hand-made value outside the type: keep it readable
            values[p.name] = text
    return values


def _param_type(p: ContinuousParam | IntegerParam | CategoricalParam) -> str:
    return "int" if isinstance(p, IntegerParam) else "float" if isinstance(p, ContinuousParam) else "string"


def training_jobs_table(request: dict[str, Any], rows: Iterable[dict[str, Any]]) -> Table:
    """One row per training job, from rows of the tracker's training_jobs table."""
    space = search_space_of(request)
    out = []
    for r in rows:
        elapsed = None
        if r.get("started_at") and r.get("ended_at"):
            elapsed = max((r["ended_at"] - r["started_at"]).total_seconds(), 0.0)
        details = r.get("stop_details") or {}
        out.append(
            {
                "TrainingJobName": r["name"],
                "TrainingJobIndex": r["index"],
                "TrainingJobStatus": r["status"],
                "ObjectiveStatus": r["objective_status"],
                "FinalObjectiveValue": r["final_objective_value"],
                **_typed(space, r.get("tuned_hyperparameters") or {}),
                "CreationTime": r["created_at"],
                "TrainingStartTime": r.get("started_at"),
                "TrainingEndTime": r.get("ended_at"),
                "TrainingElapsedTimeSeconds": elapsed,
                "FailureReason": r.get("failure_reason"),
                "StopReason": r.get("stop_reason"),
                "EarlyStoppingRule": details.get("Rule"),
                "EarlyStoppingStep": details.get("Step"),
            }
        )
    types = {
        "TrainingJobName": "string",
        "TrainingJobIndex": "int",
        "TrainingJobStatus": "string",
        "ObjectiveStatus": "string",
        "FinalObjectiveValue": "float",
        **{p.name: _param_type(p) for p in space.params},
        "CreationTime": "timestamp",
        "TrainingStartTime": "timestamp",
        "TrainingEndTime": "timestamp",
        "TrainingElapsedTimeSeconds": "float",
        "FailureReason": "string",
        "StopReason": "string",
        "EarlyStoppingRule": "string",
        "EarlyStoppingStep": "int",
    }
    # A tuned value whose text does not parse as its range's type makes the whole column text.
    for p in space.params:
        if types[p.name] != "string" and any(isinstance(row[p.name], str) for row in out):
            types[p.name] = "string"
            for row in out:
                if row[p.name] is not None:
                    row[p.name] = str(row[p.name])
    columns = (*LEAD_COLUMNS, *space.names, *TAIL_COLUMNS)
    return Table(columns, out, types)


def metrics_table(points: Iterable[dict[str, Any]]) -> Table:
    """One row per metric point, from rows with training_job_name, metric_name, step, value, at."""
    rows = [
        {
            "TrainingJobName": p["training_job_name"],
            "MetricName": p["metric_name"],
            "Step": p["step"],
            "Value": p["value"],
            "Timestamp": p["at"],
        }
        for p in points
    ]
    types = {
        "TrainingJobName": "string",
        "MetricName": "string",
        "Step": "int",
        "Value": "float",
        "Timestamp": "timestamp",
    }
    return Table(METRIC_COLUMNS, rows, types)


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    return value


def to_records(table: Table) -> list[dict[str, Any]]:
    """JSON-ready rows: times as ISO 8601, non-finite floats spelled out (JSON has no NaN)."""
    return [{c: _json_value(row.get(c)) for c in table.columns} for row in table.rows]


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, float):
        return repr(value)
    return value


def to_csv(table: Table) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(table.columns)
    for row in table.rows:
        writer.writerow([_csv_value(row.get(c)) for c in table.columns])
    return buffer.getvalue().encode()


def to_parquet(table: Table) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    arrow_types = {
        "string": pa.string(),
        "int": pa.int64(),
        "float": pa.float64(),
        "timestamp": pa.timestamp("us", tz="UTC"),
    }
    schema = pa.schema([(c, arrow_types[table.types[c]]) for c in table.columns])
    arrays = [pa.array([row.get(c) for row in table.rows], type=schema.field(c).type) for c in table.columns]
    sink = io.BytesIO()
    pq.write_table(pa.Table.from_arrays(arrays, schema=schema), sink)
    return sink.getvalue()


def encode(table: Table, fmt: ExportFormat) -> bytes:
    if fmt == "csv":
        return to_csv(table)
    if fmt == "parquet":
        return to_parquet(table)
    raise ValueError(f"encode() writes csv or parquet, not {fmt!r}")


def best_so_far(values: Sequence[float | None], maximize: bool) -> list[float | None]:
    """The running best of a sequence of objectives; None (no objective) keeps the previous best."""
    best: float | None = None
    out: list[float | None] = []
    for v in values:
        if v is not None and math.isfinite(v) and (best is None or (v > best if maximize else v < best)):
            best = v
        out.append(best)
    return out
