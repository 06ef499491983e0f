"""Values of honoured members tunestream cannot honour are refused by name; the values it honours pass."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.jobs import continuous, tuning_job
from tunestream.definitions import CreateTuningJobRequest
from tunestream.validation import InvalidTuningJob, validate_request

CHANNEL = {"ChannelName": "train", "DataSource": {"S3DataSource": {"S3Uri": "s3://bucket/train"}}}


def request(image: str | None = None, **definition: Any) -> dict[str, Any]:
    job = tuning_job(
        "limits",
        command=None if image else ["python", "train.py"],
        image=image,
        ranges={"ContinuousParameterRanges": [continuous("x")]},
    )
    job["TrainingJobDefinition"].update(definition)
    return job


def errors_of(job: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(InvalidTuningJob) as info:
        validate_request(CreateTuningJobRequest.model_validate(job))
    return [(e.field, e.rule) for e in info.value.errors]


def manifest_channel() -> dict[str, Any]:
    return {**CHANNEL, "DataSource": {"S3DataSource": {"S3Uri": "s3://b/m", "S3DataType": "ManifestFile"}}}


@pytest.mark.parametrize(
    ("definition", "field", "rule"),
    [
        ({"EnableManagedSpotTraining": True}, "EnableManagedSpotTraining", "spot-unsupported"),
        (
            {"InputDataConfig": [CHANNEL, manifest_channel()]},
            "InputDataConfig[1].DataSource.S3DataSource.S3DataType",
            "manifest-unsupported",
        ),
        (
            {"CheckpointConfig": {"S3Uri": "s3://b/c", "LocalPath": "/tmp/ckpt"}},
            "CheckpointConfig.LocalPath",
            "local-path-container",
        ),
    ],
)
def test_values_tunestream_cannot_honour(definition: dict[str, Any], field: str, rule: str) -> None:
    assert errors_of(request(**definition)) == [(f"TrainingJobDefinition.{field}", rule)]


@pytest.mark.parametrize(
    "definition",
    [
        {"ResourceConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large"}},
        {"EnableManagedSpotTraining": False, "EnableNetworkIsolation": False},
        {"EnableNetworkIsolation": True},
        {"EnableInterContainerTrafficEncryption": True},
        {"OutputDataConfig": {"S3OutputPath": "s3://b/o", "CompressionType": "GZIP"}},
        {"OutputDataConfig": {"S3OutputPath": "s3://b/o", "CompressionType": "NONE"}},
        {"InputDataConfig": [CHANNEL]},
        {"CheckpointConfig": {"S3Uri": "s3://b/c", "LocalPath": "/opt/ml/checkpoints/"}},
    ],
)
def test_values_tunestream_honours(definition: dict[str, Any]) -> None:
    validate_request(CreateTuningJobRequest.model_validate(request(**definition)))


def test_a_container_takes_any_checkpoint_path() -> None:
    job = request(image="trainer:1", CheckpointConfig={"S3Uri": "s3://b/c", "LocalPath": "/tmp/ckpt"})
    validate_request(CreateTuningJobRequest.model_validate(job))


def test_a_file_uri_program_is_a_local_process() -> None:
    job = request(image="file:///opt/train.sh", CheckpointConfig={"S3Uri": "s3://b/c", "LocalPath": "/tmp/ckpt"})
    assert errors_of(job) == [("TrainingJobDefinition.CheckpointConfig.LocalPath", "local-path-container")]


def test_several_instances_run_as_processes_not_as_containers() -> None:
    two = {"InstanceCount": 2, "InstanceType": "ml.m5.large"}
    for command_job in (request(ResourceConfig=two), request(image="file:///opt/train.sh", ResourceConfig=two)):
        validate_request(CreateTuningJobRequest.model_validate(command_job))
    container_job = request(image="trainer:1", ResourceConfig={"InstanceCount": 3, "InstanceType": "ml.m5.large"})
    assert errors_of(container_job) == [("TrainingJobDefinition.ResourceConfig.InstanceCount", "single-instance")]
