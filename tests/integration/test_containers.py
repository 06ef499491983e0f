"""Training jobs with a TrainingImage run as containers on a Docker engine (deploy/docker.sh) through a
launcher with the container backend: data in, model and checkpoints out, stops, runtime limits,
failures, and a launcher killed with SIGKILL whose container dockerd keeps running.

The image is tunestream/test-trainer:1 (deploy/images/build-trainer.sh, program
deploy/images/trainer/train). Without an engine (no docker.io, no privileges) the module is skipped.
"""

from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from tests.integration.conftest import ROOT, Services, wait_until_ended
from tests.integration.side_launchers import SideLauncher, trainer_image_job
from tests.support.waiting import wait_for
from tunestream.client import TunestreamClient
from tunestream.config import Settings
from tunestream.naming import standalone_tuning_job_name
from tunestream.objstore.s3 import S3ObjectStore

docker = pytest.importorskip("docker")

IMAGE = "tunestream/test-trainer:1"
DOCKER_ENV = ROOT / ".stack" / "docker.env"
STOP_GRACE_S = 2.0  # TUNESTREAM_STOP_GRACE_S in conftest's services
T = TypeVar("T")


# --- the engine ------------------------------------------------------------------------------------


def _engine_host() -> str | None:
    if not DOCKER_ENV.is_file():
        return None
    for line in DOCKER_ENV.read_text().splitlines():
        if line.startswith("TUNESTREAM_DOCKER_HOST="):
            return line.split("=", 1)[1].strip() or None
    return None


def _script(args: list[str], env: dict[str, str] | None = None, timeout_s: float = 300) -> str | None:
    """Run a deploy script; None if it succeeded, else what went wrong with the tail of its output."""
    try:
        result = subprocess.run(
            ["bash", *args],
            cwd=ROOT,
            env={**os.environ, **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout_s,
        )
    except subprocess.TimeoutExpired:
        return f"`{' '.join(args)}` did not finish within {timeout_s:g}s"
    if result.returncode == 0:
        return None
    tail = (result.stdout + result.stderr).strip()[-1500:]
    return f"`{' '.join(args)}` exited {result.returncode}:\n{tail}"


def _answers(host: str | None) -> bool:
    if not host:
        return False
    try:
        client = docker.DockerClient(base_url=host, timeout=10)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except docker.errors.DockerException:
        return False


@pytest.fixture(scope="module")
def docker_host() -> Iterator[str]:
    """deploy/docker.sh's engine with the test image: the running one, else started here (and stopped after)."""
    skip = os.environ.get("TUNESTREAM_CONTAINER_TESTS_SKIP")
    if skip:  # deploy/test.sh tried already
        pytest.skip(f"container tests need a Docker engine: {skip}")
    started = False
    host = _engine_host()
    if not _answers(host):
        error = _script(["deploy/docker.sh", "up"], timeout_s=240)
        host = _engine_host()
        if error or not _answers(host):
            print(error)
            pytest.skip(f"container tests need a Docker engine; deploy/docker.sh up failed: {error}")
        started = True
    assert host is not None
    try:
        error = _script(["deploy/images/build-trainer.sh"], env={"TUNESTREAM_DOCKER_HOST": host})
        if error:
            print(error)
            pytest.skip(f"container tests need {IMAGE}; deploy/images/build-trainer.sh failed: {error}")
        yield host
    finally:
        if started:
            _script(["deploy/docker.sh", "down"], timeout_s=120)


@pytest.fixture(scope="module")
def dockerc(docker_host: str) -> Iterator[Any]:
    client = docker.DockerClient(base_url=docker_host)
    yield client
    client.close()


# --- the container launcher ------------------------------------------------------------------------


def container_launcher(services: Services, settings: Settings, docker_host: str, work_dir: Path) -> SideLauncher:
    """A launcher process with only the container backend, next to the session's process launcher."""
    return SideLauncher(
        services,
        "container-launcher",
        f"{settings.launcher_id}-containers",
        {
            "TUNESTREAM_LAUNCHER_BACKENDS": "container",
            "TUNESTREAM_LAUNCHER_SLOTS": "2",
            "TUNESTREAM_DOCKER_HOST": docker_host,
            # The host's network (the test engine has no bridge): what EnableNetworkIsolation takes away.
            "TUNESTREAM_DOCKER_NETWORK": "host",
            "TUNESTREAM_WORK_DIR": str(work_dir),
        },
    )


@pytest.fixture(scope="module")
def launcher(
    services: Services, settings: Settings, docker_host: str, dockerc: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SideLauncher]:
    cl = container_launcher(services, settings, docker_host, tmp_path_factory.mktemp("container-launcher"))
    cl.start()
    yield cl
    cl.kill(signal.SIGTERM)
    for container in dockerc.containers.list(all=True, filters={"label": f"tunestream.launcher={cl.launcher_id}"}):
        container.remove(force=True)


def containers(dockerc: Any, tuning_job: str, **labels: str) -> list[Any]:
    """Containers (running or not) of a tuning job, narrowed by more tunestream.<label>=<value>."""
    wanted = [f"tunestream.tuning-job={tuning_job}", *(f"tunestream.{k}={v}" for k, v in labels.items())]
    return list(dockerc.containers.list(all=True, filters={"label": wanted}))


def container_job(name: str, *, jobs: int = 1, parallel: int = 1, image: str = IMAGE, **static: str) -> dict[str, Any]:
    return trainer_image_job(name, "it-containers", jobs=jobs, parallel=parallel, image=image, **static)


def _statuses(api: TunestreamClient, name: str) -> dict[str, str]:
    return {j["TrainingJobName"]: j["TrainingJobStatus"] for j in api.training_jobs(name)}


# --- tests -----------------------------------------------------------------------------------------


def test_tuning_job_in_containers(
    api: TunestreamClient, launcher: SideLauncher, dockerc: Any, store: S3ObjectStore, run_id: str
) -> None:
    name = f"ctr-ok-{run_id}"
    data = f"s3://tunestream/it-containers/{name}/train"
    store.put_bytes(f"{data}/a.csv", b"1,2\n")
    store.put_bytes(f"{data}/sub/b.csv", b"3,4\n")
    checkpoints = f"s3://tunestream/it-containers/{name}/checkpoints"
    job = container_job(name, jobs=3, parallel=2)
    definition = job["TrainingJobDefinition"]
    definition["InputDataConfig"] = [
        {"ChannelName": "train", "DataSource": {"S3DataSource": {"S3Uri": data, "S3DataType": "S3Prefix"}}}
    ]
    definition["CheckpointConfig"] = {"S3Uri": checkpoints}
    api.create_tuning_job(job)
    describe = wait_until_ended(api, name, timeout_s=90)

    assert describe["HyperParameterTuningJobStatus"] == "Completed", describe
    assert describe["TrainingJobStatusCounters"]["Completed"] == 3, describe["TrainingJobStatusCounters"]
    assert describe["ObjectiveStatusCounters"]["Succeeded"] == 3
    summaries = api.training_jobs(name)
    assert len(summaries) == 3
    for summary in summaries:
        tj = summary["TrainingJobName"]
        x = float(summary["TunedHyperParameters"]["x"])
        # The image prints score = 1 - (x - 0.3)^2 with six decimals.
        assert abs(summary["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] - (1 - (x - 0.3) ** 2)) < 1e-5

        training = api.describe_training_job(tj)
        assert training["TrainingJobStatus"] == "Completed"
        assert training["LauncherId"] == launcher.launcher_id
        assert training["ExitCode"] == 0
        assert "FailedAttempts" not in training
        artifact = f"s3://tunestream/it-containers/{name}/output/{tj}/output/model.tar.gz"
        assert training["ModelArtifacts"]["S3ModelArtifacts"] == artifact
        with tarfile.open(fileobj=io.BytesIO(store.get_bytes(artifact))) as tar:
            model = json.loads(tar.extractfile("model.txt").read())  # type: ignore[union-attr]
            train_files = tar.extractfile("train-files.txt").read().decode()  # type: ignore[union-attr]
        assert model == training["HyperParameters"]
        assert model["x"] == summary["TunedHyperParameters"]["x"] and model["epochs"] == "3"
        assert train_files.split() == ["a.csv", "sub/b.csv"]

        # The launcher mirrored /opt/ml/checkpoints to <S3Uri>/<training job>/.
        assert store.get_bytes(f"{checkpoints}/{tj}/epoch").strip() == b"3"
        log_text = api.logs(tj)
        assert "SM_CURRENT_HOST=algo-1" in log_text and "epoch=3 " in log_text, log_text
        assert "resumed from epoch" not in log_text

    assert containers(dockerc, name) == []


def test_network_isolation_leaves_a_container_only_loopback(
    api: TunestreamClient, launcher: SideLauncher, run_id: str
) -> None:
    """EnableNetworkIsolation: the container gets no network (network_mode none); without it, the
    launcher's (TUNESTREAM_DOCKER_NETWORK, the host's here)."""
    names = {True: f"ctr-iso-{run_id}", False: f"ctr-net-{run_id}"}
    for isolated, name in names.items():
        job = container_job(name, net="1")
        job["TrainingJobDefinition"]["EnableNetworkIsolation"] = isolated
        api.create_tuning_job(job)
    seen = {}
    for isolated, name in names.items():
        assert wait_until_ended(api, name, timeout_s=90)["HyperParameterTuningJobStatus"] == "Completed"
        [summary] = api.training_jobs(name)
        line = next(x for x in api.logs(summary["TrainingJobName"]).splitlines() if x.startswith("interfaces="))
        seen[isolated] = line.removeprefix("interfaces=").strip(",").split(",")
    assert seen[True] == ["lo"], seen
    assert len(seen[False]) > 1 and "lo" in seen[False], seen


def test_several_instances_meet_on_their_network_and_share_the_channel(
    api: TunestreamClient, launcher: SideLauncher, dockerc: Any, store: S3ObjectStore, run_id: str
) -> None:
    """InstanceCount 2: containers algo-1 and algo-2 of each training job, a ShardedByS3Key channel
    split between them, algo-2 reaching algo-1 at MASTER_ADDR:MASTER_PORT: over the launcher's
    network (the host's here: loopback) and, isolated, over the attempt's own internal network."""
    data = f"s3://tunestream/it-containers/two-{run_id}/train"
    for key in ("a.csv", "b.csv", "c.csv", "d.csv"):
        store.put_bytes(f"{data}/{key}", b"1,2\n")
    names = {False: f"ctr-two-{run_id}", True: f"ctr-two-iso-{run_id}"}
    for isolated, name in names.items():
        job = container_job(name, peers="1")
        definition = job["TrainingJobDefinition"]
        definition["ResourceConfig"] = {"InstanceType": "ml.m5.large", "InstanceCount": 2, "VolumeSizeInGB": 1}
        definition["EnableNetworkIsolation"] = isolated
        definition["InputDataConfig"] = [
            {
                "ChannelName": "train",
                "DataSource": {"S3DataSource": {"S3Uri": data, "S3DataDistributionType": "ShardedByS3Key"}},
            }
        ]
        api.create_tuning_job(job)
    for isolated, name in names.items():
        describe = wait_until_ended(api, name, timeout_s=120)
        [summary] = api.training_jobs(name)
        assert describe["HyperParameterTuningJobStatus"] == "Completed", summary.get("FailureReason")
        training = summary["TrainingJobName"]
        log_text = api.logs(training)
        master = "algo-1" if isolated else "127.0.0.1"
        assert "[algo-1] heard=hello from algo-2" in log_text, log_text
        assert f"[algo-2] said hello to {master}" in log_text, log_text
        artifact = api.describe_training_job(training)["ModelArtifacts"]["S3ModelArtifacts"]
        with tarfile.open(fileobj=io.BytesIO(store.get_bytes(artifact))) as tar:
            shares = {
                host: tar.extractfile(f"train-files-{host}.txt").read().decode().split()  # type: ignore[union-attr]
                for host in ("algo-1", "algo-2")
            }
        assert shares == {"algo-1": ["a.csv", "c.csv"], "algo-2": ["b.csv", "d.csv"]}
        assert containers(dockerc, name) == []
        assert dockerc.networks.list(filters={"label": f"tunestream.tuning-job={name}"}) == []


def test_a_training_job_runs_its_container_entrypoint_with_its_arguments(
    api: TunestreamClient, launcher: SideLauncher, settings: Settings, dockerc: Any, run_id: str
) -> None:
    """CreateTrainingJob's ContainerEntrypoint and ContainerArguments replace the image's entrypoint
    and `train`, each argument one argv item, nothing expanded."""
    name = f"ctr-entry-{run_id}"
    body = {
        "TrainingJobName": name,
        "HyperParameters": {"x": "0.3", "epochs": "2", "sleep": "0"},
        "AlgorithmSpecification": {
            "TrainingImage": IMAGE,
            "TrainingInputMode": "File",
            "MetricDefinitions": [{"Name": "score", "Regex": r"score=([-0-9.eE+]+)"}],
            "ContainerEntrypoint": ["/bin/sh", "-c", 'echo "entry:$*"; exec train', "entry"],
            "ContainerArguments": ["a b", "$(c)"],
        },
        "OutputDataConfig": {"S3OutputPath": "s3://tunestream/it-containers/entry"},
        "StoppingCondition": {"MaxRuntimeInSeconds": 60},
    }
    answer = httpx.post(f"http://127.0.0.1:{settings.api_port}/training-jobs", json=body, timeout=30)
    assert answer.status_code == 200, answer.text
    done = wait_for(
        "the training job's end",
        lambda: (d := api.describe_training_job(name))["TrainingJobStatus"] in ("Completed", "Failed", "Stopped") and d,
        timeout_s=90,
    )
    assert done["TrainingJobStatus"] == "Completed", done.get("FailureReason")
    log_text = api.logs(name)
    assert "entry:a b $(c)" in log_text and "epoch=2 " in log_text, log_text
    assert containers(dockerc, standalone_tuning_job_name(name)) == []


def test_stop_removes_containers(api: TunestreamClient, launcher: SideLauncher, dockerc: Any, run_id: str) -> None:
    name = f"ctr-stop-{run_id}"
    api.create_tuning_job(container_job(name, jobs=3, parallel=2, epochs="200", sleep="0.5"))

    def both_running() -> bool:
        running = [c for c in containers(dockerc, name) if c.status == "running"]
        return len(running) == 2 and list(_statuses(api, name).values()).count("InProgress") == 2

    wait_for("two training containers", both_running, timeout_s=60)
    for container in containers(dockerc, name):
        assert container.labels["tunestream.launcher"] == launcher.launcher_id
        assert container.labels["tunestream.attempt"] == "0"
        assert container.labels["tunestream.training-job"].startswith(f"{name}-")
    asked = time.monotonic()
    api.stop(name)
    describe = wait_until_ended(api, name, timeout_s=30)
    took = time.monotonic() - asked

    assert describe["HyperParameterTuningJobStatus"] == "Stopped", describe
    statuses = _statuses(api, name)
    assert len(statuses) >= 2 and set(statuses.values()) == {"Stopped"}, statuses
    # The program exits on SIGTERM at once; no SIGKILL grace is needed.
    assert took < 15, f"stopping took {took:.1f}s"
    assert containers(dockerc, name) == []


def test_max_runtime_stops_container_that_ignores_sigterm(
    api: TunestreamClient, launcher: SideLauncher, dockerc: Any, run_id: str
) -> None:
    name = f"ctr-maxrt-{run_id}"
    job = container_job(name, epochs="200", sleep="0.5", ignore_term="1")
    job["TrainingJobDefinition"]["StoppingCondition"] = {"MaxRuntimeInSeconds": 3}
    api.create_tuning_job(job)
    wait_for("the training container", lambda: containers(dockerc, name), timeout_s=60)
    describe = wait_until_ended(api, name, timeout_s=3 + STOP_GRACE_S + 30)

    (summary,) = api.training_jobs(name)
    training = api.describe_training_job(summary["TrainingJobName"])
    assert training["TrainingJobStatus"] == "Stopped", training
    assert training["SecondaryStatus"] == "MaxRuntimeExceeded", training
    assert "MaxRuntimeInSeconds" in training["FailureReason"]
    # SIGTERM at 3 s is ignored; SIGKILL follows after the stop grace.
    assert 3 <= training["TrainingTimeInSeconds"] <= 3 + STOP_GRACE_S + 3, training
    assert training["ExitCode"] == 137, training
    log_text = api.logs(summary["TrainingJobName"])
    assert "ignoring SIGTERM" in log_text and "got SIGTERM" not in log_text
    # A job stopped by its runtime limit still reported the objective, as on SageMaker.
    assert describe["HyperParameterTuningJobStatus"] == "Completed", describe
    assert containers(dockerc, name) == []


def test_missing_image_fails_without_retry(
    api: TunestreamClient, launcher: SideLauncher, dockerc: Any, run_id: str
) -> None:
    name = f"ctr-noimg-{run_id}"
    missing = "tunestream/does-not-exist:1"
    job = container_job(name, jobs=2, parallel=2, image=missing)
    job["TrainingJobDefinition"]["RetryStrategy"] = {"MaximumRetryAttempts": 2}
    api.create_tuning_job(job)
    describe = wait_until_ended(api, name, timeout_s=60)

    assert describe["HyperParameterTuningJobStatus"] == "Failed", describe
    summaries = api.training_jobs(name)
    assert len(summaries) == 2
    for summary in summaries:
        training = api.describe_training_job(summary["TrainingJobName"])
        assert training["TrainingJobStatus"] == "Failed", training
        assert missing in training["FailureReason"] and "ClientError" in training["FailureReason"], training
        assert "FailedAttempts" not in training, training
        assert training["LauncherId"] == launcher.launcher_id
    assert containers(dockerc, name) == []


def test_program_failure_reason_not_retried(
    api: TunestreamClient, launcher: SideLauncher, dockerc: Any, run_id: str
) -> None:
    name = f"ctr-fail-{run_id}"
    job = container_job(name, fail="1")
    job["TrainingJobDefinition"]["RetryStrategy"] = {"MaximumRetryAttempts": 2}
    api.create_tuning_job(job)
    describe = wait_until_ended(api, name, timeout_s=60)

    assert describe["HyperParameterTuningJobStatus"] == "Failed", describe
    (summary,) = api.training_jobs(name)
    training = api.describe_training_job(summary["TrainingJobName"])
    assert training["TrainingJobStatus"] == "Failed", training
    # What the program wrote to /opt/ml/output/failure, as SageMaker reports it.
    assert "bad hyperparameter fail=1" in training["FailureReason"], training
    assert training["ExitCode"] == 3
    assert "FailedAttempts" not in training, training
    assert containers(dockerc, name) == []


def test_launcher_killed_container_reaped_and_retried_from_checkpoint(
    api: TunestreamClient, launcher: SideLauncher, dockerc: Any, store: S3ObjectStore, run_id: str
) -> None:
    name = f"ctr-kill-{run_id}"
    checkpoints = f"s3://tunestream/it-containers/{name}/checkpoints"
    job = container_job(name, epochs="16", sleep="0.5")
    job["TrainingJobDefinition"]["CheckpointConfig"] = {"S3Uri": checkpoints}
    job["TrainingJobDefinition"]["RetryStrategy"] = {"MaximumRetryAttempts": 2}
    api.create_tuning_job(job)
    (tj,) = wait_for("the training job", lambda: list(_statuses(api, name)), timeout_s=60)

    def checkpointed() -> int:
        try:
            return int(store.get_bytes(f"{checkpoints}/{tj}/epoch"))
        except Exception:
            return 0

    wait_for("a checkpoint of epoch 2 in S3", lambda: checkpointed() >= 2, timeout_s=60)
    launcher.kill(signal.SIGKILL)
    # dockerd owns the container: it outlives its launcher.
    (leftover,) = containers(dockerc, name)
    assert leftover.status == "running" and leftover.labels["tunestream.attempt"] == "0"

    launcher.start()
    # The restarted launcher removes what its earlier run left (nothing else removes containers).
    wait_for("the leftover to be reaped", lambda: not containers(dockerc, name, attempt="0"), timeout_s=30)
    describe = wait_until_ended(api, name, timeout_s=90)

    assert describe["HyperParameterTuningJobStatus"] == "Completed", describe
    training = api.describe_training_job(tj)
    assert training["TrainingJobStatus"] == "Completed", training
    assert training["LauncherId"] == launcher.launcher_id
    assert len(training.get("FailedAttempts") or []) == 1, training
    (failed,) = training["FailedAttempts"]
    assert failed["Attempt"] == 1 and "InternalServerError" in failed["Reason"], failed
    resumed = re.findall(r"resumed from epoch (\d+)", api.logs(tj))
    assert resumed and int(resumed[-1]) >= 2, resumed
    assert store.get_bytes(f"{checkpoints}/{tj}/epoch").strip() == b"16"
    assert containers(dockerc, name) == []
