"""Values of honoured TrainingJobDefinition members that tunestream cannot honour, or that SageMaker
allows only together, refused by name.

Each was accepted and silently ignored before (issue #15: "no silent ignores"): an augmented
manifest channel was downloaded as a prefix. `tunestream.request_members` names these rules in its
notes.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from tunestream.definitions import TrainingJobDefinitionShape
from tunestream.field_errors import FieldError
from tunestream.training_image import is_file_uri

# Where SageMaker mounts checkpoints; a local process finds them in SM_CHECKPOINT_DIR instead.
CONTAINER_CHECKPOINTS = PurePosixPath("/opt/ml/checkpoints")


def _runs_as_process(definition: TrainingJobDefinitionShape) -> bool:
    algo = definition.AlgorithmSpecification
    return algo.Command is not None or is_file_uri(algo.TrainingImage) or algo.builtin is not None


def check_local_limits(definition: TrainingJobDefinitionShape, base: str) -> list[FieldError]:
    errors: list[FieldError] = _check_instance_groups(definition, base)
    resources = definition.ResourceConfig
    several = resources.InstanceCount > 1 or sum(g.InstanceCount for g in resources.InstanceGroups or []) > 1
    if definition.EnableNetworkIsolation and several and _runs_as_process(definition):
        errors.append(
            FieldError(
                f"{base}.EnableNetworkIsolation",
                "isolation-one-process-host",
                "a network-isolated process gets a network namespace of its own, so the hosts of a training "
                "job of several instances could not reach each other: run it as a container (TrainingImage), "
                "whose hosts share an internal network, or on one instance",
            )
        )
    errors.extend(_check_spot(definition, base))
    for i, channel in enumerate(definition.InputDataConfig):
        data_type = channel.DataSource.S3DataSource.S3DataType
        if data_type == "AugmentedManifestFile":
            errors.append(
                FieldError(
                    f"{base}.InputDataConfig[{i}].DataSource.S3DataSource.S3DataType",
                    "manifest-unsupported",
                    "AugmentedManifestFile: its records are streamed to Pipe-mode programs, and tunestream "
                    "has no Pipe mode; use S3Prefix or ManifestFile",
                )
            )
    checkpoint = definition.CheckpointConfig
    if (
        checkpoint is not None
        and checkpoint.LocalPath is not None
        and PurePosixPath(checkpoint.LocalPath) != CONTAINER_CHECKPOINTS
        and _runs_as_process(definition)
    ):
        errors.append(
            FieldError(
                f"{base}.CheckpointConfig.LocalPath",
                "local-path-container",
                f"{checkpoint.LocalPath!r}: a local process keeps its checkpoints in SM_CHECKPOINT_DIR (the "
                f"job folder's checkpoints/); LocalPath applies to containers: leave it out or "
                f"{CONTAINER_CHECKPOINTS}",
            )
        )
    return errors


def _check_spot(definition: TrainingJobDefinitionShape, base: str) -> list[FieldError]:
    """SageMaker's pairing of managed spot training with its time limit: a spot job must say how long
    it may wait for capacity and run in all, at least its run time, and only a spot job says it."""
    stopping = definition.StoppingCondition
    where = f"{base}.StoppingCondition.MaxWaitTimeInSeconds"
    if not definition.EnableManagedSpotTraining:
        if stopping.MaxWaitTimeInSeconds is None:
            return []
        return [
            FieldError(
                where,
                "max-wait-needs-spot",
                "the time limit of managed spot training: give it with EnableManagedSpotTraining true, or leave it out",
            )
        ]
    if stopping.MaxWaitTimeInSeconds is None:
        return [
            FieldError(
                where,
                "spot-needs-max-wait",
                "managed spot training needs it: how long the training job may wait for spot capacity "
                "and train, in all",
            )
        ]
    if stopping.MaxWaitTimeInSeconds < stopping.MaxRuntimeInSeconds:
        return [
            FieldError(
                where,
                "max-wait-at-least-runtime",
                f"{stopping.MaxWaitTimeInSeconds} is less than MaxRuntimeInSeconds "
                f"({stopping.MaxRuntimeInSeconds}): it must be equal or greater",
            )
        ]
    return []


def _check_instance_groups(definition: TrainingJobDefinitionShape, base: str) -> list[FieldError]:
    """SageMaker's rules for a heterogeneous cluster: groups instead of InstanceType/InstanceCount,
    unique names, and channels sent only to groups that exist."""
    errors: list[FieldError] = []
    resources = definition.ResourceConfig
    groups = resources.InstanceGroups or []
    names = [g.InstanceGroupName for g in groups]
    # InstanceCount 1 is ResourceConfig's default, which a stored request carries: only more is a conflict.
    if groups and (resources.InstanceType is not None or resources.InstanceCount > 1):
        errors.append(
            FieldError(
                f"{base}.ResourceConfig.InstanceGroups",
                "instance-groups-or-type",
                "give InstanceGroups or InstanceType and InstanceCount, not both",
            )
        )
    for i, name in enumerate(names):
        if name in names[:i]:
            errors.append(
                FieldError(
                    f"{base}.ResourceConfig.InstanceGroups[{i}].InstanceGroupName",
                    "unique",
                    f"instance group {name!r} is named more than once",
                )
            )
    for i, channel in enumerate(definition.InputDataConfig):
        wanted = channel.DataSource.S3DataSource.InstanceGroupNames
        unknown = [n for n in wanted or [] if n not in names]
        if unknown:
            errors.append(
                FieldError(
                    f"{base}.InputDataConfig[{i}].DataSource.S3DataSource.InstanceGroupNames",
                    "instance-group-known",
                    f"{', '.join(map(repr, unknown))}: not among ResourceConfig.InstanceGroups"
                    + (f" ({', '.join(names)})" if names else " (the job has none)"),
                )
            )
    return errors
