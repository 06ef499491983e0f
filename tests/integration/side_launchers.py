"""A launcher process beside the session's own, with a backend of its own (container, slurm, ray),
and what the backends' suites read back from the training jobs they ran."""

from __future__ import annotations

import io
import json
import re
import signal
import tarfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import pytest

from tests.integration.conftest import Services, trainer_job, wait_until_ended
from tests.support.jobs import continuous, tuning_job
from tests.support.waiting import wait_for
from tunestream.client import TunestreamClient
from tunestream.objstore.s3 import S3ObjectStore


class SideLauncher:
    """A launcher process called `name`, with extra environment (its backend, work folder, ...)."""

    def __init__(self, services: Services, name: str, launcher_id: str, env: dict[str, str]) -> None:
        self.services = services
        self.name = name
        self.launcher_id = launcher_id
        self.log = services.log_dir / f"{name}.log"
        self.env = {"TUNESTREAM_LAUNCHER_ID": launcher_id, **env}

    def start(self) -> str:
        """Start it and wait until it has rebuilt its state; returns its incarnation."""
        offset = self.log.stat().st_size if self.log.exists() else 0
        self.services.start(self.name, service="launcher", env=self.env)

        def ready() -> str | None:
            text = self.log.read_bytes()[offset:].decode(errors="replace")
            if not self.services.alive(self.name):
                pytest.fail(f"the launcher {self.name} exited:\n{text[-3000:]}")
            found = re.search(r"\(incarnation (\w+)\)", text)
            return found.group(1) if found and "rebuilt state" in text else None

        return wait_for(f"the launcher {self.name} to start", ready, timeout_s=60)

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.services.alive(self.name):
            self.services.kill(self.name, sig)


@contextmanager
def instead_of_the_session_launcher(services: Services) -> Iterator[None]:
    """The session's process launcher stopped meanwhile: a cluster launcher serves the same process
    training jobs, and its suite must know where its jobs ran."""
    services.kill("launcher", signal.SIGTERM)
    try:
        yield
    finally:
        services.start("launcher")


def received(store: S3ObjectStore, described: dict[str, Any]) -> dict[str, Any]:
    """What tests/integration/programs/trainer.py received (received.json in its model.tar.gz)."""
    artifact = store.get_bytes(described["ModelArtifacts"]["S3ModelArtifacts"])
    with tarfile.open(fileobj=io.BytesIO(artifact)) as tar:
        member = tar.extractfile("received.json")
        assert member is not None
        found: dict[str, Any] = json.loads(member.read())
        return found


def only_training_job(api: TunestreamClient, name: str, timeout_s: float = 90) -> dict[str, Any]:
    """The one training job of a tuning job, described once the tuning job has ended."""
    wait_until_ended(api, name, timeout_s=timeout_s)
    (summary,) = api.training_jobs(name)
    return api.describe_training_job(summary["TrainingJobName"])


def trainer_image_job(name: str, prefix: str, *, jobs: int, parallel: int, image: str, **static: str) -> dict[str, Any]:
    """A Random tuning job of `jobs` training jobs running `image` (deploy/images/trainer/train: 3 epochs
    of 0.2 s unless `static` says otherwise), output under s3://tunestream/<prefix>/<name>/; x is tuned."""
    return tuning_job(
        name,
        image=image,
        seed=5,
        jobs=jobs,
        parallel=parallel,
        ranges={"ContinuousParameterRanges": [continuous("x")]},
        static={"epochs": "3", "sleep": "0.2", **static},
        output=f"s3://tunestream/{prefix}/{name}/output",
    )


def first_training_job(api: TunestreamClient, name: str) -> str:
    return wait_for("the training job", lambda: next((j["TrainingJobName"] for j in api.training_jobs(name)), None))


def checkpointed_job(name: str, uri: str, *, epochs: int, retries: int) -> dict[str, Any]:
    """One trainer job of `epochs` half-second epochs that checkpoints under `uri` and may be retried."""
    job = trainer_job(name, jobs=1, parallel=1, epochs=str(epochs), sleep="0.5")
    job["TrainingJobDefinition"]["CheckpointConfig"] = {"S3Uri": uri}
    job["TrainingJobDefinition"]["RetryStrategy"] = {"MaximumRetryAttempts": retries}
    return job


def wait_for_checkpoint(store: S3ObjectStore, uri: str, training_job: str, at_least: int) -> None:
    def epoch() -> int:
        try:
            return int(store.get_bytes(f"{uri}/{training_job}/epoch").decode())
        except Exception:
            return 0

    wait_for(f"a checkpoint of epoch {at_least}", lambda: epoch() >= at_least, timeout_s=60)


def completed_after_one_lost_attempt(
    api: TunestreamClient, store: S3ObjectStore, name: str, training_job: str, reason: str, lost_at: float
) -> dict[str, Any]:
    """Once the tuning job has ended: its training job completed after one attempt lost for `reason`
    (a regex) from the checkpoint that attempt pushed; returns what the last attempt received."""
    describe = wait_until_ended(api, name, timeout_s=180)
    assert describe["HyperParameterTuningJobStatus"] == "Completed", describe
    final = api.describe_training_job(training_job)
    assert final["TrainingJobStatus"] == "Completed"
    (lost,) = final["FailedAttempts"]
    assert re.search(reason, lost["Reason"]), lost
    noticed_s = datetime.fromisoformat(lost["At"]).timestamp() - lost_at
    print(f"{lost['LauncherId']}: the lost node was noticed {noticed_s:.1f} s after it was killed")
    got = received(store, final)
    assert got["resumed_from_epoch"] >= 3
    log = api.logs(training_job)
    assert "resumed_from_epoch=0" in log and f"resumed_from_epoch={got['resumed_from_epoch']}" in log
    assert f"epoch={got['argv'][got['argv'].index('--epochs') + 1]} score=" in log
    return got
