"""boto3's own "sagemaker" client against tunestream's api: SageMaker's JSON 1.1 protocol end to end.

Every successful answer is checked twice: boto3 parses it with its service model, and the raw body
is checked member by member against the operation's output shape (tests/sagemaker_shapes.py).
"""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import httpx
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError
from sqlalchemy import Engine

from tests.integration.conftest import PROGRAM, ROOT, Services
from tests.integration.test_cli import tunestream
from tests.sagemaker_shapes import assert_output_shape
from tunestream.client import TunestreamClient
from tunestream.config import Settings
from tunestream.db import reads, writes
from tunestream.naming import standalone_tuning_job_name
from tunestream.objstore.s3 import S3ObjectStore
from tunestream.trials import TERMINAL_STATUSES

REGION = "eu-central-1"


class Recorder:
    """Keeps the raw body of each answer, so it can be checked against the model, not only parsed."""

    def __init__(self) -> None:
        self.last: tuple[str, int, bytes] | None = None

    def __call__(self, http_response: Any, model: Any, **_: Any) -> None:
        self.last = (model.name, http_response.status_code, http_response.content)


def sagemaker_client(port: int, **config: Any) -> Any:
    key, secret = config.pop("key", "AKIDANY"), config.pop("secret", "any-secret")
    client = boto3.client(
        "sagemaker",
        endpoint_url=f"http://127.0.0.1:{port}",
        region_name=REGION,
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        config=Config(retries={"max_attempts": 1, "mode": "standard"}, **config),
    )
    recorder = Recorder()
    client.meta.events.register("after-call.sagemaker", recorder)
    client._tunestream_recorder = recorder
    return client


def call(client: Any, method: str, **params: Any) -> dict[str, Any]:
    """Call a boto3 method; the raw answer must match the operation's output shape exactly."""
    parsed: dict[str, Any] = getattr(client, method)(**params)
    operation, status, raw = client._tunestream_recorder.last
    assert status == 200
    assert_output_shape(operation, json.loads(raw))
    return parsed


def error(client: Any, method: str, **params: Any) -> tuple[str, int, str]:
    with pytest.raises(ClientError) as info:
        getattr(client, method)(**params)
    response = info.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Message"]


@pytest.fixture(scope="module")
def sm(api: TunestreamClient, settings: Settings) -> Any:
    return sagemaker_client(settings.api_port)


@pytest.fixture(scope="module")
def program(tmp_path_factory: pytest.TempPathFactory) -> str:
    """tests/integration/programs/trainer.py behind an executable with a shebang: a file:// TrainingImage."""
    path = tmp_path_factory.mktemp("programs") / "train"
    path.write_text(
        f"#!{sys.executable}\n"
        "import runpy, sys\n"
        f"sys.argv[0] = {PROGRAM!r}\n"
        f"runpy.run_path({PROGRAM!r}, run_name='__main__')\n"
    )
    path.chmod(0o755)
    return f"file://{path}"


def job(name: str, image: str, *, jobs: int = 3, parallel: int = 2, **static: str) -> dict[str, Any]:
    """CreateHyperParameterTuningJob's parameters as a boto3 user writes them."""
    return {
        "HyperParameterTuningJobName": name,
        "HyperParameterTuningJobConfig": {
            "Strategy": "Random",
            "RandomSeed": 5,
            "HyperParameterTuningJobObjective": {"Type": "Maximize", "MetricName": "score"},
            "ResourceLimits": {"MaxNumberOfTrainingJobs": jobs, "MaxParallelTrainingJobs": parallel},
            "ParameterRanges": {
                "ContinuousParameterRanges": [{"Name": "x", "MinValue": "0", "MaxValue": "1"}],
                "CategoricalParameterRanges": [{"Name": "kind", "Values": ["a", "b c"]}],
            },
            "TrainingJobEarlyStoppingType": "Off",
        },
        "TrainingJobDefinition": {
            "StaticHyperParameters": {"epochs": "2", **static},
            "AlgorithmSpecification": {
                "TrainingImage": image,
                "TrainingInputMode": "File",
                "MetricDefinitions": [{"Name": "score", "Regex": r"score=([-0-9.eE+]+)"}],
            },
            "RoleArn": "arn:aws:iam::123456789012:role/tunestream-test",
            "OutputDataConfig": {"S3OutputPath": "s3://tunestream/it/boto3"},
            "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
            "StoppingCondition": {"MaxRuntimeInSeconds": 60},
            "Environment": {"MY_SETTING": "from-boto3"},
        },
        "Tags": [{"Key": "team", "Value": "tuning"}],
    }


def wait_status(
    sm: Any, name: str, wanted: tuple[str, ...] = TERMINAL_STATUSES, timeout_s: float = 120
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        describe = call(sm, "describe_hyper_parameter_tuning_job", HyperParameterTuningJobName=name)
        if describe["HyperParameterTuningJobStatus"] in wanted:
            return describe
        assert time.monotonic() < deadline, f"{name} not {wanted} after {timeout_s}s: {describe}"
        time.sleep(0.5)


def all_training_jobs(sm: Any, name: str, **params: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    token: str | None = None
    while True:
        page = call(
            sm,
            "list_training_jobs_for_hyper_parameter_tuning_job",
            HyperParameterTuningJobName=name,
            **params,
            **({"NextToken": token} if token else {}),
        )
        found.extend(page["TrainingJobSummaries"])
        token = page.get("NextToken")
        if not token:
            return found


def test_create_run_and_read_back(sm: Any, program: str, run_id: str, store: S3ObjectStore) -> None:
    name = f"boto-{run_id}"
    created = call(sm, "create_hyper_parameter_tuning_job", **job(name, program, jobs=4, parallel=2))
    assert created["HyperParameterTuningJobArn"].endswith(f"hyper-parameter-tuning-job/{name}")

    d = wait_status(sm, name)
    assert d["HyperParameterTuningJobStatus"] == "Completed", d
    assert d["TrainingJobStatusCounters"]["Completed"] == 4
    assert d["ObjectiveStatusCounters"] == {"Succeeded": 4, "Pending": 0, "Failed": 0}
    assert isinstance(d["CreationTime"], datetime) and d["HyperParameterTuningEndTime"] >= d["CreationTime"]
    assert d["TrainingJobDefinition"]["AlgorithmSpecification"]["TrainingImage"] == program
    assert d["HyperParameterTuningJobConfig"]["RandomSeed"] == 5

    by_value = all_training_jobs(sm, name, SortBy="FinalObjectiveMetricValue", SortOrder="Descending")
    values = [j["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] for j in by_value]
    assert len(values) == 4 and values == sorted(values, reverse=True)
    best = d["BestTrainingJob"]
    assert best["TrainingJobName"] == by_value[0]["TrainingJobName"]
    assert (
        best["FinalHyperParameterTuningJobObjectiveMetric"]
        == by_value[0]["FinalHyperParameterTuningJobObjectiveMetric"]
    )
    assert best["TunedHyperParameters"] == by_value[0]["TunedHyperParameters"]

    # SageMaker's defaults: by Name, ascending, 10 a page.
    default = call(sm, "list_training_jobs_for_hyper_parameter_tuning_job", HyperParameterTuningJobName=name)
    names = [j["TrainingJobName"] for j in default["TrainingJobSummaries"]]
    assert names == sorted(names) and len(names) == 4 and "NextToken" not in default
    page = call(sm, "list_training_jobs_for_hyper_parameter_tuning_job", HyperParameterTuningJobName=name, MaxResults=3)
    assert len(page["TrainingJobSummaries"]) == 3 and page["NextToken"]
    assert [j["TrainingJobName"] for j in all_training_jobs(sm, name, MaxResults=1)] == names
    by_creation = all_training_jobs(sm, name, SortBy="CreationTime", SortOrder="Descending", MaxResults=2)
    times = [j["CreationTime"] for j in by_creation]
    assert times == sorted(times, reverse=True)
    assert len(all_training_jobs(sm, name, StatusEquals="Completed", SortBy="Status")) == 4
    assert all_training_jobs(sm, name, StatusEquals="Failed") == []

    training = call(sm, "describe_training_job", TrainingJobName=best["TrainingJobName"])
    assert training["TrainingJobStatus"] == "Completed" and training["SecondaryStatus"] == "Completed"
    assert training["TuningJobArn"] == created["HyperParameterTuningJobArn"]
    assert training["AlgorithmSpecification"]["TrainingImage"] == program
    assert training["HyperParameters"] == {**best["TunedHyperParameters"], "epochs": "2"}
    assert training["RoleArn"] == "arn:aws:iam::123456789012:role/tunestream-test"
    assert training["Environment"] == {"MY_SETTING": "from-boto3"}
    final = {m["MetricName"]: m["Value"] for m in training["FinalMetricDataList"]}
    assert final["score"] == pytest.approx(best["FinalHyperParameterTuningJobObjectiveMetric"]["Value"])
    assert training["TrainingTimeInSeconds"] >= 0 and training["StoppingCondition"]["MaxRuntimeInSeconds"] == 60
    artifact = training["ModelArtifacts"]["S3ModelArtifacts"]
    assert artifact.endswith(f"{best['TrainingJobName']}/output/model.tar.gz")

    # The file:// program ran as a local process, with the hyperparameters as arguments and files.
    with tarfile.open(fileobj=io.BytesIO(store.get_bytes(artifact))) as tar:
        member = tar.extractfile("received.json")
        assert member is not None
        received = json.loads(member.read())
    argv = received["argv"]
    assert argv[argv.index("--x") + 1] == best["TunedHyperParameters"]["x"]
    assert received["hyperparameters.json"]["epochs"] == "2"
    assert received["env"]["MY_SETTING"] == "from-boto3" and received["env"]["SM_HP_KIND"] in ("a", "b c")


def test_list_tuning_jobs_filters_sort_and_pages(sm: Any, program: str, run_id: str) -> None:
    prefix = f"lst-{run_id}"
    names = [f"{prefix}-c", f"{prefix}-a", f"{prefix}-b"]  # created in this order
    boundaries = []
    for i, name in enumerate(names):
        if i:
            time.sleep(1.2)  # botocore may send whole seconds: keep creation times apart
            boundaries.append(datetime.now(UTC))
            time.sleep(1.2)
        call(sm, "create_hyper_parameter_tuning_job", **job(name, program, jobs=1, parallel=1))
    for name in names:
        assert wait_status(sm, name)["HyperParameterTuningJobStatus"] == "Completed"

    def listed(**params: Any) -> list[str]:
        found, token = [], None
        while True:
            page = call(
                sm,
                "list_hyper_parameter_tuning_jobs",
                NameContains=prefix,
                **params,
                **({"NextToken": token} if token else {}),
            )
            summaries = page["HyperParameterTuningJobSummaries"]
            assert len(summaries) <= params.get("MaxResults", 10)
            found += [s["HyperParameterTuningJobName"] for s in summaries]
            token = page.get("NextToken")
            if not token:
                return found

    assert listed() == sorted(names)  # SageMaker's default: Name, Ascending
    assert listed(SortBy="Name", SortOrder="Descending") == sorted(names, reverse=True)
    assert listed(SortBy="CreationTime", SortOrder="Ascending") == names
    assert listed(SortBy="CreationTime", SortOrder="Descending", MaxResults=1) == names[::-1]
    assert listed(SortBy="Status", MaxResults=2) == sorted(names)
    assert listed(StatusEquals="Completed") == sorted(names)
    assert listed(StatusEquals="InProgress") == []
    assert listed(CreationTimeAfter=boundaries[0]) == sorted(names[1:])
    assert listed(CreationTimeBefore=boundaries[1]) == sorted(names[:2])
    assert listed(CreationTimeAfter=boundaries[0], CreationTimeBefore=boundaries[1]) == [names[1]]
    assert listed(LastModifiedTimeAfter=datetime(2000, 1, 1, tzinfo=UTC)) == sorted(names)
    assert listed(LastModifiedTimeBefore=datetime(2000, 1, 1, tzinfo=UTC)) == []

    page = call(sm, "list_hyper_parameter_tuning_jobs", NameContains=prefix, MaxResults=1)
    (summary,) = page["HyperParameterTuningJobSummaries"]
    assert summary["HyperParameterTuningJobName"] == sorted(names)[0] and page["NextToken"]
    assert summary["Strategy"] == "Random" and summary["TrainingJobStatusCounters"]["Completed"] == 1
    assert summary["ResourceLimits"] == {"MaxNumberOfTrainingJobs": 1, "MaxParallelTrainingJobs": 1}


def test_stop_then_delete(sm: Any, program: str, run_id: str, settings: Settings) -> None:
    name = f"del-{run_id}"
    call(sm, "create_hyper_parameter_tuning_job", **job(name, program, jobs=3, parallel=1, mode="hang"))
    deadline = time.monotonic() + 60
    while not [j for j in all_training_jobs(sm, name) if j.get("TrainingStartTime")]:
        assert time.monotonic() < deadline, "no training job started"
        time.sleep(0.3)
    running = all_training_jobs(sm, name)[0]["TrainingJobName"]

    code, status, message = error(sm, "delete_hyper_parameter_tuning_job", HyperParameterTuningJobName=name)
    assert (code, status) == ("ResourceInUse", 400) and "InProgress" in message
    rest = httpx.Client(base_url=f"http://127.0.0.1:{settings.api_port}", timeout=30)
    conflict = rest.delete(f"/tuning-jobs/{name}")
    assert conflict.status_code == 409 and conflict.json()["__type"] == "ResourceInUse"

    assert set(call(sm, "stop_hyper_parameter_tuning_job", HyperParameterTuningJobName=name)) == {"ResponseMetadata"}
    stopping = call(sm, "describe_hyper_parameter_tuning_job", HyperParameterTuningJobName=name)
    assert stopping["HyperParameterTuningJobStatus"] in ("Stopping", "Stopped")
    d = wait_status(sm, name, timeout_s=60)
    assert d["HyperParameterTuningJobStatus"] == "Stopped"
    assert call(sm, "describe_training_job", TrainingJobName=running)["TrainingJobStatus"] == "Stopped"
    code, status, _ = error(sm, "stop_hyper_parameter_tuning_job", HyperParameterTuningJobName=name)
    assert (code, status) == ("ValidationException", 400)

    call(sm, "delete_hyper_parameter_tuning_job", HyperParameterTuningJobName=name)
    code, status, _ = error(sm, "describe_hyper_parameter_tuning_job", HyperParameterTuningJobName=name)
    assert (code, status) == ("ResourceNotFound", 400)
    assert rest.get(f"/tuning-jobs/{name}").status_code == 404
    listed = call(sm, "list_hyper_parameter_tuning_jobs", NameContains=name)["HyperParameterTuningJobSummaries"]
    assert listed == []
    assert name not in [
        s["HyperParameterTuningJobName"] for s in rest.get("/tuning-jobs").json()["HyperParameterTuningJobSummaries"]
    ]
    code, _, _ = error(sm, "list_training_jobs_for_hyper_parameter_tuning_job", HyperParameterTuningJobName=name)
    assert code == "ResourceNotFound"
    # Its training jobs stay describable, as in SageMaker.
    assert call(sm, "describe_training_job", TrainingJobName=running)["TrainingJobStatus"] == "Stopped"
    # The name keys the deleted job's history in Kafka: it is never taken again.
    code, status, message = error(sm, "create_hyper_parameter_tuning_job", **job(name, program, jobs=1, parallel=1))
    assert (code, status) == ("ResourceInUse", 400) and "deleted" in message
    code, status, _ = error(sm, "delete_hyper_parameter_tuning_job", HyperParameterTuningJobName=name)
    assert (code, status) == ("ResourceNotFound", 400)
    assert rest.delete(f"/tuning-jobs/{name}").status_code == 404
    rest.close()


def test_list_training_jobs_across_tuning_jobs(sm: Any, program: str, run_id: str, settings: Settings) -> None:
    names = [f"lstj-{run_id}-a", f"lstj-{run_id}-b"]
    for name in names:
        call(sm, "create_hyper_parameter_tuning_job", **job(name, program, jobs=2, parallel=2))
    for name in names:
        assert wait_status(sm, name)["HyperParameterTuningJobStatus"] == "Completed"
    mine = sorted(j["TrainingJobName"] for name in names for j in all_training_jobs(sm, name))
    assert len(mine) == 4

    def listed(**params: Any) -> list[dict[str, Any]]:
        found, token = [], None
        while True:
            page = call(sm, "list_training_jobs", NameContains=f"lstj-{run_id}", MaxResults=3, **params)
            found += page["TrainingJobSummaries"]
            if not (token := page.get("NextToken")):
                return found
            params["NextToken"] = token

    everything = listed()
    assert sorted(s["TrainingJobName"] for s in everything) == mine  # across both tuning jobs, in pages of 3
    assert all(s["TrainingJobStatus"] == "Completed" and s["SecondaryStatus"] == "Completed" for s in everything)
    assert [s["TrainingJobName"] for s in listed(SortBy="Name", SortOrder="Descending")] == mine[::-1]
    assert listed(StatusEquals="Failed") == []
    assert listed(WarmPoolStatusEquals="Available") == []  # no training job here has a warm pool
    rest = httpx.Client(base_url=f"http://127.0.0.1:{settings.api_port}", timeout=30)
    summaries = rest.get("/training-jobs", params={"NameContains": f"lstj-{run_id}"}).json()["TrainingJobSummaries"]
    assert {s["TuningJobName"] for s in summaries} == set(names) and len(summaries) == 4
    assert rest.get("/training-jobs", params={"SortBy": "Bogus"}).status_code == 400
    rest.close()


def test_tags_of_tuning_and_training_jobs(sm: Any, program: str, run_id: str) -> None:
    name = f"tags-{run_id}"
    params = job(name, program, jobs=1, parallel=1)
    params["Tags"] = [{"Key": "team", "Value": "vision"}, {"Key": "cost-centre", "Value": "42"}]
    arn = call(sm, "create_hyper_parameter_tuning_job", **params)["HyperParameterTuningJobArn"]
    assert call(sm, "list_tags", ResourceArn=arn)["Tags"] == [
        {"Key": "cost-centre", "Value": "42"},
        {"Key": "team", "Value": "vision"},
    ]
    added = call(sm, "add_tags", ResourceArn=arn, Tags=[{"Key": "team", "Value": "nlp"}, {"Key": "stage", "Value": ""}])
    assert added["Tags"] == [{"Key": "team", "Value": "nlp"}, {"Key": "stage", "Value": ""}]
    call(sm, "delete_tags", ResourceArn=arn, TagKeys=["cost-centre", "not-there"])
    assert call(sm, "list_tags", ResourceArn=arn)["Tags"] == [
        {"Key": "stage", "Value": ""},
        {"Key": "team", "Value": "nlp"},
    ]
    # A training job has tags of its own (none until added), paged 50 at a time.
    assert wait_status(sm, name)["HyperParameterTuningJobStatus"] == "Completed"
    (training,) = all_training_jobs(sm, name)
    training_arn = training["TrainingJobArn"]
    assert call(sm, "list_tags", ResourceArn=training_arn)["Tags"] == []
    call(sm, "add_tags", ResourceArn=training_arn, Tags=[{"Key": f"k{i:02d}", "Value": str(i)} for i in range(50)])
    first = call(sm, "list_tags", ResourceArn=training_arn, MaxResults=50)
    assert len(first["Tags"]) == 50 and "NextToken" not in first

    code, status, message = error(sm, "add_tags", ResourceArn=training_arn, Tags=[{"Key": "one-too-many", "Value": ""}])
    assert (code, status) == ("ValidationException", 400) and "at most 50 tags" in message
    assert len(call(sm, "list_tags", ResourceArn=training_arn, MaxResults=100)["Tags"]) == 50  # nothing half-added
    code, status, message = error(sm, "add_tags", ResourceArn=arn, Tags=[{"Key": "aws:owner", "Value": "x"}])
    assert (code, status) == ("ValidationException", 400) and "reserved" in message
    missing = arn.replace(name, f"{name}-gone")
    code, status, _ = error(sm, "list_tags", ResourceArn=missing)
    assert (code, status) == ("ResourceNotFound", 400)


def test_stop_one_training_job(sm: Any, program: str, run_id: str, settings: Settings) -> None:
    # StopTrainingJob ends that training job as Stopped; the tuning job and its other jobs go on.
    name = f"stop1-{run_id}"
    call(sm, "create_hyper_parameter_tuning_job", **job(name, program, jobs=3, parallel=2, mode="hang"))
    deadline = time.monotonic() + 60
    while len([j for j in all_training_jobs(sm, name) if j.get("TrainingStartTime")]) < 2:
        assert time.monotonic() < deadline, "two training jobs did not start"
        time.sleep(0.3)
    first, second = sorted(j["TrainingJobName"] for j in all_training_jobs(sm, name))[:2]
    assert set(call(sm, "stop_training_job", TrainingJobName=first)) == {"ResponseMetadata"}
    deadline = time.monotonic() + 60
    while (stopped := call(sm, "describe_training_job", TrainingJobName=first))["TrainingJobStatus"] != "Stopped":
        assert time.monotonic() < deadline, stopped["TrainingJobStatus"]
        time.sleep(0.3)
    assert call(sm, "describe_training_job", TrainingJobName=second)["TrainingJobStatus"] == "InProgress"
    described = call(sm, "describe_hyper_parameter_tuning_job", HyperParameterTuningJobName=name)
    assert described["HyperParameterTuningJobStatus"] == "InProgress"
    # A third training job takes the freed slot.
    deadline = time.monotonic() + 60
    while len(all_training_jobs(sm, name)) < 3:
        assert time.monotonic() < deadline, "no training job took the stopped one's slot"
        time.sleep(0.3)
    rest = httpx.Client(base_url=f"http://127.0.0.1:{settings.api_port}", timeout=30)
    assert rest.get(f"/training-jobs/{first}").json()["StopReason"] == "StopTrainingJob requested by the user"

    code, status, message = error(sm, "stop_training_job", TrainingJobName=first)
    assert (code, status) == ("ValidationException", 400) and "already ended (Stopped)" in message
    code, status, _ = error(sm, "stop_training_job", TrainingJobName=f"{name}-999-nothere")
    assert (code, status) == ("ResourceNotFound", 400)
    # The REST route does the same.
    answer = rest.post(f"/training-jobs/{second}/stop")
    assert answer.status_code == 200 and answer.json() == {"TrainingJobName": second, "TrainingJobStatus": "Stopping"}
    assert rest.post(f"/training-jobs/{name}-999-nothere/stop").status_code == 404
    rest.close()
    call(sm, "stop_hyper_parameter_tuning_job", HyperParameterTuningJobName=name)
    assert wait_status(sm, name, timeout_s=60)["HyperParameterTuningJobStatus"] == "Stopped"


def test_rest_and_cli_delete_and_late_events(
    sm: Any, program: str, run_id: str, settings: Settings, engine: Engine
) -> None:
    by_rest, by_cli = f"rdel-{run_id}", f"cdel-{run_id}"
    for name in (by_rest, by_cli):
        call(sm, "create_hyper_parameter_tuning_job", **job(name, program, jobs=1, parallel=1))
    for name in (by_rest, by_cli):
        wait_status(sm, name)
    with httpx.Client(base_url=f"http://127.0.0.1:{settings.api_port}", timeout=30) as rest:
        response = rest.delete(f"/tuning-jobs/{by_rest}")
        assert response.status_code == 200 and response.json()["HyperParameterTuningJobArn"].endswith(by_rest)
        assert rest.get(f"/tuning-jobs/{by_rest}").status_code == 404
        assert rest.get(f"/tuning-jobs/{by_rest}/training-jobs").status_code == 404

    deleted = tunestream(settings, "delete", by_cli)
    assert deleted.returncode == 0 and f"deleted {by_cli}" in deleted.stdout, deleted.stdout + deleted.stderr
    again = tunestream(settings, "delete", by_cli)
    assert again.returncode == 1 and "ResourceNotFound" not in again.stderr and "does not exist" in again.stdout
    listed = tunestream(settings, "list")
    assert listed.returncode == 0 and by_cli not in listed.stdout and by_rest not in listed.stdout
    assert tunestream(settings, "describe", by_cli).returncode == 1

    # Events that arrive late for a deleted job (replays, stragglers) are applied to its row and
    # leave it deleted: the tracker's writes and the best-job refresh still work on it.
    at = datetime.now(UTC)
    with engine.begin() as conn:
        (row,) = reads.list_training_jobs(
            conn, by_rest, status=None, sort_by="Name", order="Ascending", offset=0, limit=10
        )
        training = row["name"]
        writes.record_objective(
            conn, name=training, tuning_job_name=by_rest, objective_status="Succeeded", value=9.5, reason=None, at=at
        )
        writes.set_tuning_job_stopping(conn, by_rest, at)
        writes.end_tuning_job(conn, by_rest, "Completed", "again", at)
        assert not writes.delete_tuning_job(conn, by_rest, at)
    with engine.connect() as conn:
        row = reads.get_tuning_job(conn, by_rest, include_deleted=True)
        assert row is not None and row["deleted_at"] is not None and row["status"] == "Completed"
        assert row["best_training_job_name"] == training and reads.get_tuning_job(conn, by_rest) is None
    assert (
        error(sm, "describe_hyper_parameter_tuning_job", HyperParameterTuningJobName=by_rest)[0] == "ResourceNotFound"
    )
    assert call(sm, "describe_training_job", TrainingJobName=training)["FinalMetricDataList"]


def test_errors(sm: Any, program: str, run_id: str) -> None:
    code, status, message = error(sm, "describe_hyper_parameter_tuning_job", HyperParameterTuningJobName="nope-nope")
    assert (code, status) == ("ResourceNotFound", 400) and "nope-nope" in message
    assert error(sm, "describe_training_job", TrainingJobName="nope-001-00000000")[:2] == ("ResourceNotFound", 400)
    assert error(sm, "stop_hyper_parameter_tuning_job", HyperParameterTuningJobName="nope")[:2] == (
        "ResourceNotFound",
        400,
    )
    assert error(sm, "list_training_jobs_for_hyper_parameter_tuning_job", HyperParameterTuningJobName="nope")[:2] == (
        "ResourceNotFound",
        400,
    )

    bad = job(f"bad-{run_id}", program)
    bad["HyperParameterTuningJobConfig"]["ParameterRanges"]["ContinuousParameterRanges"][0].update(
        MinValue="0.9", MaxValue="0.1"
    )
    code, status, message = error(sm, "create_hyper_parameter_tuning_job", **bad)
    assert (code, status) == ("ValidationException", 400)
    assert "ContinuousParameterRanges[0].MinValue" in message and "greater than MaxValue" in message

    relative = job(f"bad-{run_id}", "file://relative/train")
    code, status, message = error(sm, "create_hyper_parameter_tuning_job", **relative)
    assert (code, status) == ("ValidationException", 400) and "AlgorithmSpecification.TrainingImage" in message
    code, _, _ = error(sm, "describe_hyper_parameter_tuning_job", HyperParameterTuningJobName=f"bad-{run_id}")
    assert code == "ResourceNotFound"

    name = f"b3dup-{run_id}"
    call(sm, "create_hyper_parameter_tuning_job", **job(name, program, jobs=1, parallel=1))
    code, status, message = error(sm, "create_hyper_parameter_tuning_job", **job(name, program, jobs=2, parallel=1))
    assert (code, status) == ("ResourceInUse", 400) and "already exists" in message
    # An operation boto3 knows and tunestream does not.
    code, status, message = error(sm, "list_models")
    assert (code, status) == ("UnknownOperationException", 400) and "SageMaker.DescribeTrainingJob" in message
    wait_status(sm, name)


# --- SigV4: a second api with access keys -----------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def signed_api(services: Services) -> Iterator[int]:
    port = _free_port()
    services.start(
        "api-sigv4",
        service="api",
        env={
            "TUNESTREAM_API_PORT": str(port),
            "TUNESTREAM_SAGEMAKER_ACCESS_KEYS": "AKIDTUNE1:first-secret,AKIDTUNE2:2nd/s+cret",
        },
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        assert services.alive("api-sigv4") and time.monotonic() < deadline, "the SigV4 api did not start"
        time.sleep(0.3)
    yield port
    services.kill("api-sigv4", signal.SIGTERM)


def test_sigv4_when_keys_are_configured(
    signed_api: int, services: Services, sm: Any, run_id: str, program: str
) -> None:
    good = sagemaker_client(signed_api, key="AKIDTUNE1", secret="first-secret")
    assert "HyperParameterTuningJobSummaries" in call(good, "list_hyper_parameter_tuning_jobs", MaxResults=1)
    second = sagemaker_client(signed_api, key="AKIDTUNE2", secret="2nd/s+cret")
    name = f"sig-{run_id}"
    call(second, "create_hyper_parameter_tuning_job", **job(name, program, jobs=1, parallel=1))
    assert wait_status(second, name)["HyperParameterTuningJobStatus"] == "Completed"

    wrong = sagemaker_client(signed_api, key="AKIDTUNE1", secret="not-the-secret")
    assert error(wrong, "list_hyper_parameter_tuning_jobs")[:2] == ("InvalidSignatureException", 403)
    unknown = sagemaker_client(signed_api, key="AKIDSTRANGER", secret="first-secret")
    assert error(unknown, "describe_hyper_parameter_tuning_job", HyperParameterTuningJobName=name)[:2] == (
        "UnrecognizedClientException",
        403,
    )
    unsigned = sagemaker_client(signed_api, signature_version=UNSIGNED)
    assert error(unsigned, "list_hyper_parameter_tuning_jobs")[:2] == ("MissingAuthenticationTokenException", 403)
    # Nothing was created by the refused requests, and the secrets are in no log line of the api.
    refused = sagemaker_client(signed_api, key="AKIDTUNE1", secret="bad")
    assert error(refused, "create_hyper_parameter_tuning_job", **job(f"ref-{run_id}", program))[0] == (
        "InvalidSignatureException"
    )
    assert error(sm, "describe_hyper_parameter_tuning_job", HyperParameterTuningJobName=f"ref-{run_id}")[0] == (
        "ResourceNotFound"
    )
    log = (services.log_dir / "api-sigv4.log").read_text(errors="replace")
    assert "refused a SageMaker request: InvalidSignatureException" in log
    assert not any(secret in log for secret in ("first-secret", "2nd/s+cret", "not-the-secret"))


def test_the_readme_example_runs_unchanged(services: Any, settings: Settings, run_id: str) -> None:
    """examples/boto3/tune_xgboost.py, docs/api.md's snippet, end to end with two training jobs."""
    name = f"b3x-{run_id}"
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "boto3" / "tune_xgboost.py"), "--max-jobs", "2", "--name", name],
        env={**os.environ, "TUNESTREAM_API_URL": f"http://127.0.0.1:{settings.api_port}"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"best training job: {name}-" in done.stdout
    assert done.stdout.count(f"  {name}-") == 2 and "Completed" in done.stdout


def training_job(name: str, image: str, **hyperparameters: str) -> dict[str, Any]:
    """CreateTrainingJob's parameters as a boto3 user (or SageMaker's SDK, with its default debugger
    and profiler configs) writes them."""
    return {
        "TrainingJobName": name,
        "HyperParameters": {"epochs": "2", "x": "0.3", **hyperparameters},
        "AlgorithmSpecification": {
            "TrainingImage": image,
            "TrainingInputMode": "File",
            "MetricDefinitions": [{"Name": "score", "Regex": r"score=([-0-9.eE+]+)"}],
        },
        "RoleArn": "arn:aws:iam::123456789012:role/tunestream-test",
        "OutputDataConfig": {"S3OutputPath": "s3://tunestream/it/boto3-alone"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
        "StoppingCondition": {"MaxRuntimeInSeconds": 60},
        "DebugHookConfig": {"S3OutputPath": "s3://tunestream/it/boto3-alone", "CollectionConfigurations": []},
        "ProfilerConfig": {"S3OutputPath": "s3://tunestream/it/boto3-alone", "DisableProfiler": False},
    }


def wait_training_job(sm: Any, name: str, timeout_s: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while (described := call(sm, "describe_training_job", TrainingJobName=name))["TrainingJobStatus"] not in (
        TERMINAL_STATUSES
    ):
        assert time.monotonic() < deadline, described["TrainingJobStatus"]
        time.sleep(0.3)
    return described


def test_create_training_job_outside_any_tuning_job(sm: Any, program: str, run_id: str, settings: Settings) -> None:
    """CreateTrainingJob: described at once, run with the hyperparameters as given, listed, tagged,
    stoppable; its carrier (a hidden tuning job of one) is never a tuning job of the user's."""
    name = f"alone-{run_id}"
    params = {**training_job(name, program), "Tags": [{"Key": "team", "Value": "ml"}]}
    arn = call(sm, "create_training_job", **params)["TrainingJobArn"]
    assert arn.endswith(f":training-job/{name}")
    at_once = call(sm, "describe_training_job", TrainingJobName=name)
    assert at_once["TrainingJobStatus"] in ("InProgress", "Completed") and "TuningJobArn" not in at_once
    assert at_once["HyperParameters"] == {"epochs": "2", "x": "0.3"}
    done = wait_training_job(sm, name)
    assert done["TrainingJobStatus"] == "Completed", done.get("FailureReason")
    [score] = [m for m in done["FinalMetricDataList"] if m["MetricName"] == "score"]
    assert score["Value"] == pytest.approx(1.0 - 0.1 / 2, abs=1e-6)
    assert done["ModelArtifacts"]["S3ModelArtifacts"] == f"s3://tunestream/it/boto3-alone/{name}/output/model.tar.gz"
    assert done["HyperParameters"] == {"epochs": "2", "x": "0.3"}
    # REST Describe lists what was accepted without effect, by CreateTrainingJob's own paths.
    rest = httpx.get(f"http://127.0.0.1:{settings.api_port}/training-jobs/{name}", timeout=30).json()
    assert sorted(rest["InertMembers"]) == [
        "DebugHookConfig",
        "ProfilerConfig",
        "ResourceConfig.VolumeSizeInGB",
        "RoleArn",
    ]
    listed = call(sm, "list_training_jobs", NameContains=name)["TrainingJobSummaries"]
    assert [s["TrainingJobName"] for s in listed] == [name]
    assert call(sm, "list_tags", ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "ml"}]
    carrier = standalone_tuning_job_name(name)
    tuning = call(sm, "list_hyper_parameter_tuning_jobs", MaxResults=100)["HyperParameterTuningJobSummaries"]
    assert carrier not in {t["HyperParameterTuningJobName"] for t in tuning}
    assert error(sm, "describe_hyper_parameter_tuning_job", HyperParameterTuningJobName=carrier)[0] == (
        "ResourceNotFound"
    )
    # The name is taken, by this training job or by one of a tuning job.
    code, status, message = error(sm, "create_training_job", **training_job(name, program))
    assert (code, status) == ("ResourceInUse", 400) and name in message
    # A member tunestream refuses is named; nothing is created.
    refused = {**training_job(f"{name}-tb", program), "TensorBoardOutputConfig": {"S3OutputPath": "s3://tunestream/x"}}
    code, status, message = error(sm, "create_training_job", **refused)
    assert (code, status) == ("ValidationException", 400) and "TensorBoardOutputConfig" in message
    assert error(sm, "describe_training_job", TrainingJobName=f"{name}-tb")[0] == "ResourceNotFound"
    # StopTrainingJob stops it as it does a tuning job's.
    hanging = f"{name}-hang"
    call(sm, "create_training_job", **training_job(hanging, program, mode="hang"))
    deadline = time.monotonic() + 60
    while not call(sm, "describe_training_job", TrainingJobName=hanging).get("TrainingStartTime"):
        assert time.monotonic() < deadline, "the training job did not start"
        time.sleep(0.3)
    call(sm, "stop_training_job", TrainingJobName=hanging)
    assert wait_training_job(sm, hanging)["TrainingJobStatus"] == "Stopped"
