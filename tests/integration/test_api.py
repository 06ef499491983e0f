"""The api over HTTP against the real stack: validation errors, conflicts, listing, stopping, auth."""

from __future__ import annotations

import copy
import os
import time
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Engine, select

from tests.integration.conftest import trainer_job, training_processes, wait_until_ended
from tunestream.api.app import OUTBOX_INTERVAL_S, create_app
from tunestream.client import TunestreamClient
from tunestream.config import Settings
from tunestream.db.tables import training_jobs


@pytest.fixture(scope="module")
def http(api: TunestreamClient, settings: Settings) -> httpx.Client:
    return httpx.Client(base_url=f"http://127.0.0.1:{settings.api_port}", timeout=30)


def _ranges(job: dict[str, Any]) -> dict[str, Any]:
    return job["HyperParameterTuningJobConfig"]["ParameterRanges"]  # type: ignore[no-any-return]


def _bad(mutate: Any) -> dict[str, Any]:
    job = trainer_job("bad-job")
    mutate(job)
    return job


CASES = {
    "unknown strategy": (
        lambda j: j["HyperParameterTuningJobConfig"].update(Strategy="Evolution"),
        "HyperParameterTuningJobConfig.Strategy",
    ),
    "min greater than max": (
        lambda j: _ranges(j)["ContinuousParameterRanges"][0].update(MinValue="0.9", MaxValue="0.1"),
        "HyperParameterTuningJobConfig.ParameterRanges.ContinuousParameterRanges[0].MinValue",
    ),
    "logarithmic with min <= 0": (
        lambda j: _ranges(j)["ContinuousParameterRanges"][0].update(ScalingType="Logarithmic"),
        "HyperParameterTuningJobConfig.ParameterRanges.ContinuousParameterRanges[0].ScalingType",
    ),
    "more than 30 parameters": (
        lambda j: _ranges(j).update(
            ContinuousParameterRanges=[{"Name": f"p{i}", "MinValue": "0", "MaxValue": "1"} for i in range(31)]
        ),
        "HyperParameterTuningJobConfig.ParameterRanges",
    ),
    "duplicate names": (
        lambda j: _ranges(j)["CategoricalParameterRanges"][0].update(Name="x"),
        "HyperParameterTuningJobConfig.ParameterRanges",
    ),
    "static and tuned": (
        lambda j: j["TrainingJobDefinition"]["StaticHyperParameters"].update(x="0.5"),
        "TrainingJobDefinition.StaticHyperParameters.x",
    ),
    "grid with continuous range": (
        lambda j: j["HyperParameterTuningJobConfig"].update(Strategy="Grid"),
        "HyperParameterTuningJobConfig.ParameterRanges.ContinuousParameterRanges",
    ),
    "objective not defined": (
        lambda j: j["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"].update(MetricName="loss"),
        "HyperParameterTuningJobConfig.HyperParameterTuningJobObjective.MetricName",
    ),
    "regex does not compile": (
        lambda j: j["TrainingJobDefinition"]["AlgorithmSpecification"]["MetricDefinitions"][0].update(Regex="score=(["),
        "TrainingJobDefinition.AlgorithmSpecification.MetricDefinitions[0].Regex",
    ),
    "regex needs backtracking": (
        lambda j: j["TrainingJobDefinition"]["AlgorithmSpecification"]["MetricDefinitions"][0].update(
            Regex="(?<=score=)([0-9.]+)"
        ),
        "TrainingJobDefinition.AlgorithmSpecification.MetricDefinitions[0].Regex",
    ),
    "regex without group": (
        lambda j: j["TrainingJobDefinition"]["AlgorithmSpecification"]["MetricDefinitions"][0].update(
            Regex="score=\\d+"
        ),
        "TrainingJobDefinition.AlgorithmSpecification.MetricDefinitions[0].Regex",
    ),
    "parallel above max": (
        lambda j: j["HyperParameterTuningJobConfig"]["ResourceLimits"].update(MaxParallelTrainingJobs=9),
        "HyperParameterTuningJobConfig.ResourceLimits.MaxParallelTrainingJobs",
    ),
    "bad job name": (lambda j: j.update(HyperParameterTuningJobName="bad_name!"), "HyperParameterTuningJobName"),
    "long job name": (lambda j: j.update(HyperParameterTuningJobName="a" * 33), "HyperParameterTuningJobName"),
    "missing resource limits": (
        lambda j: j["HyperParameterTuningJobConfig"].pop("ResourceLimits"),
        "HyperParameterTuningJobConfig.ResourceLimits",
    ),
    "wrong type": (
        lambda j: j["HyperParameterTuningJobConfig"]["ResourceLimits"].update(MaxNumberOfTrainingJobs="many"),
        "HyperParameterTuningJobConfig.ResourceLimits.MaxNumberOfTrainingJobs",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_invalid_job_is_400_naming_field_and_rule(http: httpx.Client, case: str) -> None:
    mutate, field = CASES[case]
    response = http.post("/tuning-jobs", json=_bad(mutate))
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["__type"] == "ValidationException"
    assert field in [e["field"] for e in body["errors"]], body
    assert all(e["rule"] and e["message"] for e in body["errors"])
    assert http.get("/tuning-jobs/bad-job").status_code == 404


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b"", '{"a": "\xff"}'.encode("latin-1")])
def test_malformed_body_is_400(http: httpx.Client, raw: bytes) -> None:
    response = http.post("/tuning-jobs", content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.json()["__type"] == "ValidationException"


def test_duplicate_name_is_409_and_first_job_is_untouched(
    http: httpx.Client, api: TunestreamClient, run_id: str
) -> None:
    name = f"dup-{run_id}"
    job = trainer_job(name, jobs=1, parallel=1)
    assert http.post("/tuning-jobs", json=job).status_code == 200
    other = copy.deepcopy(job)
    other["HyperParameterTuningJobConfig"]["RandomSeed"] = 99
    response = http.post("/tuning-jobs", json=other)
    assert response.status_code == 409 and response.json()["__type"] == "ResourceInUse"
    assert wait_until_ended(api, name)["HyperParameterTuningJobConfig"]["RandomSeed"] == 11


def test_unknown_names_are_404(http: httpx.Client) -> None:
    for path in (
        "/tuning-jobs/nope",
        "/tuning-jobs/nope/training-jobs",
        "/training-jobs/nope",
        "/training-jobs/nope/logs",
    ):
        response = http.get(path)
        assert response.status_code == 404 and response.json()["__type"] == "ResourceNotFound", path
    assert http.post("/tuning-jobs/nope/stop").status_code == 404


def test_list_training_jobs_sort_filter_paginate(api: TunestreamClient, http: httpx.Client, run_id: str) -> None:
    name = f"list-{run_id}"
    api.create_tuning_job(trainer_job(name, jobs=5, parallel=5))
    wait_until_ended(api, name)
    by_value = api.training_jobs(name, SortBy="FinalObjectiveMetricValue", SortOrder="Descending")
    values = [j["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] for j in by_value]
    assert values == sorted(values, reverse=True)
    assert by_value[0]["TrainingJobName"] == api.describe(name)["BestTrainingJob"]["TrainingJobName"]
    by_name = api.training_jobs(name, SortBy="Name", SortOrder="Ascending")
    assert [j["TrainingJobName"] for j in by_name] == sorted(j["TrainingJobName"] for j in by_name)
    page = http.get(f"/tuning-jobs/{name}/training-jobs", params={"MaxResults": 2, "SortBy": "Name"}).json()
    assert len(page["TrainingJobSummaries"]) == 2 and page["NextToken"]
    assert api.training_jobs(name, StatusEquals="Failed") == []
    assert len(api.training_jobs(name, StatusEquals="Completed")) == 5
    assert http.get(f"/tuning-jobs/{name}/training-jobs", params={"SortBy": "Color"}).status_code == 400
    assert http.get(f"/tuning-jobs/{name}/training-jobs", params={"NextToken": "garbage"}).status_code == 400
    listed = api.list_tuning_jobs(NameContains=name)["HyperParameterTuningJobSummaries"]
    assert [s["HyperParameterTuningJobName"] for s in listed] == [name]
    assert listed[0]["TrainingJobStatusCounters"]["Completed"] == 5
    # A list page counts every job's training jobs in one query: the same numbers Describe gives.
    described = api.describe(name)
    every = api.list_tuning_jobs()["HyperParameterTuningJobSummaries"]
    mine = next(s for s in every if s["HyperParameterTuningJobName"] == name)
    assert mine["TrainingJobStatusCounters"] == described["TrainingJobStatusCounters"]
    assert mine["ObjectiveStatusCounters"] == described["ObjectiveStatusCounters"]
    # The REST lists ignore query parameters they do not know, and name a bad one in a 400.
    unknown = http.get("/tuning-jobs", params={"NameContains": name, "Colour": "red"})
    assert [s["HyperParameterTuningJobName"] for s in unknown.json()["HyperParameterTuningJobSummaries"]] == [name]
    assert (
        len(http.get("/training-jobs", params={"NameContains": name, "Colour": "red"}).json()["TrainingJobSummaries"])
        == 5
    )
    too_long = http.get("/training-jobs", params={"NameContains": "x" * 64})
    assert too_long.status_code == 400 and "NameContains" in too_long.text


def test_stop_ends_running_training_jobs(
    api: TunestreamClient, http: httpx.Client, engine: Engine, run_id: str
) -> None:
    name = f"stop-{run_id}"
    job = trainer_job(name, jobs=6, parallel=2, mode="hang")
    api.create_tuning_job(job)
    deadline = time.monotonic() + 30
    while len([j for j in api.training_jobs(name) if j.get("TrainingStartTime")]) < 2:
        assert time.monotonic() < deadline
        time.sleep(0.3)
    with engine.connect() as conn:
        pids = conn.execute(select(training_jobs.c.pid).where(training_jobs.c.tuning_job_name == name)).scalars().all()
    assert len(pids) == 2 and all(pids)
    for pid in pids:
        os.kill(pid, 0)  # running now
    assert http.post(f"/tuning-jobs/{name}/stop").json() == {"HyperParameterTuningJobStatus": "Stopping"}
    d = wait_until_ended(api, name, timeout_s=60)
    assert d["HyperParameterTuningJobStatus"] == "Stopped"
    assert d["TrainingJobStatusCounters"]["Stopped"] == 2 and len(api.training_jobs(name)) == 2
    for j in api.training_jobs(name):
        assert j["TrainingJobStatus"] == "Stopped"
    for pid in pids:  # the whole process group is gone, not just reported stopped
        with pytest.raises(ProcessLookupError):
            os.killpg(pid, 0)
    assert training_processes(name) == []
    assert http.post(f"/tuning-jobs/{name}/stop").status_code == 400


def test_token_is_required_when_configured(settings: Settings, services: Any) -> None:
    secured = settings.model_copy(update={"api_token": SecretStr("s3cret-token")})
    with TestClient(create_app(secured)) as client:
        assert client.get("/healthz").status_code == 200
        response = client.get("/tuning-jobs")
        assert response.status_code == 401 and response.json()["__type"] == "UnauthorizedException"
        assert client.get("/tuning-jobs", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert client.get("/tuning-jobs", headers={"Authorization": "Bearer s3cret-token"}).status_code == 200


def test_job_stored_but_never_published_is_sent_by_the_outbox(
    api: TunestreamClient, engine: Engine, settings: Settings, run_id: str
) -> None:
    """An api that died between storing a job and publishing it loses nothing: the outbox sends it.
    A job another deployment stored in the same database (other topics) is that one's to send."""
    from datetime import UTC, datetime

    from sqlalchemy import delete

    from tunestream.db import writes
    from tunestream.db.tables import tuning_jobs
    from tunestream.definitions import CreateTuningJobRequest

    names = {settings.topic_prefix: f"outbox-{run_id}", f"elsewhere-{run_id}": f"outbox-else-{run_id}"}
    with engine.begin() as conn:
        for prefix, name in names.items():
            request = CreateTuningJobRequest.model_validate(trainer_job(name, jobs=2, parallel=2))
            assert writes.insert_tuning_job(
                conn,
                name=name,
                strategy="Random",
                request=request.model_dump(mode="json", exclude_none=True),
                random_seed=5,
                created_at=datetime.now(UTC),
                outbox_topic_prefix=prefix,
            )
    ours, theirs = names.values()
    d = wait_until_ended(api, ours, timeout_s=60)
    assert d["HyperParameterTuningJobStatus"] == "Completed"
    assert d["TrainingJobStatusCounters"]["Completed"] == 2
    # Two of the outbox's rounds later the other deployment's job is still unsent and unrun here.
    time.sleep(2 * OUTBOX_INTERVAL_S + 1)
    ran_here = api.training_jobs(theirs)
    with engine.begin() as conn:
        published = conn.execute(select(tuning_jobs.c.published_at).where(tuning_jobs.c.name == theirs)).scalar_one()
        conn.execute(delete(tuning_jobs).where(tuning_jobs.c.name == theirs))
    assert published is None and ran_here == []
