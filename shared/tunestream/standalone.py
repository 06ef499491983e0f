"""A training job outside any tuning job (CreateTrainingJob), carried as a tuning job of one.

The services know tuning jobs: their events, topics' keys, state and read model are the tuning job's.
A training job created alone travels through them as a hidden tuning job (its name derived from the
training job's: tunestream.naming.standalone_tuning_job_name) whose one training job has the name
the user gave and the hyperparameters as its static ones, and no objective: it runs, its metrics are
collected, and it ends as its program does. The api never lists or describes the tuning job itself.
"""

from __future__ import annotations

from collections.abc import Sequence

from tunestream.definitions import (
    AlgorithmSpecificationShape,
    CreateTrainingJobRequest,
    CreateTuningJobRequest,
    HyperParameterTuningJobConfigShape,
    ResourceLimitsShape,
    TrainingJobDefinitionShape,
)
from tunestream.field_errors import FieldError, InvalidTuningJob
from tunestream.naming import standalone_tuning_job_name
from tunestream.request_members import training_refusals
from tunestream.space import SearchSpace
from tunestream.trials import Proposal, TrainingJobRecord
from tunestream.validation import check_definition

# The carrier's strategy: it proposes nothing (the suggester runs the one training job itself), but
# a stored request names one, and Random reads nothing it lacks.
CARRIER_STRATEGY = "Random"
_TRAINING_ONLY = {"TrainingImageConfig"}


def as_tuning_job(request: CreateTrainingJobRequest) -> CreateTuningJobRequest:
    """The hidden tuning job of one that carries `request` through the services."""
    algorithm = request.AlgorithmSpecification.model_dump(exclude_unset=True, exclude=_TRAINING_ONLY)
    definition = TrainingJobDefinitionShape(
        StaticHyperParameters=request.HyperParameters,
        AlgorithmSpecification=AlgorithmSpecificationShape.model_validate(algorithm),
        RoleArn=request.RoleArn,
        InputDataConfig=request.InputDataConfig,
        OutputDataConfig=request.OutputDataConfig,
        ResourceConfig=request.ResourceConfig,
        StoppingCondition=request.StoppingCondition,
        Environment=request.Environment,
        CheckpointConfig=request.CheckpointConfig,
        RetryStrategy=request.RetryStrategy,
        VpcConfig=request.VpcConfig,
        EnableNetworkIsolation=request.EnableNetworkIsolation,
        EnableInterContainerTrafficEncryption=request.EnableInterContainerTrafficEncryption,
        EnableManagedSpotTraining=request.EnableManagedSpotTraining,
    )
    config = HyperParameterTuningJobConfigShape(
        Strategy=CARRIER_STRATEGY,
        ResourceLimits=ResourceLimitsShape(MaxNumberOfTrainingJobs=1, MaxParallelTrainingJobs=1),
    )
    return CreateTuningJobRequest(
        HyperParameterTuningJobName=standalone_tuning_job_name(request.TrainingJobName),
        HyperParameterTuningJobConfig=config,
        TrainingJobDefinition=definition,
        Tags=request.Tags,  # the carrier's row puts them on the training job (db.writes.insert_tuning_job)
    )


def validate_training_job(request: CreateTrainingJobRequest) -> CreateTuningJobRequest:
    """The carrier of a valid request; else InvalidTuningJob with every broken rule, each named by
    its CreateTrainingJob path (HyperParameters, not StaticHyperParameters)."""
    carrier = as_tuning_job(request)
    assert carrier.TrainingJobDefinition is not None
    errors: list[FieldError] = []
    check_definition(carrier.TrainingJobDefinition, None, SearchSpace(()), errors)
    errors = [_training_path(e) for e in errors]
    named = {e.field for e in errors}
    errors.extend(e for e in training_refusals(request.model_dump(exclude_none=True)) if e.field not in named)
    if errors:
        raise InvalidTuningJob(errors)
    return carrier


def _training_path(error: FieldError) -> FieldError:
    field = error.field.removeprefix("TrainingJobDefinition.")
    if field.startswith("StaticHyperParameters"):
        field = "HyperParameters" + field.removeprefix("StaticHyperParameters")
    return FieldError(field, error.rule, error.message)


class OneTrainingJob:
    """The carrier's proposer: its one training job, with the request's hyperparameters as they are."""

    reads_history = False

    def max_training_jobs(self) -> int:
        return 1

    def propose(self, index: int, history: Sequence[TrainingJobRecord]) -> Proposal:
        if index != 0:
            raise IndexError(f"a training job created alone is one training job; no training job {index}")
        return Proposal(index=0, values={}, reason="CreateTrainingJob")
