"""Warm start: parents' results seed the model and let Random skip evaluated configurations."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.conftest import minimal_job
from tunestream.definitions import CreateTuningJobRequest
from tunestream.events.v1 import WarmStartObservation
from tunestream.space import CategoricalParam, SearchSpace
from tunestream.strategies.random import RandomSearch
from tunestream.suggester.state import TuningJobState
from tunestream.trials import TrainingJobRecord, TrainingJobStatus


def test_random_redraws_configurations_parents_evaluated() -> None:
    space = SearchSpace((CategoricalParam("a", ("x", "y")), CategoricalParam("b", ("1", "2"))))
    fresh = RandomSearch(space, seed=1, max_jobs=4).propose(0, []).values
    seen = [
        TrainingJobRecord(index=-1, name="p", values=dict(fresh), status=TrainingJobStatus.COMPLETED, objective=1.0)
    ]
    proposal = RandomSearch(space, seed=1, max_jobs=4).propose(0, seen)
    assert proposal.values != fresh and "redrawn" in proposal.reason


def _state(warm_type: str, strategy: str, observations: list[WarmStartObservation]) -> TuningJobState:
    job = minimal_job("child", Strategy=strategy)
    job["WarmStartConfig"] = {
        "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": "parent"}],
        "WarmStartType": warm_type,
    }
    return TuningJobState.create(CreateTuningJobRequest.model_validate(job), 3, datetime.now(UTC), observations)


def _obs(x: str, n: str, kind: str, objective: float, i: int) -> WarmStartObservation:
    return WarmStartObservation(
        tuning_job_name="parent",
        training_job_name=f"parent-{i:03d}-x",
        tuned_hyperparameters={"x": x, "n": n, "kind": kind},
        objective=objective,
    )


def test_observations_outside_the_space_are_left_out() -> None:
    state = _state(
        "TransferLearning",
        "Random",
        [
            _obs("0.5", "2", "a", 1.0, 1),
            _obs("1.5", "2", "a", 2.0, 2),
            _obs("0.5", "9", "a", 3.0, 3),
            _obs("0.5", "2", "zzz", 4.0, 4),
        ],
    )
    assert [r.objective for r in state.warm_start] == [1.0]
    assert state.warm_start[0].index == -1
    # TransferLearning: Random does not look at the parents.
    assert state.strategy_history() == []
    identical = _state("IdenticalDataAndAlgorithm", "Random", [_obs("0.5", "2", "a", 1.0, 1)])
    assert len(identical.strategy_history()) == 1


def test_bayesian_starts_from_the_model_when_parents_cover_the_initial_design() -> None:
    pytest.importorskip("botorch")
    observations = [
        _obs(f"{0.1 * i:.1f}", str(1 + i % 5), "ab"[i % 2], 1.0 - abs(0.1 * i - 0.6), i) for i in range(1, 10)
    ]
    state = _state("TransferLearning", "Bayesian", observations)
    out = state.decide(datetime.now(UTC))
    first = out[0].payload
    assert first.details["phase"] == "model" and first.details["observations"] == 9
