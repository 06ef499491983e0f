"""WarmStartConfig at submission: check the parents and gather their results for the suggester."""

from __future__ import annotations

from sqlalchemy import Connection

from tunestream.db import reads
from tunestream.definitions import CreateTuningJobRequest
from tunestream.events.v1 import WarmStartObservation
from tunestream.trials import TERMINAL_STATUSES
from tunestream.validation import FieldError, InvalidTuningJob


def parent_observations(
    conn: Connection, request: CreateTuningJobRequest, owner: str | None = None
) -> list[WarmStartObservation]:
    """Every parent must exist, have ended, and optimise the same objective metric the same way; with
    `owner` (a member creating the job), it must also be that principal's, or it is as if it did not exist."""
    warm = request.WarmStartConfig
    if warm is None:
        return []
    objective = request.HyperParameterTuningJobConfig.HyperParameterTuningJobObjective
    errors: list[FieldError] = []
    names = []
    for i, parent in enumerate(warm.ParentHyperParameterTuningJobs):
        path = f"WarmStartConfig.ParentHyperParameterTuningJobs[{i}].HyperParameterTuningJobName"
        name = parent.HyperParameterTuningJobName
        row = reads.get_tuning_job(conn, name)
        if row is None or row["standalone_training_job"] or (owner is not None and row["owner"] != owner):
            errors.append(FieldError(path, "parent-exists", f"tuning job {name!r} does not exist"))
            continue
        if row["status"] not in TERMINAL_STATUSES:
            errors.append(
                FieldError(path, "parent-ended", f"tuning job {name!r} is {row['status']}; parents must have ended")
            )
            continue
        theirs = row["request"]["HyperParameterTuningJobConfig"].get("HyperParameterTuningJobObjective") or {}
        if objective is not None and (theirs.get("MetricName"), theirs.get("Type")) != (
            objective.MetricName,
            objective.Type,
        ):
            errors.append(
                FieldError(
                    path,
                    "same-objective",
                    f"tuning job {name!r} optimises {theirs.get('Type')} {theirs.get('MetricName')!r}, "
                    f"not {objective.Type} {objective.MetricName!r}",
                )
            )
            continue
        names.append(name)
    if errors:
        raise InvalidTuningJob(errors)
    return [
        WarmStartObservation(
            tuning_job_name=r["tuning_job_name"],
            training_job_name=r["name"],
            tuned_hyperparameters=r["tuned_hyperparameters"] or {},
            objective=r["final_objective_value"],
            definition_name=r["definition_name"],
        )
        for r in reads.succeeded_training_jobs(conn, names)
    ]
