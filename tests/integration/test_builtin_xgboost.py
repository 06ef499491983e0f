"""The seeds' own example through boto3 and the services over the real Kafka, PostgreSQL and S3: a
tuning job of SageMaker's built-in XGBoost (its ECR image, no MetricDefinitions, two instances per
training job, CSV channels), written as AMT's developer guide writes it, run by tunestream's stand-in."""

from __future__ import annotations

import io
import tarfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.integration.test_boto3 import sagemaker_client
from tests.support.waiting import wait_for
from tunestream.client import TunestreamClient
from tunestream.config import Settings
from tunestream.objstore.s3 import S3ObjectStore
from tunestream.replay.run import run_replay

pytest.importorskip("xgboost")

# What sagemaker.image_uris.retrieve("xgboost", "us-east-1", "1.0-1") returns.
TRAINING_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.0-1-cpu-py3"


def upload_breast_cancer(store: S3ObjectStore, prefix: str, tmp_path: Path) -> None:
    from sklearn.datasets import load_breast_cancer

    x, y = load_breast_cancer(return_X_y=True)
    order = np.random.default_rng(0).permutation(len(y))
    x, y = x[order], y[order]
    for channel, rows in (("train", slice(0, 400)), ("validation", slice(400, None))):
        path = tmp_path / f"{channel}.csv"
        np.savetxt(path, np.column_stack([y[rows], x[rows]]), delimiter=",", fmt="%.6g")
        store.put_file(f"{prefix}/{channel}/{channel}.csv", path, "text/csv")


def seeds_example(prefix: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """tuning_job_config and training_job_definition as the seeds give them; only the number of
    training jobs is smaller (20 there) to keep the test short."""
    tuning_job_config = {
        "ParameterRanges": {
            "CategoricalParameterRanges": [],
            "ContinuousParameterRanges": [
                {"MaxValue": "1", "MinValue": "0", "Name": "eta"},
                {"MaxValue": "2", "MinValue": "0", "Name": "alpha"},
                {"MaxValue": "10", "MinValue": "1", "Name": "min_child_weight"},
            ],
            "IntegerParameterRanges": [{"MaxValue": "10", "MinValue": "1", "Name": "max_depth"}],
        },
        "ResourceLimits": {"MaxNumberOfTrainingJobs": 5, "MaxParallelTrainingJobs": 3},
        "Strategy": "Bayesian",
        "HyperParameterTuningJobObjective": {"MetricName": "validation:auc", "Type": "Maximize"},
        "RandomSeed": 123,
    }
    channel = {"CompressionType": "None", "ContentType": "csv"}
    training_job_definition = {
        "AlgorithmSpecification": {"TrainingImage": TRAINING_IMAGE, "TrainingInputMode": "File"},
        "InputDataConfig": [
            {
                "ChannelName": name,
                **channel,
                "DataSource": {
                    "S3DataSource": {
                        "S3DataDistributionType": "FullyReplicated",
                        "S3DataType": "S3Prefix",
                        "S3Uri": f"{prefix}/{name}",
                    }
                },
            }
            for name in ("train", "validation")
        ],
        "OutputDataConfig": {"S3OutputPath": f"{prefix}/output"},
        "ResourceConfig": {"InstanceCount": 2, "InstanceType": "ml.c4.2xlarge", "VolumeSizeInGB": 10},
        "RoleArn": "arn:aws:iam::123456789012:role/service-role/AmazonSageMaker-ExecutionRole",
        "StaticHyperParameters": {
            "eval_metric": "auc",
            "num_round": "100",
            "objective": "binary:logistic",
            "rate_drop": "0.3",
            "tweedie_variance_power": "1.4",
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": 43200},
    }
    return tuning_job_config, training_job_definition


def test_the_seeds_builtin_xgboost_example_runs_unchanged(
    api: TunestreamClient, store: S3ObjectStore, settings: Settings, run_id: str, tmp_path: Path
) -> None:
    prefix = f"s3://{settings.s3_bucket}/it/xgboost-{run_id}"
    upload_breast_cancer(store, prefix, tmp_path)
    smclient = sagemaker_client(settings.api_port)
    tuning_job_config, training_job_definition = seeds_example(prefix)
    name = f"xgb-{run_id}"
    smclient.create_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=name,
        HyperParameterTuningJobConfig=tuning_job_config,
        TrainingJobDefinition=training_job_definition,
    )
    deadline = time.monotonic() + 300
    while (describe := smclient.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name))[
        "HyperParameterTuningJobStatus"
    ] not in ("Completed", "Failed", "Stopped"):
        assert time.monotonic() < deadline, describe
        time.sleep(1)
    assert describe["HyperParameterTuningJobStatus"] == "Completed", describe
    assert describe["TrainingJobStatusCounters"]["Completed"] == 5, describe
    best = describe["BestTrainingJob"]
    objective = best["FinalHyperParameterTuningJobObjectiveMetric"]
    assert objective["MetricName"] == "validation:auc" and 0.9 < objective["Value"] <= 1.0
    training = smclient.describe_training_job(TrainingJobName=best["TrainingJobName"])
    assert training["AlgorithmSpecification"]["TrainingImage"] == TRAINING_IMAGE
    assert training["ResourceConfig"]["InstanceCount"] == 2
    assert training["HyperParameters"]["_tuning_objective_metric"] == "validation:auc"  # as SageMaker adds it
    names = {m["Name"] for m in training["AlgorithmSpecification"]["MetricDefinitions"]}
    assert {"validation:auc", "train:auc", "validation:rmse"} <= names
    # Both hosts ran; algo-1 printed the evaluation the metric definitions read.
    log = api.logs(best["TrainingJobName"])
    assert "[algo-1] " in log and "[algo-2] " in log, log
    assert "validation-auc:" in log
    artifact = training["ModelArtifacts"]["S3ModelArtifacts"]
    with tarfile.open(fileobj=io.BytesIO(store.get_bytes(artifact))) as tar:
        assert tar.getnames() == ["xgboost-model"]
    # Replayed from Kafka, the job's decisions and read model come out the same (once the tracker
    # has written what came after the job's end).
    wait_for("a replay without differences", lambda: run_replay(settings, name)["differences"] == 0, timeout_s=60)
