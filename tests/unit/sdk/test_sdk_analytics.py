"""HyperparameterTuningJobAnalytics.dataframe() from canned ListTrainingJobs pages."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

import httpx
import pytest

from tests.unit.sdk.conftest import FakeApi
from tunestream.sdk.analytics import (
    METADATA_COLUMNS,
    HyperparameterTuningJobAnalytics,
    TrainingJobAnalytics,
    summaries_to_dataframe,
)
from tunestream.sdk.session import Session

T0 = "2025-11-25T10:00:00+00:00"


def summary(index: int, lr: str, batch: str, kind: str, value: float | None, status: str = "Completed") -> dict:
    job: dict[str, Any] = {
        "TrainingJobName": f"job-{index:03d}-abcd{index:04d}",
        "TrainingJobStatus": status,
        "CreationTime": T0,
        "TrainingStartTime": f"2025-11-25T10:00:{index:02d}+00:00",
        "TrainingEndTime": f"2025-11-25T10:01:{index:02d}.500000+00:00",
        "TunedHyperParameters": {"lr": lr, "batch_size": batch, "optimizer": kind},
    }
    if value is not None:
        job["FinalHyperParameterTuningJobObjectiveMetric"] = {
            "Type": "Maximize",
            "MetricName": "val:dice",
            "Value": value,
        }
    return job


JOBS = [
    summary(1, "0.001", "2", "adam", 0.71),
    summary(2, "1e-05", "4", "sgd", 0.21),
    summary(3, "0.0003", "1", "adam", None, status="Failed"),
]
DESCRIBE = {
    "HyperParameterTuningJobName": "job",
    "HyperParameterTuningJobStatus": "Completed",
    "HyperParameterTuningJobConfig": {
        "HyperParameterTuningJobObjective": {"Type": "Maximize", "MetricName": "val:dice"},
        "ResourceLimits": {"MaxNumberOfTrainingJobs": 3, "MaxParallelTrainingJobs": 1},
        "ParameterRanges": {
            "ContinuousParameterRanges": [{"Name": "lr", "MinValue": "1e-05", "MaxValue": "0.001"}],
            "CategoricalParameterRanges": [
                {"Name": "batch_size", "Values": ["1", "2", "4"]},
                {"Name": "optimizer", "Values": ["adam", "sgd"]},
            ],
            "IntegerParameterRanges": [],
        },
    },
}


@pytest.fixture
def paged_api(fake_api: FakeApi) -> FakeApi:
    """ListTrainingJobs in two pages (NextToken), as the api pages it."""

    def pages(request: httpx.Request) -> tuple[int, Any]:
        if request.url.params.get("NextToken") == "page-2":
            return 200, {"TrainingJobSummaries": JOBS[2:]}
        return 200, {"TrainingJobSummaries": JOBS[:2], "NextToken": "page-2"}

    fake_api.on("GET", "/tuning-jobs/job", DESCRIBE)
    fake_api.on("GET", "/tuning-jobs/job/training-jobs", pages)
    return fake_api


def test_dataframe_of_a_tuning_job(paged_api: FakeApi, session: Session) -> None:
    analytics = HyperparameterTuningJobAnalytics("job", sagemaker_session=session)
    df = analytics.dataframe()
    assert list(df.columns) == ["lr", "batch_size", "optimizer", *METADATA_COLUMNS, "val:dice"]
    assert list(df.index) == [0, 1, 2]
    assert df["TrainingJobName"].tolist() == [j["TrainingJobName"] for j in JOBS]
    assert df["TrainingJobStatus"].tolist() == ["Completed", "Completed", "Failed"]
    # Numbers as numbers: a continuous range as floats, a categorical of numbers as ints, text as text.
    assert df["lr"].tolist() == [0.001, 1e-05, 0.0003] and str(df["lr"].dtype) == "float64"
    assert df["batch_size"].tolist() == [2, 4, 1] and str(df["batch_size"].dtype) == "int64"
    assert df["optimizer"].tolist() == ["adam", "sgd", "adam"]
    assert df["val:dice"].tolist()[:2] == df["FinalObjectiveValue"].tolist()[:2] == [0.71, 0.21]
    assert math.isnan(df["val:dice"][2]) and math.isnan(df["FinalObjectiveValue"][2])
    assert df["TrainingStartTime"][0] == datetime.fromisoformat("2025-11-25T10:00:01+00:00")
    assert df["TrainingEndTime"][0] == datetime.fromisoformat("2025-11-25T10:01:01.5+00:00")
    assert df["TrainingElapsedTimeSeconds"].tolist() == [60.5, 60.5, 60.5]
    # The lab's cells: the correlation table and the convergence curve.
    assert df[["lr", "batch_size", "val:dice"]].corr()["val:dice"]["val:dice"] == pytest.approx(1.0)
    assert [df["val:dice"][: i + 1].max() for i in range(len(df))] == [0.71, 0.71, 0.71]
    # Cached until refreshed; the pages were fetched with the api's paging, in name order.
    assert analytics.dataframe() is df
    lists = [r for r in paged_api.requests if r.url.path.endswith("/training-jobs")]
    assert len(lists) == 2 and lists[0].url.params["SortBy"] == "Name"
    assert analytics.dataframe(force_refresh=True) is not df
    assert analytics.tuning_ranges["lr"]["MaxValue"] == "0.001"


def test_text_and_time_cells_let_whole_frame_plots_work(paged_api: FakeApi, session: Session) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from pandas.plotting import parallel_coordinates

    df = HyperparameterTuningJobAnalytics("job", sagemaker_session=session).dataframe().iloc[:2]
    assert math.isnan(float(df["TrainingJobName"][0])) and math.isnan(float(df["TrainingStartTime"][0]))
    assert df["TrainingJobName"].str.startswith("job-").all()
    ax = parallel_coordinates(df, "val:dice", colormap="viridis")
    assert len(ax.get_lines()) >= 2
    plt.close("all")


def test_mixed_and_missing_values() -> None:
    jobs = [
        {"TrainingJobName": "a", "TrainingJobStatus": "InProgress", "TunedHyperParameters": {"c": "1", "n": "3"}},
        {"TrainingJobName": "b", "TrainingJobStatus": "Completed", "TunedHyperParameters": {"c": "x", "n": "2.5"}},
    ]
    df = summaries_to_dataframe(jobs, "score")
    assert df["c"].tolist() == ["1", "x"] and df["n"].tolist() == [3.0, 2.5]
    assert df["TrainingStartTime"].tolist() == [None, None]
    assert math.isnan(df["TrainingElapsedTimeSeconds"][0]) and math.isnan(df["score"][1])
    empty = summaries_to_dataframe([], "score", ["lr"])
    assert list(empty.columns) == ["lr", *METADATA_COLUMNS, "score"] and len(empty) == 0
    # An objective named like a column is not added twice.
    assert list(summaries_to_dataframe(jobs, "FinalObjectiveValue").columns).count("FinalObjectiveValue") == 1


def test_training_job_metrics(fake_api: FakeApi, session: Session) -> None:
    fake_api.on("GET", "/training-jobs/t1", {"TrainingJobName": "t1", "TrainingStartTime": T0})
    fake_api.on(
        "GET",
        "/training-jobs/t1/metrics",
        {
            "TrainingJobName": "t1",
            "Metrics": [
                {"MetricName": "val:dice", "Step": 1, "Value": 0.5, "Timestamp": "2025-11-25T10:00:02+00:00"},
                {"MetricName": "train:loss", "Step": 1, "Value": 1.5, "Timestamp": "2025-11-25T10:00:02+00:00"},
                {"MetricName": "val:dice", "Step": 2, "Value": 0.7, "Timestamp": "2025-11-25T10:00:04+00:00"},
            ],
        },
    )
    df = TrainingJobAnalytics("t1", metric_names=["val:dice"], sagemaker_session=session).dataframe()
    assert df.to_dict("records") == [
        {"timestamp": 2.0, "metric_name": "val:dice", "value": 0.5, "step": 1},
        {"timestamp": 4.0, "metric_name": "val:dice", "value": 0.7, "step": 2},
    ]
