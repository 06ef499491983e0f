"""`HyperparameterTuner`, as `sagemaker.tuner`: build a CreateHyperParameterTuningJob request from an
estimator and hyperparameter ranges, submit it to tunestream, watch it, and read its results.

    from tunestream.sdk.tuner import HyperparameterTuner, ContinuousParameter, CategoricalParameter
    tuner = HyperparameterTuner(estimator, "val:dice", {"lr": ContinuousParameter(1e-5, 1e-3)},
                                metric_definitions=[{"Name": "val:dice", "Regex": "val:dice=([0-9\\\\.]+)"}],
                                max_jobs=20, max_parallel_jobs=4)
    tuner.fit({"training": "s3://bucket/prefix/"})      # blocks, printing progress; wait=False returns
    tuner.best_training_job(); tuner.best_estimator().hyperparameters(); tuner.analytics().dataframe()

Obvious mistakes (an objective metric no MetricDefinitions regex reads, min > max, unknown enum
values) raise ValueError here; everything else is checked by the api, whose answer is raised as
`tunestream.sdk.exceptions.ClientError` with every broken rule in its message.
"""

from __future__ import annotations

import copy
import random
import re
import time
from enum import Enum, StrEnum
from typing import TYPE_CHECKING, Any

from tunestream.definitions import JOB_NAME_PATTERN
from tunestream.metric_regex import UnsupportedRegex, compile_metric_regex
from tunestream.sdk.estimator import Estimator, EstimatorBase
from tunestream.sdk.exceptions import ClientError, NoBestTrainingJobError, UnexpectedStatusException
from tunestream.sdk.inputs import input_data_config
from tunestream.sdk.parameter import (
    CategoricalParameter,
    ContinuousParameter,
    IntegerParameter,
    ParameterRange,
    range_from_shape,
)

if TYPE_CHECKING:
    from tunestream.sdk.analytics import HyperparameterTuningJobAnalytics
    from tunestream.sdk.session import Session

__all__ = [
    "CategoricalParameter",
    "ContinuousParameter",
    "EarlyStoppingType",
    "HyperbandStrategyConfig",
    "HyperparameterTuner",
    "IntegerParameter",
    "ParameterRange",
    "StrategyConfig",
    "TuningJobCompletionCriteriaConfig",
    "WarmStartConfig",
    "WarmStartTypes",
]

TUNING_JOB_NAME_MAX_LENGTH = 32
OBJECTIVE_TYPES = ("Maximize", "Minimize")
_NAME_RE = re.compile(JOB_NAME_PATTERN)
_RANGE_KINDS = ("Integer", "Continuous", "Categorical")


class EarlyStoppingType(StrEnum):
    """TrainingJobEarlyStoppingType: 'Off', or 'Auto' (tunestream's median rule)."""

    OFF = "Off"
    AUTO = "Auto"


class WarmStartTypes(Enum):
    IDENTICAL_DATA_AND_ALGORITHM = "IdenticalDataAndAlgorithm"
    TRANSFER_LEARNING = "TransferLearning"


class WarmStartConfig:
    """Start from the results of earlier ("parent") tuning jobs."""

    def __init__(
        self,
        warm_start_type: WarmStartTypes | str = WarmStartTypes.IDENTICAL_DATA_AND_ALGORITHM,
        parents: Any = None,
    ) -> None:
        try:
            self.type = WarmStartTypes(warm_start_type)
        except ValueError:
            known = ", ".join(t.value for t in WarmStartTypes)
            raise ValueError(f"warm_start_type must be a WarmStartTypes ({known}), got {warm_start_type!r}") from None
        names = [parents] if isinstance(parents, str) else list(parents or [])
        if not names:
            raise ValueError("WarmStartConfig needs at least one parent tuning job name")
        self.parents: list[str] = list(dict.fromkeys(str(p) for p in names))

    def __repr__(self) -> str:
        return f"WarmStartConfig(warm_start_type={self.type}, parents={self.parents!r})"

    @classmethod
    def from_job_desc(cls, warm_start_config: dict[str, Any] | None) -> WarmStartConfig | None:
        if not warm_start_config:
            return None
        parents = [p["HyperParameterTuningJobName"] for p in warm_start_config["ParentHyperParameterTuningJobs"]]
        return cls(WarmStartTypes(warm_start_config["WarmStartType"]), parents)

    def to_input_req(self) -> dict[str, Any]:
        return {
            "WarmStartType": self.type.value,
            "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": p} for p in self.parents],
        }


class HyperbandStrategyConfig:
    def __init__(self, max_resource: int | None = None, min_resource: int | None = None) -> None:
        self.max_resource, self.min_resource = max_resource, min_resource

    def to_input_req(self) -> dict[str, Any]:
        shape: dict[str, Any] = {}
        if self.min_resource is not None:
            shape["MinResource"] = self.min_resource
        if self.max_resource is not None:
            shape["MaxResource"] = self.max_resource
        return shape


class StrategyConfig:
    """StrategyConfig of the Hyperband strategy."""

    def __init__(self, hyperband_strategy_config: HyperbandStrategyConfig | None = None) -> None:
        self.hyperband_strategy_config = hyperband_strategy_config

    def to_input_req(self) -> dict[str, Any]:
        if self.hyperband_strategy_config is None:
            return {}
        return {"HyperbandStrategyConfig": self.hyperband_strategy_config.to_input_req()}


class TuningJobCompletionCriteriaConfig:
    """When to end a tuning job before its budget: a target value, no improvement, or convergence."""

    def __init__(
        self,
        max_number_training_jobs_not_improving: int | None = None,
        complete_on_convergence: bool | None = None,
        target_objective_metric_value: float | None = None,
    ) -> None:
        self.max_number_training_jobs_not_improving = max_number_training_jobs_not_improving
        self.complete_on_convergence = complete_on_convergence
        self.target_objective_metric_value = target_objective_metric_value

    def to_input_req(self) -> dict[str, Any]:
        shape: dict[str, Any] = {}
        if self.target_objective_metric_value is not None:
            shape["TargetObjectiveMetricValue"] = self.target_objective_metric_value
        if self.max_number_training_jobs_not_improving is not None:
            shape["BestObjectiveNotImproving"] = {
                "MaxNumberOfTrainingJobsNotImproving": self.max_number_training_jobs_not_improving
            }
        if self.complete_on_convergence is not None:
            shape["ConvergenceDetected"] = {
                "CompleteOnConvergence": "Enabled" if self.complete_on_convergence else "Disabled"
            }
        return shape

    @classmethod
    def from_job_desc(cls, shape: dict[str, Any] | None) -> TuningJobCompletionCriteriaConfig | None:
        if not shape:
            return None
        return cls(
            max_number_training_jobs_not_improving=(shape.get("BestObjectiveNotImproving") or {}).get(
                "MaxNumberOfTrainingJobsNotImproving"
            ),
            complete_on_convergence=(
                None
                if "ConvergenceDetected" not in shape
                else shape["ConvergenceDetected"].get("CompleteOnConvergence") == "Enabled"
            ),
            target_objective_metric_value=shape.get("TargetObjectiveMetricValue"),
        )


def _input_req(config: Any) -> dict[str, Any] | None:
    if config is None:
        return None
    if isinstance(config, dict):
        return copy.deepcopy(config)
    result: dict[str, Any] = config.to_input_req()
    return result


def timestamp() -> str:
    """yymmdd-HHMMSS (UTC): second resolution keeps two tuners of the same minute apart."""
    return time.strftime("%y%m%d-%H%M%S", time.gmtime())


def name_from_base(base: str, max_length: int = TUNING_JOB_NAME_MAX_LENGTH, suffix: str = "") -> str:
    """'<base, trimmed>-<timestamp>[-<suffix>]' within max_length, a valid job name."""
    tail = timestamp() + (f"-{suffix}" if suffix else "")
    trimmed = base[: max(max_length - len(tail) - 1, 0)].rstrip("-")
    return f"{trimmed}-{tail}" if trimmed else tail


class TuningJob:
    """The tuning job a tuner last started or attached to (`tuner.latest_tuning_job`)."""

    def __init__(self, sagemaker_session: Session, name: str) -> None:
        self.sagemaker_session, self.name = sagemaker_session, name

    def __repr__(self) -> str:
        return f"TuningJob({self.name!r})"

    def describe(self) -> dict[str, Any]:
        return self.sagemaker_session.describe_tuning_job(self.name)

    def stop(self) -> None:
        self.sagemaker_session.stop_tuning_job(self.name)

    def wait(self, poll: float = 2.0, progress: bool = True, timeout: float | None = None) -> dict[str, Any]:
        desc = self.sagemaker_session.wait_for_tuning_job(self.name, poll=poll, progress=progress, timeout=timeout)
        status = desc["HyperParameterTuningJobStatus"]
        if status == "Failed":
            reason = desc.get("FailureReason") or "every training job failed"
            raise UnexpectedStatusException(
                f"Error for HyperParameterTuning job {self.name}: Failed. Reason: {reason}",
                allowed_statuses=["Completed", "Stopped"],
                actual_status=status,
            )
        return desc


class HyperparameterTuner:
    """Tune the hyperparameters of `estimator` (sagemaker.tuner.HyperparameterTuner's arguments)."""

    TUNING_JOB_NAME_MAX_LENGTH = TUNING_JOB_NAME_MAX_LENGTH

    def __init__(
        self,
        estimator: EstimatorBase,
        objective_metric_name: str,
        hyperparameter_ranges: dict[str, ParameterRange],
        metric_definitions: list[dict[str, str]] | None = None,
        strategy: str = "Bayesian",
        objective_type: str = "Maximize",
        max_jobs: int | None = None,
        max_parallel_jobs: int = 1,
        max_runtime_in_seconds: int | None = None,
        tags: list[dict[str, str]] | None = None,
        base_tuning_job_name: str | None = None,
        warm_start_config: WarmStartConfig | None = None,
        strategy_config: StrategyConfig | dict[str, Any] | None = None,
        completion_criteria_config: TuningJobCompletionCriteriaConfig | dict[str, Any] | None = None,
        early_stopping_type: str | EarlyStoppingType = "Off",
        estimator_name: str | None = None,
        random_seed: int | None = None,
        autotune: bool = False,
        hyperparameters_to_keep_static: list[str] | None = None,
    ) -> None:
        if autotune or hyperparameters_to_keep_static:
            raise ValueError("autotune is not supported by tunestream: give hyperparameter_ranges")
        if not isinstance(estimator, EstimatorBase):
            raise TypeError(f"estimator must be a tunestream.sdk estimator, got {type(estimator).__name__}")
        if not hyperparameter_ranges:
            raise ValueError("Need to specify hyperparameter ranges")
        for name, parameter in hyperparameter_ranges.items():
            if not isinstance(parameter, ParameterRange):
                raise TypeError(
                    f"hyperparameter range {name!r} must be a ContinuousParameter, IntegerParameter or "
                    f"CategoricalParameter, got {type(parameter).__name__}"
                )
            parameter.check(name)
        if objective_type not in OBJECTIVE_TYPES:
            raise ValueError(f"objective_type must be 'Maximize' or 'Minimize', got {objective_type!r}")
        try:
            early_stopping = EarlyStoppingType(early_stopping_type)
        except ValueError:
            raise ValueError(f"early_stopping_type must be 'Off' or 'Auto', got {early_stopping_type!r}") from None
        if not isinstance(max_parallel_jobs, int) or max_parallel_jobs < 1:
            raise ValueError(f"max_parallel_jobs must be a positive integer, got {max_parallel_jobs!r}")
        if max_jobs is not None and max_parallel_jobs > max_jobs:
            raise ValueError(f"max_parallel_jobs ({max_parallel_jobs}) exceeds max_jobs ({max_jobs})")
        if warm_start_config is not None and not isinstance(warm_start_config, WarmStartConfig):
            raise TypeError("warm_start_config must be a WarmStartConfig")
        self.estimator = estimator
        self.objective_metric_name = objective_metric_name
        self._hyperparameter_ranges = dict(hyperparameter_ranges)
        self.metric_definitions = metric_definitions
        self.strategy = strategy
        self.objective_type = objective_type
        # sagemaker: unspecified for Grid (every combination runs), 1 for the other strategies.
        self.max_jobs = max_jobs if max_jobs is not None or strategy == "Grid" else 1
        self.max_parallel_jobs = max_parallel_jobs
        self.max_runtime_in_seconds = max_runtime_in_seconds
        self.tags = tags
        self.base_tuning_job_name = base_tuning_job_name
        self.warm_start_config = warm_start_config
        self.strategy_config = strategy_config
        self.completion_criteria_config = completion_criteria_config
        self.early_stopping_type = early_stopping.value
        self.estimator_name = estimator_name
        self.random_seed = random_seed
        self.latest_tuning_job: TuningJob | None = None
        self._current_job_name: str | None = None
        self._check_objective()

    def __repr__(self) -> str:
        job = self.latest_tuning_job.name if self.latest_tuning_job else None
        return f"<HyperparameterTuner {self.objective_type} {self.objective_metric_name!r} job={job!r}>"

    @property
    def sagemaker_session(self) -> Session:
        from tunestream.sdk.session import Session

        if self.estimator.sagemaker_session is None:
            self.estimator.sagemaker_session = Session()
        return self.estimator.sagemaker_session

    def _metric_definitions(self) -> list[dict[str, str]]:
        return list(self.metric_definitions or self.estimator.metric_definitions or [])

    def _check_objective(self) -> None:
        definitions = self._metric_definitions()
        for d in definitions:
            if not isinstance(d, dict) or "Name" not in d or "Regex" not in d:
                raise ValueError(f"each metric definition needs 'Name' and 'Regex', got {d!r}")
            try:
                groups = compile_metric_regex(d["Regex"]).groups
            except UnsupportedRegex as exc:
                raise ValueError(f"metric {d['Name']!r}: Regex {d['Regex']!r} {exc.reason}") from None
            if groups < 1:
                raise ValueError(f"metric {d['Name']!r}: Regex {d['Regex']!r} needs a capturing group around the value")
        names = [d["Name"] for d in definitions]
        if self.objective_metric_name not in names:
            known = f"defined: {', '.join(names)}" if names else "none are defined"
            raise ValueError(
                f"objective metric {self.objective_metric_name!r} has no metric definition ({known}); pass "
                f"metric_definitions=[{{'Name': {self.objective_metric_name!r}, 'Regex': '...=([0-9\\\\.]+)'}}] "
                "with a regex that reads it from the training output"
            )

    # ------------------------------------------------------------------ the request

    def hyperparameter_ranges(self) -> dict[str, list[dict[str, Any]]]:
        """ParameterRanges: {Integer,Continuous,Categorical}ParameterRanges lists, in the order given."""
        shapes: dict[str, list[dict[str, Any]]] = {f"{kind}ParameterRanges": [] for kind in _RANGE_KINDS}
        for name, parameter in self._hyperparameter_ranges.items():
            shapes[f"{parameter.range_type}ParameterRanges"].append(parameter.as_tuning_range(name))
        return shapes

    def _static_hyperparameters(self) -> dict[str, Any]:
        static = self.estimator.hyperparameters()
        for name in self._hyperparameter_ranges:
            static.pop(name, None)
        return static

    def _generated_name(self, suffix: str = "") -> str:
        base = self.base_tuning_job_name or self.estimator.base_name()
        return name_from_base(base, self.TUNING_JOB_NAME_MAX_LENGTH, suffix)

    def build_request(self, inputs: Any = None, job_name: str | None = None) -> dict[str, Any]:
        """The CreateHyperParameterTuningJob request `fit()` sends (a new name each call unless given)."""
        name = job_name or self._generated_name()
        if not _NAME_RE.match(name):
            raise ValueError(
                f"tuning job name {name!r}: 1-32 letters, digits and hyphens, starting with a letter or digit"
            )
        limits: dict[str, Any] = {"MaxParallelTrainingJobs": self.max_parallel_jobs}
        if self.max_jobs is not None:
            limits["MaxNumberOfTrainingJobs"] = self.max_jobs
        if self.max_runtime_in_seconds is not None:
            limits["MaxRuntimeInSeconds"] = self.max_runtime_in_seconds
        config: dict[str, Any] = {
            "Strategy": self.strategy,
            "HyperParameterTuningJobObjective": {"Type": self.objective_type, "MetricName": self.objective_metric_name},
            "ResourceLimits": limits,
            "ParameterRanges": self.hyperparameter_ranges(),
            "TrainingJobEarlyStoppingType": self.early_stopping_type,
        }
        strategy_config = _input_req(self.strategy_config)
        if strategy_config:
            config["StrategyConfig"] = strategy_config
        completion = _input_req(self.completion_criteria_config)
        if completion:
            config["TuningJobCompletionCriteria"] = completion
        if self.random_seed is not None:
            config["RandomSeed"] = self.random_seed
        bucket = self.sagemaker_session.default_bucket()
        definition = self.estimator.definition(
            output_path=f"s3://{bucket}/{name}/output",
            metric_definitions=self._metric_definitions(),
            static_hyperparameters=self._static_hyperparameters(),
            input_data_config=input_data_config(inputs),
        )
        if self.estimator_name:
            definition = {"DefinitionName": self.estimator_name, **definition}
        request: dict[str, Any] = {
            "HyperParameterTuningJobName": name,
            "HyperParameterTuningJobConfig": config,
            "TrainingJobDefinition": definition,
        }
        if self.warm_start_config is not None:
            request["WarmStartConfig"] = self.warm_start_config.to_input_req()
        tags = self.tags or self.estimator.tags
        if tags:
            request["Tags"] = list(tags)
        return request

    # ------------------------------------------------------------------ running

    def fit(
        self,
        inputs: Any = None,
        job_name: str | None = None,
        include_cls_metadata: bool = False,
        estimator_kwargs: dict[str, Any] | None = None,
        wait: bool = True,
        **kwargs: Any,
    ) -> None:
        """Start a tuning job (inputs: an S3 URI, a TrainingInput, or a dict channel -> either); with
        `wait`, print its progress and return when it ends."""
        for attempt in range(5):
            # A generated name already taken (two tuners in the same second) is replaced by another one.
            name = job_name or (self._generated_name(f"{random.randrange(36**3):03x}") if attempt else None)
            request = self.build_request(inputs, name)
            try:
                self.sagemaker_session.create_tuning_job(request)
                break
            except ClientError as exc:
                if job_name is not None or exc.code != "ResourceInUse" or attempt == 4:
                    raise
        name = request["HyperParameterTuningJobName"]
        self._current_job_name = name
        self.latest_tuning_job = TuningJob(self.sagemaker_session, name)
        if wait:
            print(f"tuning job {name} started", flush=True)
            self.wait()

    def _ensure_last_tuning_job(self) -> TuningJob:
        if self.latest_tuning_job is None:
            raise ValueError("No tuning job available: call fit() or HyperparameterTuner.attach() first")
        return self.latest_tuning_job

    def wait(self, poll: float = 2.0, progress: bool = True, timeout: float | None = None) -> dict[str, Any]:
        """Block until the tuning job ends (printing progress); raise UnexpectedStatusException if it failed."""
        return self._ensure_last_tuning_job().wait(poll=poll, progress=progress, timeout=timeout)

    def describe(self) -> dict[str, Any]:
        """DescribeHyperParameterTuningJob of the latest tuning job."""
        return self._ensure_last_tuning_job().describe()

    def stop_tuning_job(self) -> None:
        """StopHyperParameterTuningJob: running training jobs are stopped, no new ones start."""
        self._ensure_last_tuning_job().stop()

    stop = stop_tuning_job

    def _get_best_training_job(self) -> dict[str, Any]:
        job = self._ensure_last_tuning_job()
        desc = job.describe()
        best = desc.get("BestTrainingJob")
        if not best:
            counters = desc.get("ObjectiveStatusCounters") or {}
            raise NoBestTrainingJobError(
                f"Best training job not available for tuning job {job.name} "
                f"(status {desc.get('HyperParameterTuningJobStatus')}; "
                f"{int(counters.get('Succeeded', 0))} training jobs reported the objective metric "
                f"{self.objective_metric_name!r} so far)"
            )
        result: dict[str, Any] = best
        return result

    def best_training_job(self) -> str:
        """Name of the best training job so far (raises NoBestTrainingJobError when there is none)."""
        return str(self._get_best_training_job()["TrainingJobName"])

    def best_estimator(self, best_training_job: dict[str, Any] | str | None = None) -> EstimatorBase:
        """An estimator attached to the best training job: `.hyperparameters()` are that job's."""
        if best_training_job is None:
            name = self.best_training_job()
        elif isinstance(best_training_job, dict):
            name = best_training_job["TrainingJobName"]
        else:
            name = best_training_job
        return type(self.estimator).attach(name, sagemaker_session=self.sagemaker_session)

    def analytics(self) -> HyperparameterTuningJobAnalytics:
        """The training jobs of the latest tuning job as a pandas DataFrame (`.dataframe()`)."""
        from tunestream.sdk.analytics import HyperparameterTuningJobAnalytics

        return HyperparameterTuningJobAnalytics(self._ensure_last_tuning_job().name, self.sagemaker_session)

    # ------------------------------------------------------------------ attach, warm start

    @classmethod
    def attach(
        cls,
        tuning_job_name: str,
        sagemaker_session: Session | None = None,
        job_details: dict[str, Any] | None = None,
        estimator_cls: type[EstimatorBase] | None = None,
    ) -> HyperparameterTuner:
        """A tuner for an existing tuning job, with its estimator, ranges and settings rebuilt."""
        from tunestream.sdk.session import Session

        session = sagemaker_session or Session()
        desc = job_details or session.describe_tuning_job(tuning_job_name)
        config = desc["HyperParameterTuningJobConfig"]
        definition = desc.get("TrainingJobDefinition") or {}
        estimator = (estimator_cls or Estimator).from_definition(
            definition, definition.get("StaticHyperParameters") or {}, session
        )
        ranges: dict[str, ParameterRange] = {}
        shapes = config.get("ParameterRanges") or {}
        for kind in _RANGE_KINDS:
            for shape in shapes.get(f"{kind}ParameterRanges") or []:
                ranges[shape["Name"]] = range_from_shape(kind, shape)
        objective = config.get("HyperParameterTuningJobObjective") or {}
        limits = config.get("ResourceLimits") or {}
        tuner = cls(
            estimator,
            objective.get("MetricName", ""),
            ranges,
            metric_definitions=(definition.get("AlgorithmSpecification") or {}).get("MetricDefinitions"),
            strategy=config.get("Strategy", "Bayesian"),
            objective_type=objective.get("Type", "Maximize"),
            max_jobs=limits.get("MaxNumberOfTrainingJobs"),
            max_parallel_jobs=limits.get("MaxParallelTrainingJobs", 1),
            max_runtime_in_seconds=limits.get("MaxRuntimeInSeconds"),
            tags=desc.get("Tags"),
            warm_start_config=WarmStartConfig.from_job_desc(desc.get("WarmStartConfig")),
            strategy_config=config.get("StrategyConfig"),
            completion_criteria_config=TuningJobCompletionCriteriaConfig.from_job_desc(
                config.get("TuningJobCompletionCriteria")
            ),
            early_stopping_type=config.get("TrainingJobEarlyStoppingType", "Off"),
            estimator_name=definition.get("DefinitionName"),
            random_seed=config.get("RandomSeed"),
        )
        tuner._current_job_name = tuning_job_name
        tuner.latest_tuning_job = TuningJob(session, tuning_job_name)
        return tuner

    def _warm_start_tuner(
        self, warm_start_type: WarmStartTypes, additional_parents: Any, estimator: EstimatorBase | None
    ) -> HyperparameterTuner:
        parents = [self._ensure_last_tuning_job().name, *(additional_parents or [])]
        tuner = copy.copy(self)
        tuner.estimator = estimator or self.estimator
        tuner.warm_start_config = WarmStartConfig(warm_start_type, parents)
        tuner.latest_tuning_job = None
        tuner._current_job_name = None
        tuner._hyperparameter_ranges = dict(self._hyperparameter_ranges)
        return tuner

    def transfer_learning_tuner(
        self, additional_parents: Any = None, estimator: EstimatorBase | None = None
    ) -> HyperparameterTuner:
        """A new tuner warm-started (TransferLearning) from this tuning job (and additional_parents)."""
        return self._warm_start_tuner(WarmStartTypes.TRANSFER_LEARNING, additional_parents, estimator)

    def identical_dataset_and_algorithm_tuner(self, additional_parents: Any = None) -> HyperparameterTuner:
        """A new tuner warm-started (IdenticalDataAndAlgorithm) from this tuning job (and additional_parents)."""
        return self._warm_start_tuner(WarmStartTypes.IDENTICAL_DATA_AND_ALGORITHM, additional_parents, None)
