"""A tuning job as the user writes it: SageMaker's CreateHyperParameterTuningJob shapes.

Field names are SageMaker's, so a job written for AMT can be submitted verbatim (a class
named like its field carries a Shape suffix). Every field SageMaker has is parsed here;
what tunestream does with each (honours it, refuses it in validation, or keeps it as inert AWS
plumbing) is the table in `tunestream.request_members`. Fields nobody knows are rejected, so a typo
is an error instead of a silently ignored setting.

Cross-field rules (MinValue <= MaxValue, the objective among MetricDefinitions...) live in
`tunestream.validation`, which reports each broken rule with the path of the field.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from tunestream.builtin_algorithms import BuiltinAlgorithm, builtin_algorithm, metric_definitions

JOB_NAME_PATTERN = r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,31}$"
PARAMETER_NAME_PATTERN = r"^[a-zA-Z0-9_.:\-]+$"


def _number_as_text(value: Any) -> Any:
    # SageMaker sends range bounds as strings; people writing JSON by hand often write numbers.
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return repr(value)
    return value


NumberText = Annotated[str, BeforeValidator(_number_as_text)]
ScalingType = Literal["Auto", "Linear", "Logarithmic", "ReverseLogarithmic"]


class Shape(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class IntegerParameterRange(Shape):
    Name: str = Field(min_length=1, max_length=256, pattern=PARAMETER_NAME_PATTERN)
    MinValue: NumberText
    MaxValue: NumberText
    ScalingType: ScalingType = "Auto"


class ContinuousParameterRange(Shape):
    Name: str = Field(min_length=1, max_length=256, pattern=PARAMETER_NAME_PATTERN)
    MinValue: NumberText
    MaxValue: NumberText
    ScalingType: ScalingType = "Auto"


class CategoricalParameterRange(Shape):
    Name: str = Field(min_length=1, max_length=256, pattern=PARAMETER_NAME_PATTERN)
    Values: list[Annotated[str, BeforeValidator(_number_as_text)]] = Field(min_length=1, max_length=30)


class ParameterRangesShape(Shape):
    IntegerParameterRanges: list[IntegerParameterRange] = Field(default_factory=list)
    ContinuousParameterRanges: list[ContinuousParameterRange] = Field(default_factory=list)
    CategoricalParameterRanges: list[CategoricalParameterRange] = Field(default_factory=list)
    AutoParameters: list[dict[str, Any]] | None = None


class TuningJobObjective(Shape):
    Type: Literal["Maximize", "Minimize"]
    MetricName: str = Field(min_length=1, max_length=255)


class ResourceLimitsShape(Shape):
    MaxNumberOfTrainingJobs: int | None = Field(default=None, ge=1)
    MaxParallelTrainingJobs: int = Field(ge=1)
    MaxRuntimeInSeconds: int | None = Field(default=None, ge=1)


class HyperbandStrategyConfigShape(Shape):
    MinResource: int | None = Field(default=None, ge=1)
    MaxResource: int | None = Field(default=None, ge=1)
    # tunestream's extensions. Promotion "Enabled" pauses training jobs at their rung and resumes the
    # promoted ones from their checkpoints (strategies/promotion.py); it needs CheckpointConfig, and
    # is the default when CheckpointConfig is given. FirstRung "Auto" sizes promotion's first rung
    # from what a start costs (at least MinResource) and keeps the ladder to five rungs; "MinResource"
    # starts the rungs at MinResource.
    # Proposals "Model" (the default) proposes promotion's new configurations from a GP over
    # configuration and resource fitted to the values at every rung, expected improvement per second
    # of a step (promotion.RungModel); "Random" draws them at random.
    # Pausing "WhenBehind" lets a training job that ranks in the top half of those that reached a
    # rung go on past it without a pause (and a new start); "EveryRung" pauses every job at every rung.
    # Ranking "Trend" ranks a rung by the value each configuration is predicted to have at the next
    # rung (strategies/rung_trend.py); "Value" (the default) by the values at the rung.
    # PauseAtNewBest "Enabled" (the default with Pausing "EveryRung") also pauses a training job
    # between rungs where its value beats every ended training job's, so that the value is a training
    # job's result at once, and resumes it to its rung first (promotion.PromotionHyperband.pause_at_new_best).
    Promotion: Literal["Enabled", "Disabled"] | None = None
    FirstRung: Literal["Auto", "MinResource"] | None = None
    Proposals: Literal["Random", "Model"] | None = None
    Pausing: Literal["EveryRung", "WhenBehind"] | None = None
    Ranking: Literal["Value", "Trend"] | None = None
    PauseAtNewBest: Literal["Enabled", "Disabled"] | None = None


class BayesianStrategyConfigShape(Shape):
    # tunestream's extension. CostAware "Enabled" (the default) weighs each proposal's expected
    # improvement by the seconds a model predicts its training job takes (strategies/bayesian.py);
    # "Disabled" gives plain expected improvement.
    CostAware: Literal["Enabled", "Disabled"] | None = None


class StrategyConfigShape(Shape):
    HyperbandStrategyConfig: HyperbandStrategyConfigShape | None = None
    BayesianStrategyConfig: BayesianStrategyConfigShape | None = None


class BestObjectiveNotImprovingShape(Shape):
    MaxNumberOfTrainingJobsNotImproving: int = Field(ge=3)


class ConvergenceDetectedShape(Shape):
    CompleteOnConvergence: Literal["Disabled", "Enabled"] = "Disabled"


class TuningJobCompletionCriteriaShape(Shape):
    TargetObjectiveMetricValue: float | None = None
    BestObjectiveNotImproving: BestObjectiveNotImprovingShape | None = None
    ConvergenceDetected: ConvergenceDetectedShape | None = None


class HyperParameterTuningJobConfigShape(Shape):
    # Strategy is a plain string so an unknown one gets tunestream's own message listing the known ones.
    Strategy: str
    StrategyConfig: StrategyConfigShape | None = None
    HyperParameterTuningJobObjective: TuningJobObjective | None = None
    ResourceLimits: ResourceLimitsShape
    ParameterRanges: ParameterRangesShape = Field(default_factory=ParameterRangesShape)
    TrainingJobEarlyStoppingType: Literal["Off", "Auto"] = "Off"
    TuningJobCompletionCriteria: TuningJobCompletionCriteriaShape | None = None
    RandomSeed: int | None = Field(default=None, ge=0, le=2**31 - 1)


class MetricDefinition(Shape):
    Name: str = Field(min_length=1, max_length=255)
    Regex: str = Field(min_length=1, max_length=500)


class AlgorithmSpecificationShape(Shape):
    TrainingImage: str | None = None
    # tunestream's extension: the training program as an argv list, run as a local process.
    Command: list[str] | None = Field(default=None, min_length=1)
    TrainingInputMode: Literal["File", "Pipe", "FastFile"] = "File"
    AlgorithmName: str | None = None
    MetricDefinitions: list[MetricDefinition] = Field(default_factory=list, max_length=40)
    EnableSageMakerMetricsTimeSeries: bool | None = None
    # CreateTrainingJob's (tunestream takes them in a tuning job's definition too): a container's
    # entrypoint and its arguments, in place of the image's entrypoint and `train`.
    ContainerEntrypoint: list[str] | None = Field(default=None, min_length=1, max_length=100)
    ContainerArguments: list[str] | None = Field(default=None, min_length=1, max_length=100)

    @property
    def builtin(self) -> BuiltinAlgorithm | None:
        """The SageMaker built-in algorithm this names, which tunestream's stand-in program runs."""
        return builtin_algorithm(self.TrainingImage, self.AlgorithmName)

    @model_validator(mode="before")
    @classmethod
    def _builtin_metrics(cls, data: Any) -> Any:
        # A built-in algorithm's metrics are SageMaker's to define; a job for one gives none.
        if not isinstance(data, dict) or data.get("MetricDefinitions") or data.get("Command") is not None:
            return data
        image, name = data.get("TrainingImage"), data.get("AlgorithmName")
        algorithm = builtin_algorithm(
            image if isinstance(image, str) else None, name if isinstance(name, str) else None
        )
        if algorithm is None:
            return data
        return {**data, "MetricDefinitions": metric_definitions(algorithm)}


class S3DataSourceShape(Shape):
    S3Uri: str = Field(pattern=r"^s3://[^/]+(/.*)?$")
    S3DataType: Literal["S3Prefix", "ManifestFile", "AugmentedManifestFile"] = "S3Prefix"
    S3DataDistributionType: Literal["FullyReplicated", "ShardedByS3Key"] = "FullyReplicated"
    AttributeNames: list[str] | None = None
    InstanceGroupNames: list[str] | None = Field(default=None, min_length=1, max_length=5)
    ModelAccessConfig: dict[str, Any] | None = None
    HubAccessConfig: dict[str, Any] | None = None


class DataSourceShape(Shape):
    # Launchers download channels from the S3 store only, so S3DataSource stays required.
    S3DataSource: S3DataSourceShape
    FileSystemDataSource: dict[str, Any] | None = None
    DatasetSource: dict[str, Any] | None = None


class Channel(Shape):
    ChannelName: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9\.\-_]+$")
    DataSource: DataSourceShape
    ContentType: str | None = None
    CompressionType: Literal["None", "Gzip"] | None = None
    RecordWrapperType: str | None = None
    InputMode: str | None = None
    ShuffleConfig: dict[str, Any] | None = None


class OutputDataConfigShape(Shape):
    S3OutputPath: str = Field(pattern=r"^s3://[^/]+(/.*)?$")
    KmsKeyId: str | None = None
    CompressionType: Literal["GZIP", "NONE"] | None = None


class InstanceGroupShape(Shape):
    """One group of a heterogeneous cluster: InstanceCount instances of InstanceType."""

    InstanceType: str
    InstanceCount: int = Field(ge=1)
    InstanceGroupName: str = Field(min_length=1, max_length=64)


class ResourceConfigShape(Shape):
    InstanceType: str | None = None
    InstanceCount: int = Field(default=1, ge=1)
    # tunestream's extension: GPUs per training job, overriding what InstanceType implies.
    GpuCount: int | None = Field(default=None, ge=0, le=64)
    VolumeSizeInGB: int | None = None
    VolumeKmsKeyId: str | None = None
    KeepAlivePeriodInSeconds: int | None = None
    InstanceGroups: list[InstanceGroupShape] | None = Field(default=None, min_length=1, max_length=5)
    TrainingPlanArn: str | None = None
    InstancePlacementConfig: dict[str, Any] | None = None
    InstancePreferences: list[dict[str, Any]] | None = None
    SelectedInstanceType: str | None = None
    SelectedInstanceCount: int | None = None


class TuningInstanceConfig(Shape):
    InstanceType: str
    InstanceCount: int = Field(ge=1)
    VolumeSizeInGB: int = Field(ge=1)


class TuningResourceConfigShape(Shape):
    """HyperParameterTuningResourceConfig: what SageMaker's SDK v2 sends instead of ResourceConfig.
    With InstanceConfigs, AMT takes them in order ("Prioritized") when capacity runs short; here
    capacity never runs short, so the first one is what a training job gets."""

    InstanceType: str | None = None
    InstanceCount: int | None = Field(default=None, ge=1)
    VolumeSizeInGB: int | None = Field(default=None, ge=1)
    VolumeKmsKeyId: str | None = None
    AllocationStrategy: Literal["Prioritized"] | None = None
    InstanceConfigs: list[TuningInstanceConfig] | None = Field(default=None, min_length=1, max_length=6)

    def resource_config(self) -> dict[str, Any]:
        """The ResourceConfig each training job gets."""
        chosen: Shape = self.InstanceConfigs[0] if self.InstanceConfigs else self
        fields = {k: getattr(chosen, k) for k in ("InstanceType", "InstanceCount", "VolumeSizeInGB")}
        if self.VolumeKmsKeyId is not None:
            fields["VolumeKmsKeyId"] = self.VolumeKmsKeyId
        return {k: v for k, v in fields.items() if v is not None}


class StoppingConditionShape(Shape):
    MaxRuntimeInSeconds: int = Field(default=86400, ge=1)
    MaxWaitTimeInSeconds: int | None = None
    MaxPendingTimeInSeconds: int | None = None


class CheckpointConfigShape(Shape):
    S3Uri: str = Field(pattern=r"^s3://[^/]+(/.*)?$")
    LocalPath: str | None = None


class RetryStrategyShape(Shape):
    MaximumRetryAttempts: int = Field(ge=1, le=30)


class TrainingJobDefinitionShape(Shape):
    DefinitionName: str | None = None
    TuningObjective: TuningJobObjective | None = None
    HyperParameterRanges: ParameterRangesShape | None = None
    StaticHyperParameters: dict[str, Annotated[str, BeforeValidator(_number_as_text)]] = Field(default_factory=dict)
    AlgorithmSpecification: AlgorithmSpecificationShape
    RoleArn: str | None = None
    InputDataConfig: list[Channel] = Field(default_factory=list, max_length=20)
    OutputDataConfig: OutputDataConfigShape
    ResourceConfig: ResourceConfigShape = Field(default_factory=ResourceConfigShape)
    StoppingCondition: StoppingConditionShape = Field(default_factory=StoppingConditionShape)
    Environment: dict[str, str] = Field(default_factory=dict)
    CheckpointConfig: CheckpointConfigShape | None = None
    RetryStrategy: RetryStrategyShape | None = None
    VpcConfig: dict[str, Any] | None = None
    EnableNetworkIsolation: bool | None = None
    EnableInterContainerTrafficEncryption: bool | None = None
    EnableManagedSpotTraining: bool | None = None
    HyperParameterTuningResourceConfig: TuningResourceConfigShape | None = None

    @model_validator(mode="after")
    def _resources_from_tuning_config(self) -> TrainingJobDefinitionShape:
        # SageMaker takes exactly one of the two; the training jobs (and DescribeTrainingJob, which
        # the SDKs read) then have a ResourceConfig either way.
        tuning = self.HyperParameterTuningResourceConfig
        if tuning is None:
            return self
        if tuning.InstanceConfigs and (tuning.InstanceType or tuning.InstanceCount):
            raise ValueError(
                "HyperParameterTuningResourceConfig: give InstanceConfigs or InstanceType and InstanceCount, not both"
            )
        derived = ResourceConfigShape(**tuning.resource_config())
        # A stored request read again carries the ResourceConfig derived here before: the same one.
        if "ResourceConfig" in self.model_fields_set and self.ResourceConfig != derived:
            raise ValueError(
                "give ResourceConfig or HyperParameterTuningResourceConfig, not both (SageMaker takes one)"
            )
        return self.model_copy(update={"ResourceConfig": derived})


class ParentTuningJob(Shape):
    HyperParameterTuningJobName: str


class WarmStartConfigShape(Shape):
    # SageMaker caps parents at 5; tunestream allows MAX_WARM_START_PARENTS (their results travel in one event).
    ParentHyperParameterTuningJobs: list[ParentTuningJob] = Field(min_length=1, max_length=100)
    WarmStartType: Literal["IdenticalDataAndAlgorithm", "TransferLearning"]


class CreateTuningJobRequest(Shape):
    """The body of POST /tuning-jobs (SageMaker's CreateHyperParameterTuningJob)."""

    HyperParameterTuningJobName: str = Field(min_length=1, max_length=32, pattern=JOB_NAME_PATTERN)
    HyperParameterTuningJobConfig: HyperParameterTuningJobConfigShape
    TrainingJobDefinition: TrainingJobDefinitionShape | None = None
    TrainingJobDefinitions: list[TrainingJobDefinitionShape] | None = None
    WarmStartConfig: WarmStartConfigShape | None = None
    Tags: list[dict[str, str]] | None = None
    Autotune: dict[str, Any] | None = None


# --- CreateTrainingJob: one training job outside any tuning job ---------------------------------

TRAINING_JOB_NAME_PATTERN = r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$"


class TrainingAlgorithmSpecificationShape(AlgorithmSpecificationShape):
    """CreateTrainingJob's AlgorithmSpecification: the tuning one and what only a training job has."""

    TrainingImageConfig: dict[str, Any] | None = None


class CreateTrainingJobRequest(Shape):
    """The body of POST /training-jobs (SageMaker's CreateTrainingJob). Members shared with a tuning
    job's TrainingJobDefinition mean the same (tunestream.request_members.TRAINING_MEMBERS)."""

    TrainingJobName: str = Field(min_length=1, max_length=63, pattern=TRAINING_JOB_NAME_PATTERN)
    HyperParameters: dict[str, Annotated[str, BeforeValidator(_number_as_text)]] = Field(default_factory=dict)
    AlgorithmSpecification: TrainingAlgorithmSpecificationShape
    RoleArn: str | None = None
    InputDataConfig: list[Channel] = Field(default_factory=list, max_length=20)
    OutputDataConfig: OutputDataConfigShape
    ResourceConfig: ResourceConfigShape = Field(default_factory=ResourceConfigShape)
    VpcConfig: dict[str, Any] | None = None
    StoppingCondition: StoppingConditionShape = Field(default_factory=StoppingConditionShape)
    Tags: list[dict[str, str]] | None = None
    EnableNetworkIsolation: bool | None = None
    EnableInterContainerTrafficEncryption: bool | None = None
    EnableManagedSpotTraining: bool | None = None
    CheckpointConfig: CheckpointConfigShape | None = None
    Environment: dict[str, str] = Field(default_factory=dict)
    RetryStrategy: RetryStrategyShape | None = None
    # What only CreateTrainingJob has: AWS's debugger, profiler, experiments and the like.
    DebugHookConfig: dict[str, Any] | None = None
    DebugRuleConfigurations: list[dict[str, Any]] | None = None
    TensorBoardOutputConfig: dict[str, Any] | None = None
    ExperimentConfig: dict[str, Any] | None = None
    ProfilerConfig: dict[str, Any] | None = None
    ProfilerRuleConfigurations: list[dict[str, Any]] | None = None
    RemoteDebugConfig: dict[str, Any] | None = None
    InfraCheckConfig: dict[str, Any] | None = None
    SessionChainingConfig: dict[str, Any] | None = None
    ServerlessJobConfig: dict[str, Any] | None = None
    MlflowConfig: dict[str, Any] | None = None
    ModelPackageConfig: dict[str, Any] | None = None
