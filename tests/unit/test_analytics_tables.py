"""Analytics tables, their encodings and the PNG plots, from canned tracker rows (no servers)."""

from __future__ import annotations

import csv
import io
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from tests.conftest import minimal_job
from tunestream.analytics_tables import best_so_far, metrics_table, to_csv, to_parquet, to_records, training_jobs_table
from tunestream.plots import write_plots

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def _row(index: int, *, status: str = "Completed", value: float | None = None, **tuned: str) -> dict[str, Any]:
    return {
        "name": f"unit-job-{index:03d}",
        "index": index,
        "status": status,
        "objective_status": "Succeeded" if value is not None else "Pending",
        "final_objective_value": value,
        "tuned_hyperparameters": tuned,
        "created_at": T0 + timedelta(seconds=index),
        "started_at": T0 + timedelta(seconds=index + 1),
        "ended_at": T0 + timedelta(seconds=index + 3.5) if status != "InProgress" else None,
        "failure_reason": None,
        "stop_reason": "hyperband: bracket 0 rung 1" if status == "Stopped" else None,
        "stop_details": {"Rule": "hyperband", "Step": 1, "Value": 0.1, "Cutoff": 0.2} if status == "Stopped" else None,
    }


def _rows() -> list[dict[str, Any]]:
    return [
        _row(1, value=0.5, x="0.25", n="3", kind="a"),
        _row(2, status="Stopped", value=0.2, x="0.75", n="1", kind="b"),
        _row(3, status="InProgress", x="0.5", n="5", kind="a"),
    ]


def test_tuned_values_are_typed_by_their_range() -> None:
    table = training_jobs_table(minimal_job(), _rows())
    first, stopped, running = table.rows
    assert table.columns[:5] == (
        "TrainingJobName",
        "TrainingJobIndex",
        "TrainingJobStatus",
        "ObjectiveStatus",
        "FinalObjectiveValue",
    )
    assert (first["x"], first["n"], first["kind"]) == (0.25, 3, "a")
    assert first["TrainingElapsedTimeSeconds"] == 2.5
    assert stopped["EarlyStoppingRule"] == "hyperband" and stopped["EarlyStoppingStep"] == 1
    assert running["TrainingEndTime"] is None and running["TrainingElapsedTimeSeconds"] is None
    assert table.types["x"] == "float" and table.types["n"] == "int" and table.types["kind"] == "string"


def test_a_value_outside_its_type_turns_the_column_into_text() -> None:
    rows = [*_rows(), _row(4, value=0.1, x="not-a-number", n="2", kind="a")]
    table = training_jobs_table(minimal_job(), rows)
    assert table.types["x"] == "string" and [r["x"] for r in table.rows] == ["0.25", "0.75", "0.5", "not-a-number"]
    assert pq.read_table(io.BytesIO(to_parquet(table))).schema.field("x").type == pa.string()


def test_csv_round_trips_values_and_keeps_empty_cells_empty() -> None:
    table = training_jobs_table(minimal_job(), _rows())
    parsed = list(csv.DictReader(io.StringIO(to_csv(table).decode())))
    assert list(parsed[0]) == list(table.columns)
    assert float(parsed[0]["x"]) == 0.25 and parsed[2]["TrainingEndTime"] == ""
    assert parsed[0]["CreationTime"] == (T0 + timedelta(seconds=1)).isoformat()


def test_parquet_has_a_type_for_every_column_even_all_empty_ones() -> None:
    table = training_jobs_table(minimal_job(), _rows())
    parquet = pq.read_table(io.BytesIO(to_parquet(table)))
    assert parquet.schema.field("FailureReason").type == pa.string()  # every value None
    assert parquet.schema.field("n").type == pa.int64()
    assert parquet.to_pylist()[0]["TrainingStartTime"] == T0 + timedelta(seconds=2)


def test_json_records_spell_out_non_finite_values() -> None:
    points = [
        {"training_job_name": "j-1", "metric_name": "loss", "step": 1, "value": math.inf, "at": T0},
        {"training_job_name": "j-1", "metric_name": "loss", "step": 2, "value": math.nan, "at": T0},
    ]
    records = to_records(metrics_table(points))
    assert [r["Value"] for r in records] == ["Infinity", None]
    assert records[0]["Timestamp"] == T0.isoformat()


def test_best_so_far_follows_the_objective_direction() -> None:
    values = [0.5, None, 0.7, 0.6, math.nan, 0.9]
    assert best_so_far(values, maximize=True) == [0.5, 0.5, 0.7, 0.7, 0.7, 0.9]
    assert best_so_far(values, maximize=False) == [0.5, 0.5, 0.5, 0.5, 0.5, 0.5]
    assert best_so_far([None, 0.3], maximize=True) == [None, 0.3]


def test_plots_are_written_from_the_api_json(tmp_path: Path) -> None:
    describe = {**minimal_job(), "CreationTime": T0.isoformat()}
    jobs = to_records(training_jobs_table(minimal_job(), _rows()))
    metrics = to_records(
        metrics_table(
            {"training_job_name": r["name"], "metric_name": "score", "step": s, "value": 0.1 * s, "at": T0}
            for r in _rows()
            for s in range(1, 4 if r["status"] != "Stopped" else 2)
        )
    )
    written = write_plots(describe, jobs, metrics, tmp_path)
    assert [p.name for p in written] == ["convergence.png", "parallel_coordinates.png", "learning_curves.png"]
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 10_000 for p in written)
