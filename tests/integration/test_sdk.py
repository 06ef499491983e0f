"""The Python SDK (tunestream.sdk, shaped like sagemaker.tuner) against the running services, and the
AMT lab notebook run unchanged but for its imports."""

from __future__ import annotations

import ast
import math
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest

from tests.integration.conftest import ARTIFACTS, ROOT, Services
from tunestream.client import ApiClientError, TunestreamClient
from tunestream.config import Settings
from tunestream.sdk.analytics import METADATA_COLUMNS, HyperparameterTuningJobAnalytics
from tunestream.sdk.estimator import Estimator
from tunestream.sdk.exceptions import ClientError, NoBestTrainingJobError
from tunestream.sdk.session import Session
from tunestream.sdk.tuner import (
    CategoricalParameter,
    ContinuousParameter,
    HyperparameterTuner,
    IntegerParameter,
)

LAB = ROOT / "examples" / "sagemaker_lab"
NOTEBOOKS = LAB / "notebooks"
PROGRAMS = ROOT / "tests" / "integration" / "programs"
SCORE = [{"Name": "score", "Regex": r"score=([-0-9.eE+]+)"}]


@pytest.fixture(scope="module")
def gpu_launcher(services: Services, settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A launcher with four (pretend) GPUs: the lab asks for ml.g5.xlarge, one GPU per training job."""
    launcher_id = f"{settings.launcher_id}-gpu"
    services.start(
        "launcher-gpu",
        service="launcher",
        env={
            "TUNESTREAM_LAUNCHER_ID": launcher_id,
            "TUNESTREAM_LAUNCHER_GPUS": "0,1,2,3",
            "TUNESTREAM_LAUNCHER_SLOTS": "4",
            "TUNESTREAM_WORK_DIR": str(tmp_path_factory.mktemp("work-gpu")),
        },
    )
    yield launcher_id
    if services.alive("launcher-gpu"):
        services.kill("launcher-gpu", signal.SIGTERM)


@pytest.fixture(scope="module")
def session(api: TunestreamClient, settings: Settings) -> Iterator[Session]:
    s = Session(api_url=f"http://127.0.0.1:{settings.api_port}", settings=settings)
    yield s
    s.close()


def trainer(session: Session, **hyperparameters: object) -> Estimator:
    return Estimator(
        entry_point="trainer.py",
        source_dir=str(PROGRAMS),
        instance_type="ml.m5.large",
        hyperparameters={"epochs": 2, **hyperparameters},
        max_run=120,
        sagemaker_session=session,
    )


def test_lab_notebook_runs_unchanged(
    gpu_launcher: str, api: TunestreamClient, settings: Settings, session: Session, tmp_path: Path
) -> None:
    figures = tmp_path / "figures"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUNESTREAM_")}
    env.update(
        {
            "TUNESTREAM_API_URL": f"http://127.0.0.1:{settings.api_port}",
            "TUNESTREAM_ENV_FILE": str(ROOT / ".stack" / "stack.env"),
            "LAB_FIGURES_DIR": str(figures),
        }
    )
    started = time.monotonic()
    lab = subprocess.run(
        [sys.executable, str(LAB / "run.py")],
        cwd=NOTEBOOKS,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    elapsed = time.monotonic() - started
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "sdk-lab.log").write_text(f"{elapsed:.1f}s rc={lab.returncode}\n{lab.stdout}\n{lab.stderr}")
    assert lab.returncode == 0, lab.stdout[-3000:] + lab.stderr[-3000:]

    name_match = re.search(r"^tuning job (\S+) started$", lab.stdout, re.M)
    best_match = re.search(r"^Best job: (\S+)$", lab.stdout, re.M)
    hps_match = re.search(r"^Best hyperparameters: (\{.*\})$", lab.stdout, re.M)
    assert name_match and best_match and hps_match, lab.stdout
    name = name_match.group(1)
    assert name.startswith("pytorch-training-")
    describe = api.describe(name)
    assert describe["HyperParameterTuningJobStatus"] == "Completed"
    assert describe["TrainingJobStatusCounters"]["Completed"] == 20
    assert describe["HyperParameterTuningJobConfig"]["Strategy"] == "Bayesian"
    best = describe["BestTrainingJob"]
    assert best_match.group(1) == best["TrainingJobName"]

    # The best estimator's hyperparameters: the best job's static and tuned ones, numbers as numbers.
    printed = ast.literal_eval(hps_match.group(1))
    assert printed["model_name"] == "SegResNet" and printed["epochs"] == 10 and printed["val_interval"] == 2
    for key, value in best["TunedHyperParameters"].items():
        assert str(printed[key]) == value
    assert isinstance(printed["batch_size"], int) and isinstance(printed["lr"], float)

    training = api.describe_training_job(best["TrainingJobName"])
    assert training["LauncherId"] == gpu_launcher and len(training["Gpus"]) == 1
    assert training["ResourceConfig"]["InstanceType"] == "ml.g5.xlarge"

    # The lab's figures (scatter, parallel coordinates, convergence) and its correlation table.
    assert sorted(p.name for p in figures.glob("*.png")) == ["figure-01.png", "figure-02.png", "figure-03.png"]
    assert re.search(r"^val:dice\s+1\.0+$", lab.stdout, re.M), lab.stdout

    df = session_dataframe(session, name)
    assert len(df) == 20
    assert list(df.columns) == ["lr", "dropout", "batch_size", "init_filters", *METADATA_COLUMNS, "val:dice"]
    assert df["val:dice"].max() == pytest.approx(best["FinalHyperParameterTuningJobObjectiveMetric"]["Value"])
    assert set(df["batch_size"]) <= {1, 2, 4} and set(df["init_filters"]) <= {8, 16, 32}
    assert (df["TrainingJobStatus"] == "Completed").all()


def session_dataframe(session: Session, name: str) -> pd.DataFrame:
    return HyperparameterTuningJobAnalytics(name, sagemaker_session=session).dataframe()


def test_fit_without_wait_then_describe_and_stop(api: TunestreamClient, session: Session, run_id: str) -> None:
    tuner = HyperparameterTuner(
        trainer(session, epochs=20, sleep=3),
        "score",
        {"x": ContinuousParameter(0, 1)},
        metric_definitions=SCORE,
        strategy="Random",
        max_jobs=4,
        max_parallel_jobs=2,
        base_tuning_job_name=f"sdk-stop-{run_id}",
        random_seed=5,
    )
    started = time.monotonic()
    tuner.fit(wait=False)
    assert time.monotonic() - started < 5
    name = tuner.latest_tuning_job.name if tuner.latest_tuning_job else ""
    assert re.fullmatch(rf"sdk-stop-{run_id}-\d{{6}}-\d{{6}}", name)
    assert tuner.describe()["HyperParameterTuningJobStatus"] == "InProgress"
    with pytest.raises(NoBestTrainingJobError, match="Best training job not available"):
        tuner.best_training_job()

    deadline = time.monotonic() + 60
    while not any(j["TrainingJobStatus"] == "InProgress" for j in api.training_jobs(name)):
        assert time.monotonic() < deadline, "no training job started"
        time.sleep(0.3)
    tuner.stop()
    describe = tuner.wait(poll=0.5, progress=False, timeout=60)
    assert describe["HyperParameterTuningJobStatus"] == "Stopped"
    assert all(j["TrainingJobStatus"] in ("Stopped", "Completed") for j in api.training_jobs(name))
    with pytest.raises(ClientError, match="already ended"):
        tuner.stop_tuning_job()


def test_attach_best_estimator_and_analytics_match_the_api(
    api: TunestreamClient, session: Session, run_id: str
) -> None:
    name = f"sdk-attach-{run_id}"
    tuner = HyperparameterTuner(
        trainer(session, mode="ok"),
        "score",
        {
            "x": ContinuousParameter(0, 1),
            "units": IntegerParameter(1, 8),
            "kind": CategoricalParameter(["a", "b"]),
            "width": CategoricalParameter([16, 32]),
        },
        metric_definitions=SCORE,
        strategy="Random",
        max_jobs=4,
        max_parallel_jobs=2,
        random_seed=13,
    )
    tuner.fit({"training": "s3://tunestream/it/sdk-empty/"}, job_name=name)
    describe = api.describe(name)
    assert describe["HyperParameterTuningJobStatus"] == "Completed"
    best = describe["BestTrainingJob"]["TrainingJobName"]
    assert tuner.best_training_job() == best

    # attach() rebuilds the same tuner: the same request but for the name and, as in sagemaker, the
    # output path, which the attached estimator takes from the job.
    attached = HyperparameterTuner.attach(name, sagemaker_session=session)
    assert attached.best_training_job() == best
    original = tuner.build_request({"training": "s3://tunestream/it/sdk-empty/"}, job_name="same")
    again = attached.build_request({"training": "s3://tunestream/it/sdk-empty/"}, job_name="same")
    assert original["TrainingJobDefinition"].pop("OutputDataConfig") == {"S3OutputPath": "s3://tunestream/same/output"}
    assert again["TrainingJobDefinition"].pop("OutputDataConfig") == {"S3OutputPath": f"s3://tunestream/{name}/output"}
    assert again == original

    # best_estimator(): the best training job's hyperparameters and model.
    estimator = tuner.best_estimator()
    training = api.describe_training_job(best)
    assert estimator.hyperparameters() == training["HyperParameters"]
    assert estimator.model_data == training["ModelArtifacts"]["S3ModelArtifacts"]
    assert estimator.latest_training_job is not None and estimator.latest_training_job.name == best

    # The analytics DataFrame holds what ListTrainingJobs says.
    df = tuner.analytics().dataframe()
    summaries = api.training_jobs(name)
    assert list(df.columns) == ["units", "x", "kind", "width", *METADATA_COLUMNS, "score"]
    assert len(df) == len(summaries) == 4
    assert str(df["units"].dtype) == "int64" and str(df["width"].dtype) == "int64"
    assert df["x"].dtype == float and df["kind"].dtype == object
    for row, summary in zip(df.to_dict("records"), summaries, strict=True):
        assert row["TrainingJobName"] == summary["TrainingJobName"]
        assert row["TrainingJobStatus"] == summary["TrainingJobStatus"]
        value = summary["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
        assert row["FinalObjectiveValue"] == row["score"] == value
        tuned = summary["TunedHyperParameters"]
        assert row["x"] == float(tuned["x"]) and row["units"] == int(tuned["units"])
        assert row["kind"] == tuned["kind"] and row["width"] == int(tuned["width"])
        start = datetime.fromisoformat(summary["TrainingStartTime"])
        end = datetime.fromisoformat(summary["TrainingEndTime"])
        assert row["TrainingStartTime"] == start and row["TrainingEndTime"] == end
        assert math.isclose(row["TrainingElapsedTimeSeconds"], (end - start).total_seconds())

    # Warm start from it: the child names its parent, and Describe shows the best across both.
    child = tuner.identical_dataset_and_algorithm_tuner()
    child.max_jobs, child.max_parallel_jobs = 2, 2
    child.fit({"training": "s3://tunestream/it/sdk-empty/"}, job_name=f"sdk-warm-{run_id}", wait=False)
    child_describe = child.wait(poll=0.5, progress=False, timeout=90)
    assert child_describe["HyperParameterTuningJobStatus"] == "Completed"
    assert child_describe["WarmStartConfig"] == {
        "WarmStartType": "IdenticalDataAndAlgorithm",
        "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": name}],
    }
    assert "OverallBestTrainingJob" in child_describe


def test_server_side_validation_error_is_readable(session: Session, run_id: str) -> None:
    # Grid search over a continuous range: only the api knows that rule.
    tuner = HyperparameterTuner(
        trainer(session),
        "score",
        {"x": ContinuousParameter(0, 1)},
        metric_definitions=SCORE,
        strategy="Grid",
        max_parallel_jobs=1,
    )
    with pytest.raises(ClientError) as caught:
        tuner.fit(job_name=f"sdk-bad-{run_id}", wait=False)
    error = caught.value
    assert isinstance(error, ApiClientError) and error.status == 400 and error.code == "ValidationException"
    text = str(error)
    assert text.startswith("An error occurred (ValidationException) when calling the CreateHyperParameterTuningJob")
    assert "Grid search needs categorical or integer ranges; continuous: x" in text

    with pytest.raises(ClientError, match=r"\(ResourceNotFound\).*does not exist"):
        HyperparameterTuner.attach(f"sdk-missing-{run_id}", sagemaker_session=session)


def test_the_readme_snippet_runs(api: TunestreamClient, settings: Settings) -> None:
    """examples/sdk_quickstart.py is README's SDK snippet, copied verbatim."""
    readme = (ROOT / "README.md").read_text()
    snippet = readme.split("## One example", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    assert snippet in (ROOT / "examples" / "sdk_quickstart.py").read_text()
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "sdk_quickstart.py")],
        cwd=ROOT,
        env={**os.environ, "TUNESTREAM_API_URL": f"http://127.0.0.1:{settings.api_port}", "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Completed: 6/6 training jobs finished" in done.stdout
    assert "FinalObjectiveValue" in done.stdout or "validation:auc" in done.stdout
