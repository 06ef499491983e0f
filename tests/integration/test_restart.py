"""Every service survives kill -9 mid-job: the tuning job still ends, nothing is lost or run twice."""

from __future__ import annotations

import httpx
from sqlalchemy import Engine, select

from tests.integration.conftest import Services, trainer_job, training_processes, wait_until_ended
from tests.integration.test_tuning_job import read_topic
from tests.support.waiting import wait_for
from tunestream.client import TunestreamClient
from tunestream.config import Settings
from tunestream.db.tables import training_jobs
from tunestream.events.topics import Topics


def _api_up(settings: Settings) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{settings.api_port}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _finished(api: TunestreamClient, name: str) -> int:
    c = api.describe(name)["TrainingJobStatusCounters"]
    return int(c["Completed"] + c["NonRetryableError"] + c["Stopped"])


def test_kill_nine_each_service_mid_job(
    api: TunestreamClient, services: Services, settings: Settings, engine: Engine, run_id: str
) -> None:
    name = f"chaos-{run_id}"
    total = 10
    job = trainer_job(name, jobs=total, parallel=2, sleep="0.3")
    # The launcher's kill -9 interrupts the jobs it runs; they are retried, as SageMaker retries
    # InternalServerErrors under a RetryStrategy.
    job["TrainingJobDefinition"]["RetryStrategy"] = {"MaximumRetryAttempts": 2}
    api.create_tuning_job(job)
    kills = ["suggester", "tracker", "collector", "launcher", "api", "suggester", "collector"]
    for i, service in enumerate(kills):
        wait_for(
            f"progress before killing {service}",
            lambda i=i: (
                _finished(api, name) >= i + 1 or api.describe(name)["HyperParameterTuningJobStatus"] != "InProgress"
            ),
        )
        services.restart(service)
        if service == "api":
            wait_for("api back", lambda: _api_up(settings))
    describe = wait_until_ended(api, name, timeout_s=180)
    assert describe["HyperParameterTuningJobStatus"] == "Completed"

    # Exactly `total` training jobs, each proposed with one configuration, each finished once.
    topics = Topics(settings.topic_prefix)
    proposals = [
        e for e in read_topic(settings, topics.trials) if e.tuning_job_name == name and e.type == "TrainingJobProposed"
    ]
    by_index: dict[int, set[str]] = {}
    for e in proposals:
        by_index.setdefault(e.payload.spec.index, set()).add(e.payload.spec.model_dump_json())
    assert sorted(by_index) == list(range(total))
    assert all(len(specs) == 1 for specs in by_index.values())
    training = [e for e in read_topic(settings, topics.training) if e.tuning_job_name == name]
    started: dict[tuple[str, int], set[int]] = {}
    for e in training:
        if e.type == "TrainingJobStarted":
            started.setdefault((e.payload.training_job_name, e.payload.attempt), set()).add(e.payload.pid)
    assert all(len(pids) == 1 for pids in started.values()), "an attempt of a training job ran twice"
    lost = {e.payload.training_job_name: e.payload.attempt for e in training if e.type == "TrainingJobAttemptFailed"}
    for (job_name, attempt), _ in started.items():
        # A later attempt starts only after the earlier one was declared lost.
        assert attempt == 0 or lost.get(job_name, -1) >= attempt - 1
    finished = {e.payload.training_job_name for e in training if e.type == "TrainingJobFinished"}
    assert len(finished) == total

    counters = describe["TrainingJobStatusCounters"]
    assert counters["Completed"] == total and counters["InProgress"] == 0, counters
    with engine.connect() as conn:
        rows = conn.execute(
            select(training_jobs.c.status, training_jobs.c.failure_reason).where(
                training_jobs.c.tuning_job_name == name
            )
        ).all()
    assert len(rows) == total
    assert all(status == "Completed" for status, _ in rows), rows

    # No training process of this tuning job outlives it.
    assert training_processes(name) == []
