"""The JSON 1.1 protocol without the stack: output projection, error shapes, SigV4 at the door."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr

from tests.conftest import minimal_job
from tests.sagemaker_shapes import assert_output_shape, sagemaker_model, shape_problems
from tunestream.api.principals import load_principals
from tunestream.api.sagemaker_protocol import CONTENT_TYPE, epoch_seconds, install_sagemaker_protocol, project
from tunestream.api.shapes import describe_training_job, describe_tuning_job, training_job_summary, tuning_job_summary
from tunestream.config import Settings
from tunestream.definitions import CreateTuningJobRequest
from tunestream.naming import training_job_arn, tuning_job_arn

T0 = datetime(2026, 1, 2, 3, 4, 5, 250000, tzinfo=UTC)


def tuning_row(**changes: Any) -> dict[str, Any]:
    job = minimal_job("proj-job")
    job["TrainingJobDefinition"]["AlgorithmSpecification"]["Command"] = ["python", "train.py"]
    job["TrainingJobDefinition"]["ResourceConfig"] = {"InstanceType": "ml.m5.large", "GpuCount": 0}
    request = CreateTuningJobRequest.model_validate(job).model_dump(mode="json", exclude_none=True)
    row = {
        "name": "proj-job",
        "arn": tuning_job_arn("proj-job"),
        "status": "Completed",
        "strategy": "Random",
        "request": request,
        "random_seed": 7,
        "created_at": T0,
        "last_modified_at": T0 + timedelta(minutes=5),
        "ended_at": T0 + timedelta(minutes=5),
        "failure_reason": None,
        "completion_reason": "MaxNumberOfTrainingJobs reached",
        "best_training_job_name": "proj-job-001-abcdef12",
        "completion_details": {
            "NumberOfTrainingJobsObjectiveNotImproving": 2,
            "ConvergenceDetectedTime": T0.isoformat(),
        },
        "deleted_at": None,
    }
    row.update(changes)
    return row


def training_row(**changes: Any) -> dict[str, Any]:
    row = {
        "name": "proj-job-001-abcdef12",
        "tuning_job_name": "proj-job",
        "index": 0,
        "arn": training_job_arn("proj-job-001-abcdef12"),
        "status": "Completed",
        "secondary_status": "Completed",
        "tuned_hyperparameters": {"x": "0.5", "n": "3", "kind": "a"},
        "hyperparameters": {"x": "0.5", "n": "3", "kind": "a", "epochs": "3"},
        "proposal_reason": "random draw",
        "proposal_details": {"phase": "random"},
        "stop_reason": "median rule",
        "stop_details": {"Rule": "median", "Step": 2, "Value": 0.1, "Cutoff": 0.2},
        "objective_status": "Succeeded",
        "final_objective_value": 0.75,
        "objective_reason": None,
        "failure_reason": None,
        "exit_code": 0,
        "launcher_id": "l1",
        "pid": 42,
        "created_at": T0,
        "started_at": T0 + timedelta(seconds=1),
        "ended_at": T0 + timedelta(seconds=31),
        "last_modified_at": T0 + timedelta(seconds=31),
        "model_artifact_s3_uri": "s3://b/out/proj-job-001-abcdef12/output/model.tar.gz",
        "log_s3_uri": "s3://b/logs/x.log",
        "log_lines": 3,
        "attempts": [{"Attempt": 1, "LauncherId": "l0", "Reason": "lost", "At": T0.isoformat()}],
        "retryable": False,
        "gpus": ["0"],
    }
    row.update(changes)
    return row


def projected(operation: str, result: dict[str, Any]) -> dict[str, Any]:
    shape = sagemaker_model().operation_model(operation).output_shape
    out: dict[str, Any] = project(result, shape)
    return out


def test_describe_tuning_job_projects_onto_the_model() -> None:
    counts = {"Completed": 3, "Stopping": 1, "FailedRetryable": 1}
    rest = describe_tuning_job(tuning_row(), counts, {"Succeeded": 3}, training_row(), training_row())
    rest["TrainingJobDefinition"]["RoleArn"] = "arn:aws:iam::1:role/x"
    out = projected("DescribeHyperParameterTuningJob", rest)
    assert_output_shape("DescribeHyperParameterTuningJob", out)
    assert "CompletionReason" not in out and "Command" not in out["TrainingJobDefinition"]["AlgorithmSpecification"]
    assert "GpuCount" not in out["TrainingJobDefinition"]["ResourceConfig"]
    assert out["CreationTime"] == pytest.approx(T0.timestamp()) and isinstance(out["CreationTime"], float)
    assert out["TuningJobCompletionDetails"]["ConvergenceDetectedTime"] == pytest.approx(T0.timestamp())
    assert out["TrainingJobStatusCounters"] == {
        "Completed": 3,
        "InProgress": 1,
        "RetryableError": 1,
        "NonRetryableError": 0,
        "Stopped": 0,
    }
    best = out["BestTrainingJob"]
    assert best["FinalHyperParameterTuningJobObjectiveMetric"] == {
        "Type": "Maximize",
        "MetricName": "score",
        "Value": 0.75,
    }
    assert "EarlyStoppingReason" not in best
    assert out["HyperParameterTuningJobConfig"]["RandomSeed"] == 7


def test_describe_tuning_job_names_inert_members_on_rest_only() -> None:
    row = tuning_row()
    assert describe_tuning_job(row, {}, {}, None)["InertMembers"] == []
    definition = row["request"]["TrainingJobDefinition"]
    definition["RoleArn"] = "arn:aws:iam::1:role/x"
    definition["OutputDataConfig"]["KmsKeyId"] = "key"
    definition["VpcConfig"] = {"Subnets": ["s"], "SecurityGroupIds": ["g"]}
    rest = describe_tuning_job(row, {}, {}, None)
    assert rest["InertMembers"] == [
        "TrainingJobDefinition.RoleArn",
        "TrainingJobDefinition.VpcConfig",
        "TrainingJobDefinition.OutputDataConfig.KmsKeyId",
    ]
    out = projected("DescribeHyperParameterTuningJob", rest)
    assert_output_shape("DescribeHyperParameterTuningJob", out)
    assert "InertMembers" not in out and out["TrainingJobDefinition"]["VpcConfig"] == definition["VpcConfig"]
    training = describe_training_job(training_row(), row, [])
    assert training["InertMembers"] == rest["InertMembers"]
    assert "InertMembers" not in projected("DescribeTrainingJob", training)


def test_describe_training_job_projects_onto_the_model() -> None:
    rest = describe_training_job(training_row(), tuning_row(), [{"metric_name": "score", "value": 1, "at": T0}])
    assert {"LauncherId", "Gpus", "FailedAttempts", "EarlyStopping", "ProposalReason", "LogUri"} <= set(rest)
    out = projected("DescribeTrainingJob", rest)
    assert_output_shape("DescribeTrainingJob", out)
    assert not {"LauncherId", "Gpus", "FailedAttempts", "EarlyStopping", "ProposalReason", "LogUri"} & set(out)
    assert out["FinalMetricDataList"] == [
        {"MetricName": "score", "Value": 1.0, "Timestamp": pytest.approx(T0.timestamp())}
    ]
    assert isinstance(out["FinalMetricDataList"][0]["Value"], float)
    assert out["TrainingTimeInSeconds"] == 30 and out["HyperParameters"]["epochs"] == "3"


def test_summaries_project_onto_the_model() -> None:
    summary = tuning_job_summary(tuning_row(), {"Completed": 1}, {"Succeeded": 1})
    assert_output_shape(
        "ListHyperParameterTuningJobs",
        projected("ListHyperParameterTuningJobs", {"HyperParameterTuningJobSummaries": [summary], "NextToken": "t"}),
    )
    jobs = [training_job_summary(training_row(), {"Type": "Minimize", "MetricName": "loss"})]
    jobs.append(training_job_summary(training_row(final_objective_value=None, status="Failed"), {}))
    out = projected("ListTrainingJobsForHyperParameterTuningJob", {"TrainingJobSummaries": jobs})
    assert_output_shape("ListTrainingJobsForHyperParameterTuningJob", out)


def test_shape_checker_finds_problems() -> None:
    shape = sagemaker_model().operation_model("DescribeTrainingJob").output_shape
    problems = shape_problems({"TrainingJobName": 3, "LauncherId": "x", "CreationTime": "2026-01-01"}, shape)
    text = "\n".join(problems)
    assert "TrainingJobName: must be a string" in text and "LauncherId: not a member" in text
    assert "CreationTime: a timestamp must be epoch seconds" in text and "TrainingJobArn: required member" in text


def test_projection_types() -> None:
    assert epoch_seconds("2026-01-02T03:04:05+00:00") == int(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC).timestamp())
    assert epoch_seconds(datetime(2026, 1, 2, 3, 4, 5)) == epoch_seconds("2026-01-02T03:04:05Z")
    limits = sagemaker_model().shape_for("ResourceLimits")
    assert project({"MaxParallelTrainingJobs": 2.0, "Unknown": 1}, limits) == {"MaxParallelTrainingJobs": 2}
    with pytest.raises(ValueError):
        project({"MaxParallelTrainingJobs": 2.5}, limits)


# --- the route: auth and protocol errors, before any operation reaches the database ------------------


def client(**settings: Any) -> TestClient:
    app = FastAPI()
    install_sagemaker_protocol(app, load_principals(Settings(**settings)))
    return TestClient(app)


def signed(target: str, body: bytes = b"{}", key: str = "AKIDTEST", secret: str = "secret-1") -> dict[str, Any]:
    request = AWSRequest(
        method="POST",
        url="http://testserver/",
        data=body,
        headers={"Content-Type": CONTENT_TYPE, "X-Amz-Target": target},
    )
    SigV4Auth(Credentials(key, secret), "sagemaker", "us-east-1").add_auth(request)
    return {"content": body, "headers": dict(request.headers.items())}


def error_of(response: Any) -> tuple[int, str]:
    assert response.headers["content-type"] == CONTENT_TYPE
    assert response.headers["x-amzn-requestid"]
    body = json.loads(response.content)
    assert set(body) == {"__type", "message"} and body["message"]
    return response.status_code, body["__type"]


def test_signed_request_passes_auth() -> None:
    with client(sagemaker_access_keys=SecretStr("AKIDTEST:secret-1,AKID2:secret-2")) as c:
        response = c.post("/", **signed("SageMaker.CreateEndpoint"))
        assert error_of(response) == (400, "UnknownOperationException")
        response = c.post("/", **signed("SageMaker.DescribeTrainingJob", b"{not json", "AKID2", "secret-2"))
        assert error_of(response) == (400, "SerializationException")


def test_bad_signatures_are_refused() -> None:
    with client(sagemaker_access_keys=SecretStr("AKIDTEST:secret-1")) as c:
        target = {"X-Amz-Target": "SageMaker.ListHyperParameterTuningJobs", "Content-Type": CONTENT_TYPE}
        unsigned = c.post("/", content=b"{}", headers=target)
        assert error_of(unsigned) == (403, "MissingAuthenticationTokenException")
        wrong = c.post("/", **signed("SageMaker.ListHyperParameterTuningJobs", secret="wrong"))
        assert error_of(wrong) == (403, "InvalidSignatureException")
        unknown = c.post("/", **signed("SageMaker.ListHyperParameterTuningJobs", key="AKIDOTHER"))
        assert error_of(unknown) == (403, "UnrecognizedClientException")
        tampered = signed("SageMaker.ListHyperParameterTuningJobs")
        tampered["content"] = b'{"MaxResults": 1}'
        assert error_of(c.post("/", **tampered)) == (403, "InvalidSignatureException")
        garbled = c.post("/", content=b"{}", headers={**target, "Authorization": "AWS4-HMAC-SHA256 Credential=x"})
        assert error_of(garbled) == (403, "IncompleteSignature")


def test_api_token_without_keys_refuses_everything() -> None:
    with client(api_token=SecretStr("tok")) as c:
        target = {"X-Amz-Target": "SageMaker.ListHyperParameterTuningJobs"}
        assert error_of(c.post("/", content=b"{}", headers=target)) == (403, "MissingAuthenticationTokenException")
        bearer = c.post("/", content=b"{}", headers={**target, "Authorization": "Bearer tok"})
        assert error_of(bearer) == (403, "IncompleteSignature")
        assert error_of(c.post("/", **signed("SageMaker.ListHyperParameterTuningJobs"))) == (
            403,
            "UnrecognizedClientException",
        )


def test_without_keys_or_token_unsigned_requests_pass() -> None:
    with client() as c:
        response = c.post("/", content=b"{}", headers={"X-Amz-Target": "SageMaker.StartPipelineExecution"})
        assert error_of(response) == (400, "UnknownOperationException")
        assert error_of(c.post("/", content=b"{}")) == (400, "UnknownOperationException")
        response = c.post("/", content=b"[1]", headers={"X-Amz-Target": "SageMaker.DescribeTrainingJob"})
        assert error_of(response) == (400, "SerializationException")


def test_invalid_input_and_internal_failure() -> None:
    app = FastAPI()
    install_sagemaker_protocol(app, load_principals(Settings()))
    app.state.ts = None  # no database: input is checked before an operation needs one
    with TestClient(app) as c:
        target = {"X-Amz-Target": "SageMaker.DescribeTrainingJob", "Content-Type": CONTENT_TYPE}
        response = c.post("/", content=b'{"TrainingJobName": "", "Extra": 1}', headers=target)
        assert error_of(response) == (400, "ValidationException")
        assert "TrainingJobName" in response.json()["message"] and "Extra: unknown field" in response.json()["message"]
        response = c.post(
            "/",
            content=b'{"MaxResults": 0}',
            headers={**target, "X-Amz-Target": "SageMaker.ListHyperParameterTuningJobs"},
        )
        assert error_of(response) == (400, "ValidationException")
        response = c.post("/", content=b'{"TrainingJobName": "x"}', headers=target)
        assert error_of(response) == (500, "InternalFailure")


def test_malformed_access_keys_stop_the_api() -> None:
    with pytest.raises(ValueError) as info:
        client(sagemaker_access_keys=SecretStr("AKIDTEST=hunter2"))
    assert "hunter2" not in str(info.value)
