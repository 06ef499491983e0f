"""Training jobs of several instances (InstanceCount 2) through the services over the real Kafka,
PostgreSQL and S3: examples/distributed_digits trains with torch.distributed (gloo) on two hosts
that meet through the rendezvous tunestream gives them, each on its shard of an S3 channel."""

from __future__ import annotations

import io
import re
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

from tests.integration.conftest import ROOT, Services, training_processes, wait_until_ended
from tests.support.jobs import continuous, tuning_job
from tests.support.waiting import wait_for
from tunestream.client import TunestreamClient
from tunestream.config import Settings
from tunestream.objstore.s3 import S3ObjectStore
from tunestream.replay.run import run_replay

PROGRAM = str(ROOT / "examples" / "distributed_digits" / "train.py")
ACCURACY = {"Name": "validation:accuracy", "Regex": r"validation:accuracy=([0-9.]+)"}


def distributed_job(name: str, *, jobs: int, parallel: int, epochs: int, channel: str | None = None) -> dict[str, Any]:
    job = tuning_job(
        name,
        command=[sys.executable, PROGRAM],
        seed=5,
        jobs=jobs,
        parallel=parallel,
        objective=("Maximize", "validation:accuracy"),
        metrics=[ACCURACY],
        ranges={"ContinuousParameterRanges": [continuous("learning_rate", "0.02", "0.2")]},
        static={"epochs": str(epochs)},
        output="s3://tunestream/it/distributed",
        max_runtime_s=300,
    )
    definition = job["TrainingJobDefinition"]
    definition["ResourceConfig"] = {"InstanceType": "ml.m5.xlarge", "InstanceCount": 2, "VolumeSizeInGB": 1}
    if channel is not None:
        definition["InputDataConfig"] = [
            {
                "ChannelName": "train",
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri": channel,
                        "S3DataDistributionType": "ShardedByS3Key",
                    }
                },
            }
        ]
    return job


def test_a_two_instance_tuning_job_trains_data_parallel_on_shards(
    api: TunestreamClient, store: S3ObjectStore, settings: Settings, run_id: str, tmp_path: Path
) -> None:
    shards = tmp_path / "shards"
    subprocess.run([sys.executable, PROGRAM, "--write-shards", str(shards), "--shards", "4"], check=True)
    channel = f"s3://{settings.s3_bucket}/it/digits-{run_id}"
    for part in sorted(shards.iterdir()):
        store.put_file(f"{channel}/{part.name}", part, "text/csv")
    name = f"dist-{run_id}"
    # Two jobs of two instances at once: the launcher's four slots, all held.
    api.create_tuning_job(distributed_job(name, jobs=2, parallel=2, epochs=4, channel=channel))
    describe = wait_until_ended(api, name, timeout_s=240)
    assert describe["HyperParameterTuningJobStatus"] == "Completed", describe
    jobs = api.training_jobs(name)
    ended = {job["TrainingJobName"]: (job["TrainingJobStatus"], job.get("FailureReason")) for job in jobs}
    assert describe["TrainingJobStatusCounters"]["Completed"] == 2, (ended, [api.logs(job) for job in ended])
    best = describe["BestTrainingJob"]
    assert best["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] > 0.5
    training = api.describe_training_job(best["TrainingJobName"])
    assert training["ResourceConfig"]["InstanceCount"] == 2
    log = api.logs(best["TrainingJobName"])
    rows = {}
    for host, rank in (("algo-1", 0), ("algo-2", 1)):
        match = re.search(rf"^\[{host}\] {host}: rank {rank} of 2, (\d+) training images \(2 files", log, re.M)
        assert match is not None, log
        rows[host] = int(match.group(1))
        assert re.search(rf"^\[{host}\] epoch=4 loss=\S+ validation:accuracy=", log, re.M), log
    assert sum(rows.values()) == 1437  # the four shards, two to each host, nothing twice
    # The hosts validate the same synchronised weights: the same accuracy on both at every epoch.
    per_host = {
        host: re.findall(rf"^\[{host}\] epoch=\d+ loss=\S+ validation:accuracy=(\S+)$", log, re.M) for host in rows
    }
    assert per_host["algo-1"] == per_host["algo-2"] and len(per_host["algo-1"]) == 4
    artifact = training["ModelArtifacts"]["S3ModelArtifacts"]
    with tarfile.open(fileobj=io.BytesIO(store.get_bytes(artifact))) as tar:
        assert tar.getnames() == ["model.pt"]  # saved by algo-1 alone, into the shared model folder
    # Replayed from Kafka, the job's decisions and read model come out the same (once the tracker
    # has written what came after the job's end).
    wait_for("a replay without differences", lambda: run_replay(settings, name)["differences"] == 0, timeout_s=60)


def test_a_launcher_killed_mid_job_retries_every_host_together(
    api: TunestreamClient, services: Services, run_id: str
) -> None:
    name = f"distkill-{run_id}"
    job = distributed_job(name, jobs=1, parallel=1, epochs=30)
    job["TrainingJobDefinition"]["RetryStrategy"] = {"MaximumRetryAttempts": 1}
    api.create_tuning_job(job)
    wait_for("both hosts running", lambda: len(training_processes(name)) >= 2, timeout_s=60)
    first = set(training_processes(name))
    services.restart("launcher")
    # Both hosts died with their launcher (neither trains on alone), and both ran again.
    wait_for("the first hosts gone", lambda: not first & set(training_processes(name)), timeout_s=30)
    describe = wait_until_ended(api, name, timeout_s=240)
    assert describe["HyperParameterTuningJobStatus"] == "Completed", describe
    training = describe["BestTrainingJob"]["TrainingJobName"]
    log = api.logs(training)
    for host in ("algo-1", "algo-2"):
        assert re.search(rf"^\[{host}\] epoch=30 ", log, re.M), log
