"""Hyperband through the services: some training jobs are stopped at a rung, with the reason visible."""

from __future__ import annotations

from tests.integration.conftest import trainer_job, training_processes, wait_until_ended
from tunestream.client import TunestreamClient


def test_hyperband_stops_some_training_jobs_early(api: TunestreamClient, run_id: str) -> None:
    name = f"hb-{run_id}"
    job = trainer_job(name, jobs=15, parallel=3, epochs="9", sleep="0.15")
    job["HyperParameterTuningJobConfig"]["Strategy"] = "Hyperband"
    job["HyperParameterTuningJobConfig"]["StrategyConfig"] = {"HyperbandStrategyConfig": {"MinResource": 1}}
    api.create_tuning_job(job)
    describe = wait_until_ended(api, name, timeout_s=180)
    assert describe["HyperParameterTuningJobStatus"] == "Completed"
    jobs = api.training_jobs(name)
    stopped = [j for j in jobs if j["TrainingJobStatus"] == "Stopped"]
    assert stopped, "no training job was stopped early"
    assert describe["TrainingJobStatusCounters"]["Stopped"] == len(stopped)
    for j in stopped:
        assert (
            j["EarlyStoppingReason"].startswith("hyperband: bracket 0")
            or "hyperband: bracket 1" in j["EarlyStoppingReason"]
        )
        detail = api.describe_training_job(j["TrainingJobName"])
        assert detail["EarlyStopping"]["Rule"] == "hyperband"
        assert detail["EarlyStopping"]["Value"] < detail["EarlyStopping"]["Cutoff"]
        # Stopped jobs keep the last objective they reported.
        assert (
            j["ObjectiveStatus"] == "Succeeded"
            and j["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] is not None
        )
        metrics = api.metrics(j["TrainingJobName"])["Metrics"]
        assert max(m["Step"] for m in metrics) < 9
    completed = [j for j in jobs if j["TrainingJobStatus"] == "Completed"]
    assert completed and all(len(api.metrics(j["TrainingJobName"])["Metrics"]) == 9 for j in completed)
    assert training_processes(name) == []


def test_target_objective_completes_the_tuning_job_early(api: TunestreamClient, run_id: str) -> None:
    name = f"target-{run_id}"
    job = trainer_job(name, jobs=30, parallel=2, sleep="0.05")
    # trainer.py's final score is 1 - (x - 0.3)^2 - 0.1/3, so about a third of random x reach 0.9.
    job["HyperParameterTuningJobConfig"]["TuningJobCompletionCriteria"] = {"TargetObjectiveMetricValue": 0.9}
    api.create_tuning_job(job)
    describe = wait_until_ended(api, name, timeout_s=120)
    assert describe["HyperParameterTuningJobStatus"] == "Completed"
    assert describe["CompletionReason"].startswith("TargetObjectiveMetricValue 0.9 reached by ")
    assert "NumberOfTrainingJobsObjectiveNotImproving" in describe["TuningJobCompletionDetails"]
    assert describe["BestTrainingJob"]["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] >= 0.9
    assert len(api.training_jobs(name)) < 30
