"""Principals (issue #17, part 3): every role against every REST route and every SageMaker operation,
on real tuning jobs of two members; the audit trail on the job's stream, in the api and in a replay.

Principals: root (admin), alice and bob (members), vera (viewer); each with a token and an access key.
alice owns A (ended), H (hanging, to be stopped) and D (ended, to be deleted); bob owns B.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import httpx
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.integration.conftest import ROOT, Services, trainer_job, wait_until_ended
from tests.support.waiting import wait_for
from tunestream.api.sagemaker_protocol import OPERATIONS
from tunestream.client import TunestreamClient
from tunestream.config import Settings
from tunestream.naming import tuning_job_arn
from tunestream.replay.run import run_replay

ROLES = {"root": "admin", "alice": "member", "bob": "member", "vera": "viewer"}
TOKENS = {name: f"{name}-token-UNIQUEp7Rk2{name}" for name in ROLES}
KEYS = {name: (f"AKID{name.upper()}", f"{name}-secret-UNIQUEq9Zw") for name in ROLES}
PUBLIC = {"/healthz", "/readyz", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}
WHO = [*ROLES, None]  # None: no credential


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def port(services: Services) -> Iterator[int]:
    document = {
        "principals": [
            {"name": name, "role": role, "tokens": [TOKENS[name]], "access_keys": [":".join(KEYS[name])]}
            for name, role in ROLES.items()
        ]
    }
    port = _free_port()
    services.start(
        "api-principals",
        service="api",
        env={"TUNESTREAM_API_PORT": str(port), "TUNESTREAM_PRINCIPALS": json.dumps(document)},
    )
    wait_for(
        "the api with principals",
        lambda: httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200,
        timeout_s=60,
        tolerate=(httpx.HTTPError,),
    )
    yield port
    services.kill("api-principals", signal.SIGTERM)


def rest(port: int, who: str | None) -> TunestreamClient:
    return TunestreamClient(f"http://127.0.0.1:{port}", token=TOKENS[who] if who else None)


def http(port: int, who: str | None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {TOKENS[who]}"} if who else {}
    return httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=30)


def sagemaker(port: int, who: str, service: str = "sagemaker") -> Any:
    key, secret = KEYS[who]
    return boto3.client(
        service,
        endpoint_url=f"http://127.0.0.1:{port}",
        region_name="us-east-1",
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        config=Config(retries={"max_attempts": 1, "mode": "standard"}),
    )


@pytest.fixture(scope="module")
def jobs(port: int, run_id: str) -> dict[str, str]:
    names = {k: f"pr{k.lower()}-{run_id}" for k in ("A", "H", "D", "B")}
    alice, bob = rest(port, "alice"), rest(port, "bob")
    alice.create_tuning_job(trainer_job(names["A"], jobs=1, parallel=1))
    alice.create_tuning_job(trainer_job(names["D"], jobs=1, parallel=1))
    alice.create_tuning_job(trainer_job(names["H"], jobs=2, parallel=1, mode="hang"))
    bob.create_tuning_job(trainer_job(names["B"], jobs=1, parallel=1))
    for key, owner in (("A", alice), ("D", alice), ("B", bob)):
        assert wait_until_ended(owner, names[key])["HyperParameterTuningJobStatus"] == "Completed"
    names["A-training"] = alice.describe(names["A"])["BestTrainingJob"]["TrainingJobName"]
    names["H-training"] = wait_for(
        "H's first training job",
        lambda: next(
            (j["TrainingJobName"] for j in alice.training_jobs(names["H"]) if j["TrainingJobStatus"] == "InProgress"),
            None,
        ),
    )
    return names


# --- REST: every route of the OpenAPI document ---------------------------------------------------

READ = {"alice": 200, "bob": 404, "vera": 200, "root": 200}
CHANGE_ENDED = {"alice": 400, "bob": 404, "vera": 403, "root": 400}  # allowed, but it has ended
CREATE_EMPTY = {"alice": 400, "bob": 400, "vera": 403, "root": 400}  # allowed, but {} is no job
EVERYONE = {"alice": 200, "bob": 200, "vera": 200, "root": 200}
# (method, path) -> (the resource put for {name}, the status each principal gets)
REST_RULES: dict[tuple[str, str], tuple[str | None, dict[str, int]]] = {
    ("GET", "/whoami"): (None, EVERYONE),
    ("POST", "/tuning-jobs"): (None, CREATE_EMPTY),
    ("GET", "/tuning-jobs"): (None, EVERYONE),
    ("GET", "/tuning-jobs/{name}"): ("A", READ),
    ("GET", "/tuning-jobs/{name}/training-jobs"): ("A", READ),
    ("GET", "/tuning-jobs/{name}/api-calls"): ("A", READ),
    ("GET", "/tuning-jobs/{name}/analytics/training-jobs"): ("A", READ),
    ("GET", "/tuning-jobs/{name}/analytics/metrics"): ("A", READ),
    ("POST", "/tuning-jobs/{name}/stop"): ("A", CHANGE_ENDED),
    # Deleting an ended job succeeds for its owner; tried by the others first.
    ("DELETE", "/tuning-jobs/{name}"): ("D", {"vera": 403, "bob": 404, "alice": 200, "root": 404}),
    ("POST", "/training-jobs"): (None, CREATE_EMPTY),
    ("GET", "/training-jobs"): (None, EVERYONE),
    ("GET", "/training-jobs/{name}"): ("A-training", READ),
    ("GET", "/training-jobs/{name}/metrics"): ("A-training", READ),
    ("GET", "/training-jobs/{name}/logs"): ("A-training", READ),
    ("POST", "/training-jobs/{name}/stop"): ("A-training", CHANGE_ENDED),
}


def test_every_role_against_every_rest_route(port: int, jobs: dict[str, str]) -> None:
    spec = httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=10).json()
    routes = {(m.upper(), path) for path, item in spec["paths"].items() for m in item}
    unclassified = routes - set(REST_RULES) - {("GET", p) for p in PUBLIC}
    assert not unclassified, f"routes without a rule in REST_RULES: {sorted(unclassified)}"
    seen: list[tuple[str, str, str | None, int]] = []
    for (method, path), (resource, expected) in REST_RULES.items():
        url = path.replace("{name}", jobs[resource]) if resource else path
        for who in [*expected, None]:  # the dict's order is the order of the calls
            with http(port, who) as client:
                r = client.request(method, url, json={} if method == "POST" else None)
            want = 401 if who is None else expected[who]
            seen.append((method, path, who, r.status_code))
            assert r.status_code == want, (method, url, who, r.status_code, r.text[:300])
            if r.status_code >= 400:
                body = r.json()
                assert body["__type"] and body["message"], body
                if r.status_code == 403:
                    assert body["__type"] == "AccessDeniedException" and who in body["message"], body
    assert len(seen) == len(REST_RULES) * 5
    for who, role in ROLES.items():
        assert rest(port, who).whoami() == {"Principal": who, "Role": role}


def test_lists_show_a_member_its_own(port: int, jobs: dict[str, str], run_id: str) -> None:
    mine = {"alice": {jobs["A"], jobs["H"]}, "bob": {jobs["B"]}}
    everyone = {jobs["A"], jobs["H"], jobs["B"]}
    for who in ROLES:
        client = rest(port, who)
        # Narrowed to this run: the session's other tests make more than a page of jobs.
        summaries = client.list_tuning_jobs(NameContains=run_id, MaxResults=100)["HyperParameterTuningJobSummaries"]
        listed = {j["HyperParameterTuningJobName"] for j in summaries} & (everyone | {jobs["D"]})
        assert listed == mine.get(who, everyone), who  # D is deleted: in no list
        # Training jobs are named <tuning job>-<nnn>-<hash>; a deleted tuning job's stay listed.
        training = {j["TrainingJobName"].rsplit("-", 2)[0] for j in client.all_training_jobs(NameContains=run_id)}
        visible = mine.get(who, everyone) | ({jobs["D"]} if who != "bob" else set())
        assert training & (everyone | {jobs["D"]}) == visible, who
        boto_names = {
            j["HyperParameterTuningJobName"]
            for j in sagemaker(port, who).list_hyper_parameter_tuning_jobs(NameContains=run_id, MaxResults=100)[
                "HyperParameterTuningJobSummaries"
            ]
        }
        assert boto_names & everyone == mine.get(who, everyone), who


def test_a_member_warm_starts_only_from_its_own(port: int, jobs: dict[str, str], run_id: str) -> None:
    job = trainer_job(f"prw-{run_id}", jobs=1, parallel=1)
    job["WarmStartConfig"] = {
        "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": jobs["A"]}],
        "WarmStartType": "IdenticalDataAndAlgorithm",
    }
    with http(port, "bob") as bob:
        r = bob.post("/tuning-jobs", json=job)
    assert r.status_code == 400, r.text
    [error] = r.json()["errors"]
    assert error["field"] == "WarmStartConfig.ParentHyperParameterTuningJobs[0].HyperParameterTuningJobName"
    assert error["rule"] == "parent-exists"
    with http(port, "vera") as vera:
        assert vera.post("/tuning-jobs", json=job).status_code == 403


# --- SageMaker's protocol: every operation, through boto3 with each principal's key -----------------

Call = Callable[[Any, dict[str, str]], Any]
OK = "ok"
SM_READ = {"alice": OK, "bob": "ResourceNotFound", "vera": OK, "root": OK}
SM_CHANGE_ENDED = {"alice": "ValidationException", "bob": "ResourceNotFound", "vera": "AccessDeniedException"}
SM_CHANGE_ENDED["root"] = "ValidationException"
SM_CHANGE = {"alice": OK, "bob": "ResourceNotFound", "vera": "AccessDeniedException", "root": OK}
SM_RULES: dict[str, tuple[Call, dict[str, str]]] = {
    "CreateHyperParameterTuningJob": (
        # A's name again: allowed roles get as far as the name check.
        lambda c, j: c.create_hyper_parameter_tuning_job(**_boto_job(j["A"])),
        {"alice": "ResourceInUse", "bob": "ResourceInUse", "vera": "AccessDeniedException", "root": "ResourceInUse"},
    ),
    "DescribeHyperParameterTuningJob": (
        lambda c, j: c.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=j["A"]),
        SM_READ,
    ),
    "ListHyperParameterTuningJobs": (lambda c, j: c.list_hyper_parameter_tuning_jobs(), dict.fromkeys(ROLES, OK)),
    "ListTrainingJobsForHyperParameterTuningJob": (
        lambda c, j: c.list_training_jobs_for_hyper_parameter_tuning_job(HyperParameterTuningJobName=j["A"]),
        SM_READ,
    ),
    "StopHyperParameterTuningJob": (
        lambda c, j: c.stop_hyper_parameter_tuning_job(HyperParameterTuningJobName=j["A"]),
        SM_CHANGE_ENDED,
    ),
    "DeleteHyperParameterTuningJob": (
        # H still runs: allowed roles get as far as "stop it first".
        lambda c, j: c.delete_hyper_parameter_tuning_job(HyperParameterTuningJobName=j["H"]),
        {"alice": "ResourceInUse", "bob": "ResourceNotFound", "vera": "AccessDeniedException", "root": "ResourceInUse"},
    ),
    "CreateTrainingJob": (
        # A's training job's name again: allowed roles get as far as the name check.
        lambda c, j: c.create_training_job(**_boto_training_job(j["A-training"])),
        {"alice": "ResourceInUse", "bob": "ResourceInUse", "vera": "AccessDeniedException", "root": "ResourceInUse"},
    ),
    "DescribeTrainingJob": (lambda c, j: c.describe_training_job(TrainingJobName=j["A-training"]), SM_READ),
    "StopTrainingJob": (lambda c, j: c.stop_training_job(TrainingJobName=j["A-training"]), SM_CHANGE_ENDED),
    "ListTrainingJobs": (lambda c, j: c.list_training_jobs(), dict.fromkeys(ROLES, OK)),
    "ListTags": (lambda c, j: c.list_tags(ResourceArn=tuning_job_arn(j["A"])), SM_READ),
    "AddTags": (
        lambda c, j: c.add_tags(ResourceArn=tuning_job_arn(j["A"]), Tags=[{"Key": "team", "Value": "a"}]),
        SM_CHANGE,
    ),
    "DeleteTags": (lambda c, j: c.delete_tags(ResourceArn=tuning_job_arn(j["A"]), TagKeys=["team"]), SM_CHANGE),
}


def _boto_job(name: str) -> dict[str, Any]:
    """A request botocore's model takes (a file:// image instead of tunestream's Command)."""
    job = trainer_job(name, jobs=1, parallel=1)
    definition = job["TrainingJobDefinition"]
    definition["RoleArn"] = "arn:aws:iam::000000000000:role/tunestream"
    spec = definition["AlgorithmSpecification"]
    spec.pop("Command")
    spec.update(TrainingImage=f"file://{sys.executable}", TrainingInputMode="File")
    return job


def _boto_training_job(name: str) -> dict[str, Any]:
    definition = _boto_job(name[:32])["TrainingJobDefinition"]
    return {
        "TrainingJobName": name,
        "HyperParameters": definition["StaticHyperParameters"],
        "AlgorithmSpecification": definition["AlgorithmSpecification"],
        "RoleArn": definition["RoleArn"],
        "OutputDataConfig": definition["OutputDataConfig"],
        "StoppingCondition": definition["StoppingCondition"],
    }


def test_every_role_against_every_sagemaker_operation(port: int, jobs: dict[str, str]) -> None:
    assert set(SM_RULES) == set(OPERATIONS), "every SageMaker operation needs a rule in SM_RULES"
    for operation, (call, expected) in SM_RULES.items():
        for who, want in expected.items():
            try:
                call(sagemaker(port, who), jobs)
                got = OK
            except ClientError as exc:
                got = exc.response["Error"]["Code"]
                assert exc.response["ResponseMetadata"]["HTTPStatusCode"] == 400, (operation, who, exc.response)
            assert got == want, (operation, who, got)


# --- the changes that succeed, and the audit trail --------------------------------------------------


def test_allowed_stops_and_the_audit_trail(port: int, jobs: dict[str, str], settings: Settings) -> None:
    with http(port, "bob") as bob, http(port, "vera") as vera, http(port, "root") as root, http(port, "alice") as alice:
        assert bob.post(f"/tuning-jobs/{jobs['H']}/stop").status_code == 404
        assert vera.post(f"/tuning-jobs/{jobs['H']}/stop").status_code == 403
        assert bob.post(f"/training-jobs/{jobs['H-training']}/stop").status_code == 404
        r = root.post(f"/training-jobs/{jobs['H-training']}/stop")  # an admin stops a member's training job
        assert r.status_code == 200, r.text
        wait_for(
            "H's first training job to stop",
            lambda: rest(port, "alice").describe_training_job(jobs["H-training"])["TrainingJobStatus"] == "Stopped",
        )
        r = alice.post(f"/tuning-jobs/{jobs['H']}/stop")
        assert r.status_code == 200, r.text
        assert root.delete(f"/tuning-jobs/{jobs['B']}").status_code == 200  # and deletes a member's job
    assert wait_until_ended(rest(port, "alice"), jobs["H"])["HyperParameterTuningJobStatus"] == "Stopped"

    # The trail of H, as its owner reads it: who, what, the answer, by which door.
    calls = rest(port, "alice").api_calls(jobs["H"])
    got = [(c["Principal"], c["Operation"], c["Via"], c["Status"], c.get("Error")) for c in calls]
    expected = [
        ("alice", "CreateHyperParameterTuningJob", "rest", 200, None),
        *[
            (who, "DeleteHyperParameterTuningJob", "sagemaker", status, error)
            for who, status, error in (
                ("alice", 409, "ResourceInUse"),
                ("bob", 404, "ResourceNotFound"),
                ("vera", 403, "AccessDeniedException"),
                ("root", 409, "ResourceInUse"),
            )
        ],
        ("bob", "StopHyperParameterTuningJob", "rest", 404, "ResourceNotFound"),
        ("vera", "StopHyperParameterTuningJob", "rest", 403, "AccessDeniedException"),
        ("bob", "StopTrainingJob", "rest", 404, "ResourceNotFound"),
        ("root", "StopTrainingJob", "rest", 200, None),
        ("alice", "StopHyperParameterTuningJob", "rest", 200, None),
    ]
    assert got == expected, got
    assert [c["Role"] for c in calls][:2] == ["member", "member"] and calls[-2]["Resource"] == jobs["H-training"]
    with http(port, "bob") as bob:
        assert bob.get(f"/tuning-jobs/{jobs['H']}/api-calls").status_code == 404
    with http(port, "vera") as vera:
        assert len(vera.get(f"/tuning-jobs/{jobs['H']}/api-calls").json()["ApiCalls"]) == len(expected)

    # A's trail has the tags and the refused stops by every principal, both doors.
    with http(port, "root") as root:
        trail_a = root.get(f"/tuning-jobs/{jobs['A']}/api-calls").json()["ApiCalls"]
        deleted = root.get(f"/tuning-jobs/{jobs['D']}/api-calls").json()["ApiCalls"]
    ops_a = {(c["Principal"], c["Operation"], c["Via"]) for c in trail_a}
    for who in ROLES:
        assert (who, "StopHyperParameterTuningJob", "rest") in ops_a
        assert (who, "StopHyperParameterTuningJob", "sagemaker") in ops_a
        assert (who, "AddTags", "sagemaker") in ops_a
    assert ("alice", "DeleteHyperParameterTuningJob", "rest", 200) in {
        (c["Principal"], c["Operation"], c["Via"], c["Status"]) for c in deleted
    }

    # On the job's stream: the tracker wrote the same rows from the events, and a replay of H from
    # Kafka alone rebuilds them with no difference.
    def replayed() -> dict[str, Any] | None:
        report = run_replay(settings, jobs["H"], "tracker")
        tracker = report["components"]["tracker"]
        return report if tracker["rows"].get("api_calls") == len(expected) else None

    report = wait_for("the audit events of H on Kafka", replayed, timeout_s=30, interval_s=1)
    assert report["components"]["tracker"]["differences"] == [], report
    assert report["differences"] == 0


def test_the_cli_shows_who_and_the_trail(port: int, jobs: dict[str, str]) -> None:
    def cli(who: str, *args: str) -> subprocess.CompletedProcess[str]:
        env = {
            **os.environ,
            "TUNESTREAM_API_URL": f"http://127.0.0.1:{port}",
            "TUNESTREAM_API_TOKEN": TOKENS[who],
            "COLUMNS": "200",
        }
        command = [sys.executable, "-m", "tunestream.cli.main", *args]
        return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)

    assert cli("vera", "whoami").stdout.strip() == "vera (viewer)"
    trail = cli("alice", "api-calls", jobs["H"])
    assert trail.returncode == 0, trail.stderr
    lines = trail.stdout.splitlines()
    assert len(lines) == 10 and "alice" in lines[0] and "CreateHyperParameterTuningJob" in lines[0], lines
    assert any("vera" in line and "403 AccessDeniedException" in line for line in lines), lines
    hidden = cli("bob", "api-calls", jobs["H"])
    assert hidden.returncode == 1 and "does not exist" in hidden.stdout + hidden.stderr


def test_no_secret_in_the_api_log(services: Services, port: int, jobs: dict[str, str]) -> None:
    time.sleep(0.5)
    text = (services.log_dir / "api-principals.log").read_text(errors="replace")
    assert "principals: alice, bob, root, vera" in text
    secrets = [*TOKENS.values(), *(secret for _, secret in KEYS.values())]
    assert not [s for s in secrets if s in text]


def test_an_unpublished_call_reaches_the_stream(
    port: int, jobs: dict[str, str], engine: Any, settings: Settings, run_id: str
) -> None:
    """The api stored a call and died before Kafka acknowledged it: its outbox sends it later."""
    from datetime import UTC, datetime

    from sqlalchemy import select

    from tunestream.db import writes
    from tunestream.db.tables import api_calls
    from tunestream.events.v1 import ApiCallRecorded, ApiCallRecordedData

    event_id = f"api-call:outbox-{run_id}"
    with engine.begin() as conn:
        writes.insert_api_call(
            conn,
            ApiCallRecorded(
                event_id=event_id,
                tuning_job_name=jobs["A"],
                occurred_at=datetime.now(UTC),
                payload=ApiCallRecordedData(
                    principal="alice",
                    role="member",
                    operation="AddTags",
                    resource=tuning_job_arn(jobs["A"]),
                    via="rest",
                    status=200,
                    error=None,
                    request_id=f"outbox-{run_id}",
                ),
            ),
        )
        stored = conn.execute(select(api_calls.c.event_id).where(api_calls.c.tuning_job_name == jobs["A"])).all()

    def replayed() -> dict[str, Any] | None:
        report = run_replay(settings, jobs["A"], "tracker")
        return report if report["components"]["tracker"]["rows"].get("api_calls") == len(stored) else None

    report = wait_for("the stored call on A's stream", replayed, timeout_s=40, interval_s=1)
    assert report["differences"] == 0, report
    with engine.connect() as conn:
        published = conn.execute(select(api_calls.c.published_at).where(api_calls.c.event_id == event_id)).scalar()
    assert published is not None


def test_sts_and_iam_answer_for_each_principal_by_its_key(port: int) -> None:
    """What SageMaker's SDKs ask STS and IAM before they tune, answered by tunestream for the principal
    that signed (each with its own service's SigV4 scope); a wrong secret is refused in IAM's XML."""
    for who, role in ROLES.items():
        me = sagemaker(port, who, "sts").get_caller_identity()
        assert (me["Account"], me["Arn"]) == ("000000000000", f"arn:aws:iam::000000000000:user/{who}")
        simulated = sagemaker(port, who, "iam").simulate_principal_policy(
            PolicySourceArn="arn:aws:iam::000000000000:role/tunestream",
            ActionNames=["sagemaker:CreateHyperParameterTuningJob", "sagemaker:DescribeHyperParameterTuningJob"],
        )
        decisions = [r["EvalDecision"] for r in simulated["EvaluationResults"]]
        assert decisions == (["implicitDeny", "allowed"] if role == "viewer" else ["allowed", "allowed"]), who
    forged = boto3.client(
        "sts",
        endpoint_url=f"http://127.0.0.1:{port}",
        region_name="us-east-1",
        aws_access_key_id=KEYS["alice"][0],
        aws_secret_access_key="not-alices",
        config=Config(retries={"max_attempts": 1, "mode": "standard"}),
    )
    with pytest.raises(ClientError) as info:
        forged.get_caller_identity()
    assert info.value.response["Error"]["Code"] == "InvalidSignatureException"
