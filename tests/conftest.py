"""Shared fixtures: job documents used by unit and integration tests."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

# Under CI=true a skip is a failure (tests/ci_no_skips.py).
pytest_plugins = ["tests.ci_no_skips"]

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_JOB = ROOT / "examples" / "xgboost_breast_cancer" / "job.json"


def minimal_job(name: str = "unit-job", **config: Any) -> dict[str, Any]:
    job: dict[str, Any] = {
        "HyperParameterTuningJobName": name,
        "HyperParameterTuningJobConfig": {
            "Strategy": "Random",
            "RandomSeed": 7,
            "HyperParameterTuningJobObjective": {"Type": "Maximize", "MetricName": "score"},
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 4, "MaxParallelTrainingJobs": 2},
            "ParameterRanges": {
                "ContinuousParameterRanges": [{"Name": "x", "MinValue": "0", "MaxValue": "1", "ScalingType": "Linear"}],
                "IntegerParameterRanges": [{"Name": "n", "MinValue": "1", "MaxValue": "5"}],
                "CategoricalParameterRanges": [{"Name": "kind", "Values": ["a", "b"]}],
            },
        },
        "TrainingJobDefinition": {
            "StaticHyperParameters": {"epochs": "3"},
            "AlgorithmSpecification": {
                "Command": ["python", "-c", "print('score=1')"],
                "MetricDefinitions": [{"Name": "score", "Regex": "score=([0-9.eE+-]+)"}],
            },
            "OutputDataConfig": {"S3OutputPath": "s3://tunestream/unit/output"},
            "StoppingCondition": {"MaxRuntimeInSeconds": 60},
        },
    }
    job["HyperParameterTuningJobConfig"].update(config)
    return job


@pytest.fixture
def job() -> dict[str, Any]:
    return copy.deepcopy(minimal_job())


@pytest.fixture
def example_job() -> dict[str, Any]:
    return json.loads(EXAMPLE_JOB.read_text())
