"""Autotune: the ranges inferred from AutoParameters' hints, the settings chosen when left unset, and
what is left alone when given."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.jobs import continuous, tuning_job
from tests.unit.suggester.test_suggester_state import finished, step, submitted
from tunestream.autotune import autotuned, hint_range
from tunestream.definitions import CreateTuningJobRequest
from tunestream.events.v1 import TrainingJobProposed, TuningJobEnded
from tunestream.field_errors import InvalidTuningJob
from tunestream.suggester.handler import SuggesterHandler
from tunestream.validation import validate_request

RANGES = "HyperParameterTuningJobConfig.ParameterRanges"


@pytest.mark.parametrize(
    ("hint", "kind", "low", "high", "scaling"),
    [
        ("6", "IntegerParameterRanges", "2", "24", "Logarithmic"),
        ("100", "IntegerParameterRanges", "25", "400", "Logarithmic"),
        ("1", "IntegerParameterRanges", "1", "4", "Logarithmic"),
        ("0", "IntegerParameterRanges", "0", "10", "Linear"),
        ("0.1", "ContinuousParameterRanges", "0.01", "1.0", "Logarithmic"),
        ("0.8", "ContinuousParameterRanges", "0.08", "1.0", "Logarithmic"),
        ("3.5", "ContinuousParameterRanges", "0.35", "35.0", "Logarithmic"),
        ("1e-3", "ContinuousParameterRanges", "0.0001", "0.01", "Logarithmic"),
        ("0.0", "ContinuousParameterRanges", "0", "1", "Linear"),
    ],
)
def test_a_numeric_hint_gives_a_range_around_it(hint: str, kind: str, low: str, high: str, scaling: str) -> None:
    found = hint_range("p", hint)
    assert found is not None
    got_kind, made = found
    assert got_kind == kind
    assert (made["MinValue"], made["ScalingType"]) == (low, scaling)
    assert float(made["MaxValue"]) == pytest.approx(float(high))


def test_true_false_gives_both_and_other_hints_give_none() -> None:
    assert hint_range("p", "True") == ("CategoricalParameterRanges", {"Name": "p", "Values": ["true", "false"]})
    assert hint_range("p", "relu") is None and hint_range("p", "-3") is None and hint_range("p", "nan") is None


def autotune_job(**config: Any) -> dict[str, Any]:
    job = tuning_job(
        "auto",
        command=["python", "train.py"],
        strategy=config.pop("strategy", "Bayesian"),
        seed=3,
        ranges={"ContinuousParameterRanges": [continuous("x")]},
    )
    cfg = job["HyperParameterTuningJobConfig"]
    del cfg["ResourceLimits"]["MaxNumberOfTrainingJobs"]
    cfg["ParameterRanges"]["AutoParameters"] = [{"Name": "lr", "ValueHint": "0.1"}, {"Name": "depth", "ValueHint": "6"}]
    cfg.update(config)
    job["Autotune"] = {"Mode": "Enabled"}
    return job


def test_autotune_chooses_what_is_left_unset() -> None:
    request, chosen, errors = autotuned(CreateTuningJobRequest.model_validate(autotune_job()))
    assert errors == []
    config = request.HyperParameterTuningJobConfig
    assert [r.Name for r in config.ParameterRanges.ContinuousParameterRanges] == ["x", "lr"]
    assert [r.Name for r in config.ParameterRanges.IntegerParameterRanges] == ["depth"]
    assert not config.ParameterRanges.AutoParameters
    assert config.ResourceLimits.MaxNumberOfTrainingJobs == 30  # 3 tuned parameters x 10
    assert config.TrainingJobEarlyStoppingType == "Auto"
    assert config.TuningJobCompletionCriteria is not None
    assert config.TuningJobCompletionCriteria.ConvergenceDetected is not None
    assert config.TuningJobCompletionCriteria.ConvergenceDetected.CompleteOnConvergence == "Enabled"
    assert request.TrainingJobDefinition is not None and request.TrainingJobDefinition.RetryStrategy is not None
    assert request.TrainingJobDefinition.RetryStrategy.MaximumRetryAttempts == 2
    assert set(chosen) == {
        f"{RANGES}.ContinuousParameterRanges[lr]",
        f"{RANGES}.IntegerParameterRanges[depth]",
        "HyperParameterTuningJobConfig.ResourceLimits.MaxNumberOfTrainingJobs",
        "HyperParameterTuningJobConfig.TrainingJobEarlyStoppingType",
        "HyperParameterTuningJobConfig.TuningJobCompletionCriteria.ConvergenceDetected.CompleteOnConvergence",
        "TrainingJobDefinition.RetryStrategy.MaximumRetryAttempts",
    }
    space = validate_request(CreateTuningJobRequest.model_validate(autotune_job()))
    assert sorted(space.names) == ["depth", "lr", "x"]


def test_completing_a_completed_request_changes_nothing_and_keeps_the_choices() -> None:
    once, chosen, _ = autotuned(CreateTuningJobRequest.model_validate(autotune_job()))
    stored = CreateTuningJobRequest.model_validate(once.model_dump(mode="json", exclude_none=True))
    twice, again, _ = autotuned(stored)
    assert again == {} and twice == stored
    assert twice.Autotune == {"Mode": "Enabled", "Choices": chosen}


def test_what_is_given_is_left_alone() -> None:
    job = autotune_job(TrainingJobEarlyStoppingType="Off")
    job["HyperParameterTuningJobConfig"]["ResourceLimits"]["MaxNumberOfTrainingJobs"] = 7
    request, chosen, _ = autotuned(CreateTuningJobRequest.model_validate(job))
    config = request.HyperParameterTuningJobConfig
    assert config.ResourceLimits.MaxNumberOfTrainingJobs == 7 and config.TrainingJobEarlyStoppingType == "Off"
    assert not any(p.endswith(("MaxNumberOfTrainingJobs", "TrainingJobEarlyStoppingType")) for p in chosen)
    hyperband, chosen, _ = autotuned(CreateTuningJobRequest.model_validate(autotune_job(strategy="Hyperband")))
    assert hyperband.HyperParameterTuningJobConfig.TrainingJobEarlyStoppingType == "Off"  # Hyperband stops its own
    with_epochs = autotune_job(strategy="Hyperband")
    with_epochs["TrainingJobDefinition"]["StaticHyperParameters"] = {"epochs": "9"}
    validate_request(CreateTuningJobRequest.model_validate(with_epochs))


def rules(job: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(InvalidTuningJob) as info:
        validate_request(CreateTuningJobRequest.model_validate(job))
    return {e.field: e.rule for e in info.value.errors}


def test_bad_modes_hints_and_autoparameters_without_autotune_are_refused_by_name() -> None:
    bogus = autotune_job()
    bogus["Autotune"] = {"Mode": "Bogus"}
    assert rules(bogus)["Autotune.Mode"] == "enum"
    hint = autotune_job()
    hint["HyperParameterTuningJobConfig"]["ParameterRanges"]["AutoParameters"][1]["ValueHint"] = "relu"
    assert rules(hint)[f"{RANGES}.AutoParameters[1].ValueHint"] == "autotune-hint"
    without = autotune_job()
    del without["Autotune"]
    without["HyperParameterTuningJobConfig"]["ResourceLimits"]["MaxNumberOfTrainingJobs"] = 5
    assert rules(without)[f"{RANGES}.AutoParameters"] == "autotune-only"


def test_the_suggester_runs_the_job_as_autotune_completed_it() -> None:
    h = SuggesterHandler()
    pending = [e for e in step(h, submitted(autotune_job(strategy="Random"))) if isinstance(e, TrainingJobProposed)]
    specs = []
    ended = False
    while pending and not ended:
        spec = pending.pop(0).payload.spec
        specs.append(spec)
        out = step(h, finished("auto", spec.training_job_name, 0.5))
        pending += [e for e in out if isinstance(e, TrainingJobProposed)]
        ended = any(isinstance(e, TuningJobEnded) for e in out)
    assert ended and len(specs) <= 30
    for spec in specs:
        tuned = spec.tuned_hyperparameters
        assert 0.01 <= float(tuned["lr"]) <= 1.0 and 2 <= int(tuned["depth"]) <= 24
        assert spec.max_retry_attempts == 2
