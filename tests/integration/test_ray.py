"""Training jobs as Ray jobs on the private cluster of deploy/ray.sh (a head and two worker nodes with
declared GPUs), submitted through the Jobs API by a launcher with the ray backend: output, GPUs,
values that Ray would expand, stops, runtime limits, a failing program, a worker node killed mid-job
whose attempt is retried from its checkpoint, and a restarted launcher that stops what it left.

While this module runs, the session's own process launcher is stopped: the ray launcher serves the
same process training jobs, and each test must know where its jobs ran.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.conftest import ROOT, Services, trainer_job, wait_until_ended
from tests.integration.side_launchers import (
    SideLauncher,
    checkpointed_job,
    completed_after_one_lost_attempt,
    first_training_job,
    instead_of_the_session_launcher,
    only_training_job,
    received,
    wait_for_checkpoint,
)
from tests.integration.test_tuning_job import read_topic
from tests.support.waiting import wait_for
from tunestream.client import TunestreamClient
from tunestream.config import Settings
from tunestream.events.topics import Topics
from tunestream.objstore.s3 import S3ObjectStore

RAY_ENV = ROOT / ".stack" / "ray.env"
RAY_SCRIPT = ["bash", str(ROOT / "deploy" / "ray.sh")]


def _script(*args: str, timeout_s: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*RAY_SCRIPT, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout_s)


def _address() -> str | None:
    if not RAY_ENV.is_file():
        return None
    for line in RAY_ENV.read_text().splitlines():
        if line.startswith("TUNESTREAM_RAY_ADDRESS="):
            return line.split("=", 1)[1].strip()
    return None


@pytest.fixture(scope="module")
def ray_address() -> Iterator[str]:
    """deploy/ray.sh's cluster: the running one, else started here (and stopped after)."""
    skip = os.environ.get("TUNESTREAM_RAY_TESTS_SKIP")
    if skip:  # deploy/test.sh tried already
        pytest.skip(f"ray tests need deploy/ray.sh's cluster: {skip}")
    started = False
    if "running" not in _script("status").stdout:
        done = _script("up", timeout_s=600)
        if done.returncode != 0:
            pytest.skip(f"ray tests need deploy/ray.sh's cluster; up failed: {(done.stdout + done.stderr)[-1500:]}")
        started = True
    address = _address()
    assert address, f"deploy/ray.sh up wrote no TUNESTREAM_RAY_ADDRESS into {RAY_ENV}"
    try:
        yield address
    finally:
        if started:
            _script("down")


class RayLauncher(SideLauncher):
    """A launcher with the ray backend, in place of the session's process launcher."""

    def __init__(self, services: Services, settings: Settings, address: str, work_dir: Path) -> None:
        super().__init__(
            services,
            "ray-launcher",
            f"{settings.launcher_id}-ray",
            {
                "TUNESTREAM_LAUNCHER_BACKENDS": "ray",
                "TUNESTREAM_LAUNCHER_SLOTS": "2",
                "TUNESTREAM_LAUNCHER_GPUS": "auto",
                "TUNESTREAM_RAY_ADDRESS": address,
                "TUNESTREAM_RAY_POLL_S": "0.5",
                "TUNESTREAM_WORK_DIR": str(work_dir),
            },
        )
        self.address = address

    def job(self, training_job: str) -> dict[str, Any] | None:
        """The newest Ray job of a training job."""
        jobs = httpx.get(f"{self.address}/api/jobs/", timeout=30).json()
        mine = [j for j in jobs if (j.get("metadata") or {}).get("training_job") == training_job]
        return max(mine, key=lambda j: j.get("start_time") or 0) if mine else None

    def node_of(self, node_id: str) -> str:
        nodes = httpx.get(f"{self.address}/api/v0/nodes", timeout=30).json()["data"]["result"]["result"]
        (node,) = [n for n in nodes if n["node_id"] == node_id]
        (name,) = [
            r.removeprefix("tunestream_node_") for r in node["resources_total"] if r.startswith("tunestream_node_")
        ]
        return str(name)


@pytest.fixture(scope="module")
def launcher(
    services: Services, settings: Settings, ray_address: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RayLauncher]:
    rl = RayLauncher(services, settings, ray_address, tmp_path_factory.mktemp("ray-launcher"))
    with instead_of_the_session_launcher(services):
        try:
            rl.start()
            yield rl
        finally:
            rl.kill(signal.SIGTERM)
            for node in ("w1", "w2"):  # a test that killed a node brings it back; make sure
                _script("start", node, timeout_s=180)


def test_a_tuning_job_runs_as_ray_jobs_with_its_gpus_and_values_as_given(
    api: TunestreamClient, launcher: RayLauncher, settings: Settings, store: S3ObjectStore, run_id: str
) -> None:
    name = f"ray-ok-{run_id}"
    job = trainer_job(name, jobs=4, parallel=2, sleep="0.2")
    job["TrainingJobDefinition"]["ResourceConfig"] = {"InstanceCount": 1, "GpuCount": 1}
    # Ray expands ${VAR} in a runtime_env's env_vars and runs entrypoints through a shell: neither
    # may touch a job's own values.
    job["TrainingJobDefinition"]["Environment"]["MY_SETTING"] = "${HOME} $(echo pwned) 'q'"
    api.create_tuning_job(job)
    describe = wait_until_ended(api, name, timeout_s=180)
    assert describe["HyperParameterTuningJobStatus"] == "Completed", describe
    training = read_topic(settings, Topics(settings.topic_prefix).training)
    started = [e for e in training if e.tuning_job_name == name and e.type == "TrainingJobStarted"]
    assert len(started) == 4 and {e.payload.launcher_id for e in started} == {launcher.launcher_id}
    for summary in api.training_jobs(name):
        described = api.describe_training_job(summary["TrainingJobName"])
        got = received(store, described)
        env = got["all_env"]
        ray_job = launcher.job(summary["TrainingJobName"])
        assert ray_job is not None and ray_job["status"] == "SUCCEEDED"
        assert launcher.node_of(ray_job["driver_node_id"]) in ("w1", "w2")
        # One of the node's GPUs, as Ray assigned it.
        assert env["CUDA_VISIBLE_DEVICES"] in ("0", "1") and env["SM_NUM_GPUS"] == "1"
        assert env["MY_SETTING"] == "${HOME} $(echo pwned) 'q'"
        hps = got["hyperparameters.json"]
        assert got["argv"][got["argv"].index("--kind") + 1] == hps["kind"]
        assert got["cwd"] == str(ROOT)
        assert not any(k.startswith("TUNESTREAM_") for k in env)
        assert "epoch=3 score=" in api.logs(summary["TrainingJobName"])


def test_stop_max_runtime_and_a_failing_program_on_ray(
    api: TunestreamClient, launcher: RayLauncher, run_id: str
) -> None:
    hang = f"ray-hang-{run_id}"
    job = trainer_job(hang, jobs=1, parallel=1, mode="hang")
    job["TrainingJobDefinition"]["StoppingCondition"]["MaxRuntimeInSeconds"] = 5
    api.create_tuning_job(job)
    fail = f"ray-fail-{run_id}"
    api.create_tuning_job(trainer_job(fail, jobs=1, parallel=1, mode="fail"))

    described = only_training_job(api, hang)
    assert described["TrainingJobStatus"] == "Stopped" and described["SecondaryStatus"] == "MaxRuntimeExceeded"
    failed = only_training_job(api, fail)
    assert failed["TrainingJobStatus"] == "Failed"
    assert "exited with code 3" in failed["FailureReason"] and "the data went bad" in failed["FailureReason"]

    stop = f"ray-stop-{run_id}"
    api.create_tuning_job(trainer_job(stop, jobs=1, parallel=1, mode="hang"))
    training_job = first_training_job(api, stop)
    wait_for("its Ray job to run", lambda: (launcher.job(training_job) or {}).get("status") == "RUNNING")
    api.stop(stop)
    assert wait_until_ended(api, stop, timeout_s=60)["HyperParameterTuningJobStatus"] == "Stopped"
    assert api.describe_training_job(training_job)["TrainingJobStatus"] == "Stopped"
    ray_job = launcher.job(training_job)
    assert ray_job is not None and ray_job["status"] == "STOPPED"


def test_a_dead_worker_node_is_a_retried_attempt_that_resumes_from_its_checkpoint(
    api: TunestreamClient, launcher: RayLauncher, store: S3ObjectStore, run_id: str
) -> None:
    name = f"ray-node-{run_id}"
    uri = f"s3://tunestream/it/checkpoints/{name}"
    submitted = time.monotonic()
    api.create_tuning_job(checkpointed_job(name, uri, epochs=12, retries=1))
    training_job = first_training_job(api, name)
    wait_for("its first line", lambda: "starting mode=ok" in api.logs(training_job))
    print(f"ray backend: submission to the program's first line in the log {time.monotonic() - submitted:.2f} s")
    wait_for_checkpoint(store, uri, training_job, at_least=3)
    first = launcher.job(training_job)
    assert first is not None
    node = launcher.node_of(first["driver_node_id"])
    killed_at = time.time()
    done = _script("kill", node)
    assert done.returncode == 0, done.stderr
    try:
        completed_after_one_lost_attempt(api, store, name, training_job, r"Ray job \S+ was lost", killed_at)
        second = launcher.job(training_job)
        assert second is not None and launcher.node_of(second["driver_node_id"]) != node
    finally:
        _script("start", node, timeout_s=180)


def test_a_restarted_launcher_stops_the_ray_jobs_it_left_and_the_attempt_is_retried(
    api: TunestreamClient, launcher: RayLauncher, run_id: str
) -> None:
    name = f"ray-restart-{run_id}"
    job = trainer_job(name, jobs=1, parallel=1, epochs="6", sleep="0.5")
    job["TrainingJobDefinition"]["RetryStrategy"] = {"MaximumRetryAttempts": 1}
    api.create_tuning_job(job)
    training_job = first_training_job(api, name)
    first = wait_for(
        "its Ray job to run",
        lambda: j if (j := launcher.job(training_job)) and j["status"] == "RUNNING" else None,
    )
    launcher.kill(signal.SIGKILL)
    launcher.start()
    wait_for(
        "the leftover job to be stopped",
        lambda: httpx.get(f"{launcher.address}/api/jobs/{first['submission_id']}").json()["status"] == "STOPPED",
    )
    describe = wait_until_ended(api, name, timeout_s=120)
    assert describe["HyperParameterTuningJobStatus"] == "Completed", describe
    final = api.describe_training_job(training_job)
    assert final["TrainingJobStatus"] == "Completed" and len(final["FailedAttempts"]) == 1, final
