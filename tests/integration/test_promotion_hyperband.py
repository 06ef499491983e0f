"""Promotion Hyperband through the services, with the real MLP example: training jobs train to a
rung and pause; promoted ones resume from their checkpoint in S3 and continue the same curve."""

from __future__ import annotations

import sys
from typing import Any

import pytest

from tests.integration.conftest import PROGRAM, ROOT, Services, training_processes, wait_until_ended
from tests.support.jobs import continuous, tuning_job
from tests.support.waiting import wait_for
from tunestream.client import TunestreamClient
from tunestream.config import Settings
from tunestream.objstore.s3 import S3ObjectStore
from tunestream.replay.run import render, run_replay

METRIC = "validation:accuracy"


def promotion_job(name: str) -> dict[str, Any]:
    return tuning_job(
        name,
        command=[sys.executable, str(ROOT / "examples" / "mlp" / "train.py")],
        strategy="Hyperband",
        seed=5,
        jobs=14,
        objective=("Maximize", METRIC),
        ranges={
            "IntegerParameterRanges": [
                {"Name": "units", "MinValue": "8", "MaxValue": "32", "ScalingType": "Logarithmic"}
            ],
            "ContinuousParameterRanges": [continuous("learning_rate", "0.0001", "0.1", ScalingType="Logarithmic")],
        },
        # Pausing at the rungs only, so that each segment ends at its rung (the pause at a new best
        # has its own test below).
        strategy_config={
            "HyperbandStrategyConfig": {
                "MinResource": 1,
                "MaxResource": 9,
                "Promotion": "Enabled",
                "PauseAtNewBest": "Disabled",
            }
        },
        static={"epochs": "9", "batch_size": "200"},
        metrics=[{"Name": METRIC, "Regex": r"validation:accuracy=([0-9\.]+)"}],
        output="s3://tunestream/it/output",
        checkpoint_s3=f"s3://tunestream/it/checkpoints/{name}",
        max_runtime_s=120,
    )


def steps(api: TunestreamClient, training_job: str) -> list[int]:
    return sorted(m["Step"] for m in api.metrics(training_job)["Metrics"] if m["MetricName"] == METRIC)


def test_promotion_hyperband_pauses_training_jobs_and_resumes_them_from_their_checkpoints(
    api: TunestreamClient, run_id: str, store: S3ObjectStore
) -> None:
    name = f"promo-{run_id}"
    api.create_tuning_job(promotion_job(name))
    describe = wait_until_ended(api, name, timeout_s=300)
    assert describe["HyperParameterTuningJobStatus"] == "Completed"
    summaries = api.training_jobs(name)
    jobs = {j["TrainingJobName"]: api.describe_training_job(j["TrainingJobName"]) for j in summaries}
    assert len(jobs) == 14
    # The list names the job each resumed one continues, as Describe's ProposalDetails do.
    assert {j["TrainingJobName"]: j.get("ResumedFrom") for j in summaries} == {
        n: (d.get("ProposalDetails") or {}).get("resumes") for n, d in jobs.items()
    }
    resumed = {n: d for n, d in jobs.items() if (d.get("ProposalDetails") or {}).get("resumes")}
    fresh = {n: d for n, d in jobs.items() if n not in resumed}
    assert resumed, "no training job was resumed"
    for n, d in fresh.items():
        # Each new configuration trains to its first rung and pauses there: it exits by itself
        # (TUNESTREAM_RESOURCE_LIMIT), so it completes. The first three train to step 2 while the
        # cost of a start is measured; the rungs start where a rung's epochs take half a start.
        rung = d["ProposalDetails"]["rung"]
        assert d["TrainingJobStatus"] == "Completed" and steps(api, n) == list(range(1, rung + 1)), n
    sized = [d for d in fresh.values() if "start_s" in d["ProposalDetails"]]
    assert sized, "no proposal was sized from the measured start"
    for d in sized:
        costs = d["ProposalDetails"]
        assert costs["start_s"] > 0 and costs["step_s"] > 0, costs
        assert costs["rung"] * costs["step_s"] >= costs["start_s"] / 2 * 0.99 or costs["rung"] in (1, 9), costs
    for n, d in resumed.items():
        parent = d["ProposalDetails"]["resumes"]
        assert parent in jobs
        assert d["TrainingJobStatus"] == "Completed", d
        # The resumed job continues its parent's curve from the next epoch up to its rung: no epoch twice.
        assert steps(api, n) == list(range(max(steps(api, parent)) + 1, d["ProposalDetails"]["rung"] + 1))
        assert d["HyperParameters"] == jobs[parent]["HyperParameters"]
        assert f"resumes {parent}" in d["ProposalReason"]
    # Every training job's checkpoint is under its own prefix (a resumed one holds its parent's too).
    for n in jobs:
        assert store.list_keys(f"s3://tunestream/it/checkpoints/{name}/{n}/"), n
    assert training_processes(name) == []


def test_kill_nine_of_the_launcher_during_promotion_loses_no_training_job(
    api: TunestreamClient, services: Services, run_id: str
) -> None:
    name = f"promo-kill-{run_id}"
    job = promotion_job(name)
    # An interrupted attempt is retried; it resumes from its own checkpoint if it pushed one, else
    # from its parent's.
    job["TrainingJobDefinition"]["RetryStrategy"] = {"MaximumRetryAttempts": 3}
    api.create_tuning_job(job)
    for finished in (4, 8, 11):
        wait_for(
            f"{finished} training jobs ended",
            lambda n=finished: (
                sum(1 for j in api.training_jobs(name) if j["TrainingJobStatus"] in ("Completed", "Stopped", "Failed"))
                >= n
                or api.describe(name)["HyperParameterTuningJobStatus"] != "InProgress"
            ),
        )
        services.restart("launcher")
    describe = wait_until_ended(api, name, timeout_s=300)
    assert describe["HyperParameterTuningJobStatus"] == "Completed"
    jobs = {j["TrainingJobName"]: api.describe_training_job(j["TrainingJobName"]) for j in api.training_jobs(name)}
    assert len(jobs) == 14 and describe["TrainingJobStatusCounters"]["Completed"] == 14, describe
    resumed = [d for d in jobs.values() if (d.get("ProposalDetails") or {}).get("resumes")]
    assert resumed
    for n, d in jobs.items():
        # Whatever attempt finished it, each segment holds every step from where it started to its
        # rung once: a retry that restored a checkpoint of its own counted on from that checkpoint's step.
        parent = d["ProposalDetails"].get("resumes")
        first = max(steps(api, parent)) + 1 if parent else 1
        expected = list(range(first, d["ProposalDetails"]["rung"] + 1))
        assert steps(api, n) == expected, (n, steps(api, n), d.get("FailedAttempts"))
    assert training_processes(name) == []


def test_with_pausing_when_behind_a_job_ahead_goes_on_past_its_rung_and_one_behind_is_paused_by_a_stop(
    api: TunestreamClient, run_id: str
) -> None:
    name = f"promo-behind-{run_id}"
    job = promotion_job(name)
    # Rungs 1, 2, 4, 8, 9: this program's steps are so short against a start that the measured first
    # rung ("Auto") would be MaxResource, a ladder with nothing to pause at.
    job["HyperParameterTuningJobConfig"]["StrategyConfig"]["HyperbandStrategyConfig"].update(
        Pausing="WhenBehind", FirstRung="MinResource"
    )
    job["HyperParameterTuningJobConfig"]["ResourceLimits"]["MaxNumberOfTrainingJobs"] = 20
    # Wide layers, so that an epoch (about 0.1-0.3 s) outlasts the way of a stop from the objective's
    # line to the launcher: with 8-32 units all 9 epochs end before a pause at rung 1 arrives.
    job["HyperParameterTuningJobConfig"]["ParameterRanges"]["IntegerParameterRanges"] = [
        {"Name": "units", "MinValue": "256", "MaxValue": "1024", "ScalingType": "Logarithmic"}
    ]
    api.create_tuning_job(job)
    describe = wait_until_ended(api, name, timeout_s=300)
    assert describe["HyperParameterTuningJobStatus"] == "Completed"
    jobs = {j["TrainingJobName"]: api.describe_training_job(j["TrainingJobName"]) for j in api.training_jobs(name)}
    assert len(jobs) == 20
    paused = {n: d for n, d in jobs.items() if d["TrainingJobStatus"] == "Stopped"}
    assert paused, {
        n: (d["TrainingJobStatus"], steps(api, n), d.get("ProposalDetails"), d.get("EarlyStoppingReason"))
        for n, d in jobs.items()
    }
    for d in paused.values():
        assert d["EarlyStopping"]["Rule"] == "pause" and "paused at rung" in d["StopReason"], d
    # A paused job is resumed once enough configurations reached its rung behind it, and only if its
    # stop came before its last step (the stop races the program here), so a run may resume none;
    # the unit and bench tests pin when one is due, the first test here how a resume trains on.
    resumed = {n: d for n, d in jobs.items() if (d.get("ProposalDetails") or {}).get("resumes")}
    for n, d in resumed.items():
        # Resumed for MaxResource, from the step its parent's last checkpoint holds: no epoch twice.
        parent = d["ProposalDetails"]["resumes"]
        assert steps(api, n)[0] == max(steps(api, parent)) + 1, (n, steps(api, n), steps(api, parent))
        assert d["ProposalDetails"]["rung"] == 9
    # Every new configuration is started for MaxResource, and some training job, new or resumed,
    # trained across a rung below MaxResource without being paused there (it went on, to
    # MaxResource or to a later rung's pause): pausing at every rung would have made it two
    # training jobs. A stop races the program, so a job paused at rung r may report past r; its
    # StopReason names r, and it does not count for r.
    fresh = {n: d for n, d in jobs.items() if n not in resumed}
    assert all(d["ProposalDetails"]["rung"] == 1 for d in fresh.values())

    def crossed_without_pause(n: str, d: dict[str, Any]) -> list[int]:
        trained = steps(api, n)
        reason = d.get("StopReason") or ""
        return [r for r in (1, 2, 4, 8) if r in trained and max(trained) > r and f"paused at rung {r} " not in reason]

    went_on = [n for n, d in jobs.items() if crossed_without_pause(n, d)]
    assert went_on, {n: (d["TrainingJobStatus"], d.get("StopReason"), steps(api, n)) for n, d in jobs.items()}
    assert training_processes(name) == []


def test_with_pause_at_new_best_a_job_pauses_between_rungs_on_a_new_best_and_resumes_to_its_rung(
    api: TunestreamClient, run_id: str, settings: Settings
) -> None:
    name = f"promo-best-{run_id}"
    # tests/integration/programs/trainer.py: score = 1 - (x - 0.3)^2 - 0.1 / epoch, rising every
    # epoch, one epoch a second, so that the steps left to a rung outlast two starts. Rungs 2, 4, 8, 16.
    job = tuning_job(
        name,
        command=[sys.executable, PROGRAM],
        strategy="Hyperband",
        seed=3,
        jobs=20,
        ranges={"ContinuousParameterRanges": [continuous("x")]},
        strategy_config={
            "HyperbandStrategyConfig": {
                "MinResource": 2,
                "MaxResource": 16,
                "Promotion": "Enabled",
                "FirstRung": "MinResource",
                "Proposals": "Random",
                # PauseAtNewBest is left out: it is on by default with promotion.
            }
        },
        static={"epochs": "16", "sleep": "1.0"},
        output="s3://tunestream/it/output",
        checkpoint_s3=f"s3://tunestream/it/checkpoints/{name}",
        max_runtime_s=120,
    )
    api.create_tuning_job(job)
    describe = wait_until_ended(api, name, timeout_s=400)
    assert describe["HyperParameterTuningJobStatus"] == "Completed"
    summaries = {j["TrainingJobName"]: j for j in api.training_jobs(name)}
    jobs = {n: api.describe_training_job(n) for n in summaries}
    trained = {n: sorted(m["Step"] for m in api.metrics(n)["Metrics"] if m["MetricName"] == "score") for n in jobs}
    # A stop races the program: one decided a step before the rung may arrive after the program
    # reached it, and that job ends there as any other. The ones it stopped short are checked.
    at_best = {
        n: d
        for n, d in jobs.items()
        if (d.get("EarlyStopping") or {}).get("Rule") == "new-best"
        and d["TrainingJobStatus"] == "Stopped"
        and max(trained[n]) < d["ProposalDetails"]["rung"]
    }
    assert at_best, {n: (d["TrainingJobStatus"], d.get("StopReason"), trained[n]) for n, d in jobs.items()}
    resumers = {(d.get("ProposalDetails") or {}).get("resumes"): n for n, d in jobs.items()}
    for n, d in at_best.items():
        rung = d["ProposalDetails"]["rung"]
        assert "beats every ended training job" in d["StopReason"], d
        # Paused short of its rung, with the value it paused at as its objective (the unit tests pin
        # that it beat every ended one when the stop was decided) ...
        scores = {m["Step"]: m["Value"] for m in api.metrics(n)["Metrics"] if m["MetricName"] == "score"}
        last = [scores[max(trained[n])]]
        objective = summaries[n]["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
        assert objective == pytest.approx(last[0]), (summaries[n], last)
        # ... and resumed to that same rung from the step its checkpoint holds.
        assert n in resumers, (n, resumers, {m: (e["TrainingJobStatus"], trained[m]) for m, e in jobs.items()})
        resumed = jobs[resumers[n]]
        assert resumed["ProposalDetails"]["rung"] == rung and "paused there on a new best" in resumed["ProposalReason"]
        assert trained[resumers[n]][0] == max(trained[n]) + 1, (trained[n], trained[resumers[n]])
        assert resumed["HyperParameters"]["x"] == d["HyperParameters"]["x"]
    assert training_processes(name) == []
    # Its decisions depend on when reports came (a start against the steps left): replay re-derives
    # every one of them from the recorded events, pauses at a new best included.
    wait_for(
        "the last training job's end to be written",
        lambda: all(j.get("TrainingEndTime") for j in api.training_jobs(name)),
    )
    report = run_replay(settings, name)
    assert report["differences"] == 0, "\n".join(render(report))
    assert report["components"]["suggester"]["decisions"].get("stops:new-best", 0) >= len(at_best)
