"""Analytics export (JSON, CSV, Parquet) and `tunestream export` / `tunestream plot` on a finished Hyperband job."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from matplotlib import image

from tests.integration.conftest import ARTIFACTS, trainer_job, wait_until_ended
from tests.integration.test_cli import tunestream
from tunestream.client import TunestreamClient
from tunestream.config import Settings


@pytest.fixture(scope="module")
def finished(api: TunestreamClient, run_id: str) -> dict[str, Any]:
    name = f"an-{run_id}"
    job = trainer_job(name, jobs=9, parallel=3, epochs="9", sleep="0.05")
    job["HyperParameterTuningJobConfig"]["Strategy"] = "Hyperband"
    job["HyperParameterTuningJobConfig"]["StrategyConfig"] = {"HyperbandStrategyConfig": {"MinResource": 1}}
    api.create_tuning_job(job)
    describe = wait_until_ended(api, name, timeout_s=180)
    assert describe["HyperParameterTuningJobStatus"] == "Completed"
    summaries = {s["TrainingJobName"]: s for s in api.training_jobs(name)}
    series = {n: api.metrics(n)["Metrics"] for n in summaries}
    return {"name": name, "describe": describe, "summaries": summaries, "series": series}


@pytest.fixture(scope="module")
def http(settings: Settings) -> Any:
    with httpx.Client(base_url=f"http://127.0.0.1:{settings.api_port}", timeout=30) as client:
        yield client


def test_training_jobs_table_matches_the_api(finished: dict[str, Any], api: TunestreamClient) -> None:
    body = api.analytics(finished["name"], "training-jobs")
    rows = body["TrainingJobs"]
    summaries = finished["summaries"]
    assert sorted(r["TrainingJobName"] for r in rows) == sorted(summaries)
    assert [r["TrainingJobIndex"] for r in rows] == sorted(r["TrainingJobIndex"] for r in rows)
    assert body["Objective"] == {"Type": "Maximize", "MetricName": "score"}
    assert body["Columns"][:5] == [
        "TrainingJobName",
        "TrainingJobIndex",
        "TrainingJobStatus",
        "ObjectiveStatus",
        "FinalObjectiveValue",
    ]
    assert {"x", "kind", "TrainingElapsedTimeSeconds"} <= set(body["Columns"])
    for row in rows:
        summary = summaries[row["TrainingJobName"]]
        assert row["TrainingJobStatus"] == summary["TrainingJobStatus"]
        assert row["FinalObjectiveValue"] == summary["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
        assert isinstance(row["x"], float) and row["x"] == float(summary["TunedHyperParameters"]["x"])
        assert row["kind"] == summary["TunedHyperParameters"]["kind"]
        assert row["TrainingElapsedTimeSeconds"] >= 0
        if row["TrainingJobStatus"] == "Stopped":
            assert row["EarlyStoppingRule"] == "hyperband" and row["EarlyStoppingStep"] >= 1
    assert any(r["TrainingJobStatus"] == "Stopped" for r in rows), "expected Hyperband to stop some training jobs"


def test_csv_and_parquet_hold_the_same_rows(finished: dict[str, Any], api: TunestreamClient) -> None:
    name = finished["name"]
    as_json = api.analytics(name, "training-jobs")["TrainingJobs"]
    as_csv = list(csv.DictReader(io.StringIO(api.export(name, "training-jobs", "csv").decode())))
    parquet = pq.read_table(io.BytesIO(api.export(name, "training-jobs", "parquet")))
    assert parquet.schema.field("x").type == pa.float64()
    assert parquet.schema.field("kind").type == pa.string()
    assert parquet.schema.field("TrainingJobIndex").type == pa.int64()
    assert pa.types.is_timestamp(parquet.schema.field("TrainingStartTime").type)
    as_parquet = parquet.to_pylist()
    assert len(as_csv) == len(as_parquet) == len(as_json)
    for j, c, p in zip(as_json, as_csv, as_parquet, strict=True):
        assert j["TrainingJobName"] == c["TrainingJobName"] == p["TrainingJobName"]
        assert float(c["FinalObjectiveValue"]) == p["FinalObjectiveValue"] == j["FinalObjectiveValue"]
        assert float(c["x"]) == p["x"] == j["x"]
        assert c["kind"] == p["kind"] == j["kind"]  # "$(echo pwned)" and "b c" survive both formats verbatim
        assert p["TrainingStartTime"].isoformat() == c["TrainingStartTime"] == j["TrainingStartTime"]


def test_metric_series_export(finished: dict[str, Any], api: TunestreamClient) -> None:
    name = finished["name"]
    expected = sorted(
        (n, m["MetricName"], m["Step"], m["Value"]) for n, series in finished["series"].items() for m in series
    )
    rows = api.analytics(name, "metrics")["Metrics"]
    assert sorted((r["TrainingJobName"], r["MetricName"], r["Step"], r["Value"]) for r in rows) == expected
    parquet = pq.read_table(io.BytesIO(api.export(name, "metrics", "parquet"))).to_pylist()
    assert sorted((r["TrainingJobName"], r["MetricName"], r["Step"], r["Value"]) for r in parquet) == expected
    as_csv = list(csv.DictReader(io.StringIO(api.export(name, "metrics", "csv", metric_name="score").decode())))
    assert len(as_csv) == len([e for e in expected if e[1] == "score"]) and as_csv
    assert {r["MetricName"] for r in as_csv} == {"score"}


def test_bad_requests_name_the_field(finished: dict[str, Any], http: httpx.Client) -> None:
    missing = http.get("/tuning-jobs/no-such-job/analytics/training-jobs")
    assert missing.status_code == 404 and missing.json()["__type"] == "ResourceNotFound"
    bad = http.get(f"/tuning-jobs/{finished['name']}/analytics/metrics", params={"format": "xml"})
    assert bad.status_code == 400
    assert bad.json()["__type"] == "ValidationException" and bad.json()["errors"][0]["field"] == "format"


def test_cli_export_and_plot(finished: dict[str, Any], settings: Settings, tmp_path: Path) -> None:
    name = finished["name"]
    out = tmp_path / "jobs.parquet"
    exported = tunestream(settings, "export", name, "--format", "parquet", "--out", str(out))
    assert exported.returncode == 0, exported.stdout + exported.stderr
    assert pq.read_table(out).num_rows == len(finished["summaries"])

    metrics_csv = tmp_path / "metrics.csv"
    exported = tunestream(settings, "export", name, "--table", "metrics", "--out", str(metrics_csv))
    assert exported.returncode == 0 and metrics_csv.read_text().startswith("TrainingJobName,MetricName,Step")

    plots = ARTIFACTS / "plots" / name  # kept as test artifacts, to look at
    plotted = tunestream(settings, "plot", name, "--out", str(plots))
    assert plotted.returncode == 0, plotted.stdout + plotted.stderr
    for png in ("convergence.png", "parallel_coordinates.png", "learning_curves.png"):
        pixels = image.imread(plots / png)
        # Not a blank canvas: a real plot has many distinct colours.
        assert pixels.shape[0] > 300 and len(np.unique(pixels.reshape(-1, pixels.shape[-1]), axis=0)) > 50, png

    unknown = tunestream(settings, "plot", "no-such-job", "--out", str(tmp_path / "none"))
    assert unknown.returncode == 1 and "no-such-job" in unknown.stdout
