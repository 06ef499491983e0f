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
    return {**CHANNEL, "DataSource": {"S3DataSource": {"S3Uri": "s3://b/m", "S3DataType": "AugmentedManifestFile"}}}


@pytest.mark.parametrize(
    ("definition", "field", "rule"),
    [
        ({"EnableManagedSpotTraining": True}, "StoppingCondition.MaxWaitTimeInSeconds", "spot-needs-max-wait"),
        (
            {"StoppingCondition": {"MaxRuntimeInSeconds": 60, "MaxWaitTimeInSeconds": 120}},
            "StoppingCondition.MaxWaitTimeInSeconds",
            "max-wait-needs-spot",
        ),
        (
            {
                "EnableManagedSpotTraining": True,
                "StoppingCondition": {"MaxRuntimeInSeconds": 600, "MaxWaitTimeInSeconds": 599},
            },
            "StoppingCondition.MaxWaitTimeInSeconds",
            "max-wait-at-least-runtime",
        ),
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
        {
            "EnableManagedSpotTraining": True,
            "StoppingCondition": {"MaxRuntimeInSeconds": 60, "MaxWaitTimeInSeconds": 60},
        },
        {"EnableNetworkIsolation": True},
        {"EnableInterContainerTrafficEncryption": True},
        {"OutputDataConfig": {"S3OutputPath": "s3://b/o", "CompressionType": "GZIP"}},
        {"OutputDataConfig": {"S3OutputPath": "s3://b/o", "CompressionType": "NONE"}},
        {"InputDataConfig": [CHANNEL]},
        {
            "InputDataConfig": [
                {**CHANNEL, "DataSource": {"S3DataSource": {"S3Uri": "s3://b/m", "S3DataType": "ManifestFile"}}}
            ]
        },
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


def test_several_instances_run_as_processes_and_as_containers() -> None:
    two = {"InstanceCount": 3, "InstanceType": "ml.m5.large"}
    for image in (None, "file:///opt/train.sh", "trainer:1"):
        validate_request(CreateTuningJobRequest.model_validate(request(image=image, ResourceConfig=two)))


XGBOOST_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"


def builtin_job(**algorithm: Any) -> dict[str, Any]:
    job = request(image=XGBOOST_IMAGE, ResourceConfig={"InstanceCount": 2, "InstanceType": "ml.c4.2xlarge"})
    job["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"]["MetricName"] = "validation:auc"
    job["TrainingJobDefinition"]["AlgorithmSpecification"] = {"TrainingInputMode": "File", **algorithm}
    return job


def test_the_builtin_xgboost_brings_its_metrics_and_runs_as_processes_on_several_instances() -> None:
    for algorithm in ({"TrainingImage": XGBOOST_IMAGE}, {"AlgorithmName": "xgboost"}):
        accepted = validate_request(CreateTuningJobRequest.model_validate(builtin_job(**algorithm)))
        assert accepted is not None
        algo = CreateTuningJobRequest.model_validate(builtin_job(**algorithm)).TrainingJobDefinition
        assert algo is not None and algo.AlgorithmSpecification.builtin == "xgboost"
        names = [m.Name for m in algo.AlgorithmSpecification.MetricDefinitions]
        assert "validation:auc" in names and "train:rmse" in names and len(names) == 28


def test_metric_definitions_given_for_a_builtin_are_the_ones_used() -> None:
    mine = [{"Name": "validation:auc", "Regex": "auc=([0-9.]+)"}]
    job = CreateTuningJobRequest.model_validate(builtin_job(TrainingImage=XGBOOST_IMAGE, MetricDefinitions=mine))
    assert job.TrainingJobDefinition is not None
    assert [m.Regex for m in job.TrainingJobDefinition.AlgorithmSpecification.MetricDefinitions] == ["auc=([0-9.]+)"]


@pytest.mark.parametrize(
    ("algorithm", "rule"),
    [
        ({"AlgorithmName": "arn:aws:sagemaker:us-east-1:123456789012:algorithm/mine"}, "builtin-algorithm"),
        ({"AlgorithmName": "xgboost", "TrainingImage": XGBOOST_IMAGE}, "image-or-algorithm"),
    ],
)
def test_other_algorithm_names_are_refused(algorithm: dict[str, Any], rule: str) -> None:
    assert ("TrainingJobDefinition.AlgorithmSpecification.AlgorithmName", rule) in errors_of(builtin_job(**algorithm))


def test_other_ecr_images_are_containers() -> None:
    job = CreateTuningJobRequest.model_validate(
        builtin_job(TrainingImage="683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1")
    )
    assert job.TrainingJobDefinition is not None
    assert job.TrainingJobDefinition.AlgorithmSpecification.builtin is None
    assert job.TrainingJobDefinition.AlgorithmSpecification.MetricDefinitions == []


GROUPS = [
    {"InstanceType": "ml.c5.xlarge", "InstanceCount": 2, "InstanceGroupName": "data"},
    {"InstanceType": "ml.g5.xlarge", "InstanceCount": 1, "InstanceGroupName": "train"},
]


def grouped_channel(*names: str) -> dict[str, Any]:
    return {
        "ChannelName": "train",
        "DataSource": {"S3DataSource": {"S3Uri": "s3://b/train", "InstanceGroupNames": list(names)}},
    }


def test_instance_groups_run_a_heterogeneous_cluster() -> None:
    job = request(ResourceConfig={"InstanceGroups": GROUPS}, InputDataConfig=[grouped_channel("data")])
    validate_request(CreateTuningJobRequest.model_validate(job))


@pytest.mark.parametrize(
    ("resources", "channel", "field", "rule"),
    [
        (
            {"InstanceGroups": GROUPS, "InstanceType": "ml.c5.xlarge"},
            grouped_channel("data"),
            "ResourceConfig.InstanceGroups",
            "instance-groups-or-type",
        ),
        (
            {"InstanceGroups": [GROUPS[0], {**GROUPS[1], "InstanceGroupName": "data"}]},
            grouped_channel("data"),
            "ResourceConfig.InstanceGroups[1].InstanceGroupName",
            "unique",
        ),
        (
            {"InstanceGroups": GROUPS},
            grouped_channel("data", "nope"),
            "InputDataConfig[0].DataSource.S3DataSource.InstanceGroupNames",
            "instance-group-known",
        ),
        (
            {"InstanceType": "ml.c5.xlarge", "InstanceCount": 2},
            grouped_channel("data"),
            "InputDataConfig[0].DataSource.S3DataSource.InstanceGroupNames",
            "instance-group-known",
        ),
    ],
)
def test_instance_group_rules(resources: dict[str, Any], channel: dict[str, Any], field: str, rule: str) -> None:
    job = request(ResourceConfig=resources, InputDataConfig=[channel])
    assert (f"TrainingJobDefinition.{field}", rule) in errors_of(job)


def test_network_isolated_processes_run_on_one_instance() -> None:
    two = {"InstanceCount": 2, "InstanceType": "ml.m5.large"}
    job = request(ResourceConfig=two, EnableNetworkIsolation=True)
    assert errors_of(job) == [("TrainingJobDefinition.EnableNetworkIsolation", "isolation-one-process-host")]
    validate_request(
        CreateTuningJobRequest.model_validate(
            request(image="trainer:1", ResourceConfig=two, EnableNetworkIsolation=True)
        )
    )


def test_network_isolated_processes_in_one_instance_group_of_two_are_refused_too() -> None:
    one_group = {"InstanceGroups": [{**GROUPS[0], "InstanceCount": 2}]}
    job = request(ResourceConfig=one_group, EnableNetworkIsolation=True)
    assert errors_of(job) == [("TrainingJobDefinition.EnableNetworkIsolation", "isolation-one-process-host")]
