"""Estimators, as `sagemaker.estimator`: what a training job runs and on what resources.

tunestream runs training jobs only inside tuning jobs, so an estimator here is the template of
`TrainingJobDefinition` that `HyperparameterTuner` submits:

- `entry_point` (+ `source_dir`): a script run as a local process by a launcher, through tunestream's
  `AlgorithmSpecification.Command` = `[sys.executable, <absolute path of source_dir/entry_point>]`.
  source_dir is resolved against the current directory when the estimator is made, as sagemaker does,
  and the script must exist then. The launcher must see the same path (same machine or shared disk).
- `image_uri`: `AlgorithmSpecification.TrainingImage`, run by a launcher with the container backend
  (started with `train`, or with `container_entry_point` + `container_arguments` as Command).

Everything else maps to the TrainingJobDefinition field SageMaker maps it to (see `definition()`).
"""

from __future__ import annotations

import json
import math
import re
import sys
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

if TYPE_CHECKING:
    from tunestream.sdk.session import Session

DEFAULT_MAX_RUN = 24 * 60 * 60
INPUT_MODES = ("File", "Pipe", "FastFile")

# sagemaker Estimator arguments that change nothing in tunestream (accepted so scripts run unchanged).
IGNORED_ARGUMENTS = frozenset(
    {
        "keep_alive_period_in_seconds",
        "volume_kms_key",
        "output_kms_key",
        "model_uri",
        "model_channel_name",
        "encrypt_inter_container_traffic",
        "rules",
        "debugger_hook_config",
        "tensorboard_output_config",
        "enable_sagemaker_metrics",
        "profiler_config",
        "disable_profiler",
        "container_log_level",
        "code_location",
        "training_repository_access_mode",
        "training_repository_credentials_provider_arn",
        "enable_infra_check",
        "disable_output_compression",
        "enable_remote_debug",
        "enable_session_tag_chaining",
        "training_plan",
        "image_uri_region",
        "distribution",
        "compiler_config",
    }
)
# ... and ones that would change what runs, which tunestream cannot honour: an error, not a surprise.
UNSUPPORTED_ARGUMENTS = {
    "git_config": "clone the repository yourself and pass its local folder as source_dir",
    "dependencies": "put the modules inside source_dir (the entry point's folder is on sys.path)",
    "instance_groups": "use instance_type and instance_count",
    "training_recipe": "recipes are not supported; pass entry_point",
}

E = TypeVar("E", bound="EstimatorBase")


def sanitize_base_name(text: str) -> str:
    """A job-name-safe base: letters, digits and '-' only, starting with a letter or digit."""
    cleaned = re.sub(r"[^a-zA-Z0-9-]+", "-", text).strip("-")
    return re.sub(r"-{2,}", "-", cleaned)


def base_name_from_image(image: str, default_base_name: str | None = None) -> str:
    """The algorithm name of an image URI: '.../pytorch-training:2.4.0-gpu-py311' -> 'pytorch-training'."""
    match = re.match(r"^(.+/)?([^:/]+)(:[^:]+)?$", image)
    name = match.group(2) if match else image
    return sanitize_base_name(name) or (default_base_name or "training")


def _to_text(value: Any) -> str:
    """A hyperparameter value as tunestream passes it (verbatim text; lists and dicts as JSON)."""
    if isinstance(value, str):
        return value
    if isinstance(value, list | tuple | dict):
        return json.dumps(value)
    return str(value)


def parse_number(text: Any) -> Any:
    """'10' -> 10, '0.5' -> 0.5, '1e-05' -> 1e-05; anything else unchanged."""
    if not isinstance(text, str):
        return text
    try:
        return int(text)
    except ValueError:
        pass
    try:
        number = float(text)
    except ValueError:
        return text
    return number if math.isfinite(number) else text


class TrainingJob:
    """The training job an estimator was attached to (`estimator.latest_training_job`)."""

    def __init__(self, sagemaker_session: Session, name: str) -> None:
        self.sagemaker_session, self.name, self.job_name = sagemaker_session, name, name

    def describe(self) -> dict[str, Any]:
        return self.sagemaker_session.describe_training_job(self.name)

    def logs(self) -> str:
        return self.sagemaker_session.training_job_logs(self.name)

    def __repr__(self) -> str:
        return f"TrainingJob({self.name!r})"


class EstimatorBase:
    """What every estimator has: the program, its resources, its limits, its hyperparameters."""

    JOB_CLASS_NAME: ClassVar[str] = "training"
    # The base of tuning job names when no image or base_job_name says otherwise (frameworks: their
    # SageMaker image's name, e.g. 'pytorch-training').
    DEFAULT_BASE_NAME: ClassVar[str | None] = None
    # Frameworks parse numbers back out of a job's (text) hyperparameters on attach, as sagemaker's
    # framework estimators JSON-decode them.
    DECODE_HYPERPARAMETERS: ClassVar[bool] = False

    def __init__(
        self,
        role: str | None = None,
        instance_count: int = 1,
        instance_type: str | None = None,
        *,
        volume_size: int = 30,
        max_run: int = DEFAULT_MAX_RUN,
        input_mode: str = "File",
        output_path: str | None = None,
        base_job_name: str | None = None,
        sagemaker_session: Session | None = None,
        tags: list[dict[str, str]] | None = None,
        subnets: list[str] | None = None,
        security_group_ids: list[str] | None = None,
        metric_definitions: list[dict[str, str]] | None = None,
        use_spot_instances: bool = False,
        max_wait: int | None = None,
        checkpoint_s3_uri: str | None = None,
        checkpoint_local_path: str | None = None,
        enable_network_isolation: bool | None = None,
        environment: dict[str, Any] | None = None,
        max_retry_attempts: int | None = None,
        hyperparameters: dict[str, Any] | None = None,
        entry_point: str | None = None,
        source_dir: str | None = None,
        image_uri: str | None = None,
        container_entry_point: list[str] | None = None,
        container_arguments: list[str] | None = None,
        gpu_count: int | None = None,
        **kwargs: Any,
    ) -> None:
        self._check_arguments(kwargs)
        if not isinstance(instance_count, int) or instance_count < 1:
            raise ValueError(f"instance_count must be a positive integer, got {instance_count!r}")
        if not isinstance(max_run, int) or max_run < 1:
            raise ValueError(f"max_run must be a positive number of seconds, got {max_run!r}")
        if input_mode not in INPUT_MODES:
            raise ValueError(f"input_mode must be one of {', '.join(INPUT_MODES)}, got {input_mode!r}")
        if max_wait is not None and not use_spot_instances:
            raise ValueError("max_wait applies to spot training only: pass use_spot_instances=True as well")
        if max_wait is not None and max_wait < max_run:
            raise ValueError(f"max_wait ({max_wait}) must be at least max_run ({max_run})")
        for what, uri in (("output_path", output_path), ("checkpoint_s3_uri", checkpoint_s3_uri)):
            if uri is not None and not str(uri).startswith("s3://"):
                raise ValueError(f"{what} must be an s3:// URI, got {uri!r}")
        self.role = role
        self.instance_count = instance_count
        self.instance_type = instance_type
        self.volume_size = volume_size
        self.max_run = max_run
        self.input_mode = input_mode
        self.output_path = output_path
        self.base_job_name = base_job_name
        self.sagemaker_session = sagemaker_session
        self.tags = tags
        self.subnets = subnets
        self.security_group_ids = security_group_ids
        self.metric_definitions = metric_definitions
        self.use_spot_instances = use_spot_instances
        self.max_wait = max_wait
        self.checkpoint_s3_uri = checkpoint_s3_uri
        self.checkpoint_local_path = checkpoint_local_path
        self.enable_network_isolation = enable_network_isolation
        self.environment = dict(environment or {})
        self.max_retry_attempts = max_retry_attempts
        self._hyperparameters: dict[str, Any] = dict(hyperparameters or {})
        self.image_uri = image_uri
        self.container_entry_point = list(container_entry_point) if container_entry_point else None
        self.container_arguments = list(container_arguments) if container_arguments else None
        self.gpu_count = gpu_count
        self.entry_point = entry_point
        self.source_dir = source_dir
        self.latest_training_job: TrainingJob | None = None
        self.model_data: str | None = None
        # The exact argv of an attached job (kept as it was, whatever it looks like).
        self._command: list[str] | None = None
        self._script: Path | None = None
        if entry_point is not None:
            if image_uri is not None and not self.container_entry_point:
                raise ValueError(
                    "entry_point scripts run as local processes on a launcher; to run in the image "
                    f"{image_uri!r}, put the code in the image and pass container_entry_point=[...] instead"
                )
            self._script = self._resolve_entry_point(entry_point, source_dir)

    def _check_arguments(self, kwargs: dict[str, Any]) -> None:
        for name, value in kwargs.items():
            if name in UNSUPPORTED_ARGUMENTS:
                if value:
                    raise ValueError(f"{name} is not supported by tunestream: {UNSUPPORTED_ARGUMENTS[name]}")
            elif name not in IGNORED_ARGUMENTS:
                raise TypeError(f"{type(self).__name__}() got an unexpected keyword argument {name!r}")
            elif name == "distribution" and value:
                warnings.warn("distribution is ignored: tunestream runs one process per training job", stacklevel=3)

    @staticmethod
    def _resolve_entry_point(entry_point: str, source_dir: str | None) -> Path:
        if source_dir is not None and str(source_dir).startswith("s3://"):
            raise ValueError(
                f"source_dir {source_dir!r}: tunestream runs entry points from a local folder; pass its path"
            )
        if source_dir is not None:
            folder = Path(source_dir).expanduser().resolve()
            if not folder.is_dir():
                raise FileNotFoundError(
                    f"source_dir {source_dir!r} is not a folder (resolved against {Path.cwd()} to {folder})"
                )
            script = (folder / entry_point).resolve()
        else:
            script = Path(entry_point).expanduser().resolve()
        if not script.is_file():
            where = f"in source_dir {folder}" if source_dir is not None else f"(resolved against {Path.cwd()})"
            raise FileNotFoundError(f"entry_point {entry_point!r} not found {where}: {script} does not exist")
        return script

    def __repr__(self) -> str:
        program = self.entry_point or self.image_uri or self.container_entry_point
        return f"<{type(self).__name__} {program!r} instance_type={self.instance_type!r}>"

    # ------------------------------------------------------------------ sagemaker's accessors

    def hyperparameters(self) -> dict[str, Any]:
        """The hyperparameters: as set on this estimator, or those of the training job it was attached to."""
        return dict(self._hyperparameters)

    def set_hyperparameters(self, **kwargs: Any) -> None:
        self._hyperparameters.update(kwargs)

    def training_image_uri(self) -> str | None:
        return self.image_uri

    @property
    def training_job_name(self) -> str | None:
        return self.latest_training_job.name if self.latest_training_job else None

    def fit(self, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError(
            "tunestream runs training jobs inside tuning jobs only: give this estimator to a HyperparameterTuner"
        )

    # ------------------------------------------------------------------ the request

    def training_command(self) -> list[str] | None:
        """AlgorithmSpecification.Command: what a launcher runs (None: the image's own `train`)."""
        if self._command is not None:
            return list(self._command)
        if self.container_entry_point or self.container_arguments:
            return [*(self.container_entry_point or []), *(self.container_arguments or [])]
        if self._script is not None:
            return [sys.executable, str(self._script)]
        return None

    def base_name(self) -> str:
        """Base of generated tuning job names, as sagemaker derives it (image name, framework, script)."""
        if self.base_job_name:
            return sanitize_base_name(self.base_job_name) or self.JOB_CLASS_NAME
        if self.image_uri:
            return base_name_from_image(self.image_uri, self.JOB_CLASS_NAME)
        if self.DEFAULT_BASE_NAME:
            return self.DEFAULT_BASE_NAME
        program = self.entry_point or next(iter(reversed(self.training_command() or [])), None)
        if program:
            return sanitize_base_name(Path(program).stem) or self.JOB_CLASS_NAME
        return self.JOB_CLASS_NAME

    def definition(
        self,
        *,
        output_path: str,
        metric_definitions: list[dict[str, str]],
        static_hyperparameters: dict[str, Any],
        input_data_config: list[dict[str, Any]],
    ) -> dict[str, Any]:
        """TrainingJobDefinition (less tuning fields) for CreateHyperParameterTuningJob."""
        command = self.training_command()
        if command is None and not self.image_uri:
            raise ValueError(f"{type(self).__name__} has nothing to run: give entry_point or image_uri")
        algorithm: dict[str, Any] = {"TrainingInputMode": self.input_mode}
        if self.image_uri:
            algorithm["TrainingImage"] = self.image_uri
        if command is not None:
            algorithm["Command"] = command
        algorithm["MetricDefinitions"] = [{"Name": m["Name"], "Regex": m["Regex"]} for m in metric_definitions]
        resources: dict[str, Any] = {"InstanceCount": self.instance_count, "VolumeSizeInGB": self.volume_size}
        if self.instance_type:
            resources["InstanceType"] = self.instance_type
        if self.gpu_count is not None:
            resources["GpuCount"] = self.gpu_count
        stopping: dict[str, Any] = {"MaxRuntimeInSeconds": self.max_run}
        if self.max_wait is not None:
            stopping["MaxWaitTimeInSeconds"] = self.max_wait
        definition: dict[str, Any] = {
            "StaticHyperParameters": {str(k): _to_text(v) for k, v in static_hyperparameters.items()},
            "AlgorithmSpecification": algorithm,
        }
        if self.role:
            definition["RoleArn"] = self.role
        if input_data_config:
            definition["InputDataConfig"] = input_data_config
        definition["OutputDataConfig"] = {"S3OutputPath": self.output_path or output_path}
        definition["ResourceConfig"] = resources
        definition["StoppingCondition"] = stopping
        if self.environment:
            definition["Environment"] = {str(k): _to_text(v) for k, v in self.environment.items()}
        if self.checkpoint_s3_uri:
            checkpoint = {"S3Uri": self.checkpoint_s3_uri}
            if self.checkpoint_local_path:
                checkpoint["LocalPath"] = self.checkpoint_local_path
            definition["CheckpointConfig"] = checkpoint
        if self.use_spot_instances:
            definition["EnableManagedSpotTraining"] = True
        if self.max_retry_attempts is not None:
            definition["RetryStrategy"] = {"MaximumRetryAttempts": self.max_retry_attempts}
        if self.subnets or self.security_group_ids:
            definition["VpcConfig"] = {"Subnets": self.subnets or [], "SecurityGroupIds": self.security_group_ids or []}
        if self.enable_network_isolation is not None:
            definition["EnableNetworkIsolation"] = self.enable_network_isolation
        return definition

    # ------------------------------------------------------------------ attach

    @classmethod
    def attach(
        cls: type[E],
        training_job_name: str,
        sagemaker_session: Session | None = None,
        model_channel_name: str = "model",
    ) -> E:
        """An estimator for an existing training job: its program, resources and hyperparameters
        (`.hyperparameters()`), `.model_data` and `.latest_training_job`."""
        from tunestream.sdk.session import Session

        session = sagemaker_session or Session()
        desc = session.describe_training_job(training_job_name)
        estimator = cls.from_definition(desc, desc.get("HyperParameters") or {}, session)
        estimator.latest_training_job = TrainingJob(session, training_job_name)
        estimator.model_data = (desc.get("ModelArtifacts") or {}).get("S3ModelArtifacts")
        return estimator

    @classmethod
    def from_definition(cls: type[E], desc: dict[str, Any], hyperparameters: dict[str, Any], session: Session) -> E:
        """Rebuild an estimator from a TrainingJobDefinition or a DescribeTrainingJob response."""
        algorithm = desc.get("AlgorithmSpecification") or {}
        resources = desc.get("ResourceConfig") or {}
        stopping = desc.get("StoppingCondition") or {}
        checkpoint = desc.get("CheckpointConfig") or {}
        vpc = desc.get("VpcConfig") or {}
        if cls.DECODE_HYPERPARAMETERS:
            hyperparameters = {k: parse_number(v) for k, v in hyperparameters.items()}
        estimator = cls.__new__(cls)
        EstimatorBase.__init__(
            estimator,
            role=desc.get("RoleArn"),
            instance_count=int(resources.get("InstanceCount", 1)),
            instance_type=resources.get("InstanceType"),
            volume_size=resources.get("VolumeSizeInGB") or 30,
            max_run=int(stopping.get("MaxRuntimeInSeconds", DEFAULT_MAX_RUN)),
            input_mode=algorithm.get("TrainingInputMode", "File"),
            output_path=(desc.get("OutputDataConfig") or {}).get("S3OutputPath"),
            sagemaker_session=session,
            subnets=vpc.get("Subnets"),
            security_group_ids=vpc.get("SecurityGroupIds"),
            metric_definitions=list(algorithm.get("MetricDefinitions") or []) or None,
            use_spot_instances=bool(desc.get("EnableManagedSpotTraining")),
            max_wait=stopping.get("MaxWaitTimeInSeconds") if desc.get("EnableManagedSpotTraining") else None,
            checkpoint_s3_uri=checkpoint.get("S3Uri"),
            checkpoint_local_path=checkpoint.get("LocalPath"),
            enable_network_isolation=desc.get("EnableNetworkIsolation"),
            environment=desc.get("Environment"),
            max_retry_attempts=(desc.get("RetryStrategy") or {}).get("MaximumRetryAttempts"),
            hyperparameters=hyperparameters,
            image_uri=algorithm.get("TrainingImage"),
            gpu_count=resources.get("GpuCount"),
        )
        command = algorithm.get("Command")
        if command:
            estimator._command = list(command)
            if len(command) == 2 and command[1].endswith(".py"):
                estimator.entry_point = Path(command[1]).name
                estimator.source_dir = str(Path(command[1]).parent)
            else:
                estimator.container_entry_point = list(command)
        return estimator


class Estimator(EstimatorBase):
    """A generic estimator: an image (`image_uri`) and/or a script (`entry_point`, `source_dir`)."""

    def __init__(
        self,
        image_uri: str | None = None,
        role: str | None = None,
        instance_count: int = 1,
        instance_type: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(role, instance_count, instance_type, image_uri=image_uri, **kwargs)
        if image_uri is None and self.entry_point is None and self.training_command() is None:
            raise ValueError("Estimator needs image_uri, entry_point (with source_dir) or container_entry_point")


class Framework(EstimatorBase):
    """A script-mode estimator (`entry_point` in `source_dir`) of one ML framework."""

    DECODE_HYPERPARAMETERS: ClassVar[bool] = True
    framework_version: str | None = None
    py_version: str | None = None

    def __init__(
        self,
        entry_point: str | None,
        source_dir: str | None = None,
        hyperparameters: dict[str, Any] | None = None,
        image_uri: str | None = None,
        role: str | None = None,
        instance_count: int = 1,
        instance_type: str | None = None,
        framework_version: str | None = None,
        py_version: str | None = None,
        **kwargs: Any,
    ) -> None:
        if entry_point is None:
            raise ValueError(f"{type(self).__name__} needs entry_point: the training script")
        super().__init__(
            role,
            instance_count,
            instance_type,
            entry_point=entry_point,
            source_dir=source_dir,
            hyperparameters=hyperparameters,
            image_uri=image_uri,
            **kwargs,
        )
        self.framework_version = framework_version
        self.py_version = py_version
