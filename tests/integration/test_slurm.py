"""Training jobs as Slurm batch jobs on the private cluster of deploy/slurm.sh (two compute nodes with
GPUs as GRES), through a launcher with the slurm backend: output, GPUs, stops, runtime limits, a
cluster that refuses the job, and a node killed mid-job whose attempt is retried from its checkpoint.

While this module runs, the session's own process launcher is stopped: the slurm launcher serves
the same process training jobs, and each test must know where its jobs ran.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from typing import Any

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

SLURM_ENV = ROOT / ".stack" / "slurm.env"
SLURM_SCRIPT = ["bash", str(ROOT / "deploy" / "slurm.sh")]


def _slurm_conf() -> str | None:
    if not SLURM_ENV.is_file():
        return None
    for line in SLURM_ENV.read_text().splitlines():
        if line.startswith("SLURM_CONF="):
            return line.split("=", 1)[1].strip()
    return None


def _script(*args: str, timeout_s: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*SLURM_SCRIPT, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout_s)


@pytest.fixture(scope="module")
def slurm_conf() -> Iterator[str]:
    """deploy/slurm.sh's cluster: the running one, else started here (and stopped after)."""
    skip = os.environ.get("TUNESTREAM_SLURM_TESTS_SKIP")
    if skip:  # deploy/test.sh tried already
        pytest.skip(f"slurm tests need deploy/slurm.sh's cluster: {skip}")
    started = False
    if "running" not in _script("status").stdout:
        done = _script("up")
        if done.returncode != 0:
            pytest.skip(f"slurm tests need deploy/slurm.sh's cluster; up failed: {(done.stdout + done.stderr)[-1500:]}")
        started = True
    conf = _slurm_conf()
    assert conf, f"deploy/slurm.sh up wrote no SLURM_CONF into {SLURM_ENV}"
    try:
        yield conf
    finally:
        if started:
            _script("down")


def slurm(conf: str, *args: str) -> str:
    done = subprocess.run(
        list(args), env={**os.environ, "SLURM_CONF": conf}, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def launcher(
    services: Services, settings: Settings, slurm_conf: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SideLauncher]:
    """A launcher with the slurm backend, in place of the session's process launcher."""
    sl = SideLauncher(
        services,
        "slurm-launcher",
        f"{settings.launcher_id}-slurm",
        {
            "TUNESTREAM_LAUNCHER_BACKENDS": "slurm",
            "TUNESTREAM_LAUNCHER_SLOTS": "2",
            "TUNESTREAM_LAUNCHER_GPUS": "auto",
            "TUNESTREAM_SLURM_CONF": slurm_conf,
            "TUNESTREAM_SLURM_PARTITION": "tunestream",
            "TUNESTREAM_SLURM_POLL_S": "0.5",
            "TUNESTREAM_WORK_DIR": str(tmp_path_factory.mktemp("slurm-launcher")),
        },
    )
    with instead_of_the_session_launcher(services):
        try:
            sl.start()
            yield sl
        finally:
            sl.kill(signal.SIGTERM)
            for node in ("n1", "n2"):  # a test that killed a node brings it back; make sure
                _script("start", node, timeout_s=90)


def _started_events(settings: Settings, tuning_job: str) -> list[Any]:
    training = read_topic(settings, Topics(settings.topic_prefix).training)
    return [e for e in training if e.tuning_job_name == tuning_job and e.type == "TrainingJobStarted"]


def _in_progress(summary: dict[str, Any]) -> bool:
    return bool(summary["TrainingJobStatus"] == "InProgress")


def test_a_tuning_job_runs_as_slurm_jobs_with_gpus_as_gres(
    api: TunestreamClient, launcher: SideLauncher, settings: Settings, store: S3ObjectStore, run_id: str
) -> None:
    name = f"slurm-ok-{run_id}"
    job = trainer_job(name, jobs=4, parallel=2, sleep="0.2")
    job["TrainingJobDefinition"]["ResourceConfig"] = {"InstanceCount": 1, "GpuCount": 1}
    api.create_tuning_job(job)
    describe = wait_until_ended(api, name, timeout_s=180)
    assert describe["HyperParameterTuningJobStatus"] == "Completed", describe
    assert describe["TrainingJobStatusCounters"]["Completed"] == 4
    started = _started_events(settings, name)
    assert len(started) == 4 and {e.payload.launcher_id for e in started} == {launcher.launcher_id}
    for summary in api.training_jobs(name):
        described = api.describe_training_job(summary["TrainingJobName"])
        got = received(store, described)
        env = got["all_env"]
        # It ran under Slurm, as the job the launcher announced, with one GPU of the partition's.
        (event,) = [e for e in started if e.payload.training_job_name == summary["TrainingJobName"]]
        assert env["SLURM_JOB_ID"] == str(event.payload.pid)
        assert env["SLURM_JOB_NAME"] == summary["TrainingJobName"]
        assert env["SLURMD_NODENAME"] in ("n1", "n2")
        assert env["SLURM_GPUS_ON_NODE"] == "1" and env["SM_NUM_GPUS"] == "1"
        # The job's own values reached it as given: argv items, never through a shell.
        hps = got["hyperparameters.json"]
        assert got["argv"][got["argv"].index("--kind") + 1] == hps["kind"]
        assert env["MY_SETTING"] == "from-job"
        assert "TUNESTREAM_SLURM_CONF" not in env and not any(k.startswith("TUNESTREAM_DATABASE") for k in env)
        log = api.logs(summary["TrainingJobName"])
        assert "epoch=3 score=" in log
    assert (
        slurm(
            launcher.env["TUNESTREAM_SLURM_CONF"],
            "squeue",
            "-h",
            "-n",
            ",".join(j["TrainingJobName"] for j in api.training_jobs(name)),
        ).strip()
        == ""
    )


def test_stop_max_runtime_and_a_failing_program_on_slurm(
    api: TunestreamClient, launcher: SideLauncher, settings: Settings, run_id: str
) -> None:
    conf = launcher.env["TUNESTREAM_SLURM_CONF"]
    hang = f"slurm-hang-{run_id}"
    job = trainer_job(hang, jobs=1, parallel=1, mode="hang")
    job["TrainingJobDefinition"]["StoppingCondition"]["MaxRuntimeInSeconds"] = 4
    api.create_tuning_job(job)
    fail = f"slurm-fail-{run_id}"
    api.create_tuning_job(trainer_job(fail, jobs=1, parallel=1, mode="fail"))

    described = api.describe_training_job(
        wait_until_ended(api, hang, timeout_s=90) and api.training_jobs(hang)[0]["TrainingJobName"]
    )
    assert described["TrainingJobStatus"] == "Stopped" and described["SecondaryStatus"] == "MaxRuntimeExceeded"
    failed = api.describe_training_job(
        wait_until_ended(api, fail, timeout_s=90) and api.training_jobs(fail)[0]["TrainingJobName"]
    )
    assert failed["TrainingJobStatus"] == "Failed"
    assert "exited with code 3" in failed["FailureReason"] and "the data went bad" in failed["FailureReason"]

    stubborn = f"slurm-stop-{run_id}"
    api.create_tuning_job(trainer_job(stubborn, jobs=1, parallel=1, mode="stubborn"))
    training_job = wait_for(
        "the stubborn job to run",
        lambda: next(
            (j["TrainingJobName"] for j in api.training_jobs(stubborn) if j["TrainingJobStatus"] == "InProgress"), None
        ),
    )
    wait_for("its Slurm job to run", lambda: "RUNNING" in slurm(conf, "squeue", "-h", "-n", training_job, "-o", "%T"))
    api.stop(stubborn)
    described = wait_until_ended(api, stubborn, timeout_s=60)
    assert described["HyperParameterTuningJobStatus"] == "Stopped"
    assert api.describe_training_job(training_job)["TrainingJobStatus"] == "Stopped"
    # SIGTERM was ignored; SIGKILL after the grace ended it, and Slurm holds nothing of it.
    assert slurm(conf, "squeue", "-h", "-n", training_job).strip() == ""


def test_a_job_the_cluster_cannot_hold_fails_as_a_client_error(
    api: TunestreamClient, launcher: SideLauncher, run_id: str
) -> None:
    # Four GPUs in the partition, two per node: a job of 3 GPUs on one node is refused by sbatch.
    name = f"slurm-big-{run_id}"
    job = trainer_job(name, jobs=1, parallel=1)
    job["TrainingJobDefinition"]["ResourceConfig"] = {"InstanceCount": 1, "GpuCount": 3}
    api.create_tuning_job(job)
    described = only_training_job(api, name)
    assert described["TrainingJobStatus"] == "Failed"
    assert described["FailureReason"].startswith("ResourceLimitExceeded: Slurm refused the job"), described


def test_a_dead_node_is_a_retried_attempt_that_resumes_from_its_checkpoint(
    api: TunestreamClient, launcher: SideLauncher, store: S3ObjectStore, run_id: str
) -> None:
    conf = launcher.env["TUNESTREAM_SLURM_CONF"]
    name = f"slurm-node-{run_id}"
    uri = f"s3://tunestream/it/checkpoints/{name}"
    submitted = time.monotonic()
    api.create_tuning_job(checkpointed_job(name, uri, epochs=12, retries=1))
    training_job = first_training_job(api, name)
    wait_for("its first line", lambda: "starting mode=ok" in api.logs(training_job))
    print(f"slurm backend: submission to the program's first line in the log {time.monotonic() - submitted:.2f} s")
    wait_for_checkpoint(store, uri, training_job, at_least=3)
    node = slurm(conf, "squeue", "-h", "-n", training_job, "-o", "%N").strip()
    assert node in ("n1", "n2"), node
    killed_at = time.time()
    done = _script("kill", node)
    assert done.returncode == 0, done.stderr
    try:
        reason = rf"Slurm job \d+ ended NODE_FAIL on {node}"
        got = completed_after_one_lost_attempt(api, store, name, training_job, reason, killed_at)
        # The retry ran on the other node.
        assert got["all_env"]["SLURMD_NODENAME"] != node
    finally:
        _script("start", node, timeout_s=90)


def test_a_restarted_launcher_cancels_the_slurm_jobs_it_left_and_the_attempt_is_retried(
    api: TunestreamClient, launcher: SideLauncher, run_id: str
) -> None:
    conf = launcher.env["TUNESTREAM_SLURM_CONF"]
    name = f"slurm-restart-{run_id}"
    job = trainer_job(name, jobs=1, parallel=1, epochs="6", sleep="0.5")
    job["TrainingJobDefinition"]["RetryStrategy"] = {"MaximumRetryAttempts": 1}
    api.create_tuning_job(job)
    training_job = wait_for(
        "the training job to be submitted", lambda: next((j["TrainingJobName"] for j in api.training_jobs(name)), None)
    )
    first = wait_for(
        "its Slurm job to run",
        lambda: slurm(conf, "squeue", "-h", "-n", training_job, "-t", "RUNNING", "-o", "%i").strip(),
    )
    launcher.kill(signal.SIGKILL)
    # Slurm keeps running what a dead launcher submitted, until the launcher comes back.
    assert slurm(conf, "squeue", "-h", "-j", first, "-o", "%T").strip() == "RUNNING"
    launcher.start()
    gone = wait_for(
        "the leftover job to be cancelled", lambda: "CANCELLED" in slurm(conf, "scontrol", "show", "job", "-o", first)
    )
    assert gone
    describe = wait_until_ended(api, name, timeout_s=120)
    assert describe["HyperParameterTuningJobStatus"] == "Completed", describe
    final = api.describe_training_job(training_job)
    assert final["TrainingJobStatus"] == "Completed" and len(final["FailedAttempts"]) == 1, final
