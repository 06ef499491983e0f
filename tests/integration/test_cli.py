"""The `tunestream` command against the running services."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.integration.conftest import ROOT, trainer_job, wait_until_ended
from tests.support.waiting import wait_for
from tunestream.config import Settings


def tunestream(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TUNESTREAM_API_URL": f"http://127.0.0.1:{settings.api_port}", "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "tunestream.cli.main", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_tune_wait_describe_list_logs(api: Any, settings: Settings, tmp_path: Path, run_id: str) -> None:
    name = f"cli-{run_id}"
    job_file = tmp_path / "job.json"
    job = trainer_job("ignored-name", jobs=3, parallel=2)
    job["TrainingJobDefinition"]["VpcConfig"] = {"Subnets": ["subnet-1"], "SecurityGroupIds": ["sg-1"]}
    job_file.write_text(json.dumps(job))

    tuned = tunestream(settings, "tune", str(job_file), "--name", name, "--wait")
    assert tuned.returncode == 0, tuned.stdout + tuned.stderr
    assert "3/3 training jobs" in tuned.stdout
    assert "best training job:" in tuned.stdout and f"s3://tunestream/logs/{name}/" in tuned.stdout

    described = tunestream(settings, "describe", name, "--json")
    body = json.loads(described.stdout)
    assert body["HyperParameterTuningJobStatus"] == "Completed"
    assert body["InertMembers"] == ["TrainingJobDefinition.VpcConfig"]
    best = body["BestTrainingJob"]["TrainingJobName"]
    plain = tunestream(settings, "describe", name)
    assert plain.returncode == 0 and "no effect here" in plain.stdout
    assert "    TrainingJobDefinition.VpcConfig" in plain.stdout

    listed = tunestream(
        settings, "training-jobs", name, "--sort-by", "FinalObjectiveMetricValue", "--sort-order", "Descending"
    )
    assert listed.returncode == 0 and listed.stdout.index(best.rsplit("-", 2)[-2]) > 0

    logs = tunestream(settings, "logs", best)
    assert "epoch=3 score=" in logs.stdout

    again = tunestream(settings, "tune", str(job_file), "--name", name)
    assert again.returncode == 1 and "already exists" in again.stdout


def test_invalid_job_prints_field_and_rule(api: Any, settings: Settings, tmp_path: Path) -> None:
    job = trainer_job("cli-bad")
    job["HyperParameterTuningJobConfig"]["ResourceLimits"]["MaxParallelTrainingJobs"] = 50
    job_file = tmp_path / "bad.json"
    job_file.write_text(json.dumps(job))
    result = tunestream(settings, "tune", str(job_file))
    assert result.returncode == 1
    assert "HyperParameterTuningJobConfig.ResourceLimits.MaxParallelTrainingJobs" in result.stdout
    assert "parallel<=max" in result.stdout


def test_status_shows_the_api_and_its_dependencies(api: Any, settings: Settings) -> None:
    shown = tunestream(settings, "status")
    assert f"api (http://127.0.0.1:{settings.api_port}): ready" in shown.stdout, shown.stdout + shown.stderr
    for dependency in ("postgresql", "kafka", "s3"):
        assert any(line.split()[:2] == [dependency, "ok"] for line in shown.stdout.splitlines()), shown.stdout


def test_stop_one_training_job_from_the_cli(api: Any, settings: Settings, run_id: str) -> None:
    name = f"clistop-{run_id}"
    api.create_tuning_job(trainer_job(name, jobs=2, parallel=1, mode="hang"))
    first = wait_for(
        "a running training job",
        lambda: [j["TrainingJobName"] for j in api.training_jobs(name) if j["TrainingJobStatus"] == "InProgress"],
    )[0]
    shown = tunestream(settings, "stop-training-job", first)
    assert shown.returncode == 0 and f"stopping training job {first}" in shown.stdout, shown.stdout + shown.stderr
    wait_for("Stopped", lambda: api.describe_training_job(first)["TrainingJobStatus"] == "Stopped")
    # The tuning job went on: its second training job runs in the freed slot.
    wait_for("the second training job", lambda: len(api.all_training_jobs(NameContains=name)) == 2)
    again = tunestream(settings, "stop-training-job", first)
    assert again.returncode == 1 and "already ended" in again.stdout
    api.stop(name)
    wait_until_ended(api, name, timeout_s=60)
