"""Rows of the read model -> SageMaker's response shapes (Describe*, List* summaries)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tunestream.naming import standalone_tuning_job_name, tuning_job_arn
from tunestream.request_members import inert_members


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


def objective_of(request: dict[str, Any], definition_name: str | None = None) -> dict[str, str]:
    """The objective a training job reports: its definition's TuningObjective with several, else the
    tuning job's."""
    own = definition_of(request, definition_name).get("TuningObjective") if definition_name else None
    return dict(own or request["HyperParameterTuningJobConfig"].get("HyperParameterTuningJobObjective") or {})


def definition_of(request: dict[str, Any], definition_name: str | None) -> dict[str, Any]:
    """The TrainingJobDefinition a training job ran, as the request gave it."""
    for definition in request.get("TrainingJobDefinitions") or []:
        if definition.get("DefinitionName") == definition_name:
            return dict(definition)
    return request.get("TrainingJobDefinition") or {}


def tuning_job_of(row: dict[str, Any]) -> str | None:
    """The tuning job a training job's row belongs to; None for one created alone (CreateTrainingJob),
    whose carrier is no tuning job of the user's."""
    name = row["tuning_job_name"]
    return None if name == standalone_tuning_job_name(row["name"]) else str(name)


def all_training_jobs_summary(row: dict[str, Any]) -> dict[str, Any]:
    """TrainingJobSummary (ListTrainingJobs), plus the tuning job it belongs to."""
    return _drop_none(
        {
            "TrainingJobName": row["name"],
            "TrainingJobArn": row["arn"],
            "TuningJobName": tuning_job_of(row),
            "CreationTime": _time(row["created_at"]),
            "TrainingEndTime": _time(row["ended_at"]),
            "LastModifiedTime": _time(row["last_modified_at"]),
            "TrainingJobStatus": row["status"],
            "SecondaryStatus": row["secondary_status"],
        }
    )


def training_job_summary(row: dict[str, Any], objective: dict[str, str]) -> dict[str, Any]:
    """HyperParameterTrainingJobSummary."""
    metric = None
    if row["final_objective_value"] is not None:
        metric = {
            "Type": objective.get("Type"),
            "MetricName": objective.get("MetricName"),
            "Value": row["final_objective_value"],
        }
    return _drop_none(
        {
            "TrainingJobName": row["name"],
            "TrainingJobArn": row["arn"],
            "TuningJobName": row["tuning_job_name"],
            "TrainingJobDefinitionName": row.get("definition_name"),
            "CreationTime": _time(row["created_at"]),
            "TrainingStartTime": _time(row["started_at"]),
            "TrainingEndTime": _time(row["ended_at"]),
            "TrainingJobStatus": row["status"],
            "TunedHyperParameters": row["tuned_hyperparameters"] or {},
            "FailureReason": row["failure_reason"],
            "FinalHyperParameterTuningJobObjectiveMetric": metric,
            "ObjectiveStatus": row["objective_status"],
            "ObjectiveStatusReason": row["objective_reason"],
            "EarlyStoppingReason": row["stop_details"] and row["stop_reason"],
            # Promotion Hyperband: the paused training job this one resumed from its checkpoint.
            "ResumedFrom": (row.get("proposal_details") or {}).get("resumes"),
        }
    )


def tuning_job_summary(row: dict[str, Any], counts: dict[str, int], objectives: dict[str, int]) -> dict[str, Any]:
    """HyperParameterTuningJobSummary."""
    limits = row["request"]["HyperParameterTuningJobConfig"]["ResourceLimits"]
    return _drop_none(
        {
            "HyperParameterTuningJobName": row["name"],
            "HyperParameterTuningJobArn": row["arn"],
            "HyperParameterTuningJobStatus": row["status"],
            "Strategy": row["strategy"],
            "CreationTime": _time(row["created_at"]),
            "HyperParameterTuningEndTime": _time(row["ended_at"]),
            "LastModifiedTime": _time(row["last_modified_at"]),
            "TrainingJobStatusCounters": status_counters(counts),
            "ObjectiveStatusCounters": objective_counters(objectives),
            "ResourceLimits": limits,
        }
    )


def status_counters(counts: dict[str, int]) -> dict[str, int]:
    return {
        "Completed": counts.get("Completed", 0),
        "InProgress": counts.get("InProgress", 0) + counts.get("Stopping", 0),
        "RetryableError": counts.get("FailedRetryable", 0),
        "NonRetryableError": counts.get("Failed", 0),
        "Stopped": counts.get("Stopped", 0),
    }


def objective_counters(objectives: dict[str, int]) -> dict[str, int]:
    return {k: objectives.get(k, 0) for k in ("Succeeded", "Pending", "Failed")}


def describe_tuning_job(
    row: dict[str, Any],
    counts: dict[str, int],
    objectives: dict[str, int],
    best: dict[str, Any] | None,
    overall_best: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """DescribeHyperParameterTuningJob. With Autotune, the configuration as Autotune completed it
    (as SageMaker shows it), and what it chose."""
    request = row["request"]
    objective = objective_of(request)
    autotune = request.get("Autotune") or {}
    return _drop_none(
        {
            "HyperParameterTuningJobName": row["name"],
            "HyperParameterTuningJobArn": tuning_job_arn(row["name"]),
            "HyperParameterTuningJobConfig": {
                **request["HyperParameterTuningJobConfig"],
                "RandomSeed": row["random_seed"],
            },
            "TrainingJobDefinition": request.get("TrainingJobDefinition"),
            "TrainingJobDefinitions": request.get("TrainingJobDefinitions"),
            "Autotune": {"Mode": autotune["Mode"]} if autotune else None,
            # tunestream's: the members Autotune set, by path (not in botocore's model).
            "AutotuneChoices": autotune.get("Choices"),
            "HyperParameterTuningJobStatus": row["status"],
            "CreationTime": _time(row["created_at"]),
            "HyperParameterTuningEndTime": _time(row["ended_at"]),
            "LastModifiedTime": _time(row["last_modified_at"]),
            "TrainingJobStatusCounters": status_counters(counts),
            "ObjectiveStatusCounters": objective_counters(objectives),
            "BestTrainingJob": training_job_summary(best, objective_of(request, best.get("definition_name")))
            if best
            else None,
            "OverallBestTrainingJob": training_job_summary(overall_best, objective) if overall_best else None,
            "WarmStartConfig": request.get("WarmStartConfig"),
            "FailureReason": row["failure_reason"],
            "CompletionReason": row["completion_reason"],
            "TuningJobCompletionDetails": row["completion_details"],
            # AWS-only plumbing the job was given (VpcConfig, KmsKeyId...): echoed above as SageMaker
            # does, and named here because none of it has an effect. Not in botocore's model, so the
            # JSON 1.1 answer leaves it out.
            "InertMembers": inert_members(request),
        }
    )


# The secondary statuses a training job ends in, shown as its last transition.
FINAL_SECONDARY_STATUSES = ("Completed", "Failed", "Stopped", "MaxRuntimeExceeded", "MaxWaitTimeExceeded")


def _final_transition(row: dict[str, Any]) -> list[dict[str, Any]]:
    ended = row["ended_at"]
    if not ended or row["secondary_status"] not in FINAL_SECONDARY_STATUSES:
        return []
    message = row["failure_reason"] or row["stop_reason"] or "Training job completed"
    return [_transition(row["secondary_status"], ended, ended, message)]


WAITING_FOR_A_SLOT = "Waiting for a launcher slot and starting the training program"


def _transition(status: str, start: datetime, end: datetime | None, message: str) -> dict[str, Any]:
    """One SecondaryStatusTransition; one still going has no EndTime."""
    return _drop_none({"Status": status, "StartTime": _time(start), "EndTime": _time(end), "StatusMessage": message})


def status_transitions(row: dict[str, Any]) -> list[dict[str, Any]]:
    """SecondaryStatusTransitions from what the tracker keeps: waiting and starting until the program
    started, training until it ended, then the final status with its reason."""
    created, started, ended = row["created_at"], row["started_at"], row["ended_at"]
    transitions = [_transition("Starting", created, started or ended, WAITING_FOR_A_SLOT)]
    if started:
        transitions.append(_transition("Training", started, ended, "Training program is running"))
    return transitions + _final_transition(row)


def _attempt_times(row: dict[str, Any]) -> list[tuple[int, datetime, datetime | None, str | None]]:
    """Each attempt that started: (its number, its start, its end, why it ended when it was lost);
    the last one ends with the training job."""
    starts = {e["Attempt"]: datetime.fromisoformat(e["At"]) for e in row.get("attempt_starts") or []}
    lost = {e["Attempt"]: (datetime.fromisoformat(e["At"]), e["Reason"]) for e in row.get("attempts") or []}
    return [
        (n, start, lost[n][0] if n in lost else row["ended_at"], lost[n][1] if n in lost else None)
        for n, start in sorted(starts.items())
    ]


def spot_times(row: dict[str, Any]) -> tuple[datetime | None, int | None, int | None]:
    """A managed spot training job's TrainingStartTime (its first attempt's start), its
    TrainingTimeInSeconds (from there to its end, waits for capacity included) and its
    BillableTimeInSeconds (the time its attempts ran: capacity it waited for is not billed)."""
    attempts = _attempt_times(row)
    if not attempts:
        return row["started_at"], None, None
    first, ended = attempts[0][1], row["ended_at"]
    if ended is None:
        return first, None, None
    billable = sum(max((end - start).total_seconds(), 0.0) for _, start, end, _ in attempts if end is not None)
    return first, max(int((ended - first).total_seconds()), 0), int(billable)


def spot_transitions(row: dict[str, Any]) -> list[dict[str, Any]]:
    """SecondaryStatusTransitions of a managed spot training job: starting and training for each
    attempt, Interrupted between them (as SageMaker shows a spot interruption), then its end."""
    transitions: list[dict[str, Any]] = []
    waiting_since = row["created_at"]
    for number, start, end, lost in _attempt_times(row):
        waiting = "Waiting for spot capacity and starting the training program" if number > 1 else WAITING_FOR_A_SLOT
        transitions.append(_transition("Starting", waiting_since, start, waiting))
        transitions.append(_transition("Training", start, end, f"Training program is running (attempt {number})"))
        if lost is not None and end is not None:
            transitions.append(_transition("Interrupted", end, end, lost))
            waiting_since = end
    if not transitions:
        return status_transitions(row)
    return transitions + _final_transition(row)


def describe_training_job(
    row: dict[str, Any], tuning_row: dict[str, Any] | None, final_metrics: list[dict[str, Any]]
) -> dict[str, Any]:
    """DescribeTrainingJob, the fields tunestream knows."""
    request = (tuning_row or {}).get("request", {})
    definition = definition_of(request, row.get("definition_name"))
    seconds = None
    if row["started_at"] and row["ended_at"]:
        seconds = max(int((row["ended_at"] - row["started_at"]).total_seconds()), 0)
    spot = bool(definition.get("EnableManagedSpotTraining"))
    started, billable, transitions = row["started_at"], seconds, None
    if spot:
        started, seconds, billable = spot_times(row)
        transitions = spot_transitions(row)
    alone = tuning_job_of(row) is None  # CreateTrainingJob: no objective, no strategy's proposal
    return _drop_none(
        {
            "TrainingJobName": row["name"],
            "TrainingJobArn": row["arn"],
            "TuningJobArn": tuning_job_arn(tuning) if (tuning := tuning_job_of(row)) else None,
            "TrainingJobStatus": row["status"],
            "SecondaryStatus": row["secondary_status"],
            "FailureReason": row["failure_reason"],
            "HyperParameters": row["hyperparameters"],
            "AlgorithmSpecification": definition.get("AlgorithmSpecification"),
            "RoleArn": definition.get("RoleArn"),
            "InputDataConfig": definition.get("InputDataConfig") or None,
            "OutputDataConfig": definition.get("OutputDataConfig"),
            "Environment": definition.get("Environment") or None,
            "VpcConfig": definition.get("VpcConfig"),
            "EnableNetworkIsolation": definition.get("EnableNetworkIsolation"),
            "EnableInterContainerTrafficEncryption": definition.get("EnableInterContainerTrafficEncryption"),
            "EnableManagedSpotTraining": definition.get("EnableManagedSpotTraining"),
            "StoppingCondition": definition.get("StoppingCondition"),
            "ModelArtifacts": {"S3ModelArtifacts": row["model_artifact_s3_uri"]}
            if row["model_artifact_s3_uri"]
            else None,
            "CreationTime": _time(row["created_at"]),
            "TrainingStartTime": _time(started),
            "TrainingEndTime": _time(row["ended_at"]),
            "LastModifiedTime": _time(row["last_modified_at"]),
            "TrainingTimeInSeconds": seconds,
            # On-demand: the training time, as SageMaker bills it. Managed spot: only the time its
            # attempts ran (tunestream knows no prices, so the saving shown is the time not held).
            "BillableTimeInSeconds": billable,
            "SecondaryStatusTransitions": transitions if transitions is not None else status_transitions(row),
            "FinalMetricDataList": [
                {"MetricName": m["metric_name"], "Value": m["value"], "Timestamp": _time(m["at"])}
                for m in final_metrics
            ],
            "ObjectiveStatus": None if alone else row["objective_status"],
            "ObjectiveStatusReason": None if alone else row["objective_reason"],
            "StopReason": row["stop_reason"],
            "EarlyStopping": row["stop_details"],
            "ProposalReason": None if alone else row["proposal_reason"],
            "ProposalDetails": None if alone else (row["proposal_details"] or None),
            "ResourceConfig": definition.get("ResourceConfig"),
            "CheckpointConfig": definition.get("CheckpointConfig"),
            "RetryStrategy": definition.get("RetryStrategy"),
            "ExitCode": row["exit_code"],
            "LauncherId": row["launcher_id"],
            "Gpus": row.get("gpus") or None,
            "RetryableFailure": row.get("retryable") or None,
            "FailedAttempts": row.get("attempts") or None,
            "LogUri": row["log_s3_uri"],
            # As in DescribeHyperParameterTuningJob: the echoed members above that had no effect.
            "InertMembers": (tuning_row or {}).get("standalone_inert_members")
            if alone
            else (inert_members(request) if request else None),
        }
    )
