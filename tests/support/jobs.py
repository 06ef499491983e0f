"""The one builder of CreateHyperParameterTuningJob bodies the suites share.

Each suite's helper (`minimal_job`, `trainer_job`, `chaos_job`, ...) names what it cares about and
takes the rest from here, so a change to the request's shape is made in one place.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

SCORE = {"Name": "score", "Regex": r"score=([-0-9.eE+]+)"}


def continuous(name: str, low: str = "0", high: str = "1", **extra: str) -> dict[str, str]:
    return {"Name": name, "MinValue": low, "MaxValue": high, **extra}


def tuning_job(
    name: str,
    *,
    ranges: Mapping[str, Any],
    command: Sequence[str] | None = None,
    image: str | None = None,
    strategy: str = "Random",
    seed: int | None = None,
    jobs: int = 4,
    parallel: int = 2,
    objective: tuple[str, str] = ("Maximize", "score"),
    static: Mapping[str, str] | None = None,
    metrics: Sequence[Mapping[str, str]] = (SCORE,),
    output: str = "s3://tunestream/test/output",
    max_runtime_s: int = 60,
    environment: Mapping[str, str] | None = None,
    retries: int | None = None,
    strategy_config: Mapping[str, Any] | None = None,
    checkpoint_s3: str | None = None,
) -> dict[str, Any]:
    """A tuning job request running `command` (a process) or `image` (a container); `ranges` is
    ParameterRanges; None-valued options are left out."""
    if (command is None) == (image is None):
        raise ValueError("give a command or an image")
    config: dict[str, Any] = {"Strategy": strategy}
    if seed is not None:
        config["RandomSeed"] = seed
    config["HyperParameterTuningJobObjective"] = {"Type": objective[0], "MetricName": objective[1]}
    config["ResourceLimits"] = {"MaxNumberOfTrainingJobs": jobs, "MaxParallelTrainingJobs": parallel}
    config["ParameterRanges"] = {kind: [dict(r) for r in values] for kind, values in ranges.items()}
    if strategy_config is not None:
        config["StrategyConfig"] = dict(strategy_config)
    algorithm: dict[str, Any] = (
        {"Command": list(command)} if command is not None else {"TrainingImage": image, "TrainingInputMode": "File"}
    )
    algorithm["MetricDefinitions"] = [dict(m) for m in metrics]
    definition: dict[str, Any] = {
        "StaticHyperParameters": dict(static or {}),
        "AlgorithmSpecification": algorithm,
        "OutputDataConfig": {"S3OutputPath": output},
        "StoppingCondition": {"MaxRuntimeInSeconds": max_runtime_s},
    }
    if checkpoint_s3 is not None:
        definition["CheckpointConfig"] = {"S3Uri": checkpoint_s3}
    if retries is not None:
        definition["RetryStrategy"] = {"MaximumRetryAttempts": retries}
    if environment is not None:
        definition["Environment"] = dict(environment)
    return {
        "HyperParameterTuningJobName": name,
        "HyperParameterTuningJobConfig": config,
        "TrainingJobDefinition": definition,
    }


def several_definitions(job: dict[str, Any], definitions: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """`job` (from tuning_job) with TrainingJobDefinitions instead of its one definition: each item
    names the definition (`name`) and may change its `ranges` (ParameterRanges' shape), `objective`
    ((Type, MetricName): its TuningObjective), `metrics`, `command` and `static`. The config keeps no
    objective or ranges, as SageMaker's SDK sends several definitions."""
    config = job["HyperParameterTuningJobConfig"]
    objective = config.pop("HyperParameterTuningJobObjective")
    ranges = config.pop("ParameterRanges")
    base = job.pop("TrainingJobDefinition")
    job["TrainingJobDefinitions"] = []
    for item in definitions:
        definition = {**base, "AlgorithmSpecification": dict(base["AlgorithmSpecification"])}
        definition["DefinitionName"] = item["name"]
        kind, metric = item.get("objective", (objective["Type"], objective["MetricName"]))
        definition["TuningObjective"] = {"Type": kind, "MetricName": metric}
        given = item.get("ranges")
        definition["HyperParameterRanges"] = (
            {k: [dict(r) for r in v] for k, v in given.items()} if given is not None else ranges
        )
        if "metrics" in item:
            definition["AlgorithmSpecification"]["MetricDefinitions"] = [dict(m) for m in item["metrics"]]
        if "command" in item:
            definition["AlgorithmSpecification"]["Command"] = list(item["command"])
        if "static" in item:
            definition["StaticHyperParameters"] = dict(item["static"])
        job["TrainingJobDefinitions"].append(definition)
    return job
