"""SageMaker SDK v3's source-code mode (ModelTrainer with SourceCode), unchanged: ModelTrainer.train
on the container backend (the SDK uploads the code and its driver as channels and runs its
sm_train.sh through ContainerEntrypoint in a plain Python image, deploy/images/build-python.sh), and
HyperparameterTuner.tune, whose definition names the script for a framework image's toolkit, as a
local process (tunestream.framework_images) (issue #15, part 1)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import ROOT
from tests.integration.side_launchers import SideLauncher
from tests.integration.test_containers import docker_host, dockerc, launcher  # noqa: F401 (the engine and its launcher)
from tests.integration.test_sagemaker_sdk import name_default_bucket, run_example, sdk3_python  # noqa: F401
from tunestream.client import TunestreamClient
from tunestream.config import Settings

PYTHON_IMAGE = "tunestream/python:3.11"


@pytest.fixture(scope="module")
def python_image(docker_host: str) -> str:  # noqa: F811
    done = subprocess.run(
        ["bash", str(ROOT / "deploy" / "images" / "build-python.sh")],
        cwd=ROOT,
        env={**os.environ, "TUNESTREAM_DOCKER_HOST": docker_host},
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    return PYTHON_IMAGE


def test_sdk_v3_source_code_runs_its_driver_in_a_python_image(
    sdk3_python: str,  # noqa: F811
    python_image: str,
    launcher: SideLauncher,  # noqa: F811
    api: TunestreamClient,
    settings: Settings,
    run_id: str,
    tmp_path: Path,
) -> None:
    name_default_bucket(tmp_path, settings.s3_bucket)
    summary: dict[str, Any] = run_example(
        sdk3_python,
        ROOT / "examples" / "sagemaker_sdk" / "source_code_v3.py",
        ["--image", python_image, "--output", f"s3://{settings.s3_bucket}/it/sdk3src-{run_id}"],
        settings,
        tmp_path,
    )
    assert summary["training_status"] == "Completed" and summary["tuning_status"] == "Completed", summary
    training = api.describe_training_job(summary["training_job"])
    assert training["LauncherId"] == launcher.launcher_id
    spec = training["AlgorithmSpecification"]
    assert spec["TrainingImage"] == python_image and spec["ContainerEntrypoint"] == ["/bin/bash"], spec
    assert {c["ChannelName"] for c in training["InputDataConfig"]} >= {"code", "sm_drivers"}
    log = api.logs(summary["training_job"])
    # The SDK's driver ran in the image, and it ran the uploaded script with the hyperparameters.
    assert "Running Basic Script driver" in log and "epoch=20 valid:mse=" in log, log[-3000:]
    best = api.describe_training_job(summary["best_training_job"])
    assert best["TrainingJobStatus"] == "Completed" and best["FinalMetricDataList"], best
    # The tuning job's definition names the script for a framework image's toolkit: a local process.
    assert best["AlgorithmSpecification"]["TrainingImage"] == summary["framework_image"]
    assert best["HyperParameters"]["sagemaker_program"] == "train.py"
    assert best["LauncherId"] != launcher.launcher_id
    assert "epoch=20 valid:mse=" in api.logs(summary["best_training_job"])
    described = api.describe(summary["tuning_job"])
    assert described["TrainingJobStatusCounters"]["Completed"] == 3
