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


def status_transitions(row: dict[str, Any]) -> list[dict[str, Any]]:
    """SecondaryStatusTransitions from what the tracker keeps: waiting and starting until the program
    started, training until it ended, then the final status with its reason."""
    created, started, ended = row["created_at"], row["started_at"], row["ended_at"]
    transitions: list[dict[str, Any]] = [
        _drop_none(
            {
                "Status": "Starting",
                "StartTime": _time(created),
                "EndTime": _time(started or ended),
                "StatusMessage": "Waiting for a launcher slot and starting the training program",
            }
        )
    ]
    if started:
        transitions.append(
            _drop_none(
                {
                    "Status": "Training",
                    "StartTime": _time(started),
                    "EndTime": _time(ended),
                    "StatusMessage": "Training program is running",
                }
            )
        )
    if ended and row["secondary_status"] in ("Completed", "Failed", "Stopped", "MaxRuntimeExceeded"):
        message = row["failure_reason"] or row["stop_reason"] or "Training job completed"
        transitions.append(
            {
                "Status": row["secondary_status"],
                "StartTime": _time(ended),
                "EndTime": _time(ended),
                "StatusMessage": message,
            }
        )
    return transitions


def describe_training_job(
    row: dict[str, Any], tuning_row: dict[str, Any] | None, final_metrics: list[dict[str, Any]]
) -> dict[str, Any]:
    """DescribeTrainingJob, the fields tunestream knows."""
    request = (tuning_row or {}).get("request", {})
    definition = definition_of(request, row.get("definition_name"))
    seconds = None
    if row["started_at"] and row["ended_at"]:
        seconds = max(int((row["ended_at"] - row["started_at"]).total_seconds()), 0)
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
            "TrainingStartTime": _time(row["started_at"]),
            "TrainingEndTime": _time(row["ended_at"]),
            "LastModifiedTime": _time(row["last_modified_at"]),
            "TrainingTimeInSeconds": seconds,
            # No spot training here: the billable time is the training time, as SageMaker bills
            # on-demand training jobs.
            "BillableTimeInSeconds": seconds,
            "SecondaryStatusTransitions": status_transitions(row),
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
