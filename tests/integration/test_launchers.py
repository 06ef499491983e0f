"""Several launchers share the work: capacity per launcher, one launcher per attempt, and a
launcher killed with SIGKILL has its training jobs retried elsewhere from their last checkpoint."""

from __future__ import annotations

import io
import json
import os
import signal
import tarfile
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from tests.integration.conftest import Services, trainer_job, wait_until_ended
from tests.integration.test_tuning_job import read_topic
from tunestream.client import TunestreamClient
from tunestream.config import Settings
from tunestream.db.tables import training_jobs
from tunestream.events.topics import Topics
from tunestream.objstore.s3 import S3ObjectStore


class Fleet:
    """Extra launcher processes next to the session's own, each with its own work folder ("machine")."""

    def __init__(self, services: Services, settings: Settings, root: Path) -> None:
        self.services = services
        self.settings = settings
        self.root = root
        self.started: list[str] = []

    def launcher_id(self, name: str) -> str:
        return f"{self.settings.launcher_id}-{name}"

    def start(self, name: str, slots: int) -> str:
        self.services.start(
            name,
            service="launcher",
            env={
                "TUNESTREAM_LAUNCHER_ID": self.launcher_id(name),
                "TUNESTREAM_LAUNCHER_SLOTS": str(slots),
                "TUNESTREAM_WORK_DIR": str(self.root / name),
            },
        )
        self.started.append(name)
        return self.launcher_id(name)

    def stop_all(self) -> None:
        for name in self.started:
            if self.services.alive(name):
                self.services.kill(name, signal.SIGTERM)


@pytest.fixture
def fleet(services: Services, settings: Settings, tmp_path: Path) -> Iterator[Fleet]:
    f = Fleet(services, settings, tmp_path)
    yield f
    f.stop_all()


def _intervals(engine: Engine, tuning_job: str) -> list[tuple[str, datetime, datetime]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(training_jobs.c.launcher_id, training_jobs.c.started_at, training_jobs.c.ended_at).where(
                training_jobs.c.tuning_job_name == tuning_job
            )
        ).all()
    return [(r[0], r[1], r[2]) for r in rows]


def _peak_concurrency(intervals: list[tuple[datetime, datetime]]) -> int:
    edges = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals], key=lambda x: (x[0], x[1]))
    peak = running = 0
    for _, delta in edges:
        running += delta
        peak = max(peak, running)
    return peak


def _wait_for_launchers(settings: Settings, *launcher_ids: str, timeout_s: float = 60) -> None:
    """Until each launcher's heartbeats are on the topic: from then on the scheduler places work on it."""
    deadline = time.monotonic() + timeout_s
    topic = Topics(settings.topic_prefix).launchers
    while True:
        heard = {e.payload.launcher_id for e in read_topic(settings, topic)}
        if set(launcher_ids) <= heard:
            break
        assert time.monotonic() < deadline, f"no heartbeat from {set(launcher_ids) - heard}"
        time.sleep(0.3)
    time.sleep(1.0)  # one more heartbeat, so the scheduler has surely heard one live


def test_launchers_share_tuning_jobs_within_their_capacity(
    api: TunestreamClient, fleet: Fleet, engine: Engine, settings: Settings, run_id: str
) -> None:
    slots = {settings.launcher_id: 4, fleet.start("b", slots=1): 1, fleet.start("c", slots=2): 2}
    _wait_for_launchers(settings, *slots)
    names = [f"share{i}-{run_id}" for i in range(2)]
    for name in names:
        api.create_tuning_job(trainer_job(name, jobs=8, parallel=4, sleep="0.3"))
    for name in names:
        assert wait_until_ended(api, name, timeout_s=180)["HyperParameterTuningJobStatus"] == "Completed"

    rows = [row for name in names for row in _intervals(engine, name)]
    assert len(rows) == 16
    by_launcher: dict[str, list[tuple[datetime, datetime]]] = {}
    for launcher, started, ended in rows:
        by_launcher.setdefault(launcher, []).append((started, ended))
    assert set(by_launcher) == set(slots), f"every launcher took work: {sorted(by_launcher)}"
    for launcher, intervals in by_launcher.items():
        # Times come from events of one host clock; a launcher never runs more than its slots.
        assert _peak_concurrency(intervals) <= slots[launcher], launcher

    training = [e for e in read_topic(settings, Topics(settings.topic_prefix).training) if e.tuning_job_name in names]
    starts = [e.payload.training_job_name for e in training if e.type == "TrainingJobStarted"]
    assert len(starts) == len(set(starts)) == 16, "every training job started exactly once"


def _checkpointed_job(name: str, uri: str, *, retries: int, epochs: int, sleep: str, starts: Path) -> dict[str, Any]:
    job = trainer_job(name, jobs=1, parallel=1, epochs=str(epochs), sleep=sleep)
    definition = job["TrainingJobDefinition"]
    definition["CheckpointConfig"] = {"S3Uri": uri}
    if retries:
        definition["RetryStrategy"] = {"MaximumRetryAttempts": retries}
    definition["Environment"]["TRAINER_STARTS_DIR"] = str(starts)
    return job


def _running_on(api: TunestreamClient, name: str, timeout_s: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        jobs = api.training_jobs(name)
        if jobs and jobs[0]["TrainingJobStatus"] == "InProgress":
            described = api.describe_training_job(jobs[0]["TrainingJobName"])
            if described.get("TrainingStartTime"):
                return described
        time.sleep(0.2)
    raise AssertionError(f"no training job of {name} started")


def _wait_for_checkpoint(store: S3ObjectStore, uri: str, at_least: int, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if int(store.get_bytes(uri).decode()) >= at_least:
                return
        except Exception:
            pass
        time.sleep(0.2)
    raise AssertionError(f"checkpoint {uri} did not reach epoch {at_least}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


def test_a_killed_launchers_job_is_retried_elsewhere_from_its_checkpoint(
    api: TunestreamClient, fleet: Fleet, store: S3ObjectStore, settings: Settings, run_id: str, tmp_path: Path
) -> None:
    # The spare launcher has the most free slots, so the scheduler picks it first.
    doomed = fleet.start("doomed", slots=16)
    _wait_for_launchers(settings, doomed)
    name = f"retry-{run_id}"
    uri = f"s3://tunestream/it/checkpoints/{name}"
    starts = tmp_path / "starts"
    api.create_tuning_job(_checkpointed_job(name, uri, retries=2, epochs=8, sleep="0.5", starts=starts))
    first = _running_on(api, name)
    assert first["LauncherId"] == doomed
    job = first["TrainingJobName"]
    _wait_for_checkpoint(store, f"{uri}/{job}/epoch", at_least=2)

    killed_at = time.monotonic()
    fleet.services.kill("doomed", signal.SIGKILL)
    # The training process dies with its launcher, so it cannot run alongside its retry.
    deadline = time.monotonic() + 5
    while any(_alive(int(p.name.rsplit(".", 1)[1])) for p in starts.iterdir()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(int(p.name.rsplit(".", 1)[1])) for p in starts.iterdir())

    describe = wait_until_ended(api, name, timeout_s=120)
    assert describe["HyperParameterTuningJobStatus"] == "Completed"
    final = api.describe_training_job(job)
    assert final["TrainingJobStatus"] == "Completed" and final["LauncherId"] != doomed
    (lost,) = final["FailedAttempts"]
    assert lost["LauncherId"] == doomed and "sent no heartbeat" in lost["Reason"]
    detected_s = datetime.fromisoformat(lost["At"]).timestamp() - (time.time() - (time.monotonic() - killed_at))
    # Heartbeat timeout is 4 s here; the scheduler ticks twice a second.
    print(f"lost launcher detected {detected_s:.2f} s after its kill -9")
    assert detected_s < 4 + 3, detected_s

    # Two program starts in all; the second resumed from the checkpoint the first left in S3.
    resumed = sorted(int(p.read_text()) for p in starts.iterdir())
    assert len(resumed) == 2 and resumed[0] == 0 and resumed[1] >= 2, resumed
    artifact = store.get_bytes(final["ModelArtifacts"]["S3ModelArtifacts"])
    with tarfile.open(fileobj=io.BytesIO(artifact)) as tar:
        member = tar.extractfile("received.json")
        assert member is not None
        assert json.loads(member.read())["resumed_from_epoch"] == resumed[1]
    log = api.logs(job)
    assert "resumed_from_epoch=0" in log and f"resumed_from_epoch={resumed[1]}" in log


def test_without_retry_strategy_a_lost_job_fails_as_retryable(
    api: TunestreamClient, fleet: Fleet, settings: Settings, run_id: str, tmp_path: Path
) -> None:
    doomed = fleet.start("doomed2", slots=16)
    _wait_for_launchers(settings, doomed)
    name = f"noretry-{run_id}"
    api.create_tuning_job(
        _checkpointed_job(
            name, f"s3://tunestream/it/checkpoints/{name}", retries=0, epochs=30, sleep="0.5", starts=tmp_path
        )
    )
    first = _running_on(api, name)
    assert first["LauncherId"] == doomed
    fleet.services.kill("doomed2", signal.SIGKILL)
    describe = wait_until_ended(api, name, timeout_s=60)
    assert describe["HyperParameterTuningJobStatus"] == "Failed"
    assert describe["TrainingJobStatusCounters"]["RetryableError"] == 1
    assert describe["TrainingJobStatusCounters"]["NonRetryableError"] == 0
    final = api.describe_training_job(first["TrainingJobName"])
    assert final["TrainingJobStatus"] == "Failed" and final["RetryableFailure"] is True
    assert "MaximumRetryAttempts is 0" in final["FailureReason"]


def test_the_programs_own_failure_is_not_retried(api: TunestreamClient, settings: Settings, run_id: str) -> None:
    name = f"ownfail-{run_id}"
    job = trainer_job(name, jobs=1, parallel=1, mode="fail")
    job["TrainingJobDefinition"]["RetryStrategy"] = {"MaximumRetryAttempts": 3}
    api.create_tuning_job(job)
    assert wait_until_ended(api, name, timeout_s=60)["HyperParameterTuningJobStatus"] == "Failed"
    (only,) = api.training_jobs(name)
    final = api.describe_training_job(only["TrainingJobName"])
    assert "FailedAttempts" not in final and "RetryableFailure" not in final
    assert "the data went bad" in final["FailureReason"]
    training = [e for e in read_topic(settings, Topics(settings.topic_prefix).training) if e.tuning_job_name == name]
    assert [e.type for e in training if e.type in ("TrainingJobStarted", "TrainingJobAttemptFailed")] == [
        "TrainingJobStarted"
    ]


def test_gpus_are_handed_out_without_overlap(
    api: TunestreamClient, fleet: Fleet, store: S3ObjectStore, settings: Settings, run_id: str
) -> None:
    # A "GPU node" with four GPU ids (no real GPU is needed: the program only sees the variables).
    fleet.services.start(
        "gpu-node",
        service="launcher",
        env={
            "TUNESTREAM_LAUNCHER_ID": fleet.launcher_id("gpu-node"),
            "TUNESTREAM_LAUNCHER_SLOTS": "8",
            "TUNESTREAM_LAUNCHER_GPUS": "0,1,2,3",
            "TUNESTREAM_WORK_DIR": str(fleet.root / "gpu-node"),
        },
    )
    fleet.started.append("gpu-node")
    _wait_for_launchers(settings, fleet.launcher_id("gpu-node"))
    name = f"gpus-{run_id}"
    job = trainer_job(name, jobs=6, parallel=6, sleep="0.4")
    job["TrainingJobDefinition"]["ResourceConfig"] = {"InstanceType": "ml.g5.xlarge", "GpuCount": 2}
    api.create_tuning_job(job)
    assert wait_until_ended(api, name, timeout_s=120)["HyperParameterTuningJobStatus"] == "Completed"

    seen: list[tuple[datetime, datetime, set[str]]] = []
    for summary in api.training_jobs(name):
        described = api.describe_training_job(summary["TrainingJobName"])
        assert described["LauncherId"] == fleet.launcher_id("gpu-node")
        gpus = set(described["Gpus"])
        assert len(gpus) == 2
        with tarfile.open(fileobj=io.BytesIO(store.get_bytes(described["ModelArtifacts"]["S3ModelArtifacts"]))) as tar:
            member = tar.extractfile("received.json")
            assert member is not None
            env = json.loads(member.read())["env"]
        assert set(env["CUDA_VISIBLE_DEVICES"].split(",")) == gpus and env["SM_NUM_GPUS"] == "2"
        seen.append(
            (
                datetime.fromisoformat(described["TrainingStartTime"]),
                datetime.fromisoformat(described["TrainingEndTime"]),
                gpus,
            )
        )
    # Four GPUs, two per job: never more than two at once, and jobs running together share no GPU.
    assert _peak_concurrency([(s, e) for s, e, _ in seen]) <= 2
    for i, (s1, e1, g1) in enumerate(seen):
        for s2, e2, g2 in seen[i + 1 :]:
            if s1 < e2 and s2 < e1:
                assert not g1 & g2, (g1, g2)
