"""SageMaker's own Python SDK, v2, unchanged against the running services (issue #15, part 1):
examples/sagemaker_sdk/tune_v2.py run by deploy/sagemaker-sdk.sh's interpreter, pointed at the api
and the S3 store by boto3's standard variables only."""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import ROOT
from tests.integration.test_sdk import gpu_launcher  # noqa: F401 (a launcher with four pretend GPUs)
from tunestream.client import TunestreamClient
from tunestream.config import Settings
from tunestream.objstore.s3 import S3ObjectStore

LAB_NOTEBOOKS = ROOT / "examples" / "sagemaker_lab" / "notebooks"


def installed_sdk(major: str) -> str:
    """The interpreter of deploy/sagemaker-sdk.sh's environment for that SDK major version."""
    reason = os.environ.get("TUNESTREAM_SDK_TESTS_SKIP")
    if reason:
        pytest.skip(f"the SageMaker SDK could not be installed: {reason}")
    done = subprocess.run(
        ["bash", str(ROOT / "deploy" / "sagemaker-sdk.sh"), major], capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def sdk_python() -> str:
    return installed_sdk("2")


@pytest.fixture(scope="module")
def sdk3_python() -> str:
    return installed_sdk("3")


def run_example(python: str, script: Path, args: list[str], settings: Settings, home: Path) -> dict[str, Any]:
    """Run an SDK example in `home` with sdk_environment; its last line, a JSON summary."""
    done = subprocess.run(
        [python, str(script), *args],
        cwd=home,
        env=sdk_environment(settings, home),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-5000:]
    summary: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return summary


def sdk_environment(settings: Settings, home: Path) -> dict[str, str]:
    """What points the SDK at tunestream: boto3's standard variables, nothing of tunestream's."""
    return {
        "PATH": os.environ["PATH"],
        "HOME": str(home),  # no ~/.aws, no ~/.config/sagemaker of the machine's
        "AWS_ENDPOINT_URL_SAGEMAKER": f"http://127.0.0.1:{settings.api_port}",
        "AWS_ENDPOINT_URL_S3": f"http://{settings.s3_endpoint}",
        # SDK v3 asks STS and IAM about the role before it trains: tunestream answers those too.
        "AWS_ENDPOINT_URL_STS": f"http://127.0.0.1:{settings.api_port}",
        "AWS_ENDPOINT_URL_IAM": f"http://127.0.0.1:{settings.api_port}",
        "AWS_ACCESS_KEY_ID": settings.s3_access_key,
        "AWS_SECRET_ACCESS_KEY": settings.s3_secret_key.get_secret_value(),
        "AWS_DEFAULT_REGION": "us-east-1",
        "SAGEMAKER_SUPPRESS_V2_WARNING": "1",
    }


def name_default_bucket(home: Path, bucket: str) -> None:
    """The SDK's own config file in `home` (~/.config/sagemaker/config.yaml) naming its default
    bucket, so that Session.default_bucket() asks no STS (v2 and v3 read it alike)."""
    config = home / ".config" / "sagemaker" / "config.yaml"
    config.parent.mkdir(parents=True)
    config.write_text(
        "SchemaVersion: '1.0'\n"
        "SageMaker:\n  PythonSDK:\n    Modules:\n      Session:\n"
        f"        DefaultS3Bucket: {bucket}\n"
    )


def two_definitions_ran(api: TunestreamClient, summary: dict[str, Any], best: str, best_depth: str) -> None:
    """The examples' tuning job of two TrainingJobDefinitions, "shallow" (max_depth 2-3) and "deep"
    (6-8): each training job ran one of them, and the best one, as the SDK read it back, has a depth
    of its definition's range."""
    assert summary["several_status"] == "Completed", summary
    several = api.describe(summary["several_tuning_job"])
    assert sorted(d["DefinitionName"] for d in several["TrainingJobDefinitions"]) == ["deep", "shallow"]
    ran = {
        s["TrainingJobName"]: s["TrainingJobDefinitionName"] for s in api.training_jobs(summary["several_tuning_job"])
    }
    assert sorted(set(ran.values())) == summary["several_definitions"]
    assert best == several["BestTrainingJob"]["TrainingJobName"]
    depth = int(best_depth)
    assert (depth >= 6) if ran[best] == "deep" else (depth <= 3)


def test_sdk_v2_tunes_attaches_warm_starts_and_stops(
    sdk_python: str, api: TunestreamClient, settings: Settings, run_id: str, tmp_path: Path
) -> None:
    program = ROOT / "examples" / "xgboost_synthetic" / "train.py"
    summary = run_example(
        sdk_python,
        ROOT / "examples" / "sagemaker_sdk" / "tune_v2.py",
        ["--image", f"file://{program}", "--output", f"s3://{settings.s3_bucket}/it/sdk2-{run_id}"],
        settings,
        tmp_path,
    )
    assert summary["sagemaker"] == "2.257.7"
    # Estimator.fit: a training job outside any tuning job (CreateTrainingJob), then attached.
    assert summary["single_status"] == "Completed", summary
    single = api.describe_training_job(summary["single_training_job"])
    assert single["TrainingJobStatus"] == "Completed" and "TuningJobArn" not in single
    assert summary["single_model"] == single["ModelArtifacts"]["S3ModelArtifacts"]
    assert summary["single_attached_max_depth"] == single["HyperParameters"]["max_depth"] == "4"
    assert summary["status"] == "Completed", summary
    described = api.describe(summary["tuning_job"])
    best = described["BestTrainingJob"]["TrainingJobName"]
    assert summary["best_training_job"] == summary["best_estimator"] == best
    training = api.describe_training_job(best)
    assert summary["attached_model"] == training["ModelArtifacts"]["S3ModelArtifacts"]
    assert summary["attached_hyperparameters"]["max_depth"] == training["HyperParameters"]["max_depth"]
    assert summary["analytics_rows"] == 4
    assert summary["analytics_best"] == pytest.approx(
        described["BestTrainingJob"]["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
    )
    assert summary["warm_status"] == "Completed" and summary["warm_parents"] == [summary["tuning_job"]]
    assert summary["stopped_status"] == "Stopped"
    # HyperparameterTuner.create with two estimators: one tuning job of two TrainingJobDefinitions.
    two_definitions_ran(api, summary, summary["several_best_estimator"], summary["several_best_max_depth"])
    # autotune=True: subsample's range chosen from its value; the tuning job as Autotune completed it.
    assert summary["autotune_status"] == "Completed", summary
    assert summary["autotune_ranges"] == ["eta", "max_depth", "subsample"]
    assert summary["autotune_early_stopping"] == "Off"  # the SDK always sends it: given, so not chosen
    auto = api.describe(summary["autotune_tuning_job"])
    [subsample] = [
        r
        for r in auto["HyperParameterTuningJobConfig"]["ParameterRanges"]["ContinuousParameterRanges"]
        if r["Name"] == "subsample"
    ]
    assert (float(subsample["MinValue"]), float(subsample["MaxValue"])) == (0.08, 1.0)
    assert (
        "HyperParameterTuningJobConfig.ParameterRanges.ContinuousParameterRanges[subsample]" in auto["AutotuneChoices"]
    )


def test_sdk_v2_tunes_the_builtin_xgboost_as_an_aws_notebook_does(
    sdk_python: str, api: TunestreamClient, settings: Settings, store: S3ObjectStore, run_id: str, tmp_path: Path
) -> None:
    """image_uris.retrieve("xgboost"), instance_count=2, CSV TrainingInputs, no metric definitions:
    tunestream's stand-in for the built-in algorithm runs it, through the SDK unchanged."""
    script = ROOT / "examples" / "sagemaker_sdk" / "builtin_xgboost_v2.py"
    subprocess.run([sys.executable, str(script), "--write-data", str(tmp_path / "data")], check=True)
    data = f"s3://{settings.s3_bucket}/it/sdk2x-{run_id}"
    for path in sorted((tmp_path / "data").rglob("*.csv")):
        store.put_file(f"{data}/{path.parent.name}/{path.name}", path, "text/csv")
    summary = run_example(sdk_python, script, ["--data", data, "--output", f"{data}/output"], settings, tmp_path)
    assert summary["image"].endswith("/sagemaker-xgboost:1.7-1"), summary
    assert summary["status"] == "Completed" and summary["strategy"] == "Bayesian", summary
    assert summary["instance_count"] == 2 and 0.9 < summary["best_auc"] <= 1.0
    training = api.describe_training_job(summary["best_training_job"])
    assert training["HyperParameters"]["_tuning_objective_metric"] == "validation:auc"
    assert summary["model"] == training["ModelArtifacts"]["S3ModelArtifacts"]


def test_sdk_v3_walks_v2s_steps_unchanged(
    sdk3_python: str, api: TunestreamClient, settings: Settings, run_id: str, tmp_path: Path
) -> None:
    """sagemaker 3 (`sagemaker.train` and sagemaker-core): ModelTrainer.train (CreateTrainingJob,
    after the SDK validated the role through IAM and STS, which tunestream answers) and
    TrainingJob.get; HyperparameterTuner.tune, best_training_job, analytics; a warm start, a stop,
    two TrainingJobDefinitions and autotune, with no SDK setting changed (no SAGEMAKER_VALIDATE_ROLE)."""
    program = ROOT / "examples" / "xgboost_synthetic" / "train.py"
    summary = run_example(
        sdk3_python,
        ROOT / "examples" / "sagemaker_sdk" / "tune_v3.py",
        ["--image", f"file://{program}", "--output", f"s3://{settings.s3_bucket}/it/sdk3-{run_id}"],
        settings,
        tmp_path,
    )
    assert summary["sagemaker"] == "3.27.0"
    assert summary["training_status"] == "Completed" and summary["tuning_status"] == "Completed", summary
    training = api.describe_training_job(summary["training_job"])
    assert training["TrainingJobStatus"] == "Completed" and "TuningJobArn" not in training
    assert summary["attached_max_depth"] == training["HyperParameters"]["max_depth"] == "3"
    assert summary["attached_model"] == training["ModelArtifacts"]["S3ModelArtifacts"]
    described = api.describe(summary["tuning_job"])
    best = described["BestTrainingJob"]
    assert summary["best_training_job"] == best["TrainingJobName"]
    assert (
        summary["best_model"]
        == api.describe_training_job(best["TrainingJobName"])["ModelArtifacts"]["S3ModelArtifacts"]
    )
    assert summary["analytics_rows"] == 3
    assert summary["analytics_best"] == pytest.approx(best["FinalHyperParameterTuningJobObjectiveMetric"]["Value"])
    assert summary["warm_status"] == "Completed" and summary["warm_type"] == "TransferLearning", summary
    assert summary["warm_parents"] == [summary["tuning_job"]]
    assert summary["stopped_status"] == "Stopped"
    # Two TrainingJobDefinitions through sagemaker-core: each training job ran one of them.
    two_definitions_ran(api, summary, summary["several_best"], summary["several_best_max_depth"])
    # autotune=True: SDK 3.27 sends Autotune but neither the hints nor the values it holds back
    # (subsample), so Autotune completes only what is unset; what it chose is shown.
    assert summary["autotune_status"] == "Completed", summary
    assert summary["autotune_ranges"] == ["eta", "max_depth"]
    auto = api.describe(summary["autotune_tuning_job"])
    assert auto["Autotune"] == {"Mode": "Enabled"}
    assert auto["TrainingJobDefinition"]["StaticHyperParameters"] == {"num_round": "10"}
    choices = auto["AutotuneChoices"]
    criteria = "HyperParameterTuningJobConfig.TuningJobCompletionCriteria.ConvergenceDetected.CompleteOnConvergence"
    assert choices[criteria] == "Enabled", choices


def test_the_lab_runs_with_the_sagemaker_sdk_and_its_framework_estimator(
    sdk_python: str,
    gpu_launcher: str,  # noqa: F811
    api: TunestreamClient,
    settings: Settings,
    tmp_path: Path,
) -> None:
    """The seed lab's Steps 1-5 with `sagemaker.pytorch.PyTorch` (source_dir, entry_point, a Deep
    Learning Container's image): the SDK uploads sourcedir.tar.gz, and tunestream does the container
    toolkit's part for each training job (tunestream.framework_images)."""
    name_default_bucket(tmp_path, settings.s3_bucket)
    env = {**sdk_environment(settings, tmp_path), "SAGEMAKER_ROLE_ARN": "arn:aws:iam::000000000000:role/lab"}
    started = time.monotonic()
    lab = subprocess.run(
        [sdk_python, str(LAB_NOTEBOOKS / "lab5_real_sdk.py")],
        cwd=LAB_NOTEBOOKS,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    print(f"the lab with sagemaker {sdk_python}: {time.monotonic() - started:.1f} s")
    assert lab.returncode == 0, lab.stdout[-3000:] + lab.stderr[-5000:]
    best_match = re.search(r"^Best job: (\S+)$", lab.stdout, re.M)
    hps_match = re.search(r"^Best hyperparameters: (\{.*\})$", lab.stdout, re.M)
    assert best_match and hps_match, lab.stdout
    best = api.describe_training_job(best_match.group(1))
    image = best["AlgorithmSpecification"]["TrainingImage"]
    assert re.fullmatch(r"763104351884\.dkr\.ecr\.us-east-1\.amazonaws\.com/pytorch-training:2\.4\.0-gpu-py311", image)
    assert best["HyperParameters"]["sagemaker_program"] == '"train_fsdp.py"'
    assert best["HyperParameters"]["sagemaker_submit_directory"].endswith('/source/sourcedir.tar.gz"')
    assert best["LauncherId"] == gpu_launcher and len(best["Gpus"]) == 1
    tuning = api.describe(best["TuningJobArn"].rsplit("/", 1)[1])
    assert tuning["HyperParameterTuningJobStatus"] == "Completed", tuning
    assert tuning["TrainingJobStatusCounters"]["Completed"] == 20
    assert tuning["HyperParameterTuningJobConfig"]["Strategy"] == "Bayesian"
    # The script ran from the unpacked source with the toolkit's arguments and read them back.
    log = api.logs(best["TrainingJobName"])
    batch = json.loads(best["HyperParameters"]["batch_size"])
    assert "model=SegResNet lr=" in log and f" batch_size={batch} " in log and "epochs=10 " in log, log[:2000]
    assert "val:dice=" in log
    # As SageMaker's PyTorch.attach reads them back: the SDK's JSON-encoded values (a categorical
    # value is a JSON string, '"1"', which the toolkit decodes to the script's `--batch_size 1`).
    printed = ast.literal_eval(hps_match.group(1))
    assert printed["model_name"] == '"SegResNet"' and printed["epochs"] == "10", printed
    for key in ("lr", "batch_size", "dropout", "init_filters"):
        value = best["HyperParameters"][key]
        assert float(json.loads(printed[key])) == float(json.loads(value)), (key, printed)
