"""The strategy registry: every strategy declares itself in its own module, and the rest of
tunestream (validation, the suggester, replay) asks the registry instead of naming strategies."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import minimal_job
from tunestream.definitions import CreateTuningJobRequest
from tunestream.strategies import registry
from tunestream.strategies.asha import AshaStopper
from tunestream.strategies.bayesian import BayesianSearch
from tunestream.strategies.grid import GridSearch
from tunestream.strategies.median import MedianStopper
from tunestream.strategies.random import RandomSearch
from tunestream.validation import InvalidTuningJob, validate_request

ROOT = Path(__file__).resolve().parents[3]


def parts(job: dict[str, Any], seed: int = 7) -> registry.StrategyParts:
    request = CreateTuningJobRequest.model_validate(job)
    space = validate_request(request)
    assert request.TrainingJobDefinition is not None
    return registry.build(request.HyperParameterTuningJobConfig, request.TrainingJobDefinition, space, seed)


def test_every_strategy_module_is_found() -> None:
    assert registry.names() == ["Bayesian", "Grid", "Hyperband", "Random"]
    assert registry.lookup("Nope") is None
    assert registry.timing_details() == {"fit_s", "suggest_s", "model_fit_s", "model_suggest_s"}


@pytest.mark.parametrize(
    ("strategy", "extra", "proposer", "stopper"),
    [
        ("Random", {}, RandomSearch, type(None)),
        ("Random", {"TrainingJobEarlyStoppingType": "Auto"}, RandomSearch, MedianStopper),
        ("Bayesian", {}, BayesianSearch, type(None)),
        ("Bayesian", {"TrainingJobEarlyStoppingType": "Auto"}, BayesianSearch, MedianStopper),
        (
            "Hyperband",
            {"StrategyConfig": {"HyperbandStrategyConfig": {"MinResource": 1, "MaxResource": 9}}},
            RandomSearch,
            AshaStopper,
        ),
    ],
)
def test_builds_the_named_proposer_and_stopper(
    strategy: str, extra: dict[str, Any], proposer: type, stopper: type
) -> None:
    built = parts(minimal_job(Strategy=strategy, **extra))
    assert isinstance(built.proposer, proposer)
    assert isinstance(built.stopper, stopper)


@pytest.mark.parametrize(("given", "aware"), [(None, True), ("Enabled", True), ("Disabled", False)])
def test_bayesian_is_cost_aware_unless_the_job_turns_it_off(given: str | None, aware: bool) -> None:
    extra = {"StrategyConfig": {"BayesianStrategyConfig": {"CostAware": given}}} if given else {}
    built = parts(minimal_job(Strategy="Bayesian", **extra))
    assert isinstance(built.proposer, BayesianSearch) and built.proposer._cost_aware is aware


def test_grid_builds_with_its_own_count() -> None:
    job = minimal_job(Strategy="Grid")
    job["HyperParameterTuningJobConfig"]["ParameterRanges"]["ContinuousParameterRanges"] = []
    job["HyperParameterTuningJobConfig"]["ResourceLimits"] = {"MaxParallelTrainingJobs": 2}
    built = parts(job)
    assert isinstance(built.proposer, GridSearch) and built.proposer.max_training_jobs() == 10


def test_hyperband_reads_max_resource_from_static_epochs() -> None:
    built = parts(minimal_job(Strategy="Hyperband"))  # StaticHyperParameters epochs=3
    assert isinstance(built.stopper, AshaStopper) and built.stopper.max_resource == 3


def test_strategy_rules_come_from_the_strategy_module() -> None:
    job = minimal_job(Strategy="Hyperband", TrainingJobEarlyStoppingType="Auto")
    with pytest.raises(InvalidTuningJob) as raised:
        validate_request(CreateTuningJobRequest.model_validate(job))
    assert [(e.field, e.rule) for e in raised.value.errors] == [
        ("HyperParameterTuningJobConfig.TrainingJobEarlyStoppingType", "hyperband-off")
    ]


def test_unknown_strategy_lists_the_registered_ones() -> None:
    with pytest.raises(InvalidTuningJob) as raised:
        validate_request(CreateTuningJobRequest.model_validate(minimal_job(Strategy="Evolution")))
    (error,) = [e for e in raised.value.errors if e.field == "HyperParameterTuningJobConfig.Strategy"]
    assert error.rule == "enum" and "Bayesian, Grid, Hyperband, Random" in error.message


def test_warm_start_policy_is_the_strategy_s() -> None:
    identical = CreateTuningJobRequest.model_validate(
        {
            **minimal_job(),
            "WarmStartConfig": {
                "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": "p"}],
                "WarmStartType": "TransferLearning",
            },
        }
    ).WarmStartConfig
    assert identical is not None
    assert registry.lookup("Bayesian").uses_parents(identical)  # type: ignore[union-attr]
    assert not registry.lookup("Random").uses_parents(identical)  # type: ignore[union-attr]


def test_no_strategy_names_outside_their_modules() -> None:
    """Validation, the suggester and replay never compare Strategy with a literal name."""
    names = set(registry.names())
    checked = [
        ROOT / "shared/tunestream/validation.py",
        ROOT / "services/tunestream/suggester/state.py",
        ROOT / "services/tunestream/suggester/handler.py",
        ROOT / "services/tunestream/replay/suggester.py",
        ROOT / "shared/tunestream/strategies/registry.py",
    ]
    for path in checked:
        tree = ast.parse(path.read_text())
        literals = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)}
        assert not literals & names, f"{path.relative_to(ROOT)} names {sorted(literals & names)}"
