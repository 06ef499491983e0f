"""Managed spot training (EnableManagedSpotTraining) on preemptible capacity that is really taken
back: a launcher that declares itself preemptible submits to deploy/slurm.sh's "spot" partition, and
a job of the default partition preempts the spot job's Slurm job (PREEMPTED). The training job
resumes from its checkpoint without spending RetryStrategy, bills only the time its attempts ran, and
shows the interruption; a spot job that outlives MaxWaitTimeInSeconds is stopped.

The session's own process launcher is not preemptible, so it never takes these jobs.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from tests.integration.conftest import Services, trainer_job, wait_until_ended
from tests.integration.side_launchers import (
    SideLauncher,
    checkpointed_job,
    completed_after_one_lost_attempt,
    first_training_job,
    only_training_job,
    wait_for_checkpoint,
)
from tests.integration.test_slurm import slurm, slurm_conf  # noqa: F401 (the module's cluster fixture)
from tunestream.client import TunestreamClient
from tunestream.config import Settings
from tunestream.objstore.s3 import S3ObjectStore


@pytest.fixture(scope="module")
def spot_launcher(
    services: Services,
    settings: Settings,
    slurm_conf: str,  # noqa: F811
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[SideLauncher]:
    """A preemptible launcher: its attempts are Slurm jobs of the partition others preempt."""
    sl = SideLauncher(
        services,
        "spot-launcher",
        f"{settings.launcher_id}-spot",
        {
            "TUNESTREAM_LAUNCHER_BACKENDS": "slurm",
            "TUNESTREAM_LAUNCHER_SLOTS": "2",
            "TUNESTREAM_LAUNCHER_GPUS": "none",
            "TUNESTREAM_LAUNCHER_PREEMPTIBLE": "true",
            "TUNESTREAM_SLURM_CONF": slurm_conf,
            "TUNESTREAM_SLURM_PARTITION": "spot",
            "TUNESTREAM_SLURM_POLL_S": "0.5",
            "TUNESTREAM_WORK_DIR": str(tmp_path_factory.mktemp("spot-launcher")),
        },
    )
    try:
        sl.start()
        yield sl
    finally:
        sl.kill(signal.SIGTERM)


def spot(job: dict[str, Any], *, max_runtime_s: int, max_wait_s: int) -> dict[str, Any]:
    definition = job["TrainingJobDefinition"]
    definition["EnableManagedSpotTraining"] = True
    definition["StoppingCondition"] = {"MaxRuntimeInSeconds": max_runtime_s, "MaxWaitTimeInSeconds": max_wait_s}
    definition.pop("RetryStrategy", None)  # none: an interruption must not need one
    return job


def test_a_preempted_spot_job_resumes_from_its_checkpoint_and_bills_only_its_running_time(
    api: TunestreamClient, spot_launcher: SideLauncher, store: S3ObjectStore, run_id: str
) -> None:
    conf = spot_launcher.env["TUNESTREAM_SLURM_CONF"]
    name = f"spot-preempt-{run_id}"
    uri = f"s3://tunestream/it/checkpoints/{name}"
    api.create_tuning_job(spot(checkpointed_job(name, uri, epochs=12, retries=1), max_runtime_s=120, max_wait_s=600))
    training_job = first_training_job(api, name)
    wait_for_checkpoint(store, uri, training_job, at_least=3)
    assert slurm(conf, "squeue", "-h", "-n", training_job, "-o", "%P").strip() == "spot"
    # Capacity taken back: a job of the higher tier needs both nodes whole for 6 s.
    preempted_at = time.time()
    urgent = slurm(
        conf, "sbatch", "--parsable", "-p", "tunestream", "--nodes=2", "--exclusive", "--output=/dev/null",
        "--wrap", "sleep 6",
    ).strip()  # fmt: skip
    try:
        got = completed_after_one_lost_attempt(
            api, store, name, training_job, r"Slurm job \d+ ended PREEMPTED", preempted_at
        )
    finally:  # ended by now unless the test failed early
        subprocess.run(["scancel", urgent], env={**os.environ, "SLURM_CONF": conf}, capture_output=True, timeout=60)
    assert got["all_env"]["SLURM_JOB_PARTITION"] == "spot"
    described = api.describe_training_job(training_job)
    assert described["EnableManagedSpotTraining"] is True
    statuses = [s["Status"] for s in described["SecondaryStatusTransitions"]]
    assert statuses == ["Starting", "Training", "Interrupted", "Starting", "Training", "Completed"], statuses
    interrupted = described["SecondaryStatusTransitions"][2]
    resumed = described["SecondaryStatusTransitions"][4]
    waited_s = (
        datetime.fromisoformat(resumed["StartTime"]) - datetime.fromisoformat(interrupted["EndTime"])
    ).total_seconds()
    # The retry waited for the nodes the urgent job held: not billed.
    assert waited_s >= 3, described["SecondaryStatusTransitions"]
    training_s, billable_s = described["TrainingTimeInSeconds"], described["BillableTimeInSeconds"]
    assert billable_s <= training_s - int(waited_s) + 1, (training_s, billable_s, waited_s)
    print(
        f"spot: preempted and resumed; waited {waited_s:.1f} s for capacity; "
        f"TrainingTimeInSeconds {training_s}, BillableTimeInSeconds {billable_s} "
        f"(saving {100 * (1 - billable_s / training_s):.0f} %)"
    )


def test_a_spot_job_is_stopped_when_max_wait_time_runs_out(
    api: TunestreamClient, spot_launcher: SideLauncher, run_id: str
) -> None:
    name = f"spot-wait-{run_id}"
    job = spot(trainer_job(name, jobs=1, parallel=1, epochs="200", sleep="0.2"), max_runtime_s=8, max_wait_s=8)
    submitted = time.monotonic()
    api.create_tuning_job(job)
    described = only_training_job(api, name, timeout_s=120)
    took = time.monotonic() - submitted
    assert described["TrainingJobStatus"] == "Stopped", described
    assert described["SecondaryStatus"] == "MaxWaitTimeExceeded", described
    assert "MaxWaitTimeInSeconds (8 s)" in described["FailureReason"], described
    assert took < 60, took
    assert wait_until_ended(api, name, timeout_s=30)["HyperParameterTuningJobStatus"] in ("Completed", "Stopped")


def test_an_on_demand_job_never_runs_on_the_preemptible_launcher(
    api: TunestreamClient, spot_launcher: SideLauncher, run_id: str
) -> None:
    name = f"spot-not-{run_id}"
    api.create_tuning_job(trainer_job(name, jobs=2, parallel=2))
    wait_until_ended(api, name, timeout_s=120)
    for summary in api.training_jobs(name):
        described = api.describe_training_job(summary["TrainingJobName"])
        assert described["TrainingJobStatus"] == "Completed"
        assert described["LauncherId"] != spot_launcher.launcher_id
