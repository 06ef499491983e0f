"""Every rule a tuning job must satisfy, checked without servers (the api tests repeat them over HTTP)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from tests.conftest import minimal_job
from tunestream.definitions import CreateTuningJobRequest
from tunestream.validation import InvalidTuningJob, validate_request

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def errors_of(job: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(InvalidTuningJob) as info:
        validate_request(CreateTuningJobRequest.model_validate(job))
    return [(e.field, e.rule) for e in info.value.errors]


def ranges(job: dict[str, Any]) -> dict[str, Any]:
    return job["HyperParameterTuningJobConfig"]["ParameterRanges"]  # type: ignore[no-any-return]


def test_valid_job_gives_search_space(job: dict[str, Any]) -> None:
    space = validate_request(CreateTuningJobRequest.model_validate(job))
    assert space.names == ["n", "x", "kind"]


def test_numbers_accepted_where_sagemaker_sends_strings(job: dict[str, Any]) -> None:
    ranges(job)["ContinuousParameterRanges"][0].update(MinValue=0.5, MaxValue=2)
    space = validate_request(CreateTuningJobRequest.model_validate(job))
    assert space.params[1].low == 0.5  # type: ignore[union-attr]


def test_unknown_strategy(job: dict[str, Any]) -> None:
    job["HyperParameterTuningJobConfig"]["Strategy"] = "Genetic"
    assert ("HyperParameterTuningJobConfig.Strategy", "enum") in errors_of(job)


def test_min_greater_than_max(job: dict[str, Any]) -> None:
    ranges(job)["ContinuousParameterRanges"][0].update(MinValue="2", MaxValue="1")
    assert (
        "HyperParameterTuningJobConfig.ParameterRanges.ContinuousParameterRanges[0].MinValue",
        "min<=max",
    ) in errors_of(job)


def test_logarithmic_needs_positive_min(job: dict[str, Any]) -> None:
    ranges(job)["ContinuousParameterRanges"][0].update(MinValue="0", ScalingType="Logarithmic")
    assert (
        "HyperParameterTuningJobConfig.ParameterRanges.ContinuousParameterRanges[0].ScalingType",
        "log-positive",
    ) in errors_of(job)


def test_reverse_log_needs_range_below_one(job: dict[str, Any]) -> None:
    ranges(job)["ContinuousParameterRanges"][0].update(MaxValue="1", ScalingType="ReverseLogarithmic")
    assert (
        "HyperParameterTuningJobConfig.ParameterRanges.ContinuousParameterRanges[0].ScalingType",
        "reverse-log-range",
    ) in errors_of(job)


def test_non_numeric_bound(job: dict[str, Any]) -> None:
    ranges(job)["IntegerParameterRanges"][0]["MaxValue"] = "1.5"
    assert ("HyperParameterTuningJobConfig.ParameterRanges.IntegerParameterRanges[0].MaxValue", "type") in errors_of(
        job
    )


def test_more_than_thirty_parameters(job: dict[str, Any]) -> None:
    ranges(job)["ContinuousParameterRanges"] = [{"Name": f"p{i}", "MinValue": "0", "MaxValue": "1"} for i in range(31)]
    assert ("HyperParameterTuningJobConfig.ParameterRanges", "max-parameters") in errors_of(job)


def test_duplicate_parameter_names(job: dict[str, Any]) -> None:
    ranges(job)["CategoricalParameterRanges"][0]["Name"] = "x"
    assert ("HyperParameterTuningJobConfig.ParameterRanges", "unique-names") in errors_of(job)


def test_static_and_tuned(job: dict[str, Any]) -> None:
    job["TrainingJobDefinition"]["StaticHyperParameters"]["x"] = "0.3"
    assert ("TrainingJobDefinition.StaticHyperParameters.x", "static-or-tuned") in errors_of(job)


def test_grid_with_continuous_range(job: dict[str, Any]) -> None:
    job["HyperParameterTuningJobConfig"]["Strategy"] = "Grid"
    assert ("HyperParameterTuningJobConfig.ParameterRanges.ContinuousParameterRanges", "grid-discrete") in errors_of(
        job
    )


def test_grid_count_must_match(job: dict[str, Any]) -> None:
    job["HyperParameterTuningJobConfig"]["Strategy"] = "Grid"
    ranges(job)["ContinuousParameterRanges"] = []
    job["HyperParameterTuningJobConfig"]["ResourceLimits"]["MaxNumberOfTrainingJobs"] = 7
    with pytest.raises(InvalidTuningJob) as info:
        validate_request(CreateTuningJobRequest.model_validate(job))
    assert "10 training jobs" in info.value.errors[0].message
    job["HyperParameterTuningJobConfig"]["ResourceLimits"]["MaxNumberOfTrainingJobs"] = 10
    assert validate_request(CreateTuningJobRequest.model_validate(job)).grid_size() == 10


def test_a_conflicting_tuning_objective_is_refused_and_the_same_one_accepted(job: dict[str, Any]) -> None:
    job["TrainingJobDefinition"]["TuningObjective"] = {"Type": "Minimize", "MetricName": "score"}
    assert errors_of(job) == [("TrainingJobDefinition.TuningObjective", "same-objective")]
    job["TrainingJobDefinition"]["TuningObjective"] = {"Type": "Maximize", "MetricName": "score"}
    validate_request(CreateTuningJobRequest.model_validate(job))


def test_an_autotune_mode_other_than_enabled_is_refused_not_ignored(job: dict[str, Any]) -> None:
    job["Autotune"] = {"Mode": "Bogus"}
    assert errors_of(job) == [("Autotune.Mode", "enum")]
    job["Autotune"] = {"Mode": "Enabled"}  # honoured: tests/unit/test_autotune.py
    validate_request(CreateTuningJobRequest.model_validate(job))


def test_pipe_mode_is_refused_where_it_is_asked_for(job: dict[str, Any]) -> None:
    job["TrainingJobDefinition"]["AlgorithmSpecification"]["TrainingInputMode"] = "Pipe"
    channel = {"ChannelName": "train", "DataSource": {"S3DataSource": {"S3Uri": "s3://b/train"}}}
    job["TrainingJobDefinition"]["InputDataConfig"] = [
        {**channel, "InputMode": "Pipe"},
        {**channel, "InputMode": "Tape"},
    ]
    assert errors_of(job) == [
        ("TrainingJobDefinition.AlgorithmSpecification.TrainingInputMode", "pipe-unsupported"),
        ("TrainingJobDefinition.InputDataConfig[0].InputMode", "pipe-unsupported"),
        ("TrainingJobDefinition.InputDataConfig[1].InputMode", "enum"),
    ]


def test_objective_missing_from_metric_definitions(job: dict[str, Any]) -> None:
    job["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"]["MetricName"] = "loss"
    assert (
        "HyperParameterTuningJobConfig.HyperParameterTuningJobObjective.MetricName",
        "objective-defined",
    ) in errors_of(job)


def test_regex_that_does_not_compile(job: dict[str, Any]) -> None:
    job["TrainingJobDefinition"]["AlgorithmSpecification"]["MetricDefinitions"][0]["Regex"] = "score=([0-9"
    assert ("TrainingJobDefinition.AlgorithmSpecification.MetricDefinitions[0].Regex", "regex-compiles") in errors_of(
        job
    )


@pytest.mark.parametrize("regex", [r"(?<=score=)([0-9.]+)", r"(\w)\1 score=([0-9.]+)", r"score=([0-9.]+){2000}"])
def test_regex_that_needs_more_than_re2_is_refused(job: dict[str, Any], regex: str) -> None:
    # Python's re takes these; the launcher and collector run RE2, so they are refused up front.
    job["TrainingJobDefinition"]["AlgorithmSpecification"]["MetricDefinitions"][0]["Regex"] = regex
    with pytest.raises(InvalidTuningJob) as info:
        validate_request(CreateTuningJobRequest.model_validate(job))
    (error,) = [e for e in info.value.errors if e.field.endswith("MetricDefinitions[0].Regex")]
    assert error.rule == "regex-re2"
    assert "RE2 refuses it" in error.message


def test_regex_without_group(job: dict[str, Any]) -> None:
    job["TrainingJobDefinition"]["AlgorithmSpecification"]["MetricDefinitions"][0]["Regex"] = "score=[0-9.]+"
    assert ("TrainingJobDefinition.AlgorithmSpecification.MetricDefinitions[0].Regex", "regex-group") in errors_of(job)


def test_parallel_above_max(job: dict[str, Any]) -> None:
    job["HyperParameterTuningJobConfig"]["ResourceLimits"].update(MaxNumberOfTrainingJobs=2, MaxParallelTrainingJobs=3)
    assert ("HyperParameterTuningJobConfig.ResourceLimits.MaxParallelTrainingJobs", "parallel<=max") in errors_of(job)


@pytest.mark.parametrize("name", ["", "a" * 33, "-leading", "trailing-", "under_score", "sp ace"])
def test_job_name_rule(name: str) -> None:
    with pytest.raises(ValidationError) as info:
        CreateTuningJobRequest.model_validate(minimal_job(name))
    assert info.value.errors()[0]["loc"] == ("HyperParameterTuningJobName",)


@pytest.mark.parametrize("name", ["a", "a" * 32, "my-job-1", "a--b"])
def test_job_names_sagemaker_accepts(name: str) -> None:
    validate_request(CreateTuningJobRequest.model_validate(minimal_job(name)))


def test_unknown_field_is_rejected_known_ignored_fields_accepted(job: dict[str, Any]) -> None:
    job["TrainingJobDefinition"]["RoleArn"] = "arn:aws:iam::1:role/x"
    job["TrainingJobDefinition"]["VpcConfig"] = {"Subnets": []}
    validate_request(CreateTuningJobRequest.model_validate(job))
    job["TrainingJobDefinition"]["StaticHyperParameter"] = {}
    with pytest.raises(ValidationError):
        CreateTuningJobRequest.model_validate(job)


def test_example_job_is_valid(example_job: dict[str, Any]) -> None:
    space = validate_request(CreateTuningJobRequest.model_validate(example_job))
    assert set(space.names) == {"eta", "alpha", "min_child_weight", "max_depth"}


def test_hyperband_rules(job: dict[str, Any]) -> None:
    config = job["HyperParameterTuningJobConfig"]
    config["Strategy"] = "Hyperband"
    validate_request(CreateTuningJobRequest.model_validate(job))  # MaxResource from StaticHyperParameters.epochs
    config["TrainingJobEarlyStoppingType"] = "Auto"
    assert ("HyperParameterTuningJobConfig.TrainingJobEarlyStoppingType", "hyperband-off") in errors_of(job)
    config["TrainingJobEarlyStoppingType"] = "Off"
    del job["TrainingJobDefinition"]["StaticHyperParameters"]["epochs"]
    assert (
        "HyperParameterTuningJobConfig.StrategyConfig.HyperbandStrategyConfig.MaxResource",
        "required",
    ) in errors_of(job)
    config["StrategyConfig"] = {"HyperbandStrategyConfig": {"MinResource": 10, "MaxResource": 5}}
    assert (
        "HyperParameterTuningJobConfig.StrategyConfig.HyperbandStrategyConfig.MinResource",
        "min<=max",
    ) in errors_of(job)


def test_strategy_config_only_with_hyperband(job: dict[str, Any]) -> None:
    job["HyperParameterTuningJobConfig"]["StrategyConfig"] = {"HyperbandStrategyConfig": {"MaxResource": 9}}
    assert ("HyperParameterTuningJobConfig.StrategyConfig.HyperbandStrategyConfig", "hyperband-only") in errors_of(job)


def test_each_strategy_config_member_only_with_its_strategy(job: dict[str, Any]) -> None:
    config = job["HyperParameterTuningJobConfig"]
    config["StrategyConfig"] = {"BayesianStrategyConfig": {"CostAware": "Enabled"}}
    config["Strategy"] = "Bayesian"
    validate_request(CreateTuningJobRequest.model_validate(job))
    config["Strategy"] = "Random"
    assert ("HyperParameterTuningJobConfig.StrategyConfig.BayesianStrategyConfig", "bayesian-only") in errors_of(job)
    config["Strategy"] = "Bayesian"
    config["StrategyConfig"]["HyperbandStrategyConfig"] = {"MaxResource": 9}
    hyperband = "HyperParameterTuningJobConfig.StrategyConfig.HyperbandStrategyConfig"
    assert errors_of(job) == [(hyperband, "hyperband-only")]
    config["StrategyConfig"] = {"BayesianStrategyConfig": {"CostAware": "Sometimes"}}
    with pytest.raises(ValidationError, match=r"BayesianStrategyConfig\.CostAware"):
        CreateTuningJobRequest.model_validate(job)


def test_auto_early_stopping_and_completion_criteria_accepted(job: dict[str, Any]) -> None:
    job["HyperParameterTuningJobConfig"]["TrainingJobEarlyStoppingType"] = "Auto"
    job["HyperParameterTuningJobConfig"]["TuningJobCompletionCriteria"] = {
        "TargetObjectiveMetricValue": 0.99,
        "BestObjectiveNotImproving": {"MaxNumberOfTrainingJobsNotImproving": 5},
        "ConvergenceDetected": {"CompleteOnConvergence": "Enabled"},
    }
    validate_request(CreateTuningJobRequest.model_validate(job))


@pytest.mark.parametrize(
    "path", sorted(p.relative_to(EXAMPLES).as_posix() for p in EXAMPLES.rglob("job*.json")), ids=lambda p: p
)
def test_every_example_job_is_valid(path: str) -> None:
    job = json.loads((EXAMPLES / path).read_text())
    space = validate_request(CreateTuningJobRequest.model_validate(job))
    command = job["TrainingJobDefinition"]["AlgorithmSpecification"]["Command"]
    assert (EXAMPLES.parent / command[-1]).is_file(), f"{path}: training program {command[-1]} is missing"
    assert space.params
