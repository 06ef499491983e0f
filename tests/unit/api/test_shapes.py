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
