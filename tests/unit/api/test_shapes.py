"""DescribeTrainingJob's SecondaryStatusTransitions and billable time, from the tracker's row."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import botocore.session

from tunestream.api.shapes import describe_training_job, status_transitions

T0 = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def row(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": "tj-001-abcdef12",
        "arn": "arn:aws:sagemaker:us-east-1:000000000000:training-job/tj-001-abcdef12",
        "tuning_job_name": "tj",
        "status": "Completed",
        "secondary_status": "Completed",
        "failure_reason": None,
        "stop_reason": None,
        "hyperparameters": {"x": "1"},
        "model_artifact_s3_uri": None,
        "created_at": T0,
        "started_at": T0 + timedelta(seconds=2),
        "ended_at": T0 + timedelta(seconds=62.4),
        "last_modified_at": T0 + timedelta(seconds=63),
        "objective_status": None,
        "objective_reason": None,
        "stop_details": None,
        "proposal_reason": None,
        "proposal_details": None,
        "exit_code": 0,
        "launcher_id": "l",
        "log_s3_uri": None,
    }
    return {**base, **changes}


def test_a_completed_job_starts_trains_and_completes() -> None:
    steps = status_transitions(row())
    assert [s["Status"] for s in steps] == ["Starting", "Training", "Completed"]
    assert steps[0]["EndTime"] == steps[1]["StartTime"] == (T0 + timedelta(seconds=2)).isoformat()
    assert steps[2]["StatusMessage"] == "Training job completed"


def test_a_running_job_is_training_without_an_end_and_a_queued_one_is_starting() -> None:
    running = status_transitions(row(status="InProgress", secondary_status="Training", ended_at=None))
    assert [s["Status"] for s in running] == ["Starting", "Training"] and "EndTime" not in running[1]
    queued = status_transitions(row(status="InProgress", secondary_status="Starting", started_at=None, ended_at=None))
    assert queued == [
        {
            "Status": "Starting",
            "StartTime": T0.isoformat(),
            "StatusMessage": "Waiting for a launcher slot and starting the training program",
        }
    ]


def test_the_final_status_carries_the_reason() -> None:
    failed = status_transitions(row(status="Failed", secondary_status="Failed", failure_reason="AlgorithmError: x"))
    assert failed[-1] == {
        "Status": "Failed",
        "StartTime": (T0 + timedelta(seconds=62.4)).isoformat(),
        "EndTime": (T0 + timedelta(seconds=62.4)).isoformat(),
        "StatusMessage": "AlgorithmError: x",
    }
    stopped = status_transitions(row(status="Stopped", secondary_status="Stopped", stop_reason="early stopping"))
    assert stopped[-1]["StatusMessage"] == "early stopping"


def test_described_with_billable_time_and_transitions_in_botocores_shape() -> None:
    described = describe_training_job(row(), None, [])
    assert described["TrainingTimeInSeconds"] == described["BillableTimeInSeconds"] == 60
    model = botocore.session.get_session().get_service_model("sagemaker").operation_model("DescribeTrainingJob")
    shape = model.output_shape.members["SecondaryStatusTransitions"].member
    for step in described["SecondaryStatusTransitions"]:
        assert set(step) <= set(shape.members)
        assert step["Status"] in model.output_shape.members["SecondaryStatus"].enum


def spot_row() -> tuple[dict[str, Any], dict[str, Any]]:
    """A spot training job interrupted once: attempt 1 ran 2-22 s, capacity came back at 52 s, and
    attempt 2 ran until 82 s."""
    at = lambda s: (T0 + timedelta(seconds=s)).isoformat()  # noqa: E731
    job = row(
        started_at=T0 + timedelta(seconds=52),  # the row keeps the latest attempt's start
        ended_at=T0 + timedelta(seconds=82),
        attempt_starts=[{"Attempt": 1, "At": at(2)}, {"Attempt": 2, "At": at(52)}],
        attempts=[
            {
                "Attempt": 1,
                "LauncherId": "spot",
                "Reason": "InternalServerError: Slurm job 7 ended PREEMPTED",
                "At": at(22),
            }
        ],
    )
    tuning = {"request": {"TrainingJobDefinition": {"EnableManagedSpotTraining": True}}}
    return job, tuning


def test_a_spot_job_bills_the_time_its_attempts_ran_not_the_wait_for_capacity() -> None:
    job, tuning = spot_row()
    described = describe_training_job(job, tuning, [])
    assert described["TrainingStartTime"] == (T0 + timedelta(seconds=2)).isoformat()
    assert described["TrainingTimeInSeconds"] == 80
    assert described["BillableTimeInSeconds"] == 50  # 20 s + 30 s: the 30 s without capacity are not billed


def test_a_spot_interruption_shows_as_interrupted_in_botocores_statuses() -> None:
    job, tuning = spot_row()
    steps = describe_training_job(job, tuning, [])["SecondaryStatusTransitions"]
    assert [s["Status"] for s in steps] == ["Starting", "Training", "Interrupted", "Starting", "Training", "Completed"]
    assert "PREEMPTED" in steps[2]["StatusMessage"]
    assert steps[3]["StartTime"] == steps[2]["EndTime"] == (T0 + timedelta(seconds=22)).isoformat()
    model = botocore.session.get_session().get_service_model("sagemaker").operation_model("DescribeTrainingJob")
    statuses = model.output_shape.members["SecondaryStatus"].enum
    assert all(s["Status"] in statuses for s in steps) and "MaxWaitTimeExceeded" in statuses
