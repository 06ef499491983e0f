"""`TrainingImage: file:///abs/path`: a local executable run by the process backend."""

from __future__ import annotations

from typing import Any

import pytest

from tunestream.definitions import CreateTuningJobRequest
from tunestream.events.v1 import TrainingJobSpec
from tunestream.launcher.layout import training_argv
from tunestream.training_image import file_uri_problem, is_file_uri, local_executable
from tunestream.validation import InvalidTuningJob, validate_request


def spec(image: str | None, command: list[str] | None = None) -> TrainingJobSpec:
    return TrainingJobSpec(
        training_job_name="tj-001-abcdef12",
        index=0,
        tuned_hyperparameters={"x": "0.1"},
        hyperparameters={"x": "0.1", "epochs": "3"},
        command=command or [],
        environment={},
        input_channels=[],
        output_s3_path="s3://b/out/",
        max_runtime_s=10,
        metric_definitions=[],
        objective_metric_name="m",
        objective_type="Maximize",
        training_image=image,
    )


def test_file_uris() -> None:
    assert local_executable("file:///opt/train/run.sh") == "/opt/train/run.sh"
    assert local_executable("file://localhost/opt/my%20train") == "/opt/my train"
    assert local_executable("FILE:///opt/x") == "/opt/x"
    assert local_executable("123456789012.dkr.ecr.us-east-1.amazonaws.com/xgb:1") is None
    assert local_executable("file://relative/x") is None and local_executable(None) is None
    assert is_file_uri("file:relative") and not is_file_uri("python:3.12") and not is_file_uri(None)
    for bad in ("file:relative", "file://host/x", "file:///", "file:///x?y=1", "file:///x#f", "file://relative/x"):
        assert file_uri_problem(bad), bad
    assert file_uri_problem("file:///usr/bin/true") is None


def test_backend_and_argv() -> None:
    local = spec("file:///opt/train/run")
    assert local.backend == "process" and local.local_executable == "/opt/train/run"
    assert training_argv(local) == ["/opt/train/run", "--x", "0.1", "--epochs", "3"]
    assert spec("my-image:latest").backend == "container"
    assert spec(None, ["python", "t.py"]).backend == "process"
    assert training_argv(spec(None, ["python", "t.py"]))[:2] == ["python", "t.py"]


def _job(job: dict[str, Any], image: str, command: list[str] | None = None) -> CreateTuningJobRequest:
    algo = job["TrainingJobDefinition"]["AlgorithmSpecification"]
    algo.pop("Command", None)
    algo["TrainingImage"] = image
    if command is not None:
        algo["Command"] = command
    return CreateTuningJobRequest.model_validate(job)


def test_validation_accepts_absolute_file_uri(job: dict[str, Any]) -> None:
    validate_request(_job(job, "file:///opt/train/run.sh"))


@pytest.mark.parametrize("image", ["file://relative/run.sh", "file:run.sh", "file:///opt/x?a=1", "file://h/opt/x"])
def test_validation_rejects_other_file_uris(job: dict[str, Any], image: str) -> None:
    with pytest.raises(InvalidTuningJob) as info:
        validate_request(_job(job, image))
    assert [(e.field, e.rule) for e in info.value.errors] == [
        ("TrainingJobDefinition.AlgorithmSpecification.TrainingImage", "file-uri")
    ]


def test_validation_rejects_file_uri_with_command(job: dict[str, Any]) -> None:
    with pytest.raises(InvalidTuningJob) as info:
        validate_request(_job(job, "file:///opt/x", ["python", "t.py"]))
    assert [e.rule for e in info.value.errors] == ["file-or-command"]
