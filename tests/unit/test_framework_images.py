"""Framework estimators' scripts (sagemaker.pytorch.PyTorch and its peers): which images are
framework containers, what the script receives, and the runner that stands in for the toolkit."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tunestream.events.v1 import ScriptSpec, TrainingJobSpec
from tunestream.framework_images import (
    SCRIPT_CODE_DIR_ENV,
    framework_of,
    script_arguments,
    script_spec,
    user_hyperparameters,
)
from tunestream.launcher.layout import JobLayout, training_argv, training_environment

PYTORCH = "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.4.0-gpu-py311"
# As the SDK's framework estimators send them: every value JSON-encoded, the tuned ones plain.
HYPERPARAMETERS = {
    "sagemaker_program": '"train_fsdp.py"',
    "sagemaker_submit_directory": '"s3://b/job/source/sourcedir.tar.gz"',
    "sagemaker_container_log_level": "20",
    "sagemaker_region": '"us-east-1"',
    "sagemaker_job_name": '"pytorch-training-2026"',
    "model_name": '"SegResNet"',
    "epochs": "10",
    "lr": "0.0003",
    "flags": '{"b": 2, "a": 1}',
    "verbose": "true",
}


@pytest.mark.parametrize(
    ("image", "framework"),
    [
        (PYTORCH, "pytorch-training"),
        ("763104351884.dkr.ecr.eu-west-1.amazonaws.com/tensorflow-training:2.16-cpu-py310", "tensorflow-training"),
        ("683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3", "sagemaker-scikit-learn"),
        (
            "763104351884.dkr.ecr.us-east-1.amazonaws.com/huggingface-pytorch-training:2.1-transformers4.36-gpu-py310",
            "huggingface-pytorch-training",
        ),
        ("763104351884.dkr.ecr.cn-north-1.amazonaws.com.cn/pytorch-training:2.4.0-cpu-py311", "pytorch-training"),
        ("683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1", None),  # the built-in
        ("tunestream/test-trainer:1", None),
        ("docker.io/pytorch/pytorch:latest", None),
        (None, None),
    ],
)
def test_framework_containers_are_recognised_by_their_ecr_repository(image: str | None, framework: str | None) -> None:
    assert framework_of(image) == framework


def test_a_framework_image_runs_a_script_only_with_the_sdks_program_and_source() -> None:
    assert script_spec(PYTORCH, HYPERPARAMETERS) == ScriptSpec(
        framework="pytorch-training", program="train_fsdp.py", submit_directory="s3://b/job/source/sourcedir.tar.gz"
    )
    assert script_spec(PYTORCH, {"epochs": "10"}) is None  # a ContainerEntrypoint job of its own
    assert script_spec("tunestream/test-trainer:1", HYPERPARAMETERS) is None


def test_the_script_gets_the_toolkits_arguments_sorted_decoded_and_without_its_own() -> None:
    assert script_arguments(HYPERPARAMETERS) == [
        "--epochs", "10", "--flags", "a=1,b=2", "--lr", "0.0003", "--model_name", "SegResNet", "--verbose", "True",
    ]  # fmt: skip
    assert user_hyperparameters(HYPERPARAMETERS) == {
        "model_name": "SegResNet",
        "epochs": 10,
        "lr": 0.0003,
        "flags": {"b": 2, "a": 1},
        "verbose": True,
    }
    # A value the service tuned is plain text, and stays so.
    assert script_arguments({"optimizer": "adam"}) == ["--optimizer", "adam"]


def script_job() -> TrainingJobSpec:
    return TrainingJobSpec(
        training_job_name="tj-001-abcdef12",
        index=0,
        tuned_hyperparameters={"lr": "0.0003"},
        hyperparameters=HYPERPARAMETERS,
        command=[],
        environment={},
        input_channels=[],
        output_s3_path="s3://b/out/",
        max_runtime_s=10,
        metric_definitions=[],
        objective_metric_name="m",
        objective_type="Maximize",
        training_image=PYTORCH,
        script=script_spec(PYTORCH, HYPERPARAMETERS),
    )


def test_a_script_job_is_a_local_process_with_the_toolkits_environment(tmp_path: Path) -> None:
    spec, layout = script_job(), JobLayout(tmp_path / "job")
    assert spec.backend == "process"
    argv = training_argv(spec)
    assert argv[:3] == [sys.executable, "-m", "tunestream.algorithms.script_mode"]
    assert argv[3:] == script_arguments(HYPERPARAMETERS)
    env = training_environment(spec, layout, {"PATH": "/bin"})
    assert json.loads(env["SM_HPS"]) == user_hyperparameters(HYPERPARAMETERS)
    assert env["SM_HP_EPOCHS"] == "10" and env["SM_HP_MODEL_NAME"] == "SegResNet"
    assert env["SM_USER_ENTRY_POINT"] == "train_fsdp.py" and env["SM_MODULE_NAME"] == "train_fsdp"
    assert env["SM_MODULE_DIR"] == "s3://b/job/source/sourcedir.tar.gz"
    assert json.loads(env["SM_USER_ARGS"]) == script_arguments(HYPERPARAMETERS)
    assert json.loads(env["SM_FRAMEWORK_PARAMS"])["sagemaker_region"] == "us-east-1"
    assert env[SCRIPT_CODE_DIR_ENV] == str(layout.code_dir)


def run_runner(code: Path, program: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        SCRIPT_CODE_DIR_ENV: str(code),
        "SM_USER_ENTRY_POINT": program,
        "SM_OUTPUT_DIR": str(code.parent / "output"),
    }
    return subprocess.run(
        [sys.executable, "-m", "tunestream.algorithms.script_mode", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_runner_runs_the_entry_point_in_its_code_folder_with_its_modules(tmp_path: Path) -> None:
    code = tmp_path / "code"
    (code / "sub").mkdir(parents=True)
    (code / "helpers.py").write_text("VALUE = 'from helpers'\n")
    (code / "sub" / "train.py").write_text(
        "import os, sys, helpers\nprint(helpers.VALUE, os.getcwd(), sys.argv[1:])\nsys.exit(7)\n"
    )
    (code / "requirements.txt").write_text("monai\n")
    done = run_runner(code, "sub/train.py", "--lr", "0.1")
    assert done.returncode == 7, done.stderr
    assert done.stdout.strip() == f"from helpers {code} ['--lr', '0.1']"
    assert "requirements.txt is not installed" in done.stderr


def test_an_entry_point_outside_the_source_directory_fails_with_a_reason(tmp_path: Path) -> None:
    code = tmp_path / "code"
    code.mkdir()
    (tmp_path / "outside.py").write_text("print('no')\n")
    for program in ("../outside.py", "missing.py"):
        done = run_runner(code, program)
        assert done.returncode == 2
        assert "is not in the uploaded source directory" in (tmp_path / "output" / "failure").read_text()
