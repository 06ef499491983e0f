"""Every event tunestream's services exchange, schema version 1.

Each event is an envelope (event_id, type, tuning_job_name, occurred_at, schema_version) around a
typed payload. Event ids are deterministic (built from the names of what they describe), so an
event produced twice after a crash carries the same id and consumers drop the copy.

Facts are named in the past tense (TrainingJobStarted); requests in the imperative mood of their
sender (TuningJobStopRequested). Adding an optional field is compatible; any other change is a v2.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from tunestream.definitions import CreateTuningJobRequest, MetricDefinition
from tunestream.training_image import is_file_uri, local_executable
from tunestream.trials import ObjectiveStatus, TrainingJobStatus

SCHEMA_VERSION = 1
# Log batch numbers of attempt n start at n * SEQ_PER_ATTEMPT, so a retry's batches never reuse an id.
SEQ_PER_ATTEMPT = 1_000_000


def utcnow() -> datetime:
    return datetime.now(UTC)


class Payload(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EventBase(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    event_id: str
    tuning_job_name: str
    occurred_at: datetime = Field(default_factory=utcnow)
    schema_version: Literal[1] = 1

    def partition_key(self) -> str:
        """A tuning job's events share one partition, so they are read in the order they were written."""
        return self.tuning_job_name


# --- api -> suggester, tracker -------------------------------------------------------------------


class WarmStartObservation(Payload):
    """A parent tuning job's finished training job, as the api found it at submission."""

    tuning_job_name: str
    training_job_name: str
    tuned_hyperparameters: dict[str, str]
    objective: float
    # The parent's TrainingJobDefinition when it had several (its own hyperparameter names, as
    # `tuned_hyperparameters`); None from a parent of one definition.
    definition_name: str | None = None


class TuningJobSubmittedData(Payload):
    request: CreateTuningJobRequest
    random_seed: int
    created_at: datetime
    # Parents' results travel with the job, so its decisions never depend on what else is in memory.
    warm_start: list[WarmStartObservation] = Field(default_factory=list)
    # The principal that created the job (its owner); None before principals existed.
    owner: str | None = None
    # CreateTrainingJob: the job is the carrier of this one training job (tunestream.standalone), and
    # the inert members its request had (DescribeTrainingJob lists them).
    training_job: str | None = None
    training_job_inert_members: list[str] = Field(default_factory=list)


class TuningJobSubmitted(EventBase):
    type: Literal["TuningJobSubmitted"] = "TuningJobSubmitted"
    payload: TuningJobSubmittedData


class TuningJobStopRequestedData(Payload):
    reason: str


class TuningJobStopRequested(EventBase):
    type: Literal["TuningJobStopRequested"] = "TuningJobStopRequested"
    payload: TuningJobStopRequestedData


class ApiCallRecordedData(Payload):
    """Who changed (or tried to change) a tuning job or what belongs to it, and what the api answered."""

    principal: str
    role: Literal["admin", "member", "viewer"]
    operation: str  # SageMaker's name, e.g. StopHyperParameterTuningJob
    resource: str  # the tuning job, training job or ARN the call named
    via: Literal["rest", "sagemaker"]
    status: int  # the HTTP status the REST api answers for this outcome
    error: str | None = None  # the error type when refused, e.g. AccessDeniedException
    request_id: str


class ApiCallRecorded(EventBase):
    """The audit trail: a mutating call on the job's own stream, so replay and the dashboard show it."""

    type: Literal["ApiCallRecorded"] = "ApiCallRecorded"
    payload: ApiCallRecordedData


# --- suggester -> launcher, tracker --------------------------------------------------------------


class InputChannel(Payload):
    name: str
    s3_uri: str
    # What SageMaker writes for the channel in /opt/ml/input/config/inputdataconfig.json.
    content_type: str | None = None
    input_mode: Literal["File", "FastFile"] = "File"
    distribution: Literal["FullyReplicated", "ShardedByS3Key"] = "FullyReplicated"
    compression: Literal["None", "Gzip"] | None = None
    record_wrapper: str | None = None
    # S3DataSource.S3DataType: S3Prefix (every object under s3_uri) or ManifestFile (s3_uri is a
    # manifest listing the objects).
    data_type: Literal["S3Prefix", "ManifestFile"] = "S3Prefix"
    # S3DataSource.InstanceGroupNames: only the hosts of these instance groups get the channel.
    instance_groups: list[str] | None = None


class InstanceGroupSpec(Payload):
    """A group of a heterogeneous cluster (ResourceConfig.InstanceGroups): `count` hosts of
    `instance_type`, each with `gpus` GPUs."""

    name: str
    instance_type: str
    count: int
    gpus: int = 0


class ScriptSpec(Payload):
    """A framework container's script (tunestream.framework_images): the launcher unpacks
    `submit_directory` (sourcedir.tar.gz) into the job's code/ and runs `program` from there."""

    framework: str
    program: str
    submit_directory: str


class TrainingJobSpec(Payload):
    """Everything a launcher needs to run one training job, so launchers keep no job definitions."""

    training_job_name: str
    index: int
    tuned_hyperparameters: dict[str, str]
    hyperparameters: dict[str, str]
    command: list[str]
    environment: dict[str, str]
    input_channels: list[InputChannel]
    output_s3_path: str
    max_runtime_s: int
    metric_definitions: list[MetricDefinition]
    objective_metric_name: str
    objective_type: Literal["Maximize", "Minimize"]
    # ResourceConfig.InstanceCount: that many copies of the program run together, one per host
    # (algo-1 ... algo-N), each with gpu_count GPUs.
    instance_count: int = 1
    # ResourceConfig.InstanceType, as resourceconfig.json names it (no group: one homogeneous cluster).
    instance_type: str | None = None
    # ResourceConfig.InstanceGroups: the hosts in group order (instance_count is their total, and
    # each group's `gpus` replaces gpu_count for its hosts).
    instance_groups: list[InstanceGroupSpec] = Field(default_factory=list)
    # OutputDataConfig.CompressionType: GZIP uploads model.tar.gz and output.tar.gz; NONE the files as
    # they are, under output/model/ and output/data/ (as SageMaker does).
    output_compression: Literal["GZIP", "NONE"] = "GZIP"
    # EnableNetworkIsolation: the program gets no network (a container without one, a process in a
    # network namespace of its own); only a launcher that can do that for the backend runs it.
    network_isolation: bool = False
    # A container's entrypoint and arguments in place of the image's entrypoint and `train`.
    container_entrypoint: list[str] | None = None
    container_arguments: list[str] | None = None
    # Set: run in a container of this image (Docker backend); unset: run `command` as a local process.
    # `file:///abs/path` is no image: that executable runs as a local process (see tunestream.training_image).
    training_image: str | None = None
    gpu_count: int = 0
    checkpoint_s3_uri: str | None = None
    checkpoint_local_path: str | None = None
    # RetryStrategy.MaximumRetryAttempts: attempts after the first one that an infrastructure failure
    # (a launcher lost or restarted, an internal launcher error) may use. SageMaker's default is none.
    max_retry_attempts: int = 0
    # EnableManagedSpotTraining: the job runs only on launchers that declare their capacity
    # preemptible, an attempt lost there is an interruption that RetryStrategy does not count, and
    # StoppingCondition.MaxWaitTimeInSeconds bounds the whole job from its creation, waits included.
    managed_spot: bool = False
    max_wait_s: int | None = None
    # Promotion Hyperband (pause and resume): the step the program trains to before it pauses
    # (TUNESTREAM_RESOURCE_LIMIT), and the earlier training job of the same configuration whose
    # checkpoint it starts from.
    resource_limit: int | None = None
    resume_from: str | None = None
    # Steps the resumed training job already holds: its first objective value is step offset + 1.
    step_offset: int = 0

    # A SageMaker built-in algorithm (by its ECR TrainingImage or AlgorithmName): the launcher runs
    # tunestream's stand-in program for it as a local process (tunestream.builtin_algorithms).
    builtin_algorithm: Literal["xgboost"] | None = None
    # A framework estimator's script in a Deep Learning Container's image: run as a local process
    # on the launcher's Python, as the container's training toolkit would run it.
    script: ScriptSpec | None = None
    # Several TrainingJobDefinitions: the DefinitionName of the one this training job runs (its
    # metric definitions and objective are the ones above).
    definition_name: str | None = None

    @property
    def backend(self) -> Literal["process", "container"]:
        if self.builtin_algorithm is not None or self.script is not None:
            return "process"
        return "container" if self.training_image and not is_file_uri(self.training_image) else "process"

    def host_gpu_counts(self) -> list[int]:
        """The GPUs of each host, algo-1 first."""
        if self.instance_groups:
            return [g.gpus for g in self.instance_groups for _ in range(g.count)]
        return [self.gpu_count] * self.instance_count

    @property
    def total_gpus(self) -> int:
        return sum(self.host_gpu_counts())

    @property
    def local_executable(self) -> str | None:
        """The program a `file://` TrainingImage names, run as a local process."""
        return local_executable(self.training_image)


class DecisionInputs(Payload):
    """What the suggester had read of a tuning job when it made a decision: how many of the job's
    events of the jobs topic and of the metrics topic (copies included, in partition order). The
    topics interleave differently on every run (and a restarted suggester decides after reading
    everything), so `tunestream replay` needs this to feed a decision the same inputs again."""

    jobs: int
    metrics: int
    # The suggester decided while a proposal it computes ahead was not ready (TuningJobState.decide's
    # model_busy): set on every decision of that decide, since it also holds back the next
    # computation; an input replay cannot derive from the events, as it depends on the clock.
    model_busy: bool = False


class TrainingJobProposedData(Payload):
    spec: TrainingJobSpec
    reason: str
    details: dict[str, float | int | str] = Field(default_factory=dict)
    inputs: DecisionInputs | None = None


class TrainingJobProposed(EventBase):
    type: Literal["TrainingJobProposed"] = "TrainingJobProposed"
    payload: TrainingJobProposedData


class TrainingJobStopRequestedData(Payload):
    training_job_name: str
    reason: str
    # Set when an early stopper decided: which rule, at which step, the job's value and the cutoff.
    rule: str | None = None
    step: int | None = None
    value: float | None = None
    cutoff: float | None = None
    inputs: DecisionInputs | None = None


class TrainingJobStopRequested(EventBase):
    type: Literal["TrainingJobStopRequested"] = "TrainingJobStopRequested"
    payload: TrainingJobStopRequestedData


class TrainingJobAssignedData(Payload):
    """The scheduler's choice of where one attempt of a training job runs. For a given (training job,
    attempt) the first assignment in the partition wins, for every reader alike."""

    training_job_name: str
    attempt: int
    launcher_id: str
    # The launcher's incarnation when assigned: a launcher that restarted no longer runs this attempt.
    incarnation: str
    gpus: list[str] = Field(default_factory=list)
    # A managed spot training job on preemptible capacity: its loss is an interruption, and the
    # launcher stops it at `wait_deadline` (its creation plus MaxWaitTimeInSeconds).
    spot: bool = False
    wait_deadline: datetime | None = None


class TrainingJobAssigned(EventBase):
    type: Literal["TrainingJobAssigned"] = "TrainingJobAssigned"
    payload: TrainingJobAssignedData


class TuningJobCompletionDetails(Payload):
    """SageMaker's TuningJobCompletionDetails."""

    NumberOfTrainingJobsObjectiveNotImproving: int = 0
    ConvergenceDetectedTime: datetime | None = None


class TuningJobEndedData(Payload):
    status: Literal["Completed", "Stopped", "Failed"]
    reason: str
    completion_details: TuningJobCompletionDetails | None = None
    inputs: DecisionInputs | None = None


class TuningJobEnded(EventBase):
    type: Literal["TuningJobEnded"] = "TuningJobEnded"
    payload: TuningJobEndedData


# --- launcher -> collector, suggester, tracker ---------------------------------------------------


class TrainingJobStartedData(Payload):
    training_job_name: str
    launcher_id: str
    attempt: int = 0
    pid: int
    work_dir: str
    metric_definitions: list[MetricDefinition]
    objective_metric_name: str
    # Where this attempt's values count on from: a resumed training job's parent's last step
    # (TrainingJobSpec), or the step of a checkpoint of its own that a retried attempt restored.
    step_offset: int = 0


class TrainingJobStarted(EventBase):
    type: Literal["TrainingJobStarted"] = "TrainingJobStarted"
    payload: TrainingJobStartedData


class OutputLine(Payload):
    stream: Literal["stdout", "stderr"]
    text: str
    at: datetime
    # The instance that printed it (algo-2, ...) when the training job runs on several; SageMaker
    # keeps a log stream per instance.
    host: str | None = None


class TrainingOutputLoggedData(Payload):
    training_job_name: str
    # Increases over the training job's whole life: attempt n numbers its batches from n * SEQ_PER_ATTEMPT.
    seq: int
    attempt: int = 0
    first_line: int
    lines: list[OutputLine]


class TrainingOutputLogged(EventBase):
    type: Literal["TrainingOutputLogged"] = "TrainingOutputLogged"
    payload: TrainingOutputLoggedData


class TrainingJobFinishedData(Payload):
    training_job_name: str
    status: TrainingJobStatus
    secondary_status: str
    exit_code: int | None
    failure_reason: str | None
    model_artifact_s3_uri: str | None
    log_batches: int
    log_lines: int
    attempt: int = 0
    # A Failed job whose cause was tunestream's (SageMaker's "Failed (Retryable)"), not the program's.
    retryable: bool = False


class TrainingJobFinished(EventBase):
    type: Literal["TrainingJobFinished"] = "TrainingJobFinished"
    payload: TrainingJobFinishedData


class TrainingJobAttemptFailedData(Payload):
    """One attempt ended for a reason outside the training program; the scheduler retries it or
    ends the training job as Failed (Retryable) once RetryStrategy's attempts are spent."""

    training_job_name: str
    attempt: int
    launcher_id: str
    reason: str


class TrainingJobAttemptFailed(EventBase):
    type: Literal["TrainingJobAttemptFailed"] = "TrainingJobAttemptFailed"
    payload: TrainingJobAttemptFailedData


# --- launcher -> scheduler (launchers topic, keyed by launcher) ---------------------------------


class LauncherHeartbeatData(Payload):
    launcher_id: str
    # New on every start of the launcher process: attempts assigned to an older one are lost.
    incarnation: str
    backends: list[Literal["process", "container"]]
    slots: int
    gpus: list[str]
    running: list[str]
    interval_s: float
    # The backends for which this launcher can run a training job without network access.
    isolating: list[Literal["process", "container"]] = Field(default_factory=list)
    # The backends for which this launcher runs a training job of several instances (InstanceCount > 1),
    # all of them together on its own slots and GPUs.
    multi_instance: list[Literal["process", "container"]] = Field(default_factory=list)
    # Its capacity can be taken back (spot machines, a preemptible Slurm partition): it runs managed
    # spot training jobs only, and every other job stays off it.
    preemptible: bool = False
    # Set when the launcher shuts down: assign nothing more to it.
    stopping: bool = False


class LauncherHeartbeat(EventBase):
    """Keyed by launcher id; `tuning_job_name` is empty."""

    type: Literal["LauncherHeartbeat"] = "LauncherHeartbeat"
    payload: LauncherHeartbeatData

    def partition_key(self) -> str:
        return self.payload.launcher_id


# --- collector -> suggester, tracker -------------------------------------------------------------


class MetricReportedData(Payload):
    training_job_name: str
    metric_name: str
    value: float
    step: int
    at: datetime


class MetricReported(EventBase):
    type: Literal["MetricReported"] = "MetricReported"
    payload: MetricReportedData


class ObjectiveCollectedData(Payload):
    """A finished training job's final objective: the last value its objective regex matched."""

    training_job_name: str
    status: TrainingJobStatus
    failure_reason: str | None
    objective_value: float | None
    objective_status: ObjectiveStatus
    objective_reason: str | None


class ObjectiveCollected(EventBase):
    type: Literal["ObjectiveCollected"] = "ObjectiveCollected"
    payload: ObjectiveCollectedData


Event = Annotated[
    TuningJobSubmitted
    | TuningJobStopRequested
    | ApiCallRecorded
    | TrainingJobProposed
    | TrainingJobStopRequested
    | TrainingJobAssigned
    | TuningJobEnded
    | TrainingJobStarted
    | TrainingOutputLogged
    | TrainingJobFinished
    | TrainingJobAttemptFailed
    | LauncherHeartbeat
    | MetricReported
    | ObjectiveCollected,
    Field(discriminator="type"),
]

EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)


def encode(event: EventBase) -> bytes:
    return event.model_dump_json().encode()


def decode(data: bytes) -> Event:
    return EVENT_ADAPTER.validate_json(data)
