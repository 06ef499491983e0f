"""Shared fixtures: job documents used by unit and integration tests."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.jobs import continuous, tuning_job

# Under CI=true a skip is a failure (tests/ci_no_skips.py).
pytest_plugins = ["tests.ci_no_skips"]

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_JOB = ROOT / "examples" / "xgboost_breast_cancer" / "job.json"


def minimal_job(name: str = "unit-job", **config: Any) -> dict[str, Any]:
    job = tuning_job(
        name,
        command=["python", "-c", "print('score=1')"],
        seed=7,
        ranges={
            "ContinuousParameterRanges": [continuous("x", ScalingType="Linear")],
            "IntegerParameterRanges": [{"Name": "n", "MinValue": "1", "MaxValue": "5"}],
            "CategoricalParameterRanges": [{"Name": "kind", "Values": ["a", "b"]}],
        },
        static={"epochs": "3"},
        metrics=[{"Name": "score", "Regex": "score=([0-9.eE+-]+)"}],
        output="s3://tunestream/unit/output",
    )
    job["HyperParameterTuningJobConfig"].update(config)
    return job


@pytest.fixture
def job() -> dict[str, Any]:
    return copy.deepcopy(minimal_job())


@pytest.fixture
def example_job() -> dict[str, Any]:
    return json.loads(EXAMPLE_JOB.read_text())
