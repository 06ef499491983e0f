"""What tunestream does with each member of SageMaker's CreateHyperParameterTuningJob input.

Every member path of botocore's input shape is in MEMBERS, classified as:

- honoured: it has the effect SageMaker documents (the note says what applies it, and which values,
  if any, are refused by a rule in `tunestream.validation` / `tunestream.local_limits`);
- refused: a request that has it is a ValidationException naming it; the note is the message;
- inert: AWS-only plumbing (IAM, KMS, VPC, EBS, capacity reservations): accepted, kept, without
  effect here, and listed as such in Describe's `InertMembers` (REST) and the CLI's describe.

Paths are botocore's member names joined by "."; "[]" steps into the items of a list. A child of a
refused or inert member has its parent's class: it cannot be given without its parent. The unit test
tests/unit/test_request_members.py walks botocore's service model, so a member a new botocore adds
fails it until someone classifies it here; EXTENSIONS does the same for tunestream's own members.
docs/request-members.md is rendered from this table
(`python -m tunestream.request_members > docs/request-members.md`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Literal

from tunestream.field_errors import FieldError

Kind = Literal["honoured", "refused", "inert"]
Entry = tuple[Kind, str]

# The rule of every FieldError a refused member gives (validation's own refusals use it too).
REFUSED_RULE = "unsupported"

_DEF = "TrainingJobDefinition"
_RANGES = "HyperParameterTuningJobConfig.ParameterRanges"


def _children(parent: str, kind: Kind, names: list[str]) -> dict[str, Entry]:
    """Members that share their refused or inert parent's fate."""
    note = f"{kind} with {parent.rsplit('.', 1)[-1].removesuffix('[]')}"
    return {f"{parent}.{name}": (kind, note) for name in names}


_PARAMETER_RANGES: dict[str, Entry] = {
    "IntegerParameterRanges": ("honoured", "the search space (tunestream.space): integers from MinValue to MaxValue"),
    "IntegerParameterRanges[].Name": ("honoured", "the hyperparameter's name, passed to the training program"),
    "IntegerParameterRanges[].MinValue": ("honoured", "lower bound, inclusive"),
    "IntegerParameterRanges[].MaxValue": ("honoured", "upper bound, inclusive"),
    "IntegerParameterRanges[].ScalingType": ("honoured", "Auto, Linear, Logarithmic (ReverseLogarithmic refused)"),
    "ContinuousParameterRanges": ("honoured", "the search space: reals from MinValue to MaxValue"),
    "ContinuousParameterRanges[].Name": ("honoured", "the hyperparameter's name, passed to the training program"),
    "ContinuousParameterRanges[].MinValue": ("honoured", "lower bound"),
    "ContinuousParameterRanges[].MaxValue": ("honoured", "upper bound"),
    "ContinuousParameterRanges[].ScalingType": ("honoured", "Auto, Linear, Logarithmic, ReverseLogarithmic"),
    "CategoricalParameterRanges": ("honoured", "the search space: one of Values"),
    "CategoricalParameterRanges[].Name": ("honoured", "the hyperparameter's name, passed to the training program"),
    "CategoricalParameterRanges[].Values": ("honoured", "the choices, each passed as given"),
    "AutoParameters": (
        "honoured",
        "with Autotune Enabled: each becomes a range inferred from its ValueHint (tunestream.autotune); "
        "without it, refused (rule autotune-only)",
    ),
    "AutoParameters[].Name": ("honoured", "the hyperparameter's name"),
    "AutoParameters[].ValueHint": (
        "honoured",
        "an integer, a non-negative number or true/false, around which the range is chosen (rule autotune-hint)",
    ),
}

_S3 = f"{_DEF}.InputDataConfig[].DataSource.S3DataSource"
_RESOURCES = f"{_DEF}.ResourceConfig"
_TUNING_RESOURCES = f"{_DEF}.HyperParameterTuningResourceConfig"
_FILE_SYSTEM = f"{_DEF}.InputDataConfig[].DataSource.FileSystemDataSource"

# One TrainingJobDefinition: what each training job of the tuning job runs.
_DEFINITION: dict[str, Entry] = {
    _DEF: ("honoured", "what every training job runs (the suggester's TrainingJobSpec)"),
    f"{_DEF}.DefinitionName": ("honoured", "a label, returned by Describe (one definition: nothing to tell apart)"),
    f"{_DEF}.TuningObjective": (
        "honoured",
        "must equal HyperParameterTuningJobObjective (rule same-objective): one definition tunes for that",
    ),
    f"{_DEF}.TuningObjective.Type": ("honoured", "as HyperParameterTuningJobObjective.Type"),
    f"{_DEF}.TuningObjective.MetricName": ("honoured", "as HyperParameterTuningJobObjective.MetricName"),
    f"{_DEF}.HyperParameterRanges": (
        "refused",
        "ranges per definition go with several TrainingJobDefinitions: put them in "
        "HyperParameterTuningJobConfig.ParameterRanges",
    ),
    # HyperParameterRanges' children: added below, mirrored from ParameterRanges.
    f"{_DEF}.StaticHyperParameters": (
        "honoured",
        "launcher: hyperparameters.json, SM_HP_* and --name value arguments, with the tuned ones",
    ),
    f"{_DEF}.AlgorithmSpecification": ("honoured", "the training program"),
    f"{_DEF}.AlgorithmSpecification.TrainingImage": (
        "honoured",
        "an image: the container backend runs it; file:///path: that executable runs as a local process; "
        "the built-in XGBoost's ECR image: tunestream's stand-in for it runs as a local process; a Deep "
        "Learning Container's image with the SDK's sagemaker_program: the uploaded script runs as a local "
        "process, as the container's toolkit would run it",
    ),
    f"{_DEF}.AlgorithmSpecification.TrainingInputMode": (
        "honoured",
        "File; FastFile (downloaded like File); Pipe is refused (rule pipe-unsupported)",
    ),
    f"{_DEF}.AlgorithmSpecification.AlgorithmName": (
        "honoured",
        "xgboost: tunestream's stand-in for the built-in XGBoost runs (as for its ECR TrainingImage; "
        "docs/builtin-algorithms.md); other names (algorithm resources, Marketplace) are refused "
        "(rule builtin-algorithm)",
    ),
    f"{_DEF}.AlgorithmSpecification.MetricDefinitions": (
        "honoured",
        "collector: each regex applied to every output line; the objective is the last value matched; left "
        "out for a built-in algorithm: its own (validation:auc, train:rmse, ...)",
    ),
    f"{_DEF}.AlgorithmSpecification.MetricDefinitions[].Name": ("honoured", "the metric's name"),
    f"{_DEF}.AlgorithmSpecification.MetricDefinitions[].Regex": ("honoured", "one capturing group, RE2 syntax"),
    f"{_DEF}.RoleArn": (
        "inert",
        "the IAM role a training job assumes on AWS; tunestream has no IAM (what reaches a training "
        "program: docs/security.md)",
    ),
    f"{_DEF}.InputDataConfig": ("honoured", "launcher: each channel downloaded to input/data/<channel>"),
    f"{_DEF}.InputDataConfig[].ChannelName": ("honoured", "the folder and SM_CHANNEL_<NAME>"),
    f"{_DEF}.InputDataConfig[].DataSource": ("honoured", "S3DataSource only"),
    _S3: ("honoured", "downloaded from tunestream's S3 store"),
    f"{_S3}.S3DataType": (
        "honoured",
        "S3Prefix; ManifestFile (the objects the manifest lists, under their relative keys); "
        "AugmentedManifestFile is refused (rule manifest-unsupported: it feeds Pipe mode)",
    ),
    f"{_S3}.S3Uri": ("honoured", "every object under the prefix is downloaded (ManifestFile: the manifest's)"),
    f"{_S3}.S3DataDistributionType": (
        "honoured",
        "in inputdataconfig.json; ShardedByS3Key gives each of a training job's instances every N-th "
        "object in key order (all of them with one instance), FullyReplicated every instance all",
    ),
    f"{_S3}.AttributeNames": (
        "refused",
        "attributes of an augmented manifest file, which tunestream does not read: use an S3Prefix channel",
    ),
    f"{_S3}.InstanceGroupNames": (
        "honoured",
        "only the hosts of these ResourceConfig.InstanceGroups get the channel (sharded among them with "
        "ShardedByS3Key); a name that is not a group is refused (rule instance-group-known)",
    ),
    f"{_S3}.ModelAccessConfig": (
        "inert",
        "accepts a gated JumpStart model's EULA on AWS; nothing is gated here: the channel is "
        "downloaded from S3Uri either way",
    ),
    **_children(f"{_S3}.ModelAccessConfig", "inert", ["AcceptEula"]),
    f"{_S3}.HubAccessConfig": (
        "refused",
        "reads the channel from a SageMaker JumpStart hub model, which tunestream cannot fetch: "
        "put the files under S3Uri",
    ),
    **_children(f"{_S3}.HubAccessConfig", "refused", ["HubContentArn"]),
    _FILE_SYSTEM: (
        "refused",
        "EFS and FSx for Lustre file systems exist on AWS only: put the data in tunestream's S3 store (S3DataSource)",
    ),
    **_children(_FILE_SYSTEM, "refused", ["FileSystemId", "FileSystemAccessMode", "FileSystemType", "DirectoryPath"]),
    f"{_DEF}.InputDataConfig[].DataSource.DatasetSource": (
        "refused",
        "a SageMaker dataset ARN, which tunestream cannot read: put the data in tunestream's S3 store (S3DataSource)",
    ),
    **_children(f"{_DEF}.InputDataConfig[].DataSource.DatasetSource", "refused", ["DatasetArn"]),
    f"{_DEF}.InputDataConfig[].ContentType": ("honoured", "in inputdataconfig.json"),
    f"{_DEF}.InputDataConfig[].CompressionType": (
        "honoured",
        "in inputdataconfig.json; files are not decompressed, as SageMaker does in File mode",
    ),
    f"{_DEF}.InputDataConfig[].RecordWrapperType": (
        "honoured",
        "in inputdataconfig.json; SageMaker wraps records in Pipe mode only, which is refused",
    ),
    f"{_DEF}.InputDataConfig[].InputMode": (
        "honoured",
        "File; FastFile (downloaded like File); Pipe is refused (rule pipe-unsupported)",
    ),
    f"{_DEF}.InputDataConfig[].ShuffleConfig": (
        "honoured",
        "shuffles the order of S3 keys, which a downloaded folder does not have; with several instances "
        "the ShardedByS3Key shares follow key order, not shuffled (Pipe is refused)",
    ),
    f"{_DEF}.InputDataConfig[].ShuffleConfig.Seed": ("honoured", "with ShuffleConfig"),
    f"{_DEF}.VpcConfig": (
        "inert",
        "puts training jobs in an AWS VPC; here they have the network of their launcher's host (docs/security.md)",
    ),
    **_children(f"{_DEF}.VpcConfig", "inert", ["SecurityGroupIds", "Subnets"]),
    f"{_DEF}.OutputDataConfig": ("honoured", "where the model artifact goes"),
    f"{_DEF}.OutputDataConfig.KmsKeyId": (
        "inert",
        "AWS KMS encryption of the uploaded artifact; tunestream's S3 store has no KMS",
    ),
    f"{_DEF}.OutputDataConfig.S3OutputPath": (
        "honoured",
        "launcher uploads <S3OutputPath>/<training job>/output/model.tar.gz, and output/data as "
        "output.tar.gz beside it when the program left files there",
    ),
    f"{_DEF}.OutputDataConfig.CompressionType": (
        "honoured",
        "GZIP: model.tar.gz, output.tar.gz; NONE: the files as they are under output/model/ (then "
        "ModelArtifacts.S3ModelArtifacts) and output/data/",
    ),
    _RESOURCES: ("honoured", "what one training job is given"),
    f"{_RESOURCES}.InstanceType": (
        "honoured",
        "scheduler: read as a GPU count (ml.p*/ml.g* types; tunestream's GpuCount overrides it); CPUs "
        "and memory are the launcher's (TUNESTREAM_DOCKER_CPUS / _MEMORY for containers)",
    ),
    f"{_RESOURCES}.InstanceCount": (
        "honoured",
        "N processes or containers run together on one launcher (algo-1 ... algo-N, SM_HOSTS, "
        "resourceconfig.json, MASTER_ADDR/PORT; containers on a network of the job's own)",
    ),
    f"{_RESOURCES}.VolumeSizeInGB": (
        "inert",
        "the EBS volume AWS provisions; a training job uses its launcher's disk",
    ),
    f"{_RESOURCES}.VolumeKmsKeyId": ("inert", "AWS KMS encryption of that EBS volume"),
    f"{_RESOURCES}.KeepAlivePeriodInSeconds": (
        "inert",
        "keeps AWS instances in a warm pool; launchers keep running, so there is nothing to keep warm",
    ),
    f"{_RESOURCES}.InstanceGroups": (
        "honoured",
        "a heterogeneous cluster: the groups' hosts run together as algo-1 ... algo-N in group order, with "
        "resourceconfig.json's instance_groups and SM_CURRENT_INSTANCE_GROUP; not with InstanceType or "
        "InstanceCount > 1 (rule instance-groups-or-type)",
    ),
    f"{_RESOURCES}.InstanceGroups[].InstanceType": (
        "honoured",
        "the group's GPUs per host, and its name in resourceconfig.json",
    ),
    f"{_RESOURCES}.InstanceGroups[].InstanceCount": ("honoured", "the group's hosts"),
    f"{_RESOURCES}.InstanceGroups[].InstanceGroupName": ("honoured", "unique in the job (rule unique)"),
    f"{_RESOURCES}.TrainingPlanArn": ("inert", "AWS reserved capacity; here the launchers are the capacity"),
    f"{_RESOURCES}.InstancePlacementConfig": ("inert", "placement on AWS UltraServers, which exist on AWS only"),
    **_children(f"{_RESOURCES}.InstancePlacementConfig", "inert", ["EnableMultipleJobs", "PlacementSpecifications"]),
    **_children(
        f"{_RESOURCES}.InstancePlacementConfig.PlacementSpecifications[]", "inert", ["UltraServerId", "InstanceCount"]
    ),
    f"{_RESOURCES}.InstancePreferences": (
        "refused",
        "SageMaker picks an instance type from the list; tunestream reads the GPUs a training job needs "
        "from InstanceType: give InstanceType",
    ),
    **_children(
        f"{_RESOURCES}.InstancePreferences[]", "refused", ["InstanceType", "InstanceCount", "TrainingPlanArns"]
    ),
    f"{_RESOURCES}.SelectedInstanceType": (
        "refused",
        "read-only: SageMaker reports it after choosing from InstancePreferences; it is no input",
    ),
    f"{_RESOURCES}.SelectedInstanceCount": (
        "refused",
        "read-only: SageMaker reports it after choosing from InstancePreferences; it is no input",
    ),
    _TUNING_RESOURCES: (
        "honoured",
        "what SageMaker's SDK v2 sends instead of ResourceConfig: becomes each training job's ResourceConfig "
        "(definitions.TuningResourceConfigShape); not with ResourceConfig",
    ),
    f"{_TUNING_RESOURCES}.InstanceType": ("honoured", "as ResourceConfig.InstanceType (the GPUs it implies)"),
    f"{_TUNING_RESOURCES}.InstanceCount": (
        "honoured",
        "as ResourceConfig.InstanceCount",
    ),
    f"{_TUNING_RESOURCES}.VolumeSizeInGB": ("inert", "the size of an AWS EBS volume, as ResourceConfig's"),
    f"{_TUNING_RESOURCES}.VolumeKmsKeyId": ("inert", "AWS KMS encryption of that EBS volume"),
    f"{_TUNING_RESOURCES}.AllocationStrategy": (
        "honoured",
        "Prioritized: InstanceConfigs in order when capacity runs short; it never does here, so the first",
    ),
    f"{_TUNING_RESOURCES}.InstanceConfigs": ("honoured", "the first configuration is every training job's"),
    f"{_TUNING_RESOURCES}.InstanceConfigs[].InstanceType": ("honoured", "as ResourceConfig.InstanceType"),
    f"{_TUNING_RESOURCES}.InstanceConfigs[].InstanceCount": ("honoured", "as ResourceConfig.InstanceCount"),
    f"{_TUNING_RESOURCES}.InstanceConfigs[].VolumeSizeInGB": ("inert", "the size of an AWS EBS volume"),
    f"{_DEF}.StoppingCondition": ("honoured", "per training job"),
    f"{_DEF}.StoppingCondition.MaxRuntimeInSeconds": (
        "honoured",
        "launcher stops the training job (MaxRuntimeExceeded)",
    ),
    f"{_DEF}.StoppingCondition.MaxWaitTimeInSeconds": (
        "honoured",
        "managed spot training only (rules spot-needs-max-wait, max-wait-needs-spot, "
        "max-wait-at-least-runtime): from the training job's creation, waits and interruptions included, "
        "it is stopped at this limit (MaxWaitTimeExceeded)",
    ),
    f"{_DEF}.StoppingCondition.MaxPendingTimeInSeconds": (
        "refused",
        "tunestream does not stop a training job for waiting for a launcher: leave it out",
    ),
    f"{_DEF}.EnableNetworkIsolation": (
        "honoured",
        "true: a container without a network (several hosts: an internal network of their own), a "
        "process in a network namespace of its own (unshare --net; one instance only, rule "
        "isolation-one-process-host); only launchers able to do that for the backend run it",
    ),
    f"{_DEF}.EnableInterContainerTrafficEncryption": (
        "honoured",
        "the instances of a training job talk over the loopback or a Docker network of the launcher's "
        "machine, which never leaves it: there is nothing on the wire to encrypt",
    ),
    f"{_DEF}.EnableManagedSpotTraining": (
        "honoured",
        "true: the training job runs only on launchers that declare themselves preemptible "
        "(TUNESTREAM_LAUNCHER_PREEMPTIBLE), an attempt lost there is an interruption that RetryStrategy "
        "does not count, retried from its checkpoint within MaxWaitTimeInSeconds, and BillableTimeInSeconds "
        "counts only the time its attempts ran; false: never on preemptible launchers",
    ),
    f"{_DEF}.CheckpointConfig": (
        "honoured",
        "launcher restores checkpoints from <S3Uri>/<training job>/ and syncs them there while it runs",
    ),
    f"{_DEF}.CheckpointConfig.S3Uri": ("honoured", "where checkpoints are kept"),
    f"{_DEF}.CheckpointConfig.LocalPath": (
        "honoured",
        "containers get the checkpoints there too; a local process has them in SM_CHECKPOINT_DIR, so only "
        "/opt/ml/checkpoints is accepted for it (rule local-path-container)",
    ),
    f"{_DEF}.RetryStrategy": ("honoured", "scheduler"),
    f"{_DEF}.RetryStrategy.MaximumRetryAttempts": (
        "honoured",
        "scheduler retries a training job its launcher lost or failed, on another launcher",
    ),
    f"{_DEF}.Environment": ("honoured", "the training program's environment"),
}

_DEFINITION.update(
    {
        f"{_DEF}.HyperParameterRanges.{path}": ("refused", "refused with HyperParameterRanges")
        for path in _PARAMETER_RANGES
    }
)

# Each of several TrainingJobDefinitions is classified as the one TrainingJobDefinition, but for
# what only several have: a name to tell them apart, an objective and ranges each.
_SEVERAL_OWN: dict[str, Entry] = {
    "DefinitionName": ("honoured", "names the definition; required, unique (rules required, unique)"),
    "TuningObjective": (
        "honoured",
        "the objective of that definition's training jobs (else the config's); all maximize or all "
        "minimize (rule same-objective-type)",
    ),
    "TuningObjective.Type": ("honoured", "Maximize or Minimize, the same for every definition"),
    "TuningObjective.MetricName": ("honoured", "one of that definition's MetricDefinitions"),
    "HyperParameterRanges": ("honoured", "that definition's ranges (the config's ParameterRanges stay empty)"),
}


def _several(one: dict[str, Entry]) -> dict[str, Entry]:
    several: dict[str, Entry] = {}
    for path, entry in one.items():
        if path == _DEF:
            continue
        rest = path.removeprefix(_DEF + ".")
        if rest in _SEVERAL_OWN:
            entry = _SEVERAL_OWN[rest]
        elif rest.startswith("HyperParameterRanges."):
            entry = _PARAMETER_RANGES[rest.removeprefix("HyperParameterRanges.")]
        several[f"TrainingJobDefinitions[].{rest}"] = entry
    return several


MEMBERS: dict[str, Entry] = {
    "HyperParameterTuningJobName": ("honoured", "names the tuning job; its training jobs' names start with it"),
    "HyperParameterTuningJobConfig": ("honoured", "the search"),
    "HyperParameterTuningJobConfig.Strategy": (
        "honoured",
        "suggester: Random, Grid, Bayesian, Hyperband (tunestream.strategies)",
    ),
    "HyperParameterTuningJobConfig.StrategyConfig": (
        "honoured",
        "each member by its own strategy (refused with the others)",
    ),
    "HyperParameterTuningJobConfig.StrategyConfig.HyperbandStrategyConfig": ("honoured", "Hyperband's brackets"),
    "HyperParameterTuningJobConfig.StrategyConfig.HyperbandStrategyConfig.MinResource": (
        "honoured",
        "the fewest epochs a training job gets",
    ),
    "HyperParameterTuningJobConfig.StrategyConfig.HyperbandStrategyConfig.MaxResource": (
        "honoured",
        "the most epochs a training job gets",
    ),
    "HyperParameterTuningJobConfig.HyperParameterTuningJobObjective": (
        "honoured",
        "what the strategy optimises and the best training job is chosen by",
    ),
    "HyperParameterTuningJobConfig.HyperParameterTuningJobObjective.Type": ("honoured", "Maximize or Minimize"),
    "HyperParameterTuningJobConfig.HyperParameterTuningJobObjective.MetricName": (
        "honoured",
        "one of MetricDefinitions (refused otherwise)",
    ),
    "HyperParameterTuningJobConfig.ResourceLimits": ("honoured", "the tuning job's budgets"),
    "HyperParameterTuningJobConfig.ResourceLimits.MaxNumberOfTrainingJobs": (
        "honoured",
        "suggester: no training job is proposed beyond it",
    ),
    "HyperParameterTuningJobConfig.ResourceLimits.MaxParallelTrainingJobs": (
        "honoured",
        "suggester: at most this many training jobs outstanding",
    ),
    "HyperParameterTuningJobConfig.ResourceLimits.MaxRuntimeInSeconds": (
        "honoured",
        "suggester: when it runs out, running training jobs are stopped and the tuning job ends",
    ),
    _RANGES: ("honoured", "the search space (tunestream.space)"),
    **{f"{_RANGES}.{path}": entry for path, entry in _PARAMETER_RANGES.items()},
    "HyperParameterTuningJobConfig.TrainingJobEarlyStoppingType": (
        "honoured",
        "Auto: the median stopping rule; Off",
    ),
    "HyperParameterTuningJobConfig.TuningJobCompletionCriteria": (
        "honoured",
        "suggester ends the tuning job (tunestream.strategies.completion)",
    ),
    "HyperParameterTuningJobConfig.TuningJobCompletionCriteria.TargetObjectiveMetricValue": (
        "honoured",
        "ends the tuning job once a training job reaches it",
    ),
    "HyperParameterTuningJobConfig.TuningJobCompletionCriteria.BestObjectiveNotImproving": (
        "honoured",
        "ends the tuning job when the best stops improving",
    ),
    "HyperParameterTuningJobConfig.TuningJobCompletionCriteria.BestObjectiveNotImproving."
    "MaxNumberOfTrainingJobsNotImproving": ("honoured", "that many training jobs in a row"),
    "HyperParameterTuningJobConfig.TuningJobCompletionCriteria.ConvergenceDetected": (
        "honoured",
        "ends the tuning job on convergence (docs/job-json.md)",
    ),
    "HyperParameterTuningJobConfig.TuningJobCompletionCriteria.ConvergenceDetected.CompleteOnConvergence": (
        "honoured",
        "Enabled or Disabled",
    ),
    "HyperParameterTuningJobConfig.RandomSeed": (
        "honoured",
        "seeds the strategy; drawn and shown by Describe when absent",
    ),
    **_DEFINITION,
    "TrainingJobDefinitions": (
        "honoured",
        "several algorithms (1 to 10): every strategy searches the definitions' joint space, each "
        "training job runs one (TrainingJobDefinitionName in List)",
    ),
    **_several(_DEFINITION),
    "WarmStartConfig": ("honoured", "parents' training jobs seed the strategy (tunestream.api.warm_start)"),
    "WarmStartConfig.ParentHyperParameterTuningJobs": ("honoured", "ended tuning jobs with the same objective"),
    "WarmStartConfig.ParentHyperParameterTuningJobs[].HyperParameterTuningJobName": ("honoured", "a parent"),
    "WarmStartConfig.WarmStartType": (
        "honoured",
        "IdenticalDataAndAlgorithm (parents' configurations are not redrawn) or TransferLearning",
    ),
    "Tags": ("honoured", "kept per tuning job: ListTags, AddTags, DeleteTags"),
    "Tags[].Key": ("honoured", "the tag's key (no aws: keys)"),
    "Tags[].Value": ("honoured", "the tag's value"),
    "Autotune": (
        "honoured",
        "Enabled: tunestream chooses what is left unset (ranges from AutoParameters, MaxNumberOfTrainingJobs, "
        "early stopping, retries, convergence), by rules docs/job-json.md states; Describe lists the choices",
    ),
    "Autotune.Mode": ("honoured", "Enabled, the only mode"),
}

# tunestream's own members, which botocore's model lacks (so boto3 cannot send them; REST and the
# CLI can). Classified the same way, so the request model has no member without a class either.
_OWN_DEFINITION: dict[str, Entry] = {
    f"{_DEF}.AlgorithmSpecification.Command": (
        "honoured",
        "the training program as an argv list, run as a local process (the process backend)",
    ),
    f"{_DEF}.AlgorithmSpecification.EnableSageMakerMetricsTimeSeries": (
        "inert",
        "CreateTrainingJob's switch for CloudWatch metric time series, which exist on AWS only; metrics "
        "are kept in tunestream's read model either way",
    ),
    f"{_DEF}.AlgorithmSpecification.ContainerEntrypoint": (
        "honoured",
        "CreateTrainingJob's: the container runs it in place of its image's entrypoint (containers only, rule "
        "container-only)",
    ),
    f"{_DEF}.AlgorithmSpecification.ContainerArguments": (
        "honoured",
        "CreateTrainingJob's: the arguments the container runs with, in place of `train` (containers only)",
    ),
    f"{_RESOURCES}.GpuCount": ("honoured", "scheduler: GPUs per training job, overriding what InstanceType implies"),
}
EXTENSIONS: dict[str, Entry] = {
    "HyperParameterTuningJobConfig.StrategyConfig.HyperbandStrategyConfig.Promotion": (
        "honoured",
        "Hyperband pauses training jobs at their rung and resumes the promoted ones from checkpoints",
    ),
    "HyperParameterTuningJobConfig.StrategyConfig.HyperbandStrategyConfig.FirstRung": (
        "honoured",
        "Auto sizes promotion's first rung from what a start costs and keeps five rungs at most; MinResource "
        "starts at MinResource",
    ),
    "HyperParameterTuningJobConfig.StrategyConfig.HyperbandStrategyConfig.Proposals": (
        "honoured",
        "Model (the default) proposes promotion's new configurations from a GP over configuration and "
        "resource fitted to every rung's values, expected improvement per second of a step; Random draws them "
        "at random",
    ),
    "HyperParameterTuningJobConfig.StrategyConfig.HyperbandStrategyConfig.Pausing": (
        "honoured",
        "WhenBehind lets a training job in the top half of those that reached a rung go on without a pause; "
        "EveryRung pauses every training job at every rung",
    ),
    "HyperParameterTuningJobConfig.StrategyConfig.HyperbandStrategyConfig.Ranking": (
        "honoured",
        "Trend ranks a rung by the value each configuration is predicted to have at the next rung, from its "
        "last gain and how much of such gains carried on for the ones promoted before; Value (the default) "
        "ranks by the values at the rung",
    ),
    "HyperParameterTuningJobConfig.StrategyConfig.HyperbandStrategyConfig.PauseAtNewBest": (
        "honoured",
        "Enabled (the default with Pausing EveryRung) also pauses a training job between rungs where its "
        "value beats every ended training job's (once it has trained as long as its start took, and where "
        "the steps left to its rung take two starts), so the value is a result at once, and resumes it to "
        "its rung first; Disabled pauses at the rungs only. Enabled is refused with Pausing WhenBehind",
    ),
    "HyperParameterTuningJobConfig.StrategyConfig.BayesianStrategyConfig": (
        "honoured",
        "Bayesian's options (refused with other strategies)",
    ),
    "HyperParameterTuningJobConfig.StrategyConfig.BayesianStrategyConfig.CostAware": (
        "honoured",
        "Enabled (the default): expected improvement per predicted second of training, cooled over the "
        "job budget; Disabled: plain expected improvement (docs/search-strategies.md)",
    ),
    **_OWN_DEFINITION,
    **_several(_OWN_DEFINITION),
}
_ALL = {**MEMBERS, **EXTENSIONS}

# --- CreateTrainingJob ------------------------------------------------------------------------------
# What it shares with a tuning job's TrainingJobDefinition is classified as there; the rest below.
_TUNING_ONLY = ("DefinitionName", "TuningObjective", "HyperParameterRanges", "StaticHyperParameters")
_SHARED: dict[str, Entry] = {
    path.removeprefix(_DEF + "."): entry
    for path, entry in _ALL.items()
    if path.startswith(_DEF + ".")
    and not path.removeprefix(_DEF + ".").startswith(_TUNING_ONLY)
    and not path.startswith(_TUNING_RESOURCES)
}
_AWS_DEBUGGER = "SageMaker Debugger, which AWS's framework containers and its rule processing jobs run"
TRAINING_MEMBERS: dict[str, Entry] = {
    "TrainingJobName": ("honoured", "names the training job (unique among all training jobs)"),
    "HyperParameters": (
        "honoured",
        "launcher: hyperparameters.json, SM_HP_* and --name value arguments",
    ),
    **_SHARED,
    "AlgorithmSpecification.TrainingImageConfig": (
        "refused",
        "private registries are AWS's (ECR, VPC access): tunestream's engines run images they already have",
    ),
    **_children(
        "AlgorithmSpecification.TrainingImageConfig",
        "refused",
        [
            "TrainingRepositoryAccessMode",
            "TrainingRepositoryAuthConfig",
            "TrainingRepositoryAuthConfig.TrainingRepositoryCredentialsProviderArn",
        ],
    ),
    "Tags": ("honoured", "kept for the training job: ListTags, AddTags, DeleteTags"),
    "Tags[].Key": ("honoured", "the tag's key (no aws: keys)"),
    "Tags[].Value": ("honoured", "the tag's value"),
    # AWS-only services the SDKs configure by default: accepted, without effect.
    "DebugHookConfig": (
        "inert",
        f"{_AWS_DEBUGGER}; SageMaker's SDK v2 sends one by default (its tensors are not collected)",
    ),
    "ProfilerConfig": (
        "inert",
        "SageMaker's system and framework profiler, AWS's; SageMaker's SDK v2 sends one by default",
    ),
    "ExperimentConfig": ("inert", "SageMaker Experiments, an AWS service: no run is recorded"),
    "InfraCheckConfig": ("inert", "AWS's health checks of its instances before training"),
    "SessionChainingConfig": ("inert", "AWS IAM session chaining for the training job's role"),
    "DebugRuleConfigurations": ("refused", f"{_AWS_DEBUGGER}: no rule would be evaluated"),
    "ProfilerRuleConfigurations": ("refused", "the profiler's rules run as AWS processing jobs: none would run"),
    "TensorBoardOutputConfig": (
        "refused",
        "not yet: write TensorBoard logs under /opt/ml/output/data (uploaded as output.tar.gz)",
    ),
    "RemoteDebugConfig": ("refused", "remote debugging goes through AWS Systems Manager"),
    "ServerlessJobConfig": ("refused", "serverless training (model customization) is an AWS service"),
    "MlflowConfig": ("refused", "SageMaker's managed MLflow is an AWS service: log to your own from the program"),
    "ModelPackageConfig": ("refused", "model packages go to AWS's model registry"),
}
# Top-level refused and inert members: their children (which botocore keeps adding to) share their class.
_TRAINING_TREES = {path for path, (kind, _) in TRAINING_MEMBERS.items() if "." not in path and kind != "honoured"}


def training_class(path: str) -> Entry | None:
    """The class of a CreateTrainingJob member path: its own entry, or the refused or inert tree
    (DebugHookConfig...) it lies in, whose members botocore keeps adding to."""
    if path in TRAINING_MEMBERS:
        return TRAINING_MEMBERS[path]
    head = path.split(".", 1)[0].removesuffix("[]")
    if head in _TRAINING_TREES:
        kind, note = TRAINING_MEMBERS[head]
        return kind, f"with {head}: {note}" if kind == "refused" else note
    return None


def _parent(path: str) -> str | None:
    head, dot, _ = path.rpartition(".")
    return head.removesuffix("[]") if dot else None


def outermost(kind: Kind, table: Mapping[str, Entry] = _ALL) -> list[str]:
    """Paths of `kind` whose parent is not of that kind: the ones a request is checked for."""
    return [
        path
        for path, (k, _) in table.items()
        if k == kind and ((parent := _parent(path)) is None or parent not in table or table[parent][0] != kind)
    ]


def present(request: Mapping[str, Any], path: str) -> Iterator[str]:
    """The concrete paths (list items numbered, e.g. `A.B[0].C`) at which `request` has `path`."""

    def walk(value: Any, parts: list[str], where: str) -> Iterator[str]:
        name = parts[0].removesuffix("[]")
        if not isinstance(value, Mapping) or value.get(name) is None:
            return
        here = f"{where}.{name}" if where else name
        if len(parts) == 1:
            yield here
        elif parts[0].endswith("[]"):
            if isinstance(value[name], list):
                for i, item in enumerate(value[name]):
                    yield from walk(item, parts[1:], f"{here}[{i}]")
        else:
            yield from walk(value[name], parts[1:], here)

    return walk(request, path.split("."), "")


def refusals(request: Mapping[str, Any], table: Mapping[str, Entry] = _ALL) -> list[FieldError]:
    """A FieldError for each refused member the request has (as a JSON dump of it, nulls left out)."""
    return [
        FieldError(where, REFUSED_RULE, table[path][1])
        for path in outermost("refused", table)
        for where in present(request, path)
    ]


def training_refusals(request: Mapping[str, Any]) -> list[FieldError]:
    """refusals() of a CreateTrainingJob request."""
    return refusals(request, TRAINING_MEMBERS)


def training_inert_members(request: Mapping[str, Any]) -> list[str]:
    """inert_members() of a CreateTrainingJob request."""
    return [where for path in outermost("inert", TRAINING_MEMBERS) for where in present(request, path)]


def inert_members(request: Mapping[str, Any]) -> list[str]:
    """The inert members the request has, outermost only (VpcConfig, not also VpcConfig.Subnets),
    in the table's order."""
    found = [where for path in outermost("inert") for where in present(request, path)]
    numbered = [("TrainingJobDefinition", request.get("TrainingJobDefinition") or {})]
    numbered += [(f"TrainingJobDefinitions[{i}]", d) for i, d in enumerate(request.get("TrainingJobDefinitions") or [])]
    for where, definition in numbered:
        if definition.get("HyperParameterTuningResourceConfig") is not None:
            # Its ResourceConfig was derived from HyperParameterTuningResourceConfig: not the user's to list.
            found = [w for w in found if not w.startswith(f"{where}.ResourceConfig.")]
    return found


def counts() -> dict[Kind, int]:
    """How many of botocore's member paths are of each class."""
    found: dict[Kind, int] = {"honoured": 0, "refused": 0, "inert": 0}
    for kind, _ in MEMBERS.values():
        found[kind] += 1
    return found


def render_markdown() -> str:
    """docs/request-members.md: every member, its class and the note."""
    c = counts()
    top = {kind: len([p for p in outermost(kind) if p in MEMBERS]) for kind in ("refused", "inert")}
    lines = [
        "# CreateHyperParameterTuningJob, member by member",
        "",
        "<!-- Rendered from shared/tunestream/request_members.py by "
        "`python -m tunestream.request_members > docs/request-members.md`; a unit test keeps them equal. -->",
        "",
        f"Every member of botocore's `CreateHyperParameterTuningJob` input ({len(MEMBERS)} paths; `[]` steps "
        f"into a list's items) is **honoured** ({c['honoured']}), **refused** ({c['refused']}, {top['refused']} of "
        f"them outermost, the rest their children: a `ValidationException` naming it, rule `{REFUSED_RULE}`, "
        f"saying why, as the note does) or **inert** ({c['inert']}, {top['inert']} outermost: AWS-only "
        "plumbing, accepted without effect and listed in Describe's `InertMembers` and by "
        "`tunestream describe`). A child of a refused or inert member shares its class. "
        "Values of honoured members that tunestream cannot honour are refused by the rules the notes name.",
        "",
        "| member | class | note |",
        "|---|---|---|",
    ]
    lines += [f"| `{path}` | {kind} | {note} |" for path, (kind, note) in MEMBERS.items()]
    lines += [
        "",
        "## tunestream's own members",
        "",
        "Not in botocore's model (boto3 cannot send them; REST, the CLI and tunestream's SDK can), classified "
        "the same way:",
        "",
        "| member | class | note |",
        "|---|---|---|",
    ]
    lines += [f"| `{path}` | {kind} | {note} |" for path, (kind, note) in EXTENSIONS.items()]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(render_markdown(), end="")
