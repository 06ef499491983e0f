"""Security (issue #6, part 4): bearer token on every route but the public ones, no secret in any
log or answer, hostile hyperparameter values reach the program verbatim, no anonymous S3 reads,
no service credentials in a training program's environment unless passed through on purpose."""

from __future__ import annotations

import io
import json
import signal
import socket
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from botocore.config import Config

from tests.integration.conftest import Services, trainer_job, wait_until_ended
from tests.support.waiting import wait_for
from tunestream.client import TunestreamClient
from tunestream.config import Settings
from tunestream.objstore.s3 import S3ObjectStore

TOKEN = "tok-7Hq2ZUNIQUEbearerXk9"
AKID, SAGEMAKER_SECRET = "AKIDSECURITYTEST", "sm-secret-Zq8UNIQUEw3"
AWS_SECRET = "aws-secret-Jr5UNIQUEp0"
HOSTILE = {
    "semicolon": "; rm -rf / ;",
    "subshell": "$(touch /tmp/tunestream-pwned-subshell)",
    "backticks": "`touch /tmp/tunestream-pwned-backticks`",
    "quotes": "it's \"quoted\" \\ 'twice'",
    "glob": "* ~ > /tmp/tunestream-pwned-redirect | cat &",
    "newline": "first line\nsecond line; echo $HOME",  # accepted: SageMaker's pattern is only a length limit here
}
# Reads that need no token: liveness, readiness, the API description, the dashboard's static page.
PUBLIC = {
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/openapi.json"),
    ("GET", "/docs"),
    ("GET", "/docs/oauth2-redirect"),
    ("GET", "/redoc"),
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_healthy(services: Services, name: str, port: int) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        assert services.alive(name) and time.monotonic() < deadline, f"{name} did not start"
        time.sleep(0.3)


@pytest.fixture(scope="module")
def token_api(services: Services) -> Iterator[int]:
    port = _free_port()
    services.start(
        "api-token",
        service="api",
        env={
            "TUNESTREAM_API_PORT": str(port),
            "TUNESTREAM_API_TOKEN": TOKEN,
            "TUNESTREAM_SAGEMAKER_ACCESS_KEYS": f"{AKID}:{SAGEMAKER_SECRET}",
        },
    )
    _wait_healthy(services, "api-token", port)
    yield port
    services.kill("api-token", signal.SIGTERM)


@pytest.fixture(scope="module")
def secret_launcher(services: Services, settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A launcher whose own environment is full of secrets; with the most free slots it gets the work."""
    launcher_id = f"{settings.launcher_id}-secrets"
    services.start(
        "launcher-secrets",
        service="launcher",
        env={
            "TUNESTREAM_LAUNCHER_ID": launcher_id,
            "TUNESTREAM_LAUNCHER_SLOTS": "64",
            "TUNESTREAM_WORK_DIR": str(tmp_path_factory.mktemp("work-secrets")),
            "TUNESTREAM_API_TOKEN": TOKEN,
            "TUNESTREAM_SAGEMAKER_ACCESS_KEYS": f"{AKID}:{SAGEMAKER_SECRET}",
            "AWS_ACCESS_KEY_ID": AKID,
            "AWS_SECRET_ACCESS_KEY": AWS_SECRET,
            "MY_PASSED_SETTING": "passed-on-purpose",
            "MY_OTHER_SETTING": "not-passed",
            "TUNESTREAM_TRAINING_ENV_PASSTHROUGH": "MY_PASSED_SETTING",
        },
    )
    # Up (it heartbeats once it has read the job topics back), then a few heartbeats (0.5 s apart
    # here), so the scheduler knows it before the job comes: a fixed pause after the start lost that
    # race on a loaded machine, where reading 3,000 events back took 1.4 s.
    log = services.log_dir / "launcher-secrets.log"
    wait_for(
        "the secrets launcher to read its topics back",
        lambda: log.is_file() and "launcher rebuilt state from" in log.read_text(errors="replace"),
        timeout_s=90,
    )
    time.sleep(2)
    yield launcher_id
    services.kill("launcher-secrets", signal.SIGTERM)


def _routes(port: int) -> list[tuple[str, str]]:
    spec = httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=10).json()
    routes = []
    for path, methods in spec["paths"].items():
        for method in methods:
            routes.append((method.upper(), path.replace("{name}", "no-such-job")))
    return routes


def test_the_token_guards_every_route(token_api: int) -> None:
    routes = _routes(token_api)
    assert ("POST", "/tuning-jobs") in routes and ("DELETE", "/tuning-jobs/no-such-job") in routes
    with httpx.Client(base_url=f"http://127.0.0.1:{token_api}", timeout=30) as http:
        guarded = [r for r in routes if r not in PUBLIC]
        assert len(guarded) >= 10, guarded
        for method, path in guarded:
            for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
                r = http.request(method, path, headers=headers, json={})
                assert r.status_code == 401, (method, path, headers, r.status_code)
                assert r.json()["__type"] == "UnauthorizedException"
            r = http.request(method, path, headers={"Authorization": f"Bearer {TOKEN}"}, json={})
            assert r.status_code in (200, 400, 404), (method, path, r.status_code, r.text)  # past the guard
        for method, path in PUBLIC:
            assert http.request(method, path).status_code == 200, path
        # SageMaker's route needs a SigV4 signature; the bearer token alone does not open it.
        for headers in ({}, {"Authorization": f"Bearer {TOKEN}"}):
            r = http.post(
                "/",
                headers={**headers, "X-Amz-Target": "SageMaker.ListHyperParameterTuningJobs"},
                content=b"{}",
            )
            assert r.status_code == 403, r.text


def _sagemaker(port: int) -> Any:
    return boto3.client(
        "sagemaker",
        endpoint_url=f"http://127.0.0.1:{port}",
        region_name="us-east-1",
        aws_access_key_id=AKID,
        aws_secret_access_key=SAGEMAKER_SECRET,
        config=Config(retries={"max_attempts": 1, "mode": "standard"}),
    )


def test_secrets_stay_out_and_values_arrive_verbatim(
    token_api: int,
    secret_launcher: str,
    services: Services,
    settings: Settings,
    store: S3ObjectStore,
    run_id: str,
) -> None:
    api = TunestreamClient(f"http://127.0.0.1:{token_api}", token=TOKEN)
    name = f"sec-{run_id}"
    job = trainer_job(name, jobs=1, parallel=1, **HOSTILE)
    api.create_tuning_job(job)
    describe = wait_until_ended(api, name)
    assert describe["HyperParameterTuningJobStatus"] == "Completed", describe
    training_name = describe["BestTrainingJob"]["TrainingJobName"]
    training = api.describe_training_job(training_name)
    assert training["LauncherId"] == secret_launcher

    # Hostile values: verbatim in argv, hyperparameters.json, SM_HP_*, SM_HPS; no shell ran them.
    artifact = training["ModelArtifacts"]["S3ModelArtifacts"]
    with tarfile.open(fileobj=io.BytesIO(store.get_bytes(artifact))) as tar:
        received = json.loads(tar.extractfile("received.json").read())  # type: ignore[union-attr]
    argv = received["argv"]
    for key, value in HOSTILE.items():
        assert argv[argv.index(f"--{key}") + 1] == value
        assert received["hyperparameters.json"][key] == value
        assert received["all_env"][f"SM_HP_{key.upper()}"] == value
        assert json.loads(received["all_env"]["SM_HPS"])[key] == value
        assert training["HyperParameters"][key] == value
    assert not any(Path(f"/tmp/tunestream-pwned-{w}").exists() for w in ("subshell", "backticks", "redirect"))

    # The program's environment: no service credential, only what was passed through on purpose.
    env = received["all_env"]
    assert not any(k.startswith("TUNESTREAM_") for k in env), sorted(env)
    assert not any(k.startswith("AWS_") for k in env), sorted(env)
    assert env["MY_PASSED_SETTING"] == "passed-on-purpose" and "MY_OTHER_SETTING" not in env
    secrets = [TOKEN, SAGEMAKER_SECRET, AWS_SECRET, settings.s3_secret_key.get_secret_value()]
    assert not [s for s in secrets if s in json.dumps(env)]

    # Answers: REST Describe, DescribeTrainingJob (with Environment), logs, lists; boto3's Describe.
    answers = [
        httpx.get(f"http://127.0.0.1:{token_api}{path}", headers={"Authorization": f"Bearer {TOKEN}"}).text
        for path in (
            f"/tuning-jobs/{name}",
            f"/tuning-jobs/{name}/training-jobs",
            "/tuning-jobs",
            f"/training-jobs/{training_name}",
            f"/training-jobs/{training_name}/logs",
            f"/training-jobs/{training_name}/metrics",
            f"/tuning-jobs/{name}/analytics/training-jobs?format=csv",
        )
    ]
    sm = _sagemaker(token_api)
    answers.append(json.dumps(sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name), default=str))
    answers.append(json.dumps(sm.describe_training_job(TrainingJobName=training_name), default=str))
    assert "MY_SETTING" in answers[3]  # the job's own Environment is shown
    db_credentials = settings.database_url.get_secret_value().split("//", 1)[1].split("@", 1)[0]
    forbidden = [*secrets, f"{db_credentials}@"]
    for text in answers:
        assert not [s for s in forbidden if s in text], text[:500]

    # Logs of every service process of this session (api with the token, the secrets launcher, ...).
    logs = sorted(services.log_dir.glob("*.log"))
    assert {p.stem for p in logs} >= {"api", "api-token", "launcher-secrets", "suggester", "collector", "tracker"}
    for path in logs:
        if path.stem == "api-fuzz":
            continue  # requests Hypothesis made up, from our modules' constants too (test_fuzz_api.fuzz_api)
        text = path.read_text(errors="replace")
        leaked = [s for s in forbidden if s in text]
        assert not leaked, f"{path.name} contains a secret"


def test_the_bucket_is_not_publicly_readable(settings: Settings, store: S3ObjectStore, run_id: str) -> None:
    uri = f"s3://{settings.s3_bucket}/it/security-{run_id}/private.txt"
    store.put_bytes(uri, b"private")
    base = f"{'https' if settings.s3_secure else 'http'}://{settings.s3_endpoint}"
    key = f"it/security-{run_id}/private.txt"
    for url in (
        f"{base}/{settings.s3_bucket}/{key}",
        f"{base}/{settings.s3_bucket}?list-type=2",
        f"{base}/{settings.s3_bucket}/",
        f"{base}/",
    ):
        r = httpx.get(url, timeout=10)
        assert r.status_code == 403, (url, r.status_code, r.text[:200])
        assert b"private" not in r.content or b"AccessDenied" in r.content
    assert store.get_bytes(uri) == b"private"  # signed reads still work
