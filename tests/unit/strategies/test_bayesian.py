"""The BoTorch strategy: initial design, model phase, determinism, pending points, mixed spaces."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from tunestream.space import CategoricalParam, ContinuousParam, IntegerParam, SearchSpace
from tunestream.strategies.bayesian import NOISE_FLOORS, BayesianSearch, Encoder, cost_weight, initial_design_size
from tunestream.trials import TrainingJobRecord, TrainingJobStatus

pytest.importorskip("botorch")

MIXED = SearchSpace(
    (
        IntegerParam("units", 10, 1000, "Logarithmic"),
        IntegerParam("layers", 1, 4),
        ContinuousParam("lr", 1e-4, 1e-1, "Logarithmic"),
        CategoricalParam("act", ("relu", "tanh", "gelu")),
    )
)
SQUARE = SearchSpace((ContinuousParam("x", 0.0, 1.0), ContinuousParam("y", 0.0, 1.0)))


def quadratic(values: dict[str, int | float | str]) -> float:
    return -((float(values["x"]) - 0.7) ** 2) - (float(values["y"]) - 0.2) ** 2


def run(strategy: BayesianSearch, n: int, f=quadratic) -> list[TrainingJobRecord]:  # type: ignore[no-untyped-def]
    history: list[TrainingJobRecord] = []
    for i in range(n):
        p = strategy.propose(i, history)
        history.append(
            TrainingJobRecord(
                index=i, name=f"t{i}", values=p.values, status=TrainingJobStatus.COMPLETED, objective=f(p.values)
            )
        )
    return history


def test_initial_design_size_rule() -> None:
    assert initial_design_size(2, 100) == 5
    assert initial_design_size(6, 100) == 12
    assert initial_design_size(20, 100) == 20
    assert initial_design_size(6, 6) == 3


def test_encoder_round_trip_on_mixed_space() -> None:
    enc = Encoder(MIXED)
    values = {"units": 128, "layers": 3, "lr": 0.01, "act": "tanh"}
    row = enc.encode(values)
    back = enc.decode(row)
    assert back["units"] == 128 and back["layers"] == 3 and back["act"] == "tanh"
    assert math.isclose(float(back["lr"]), 0.01)
    assert enc.categorical_dims() == {3: [0.0, 1.0, 2.0]}
    assert set(enc.discrete_dims()) == {0, 1}


def test_sobol_then_model_with_reasons() -> None:
    s = BayesianSearch(SQUARE, seed=1, max_jobs=20, maximize=True)
    first = s.propose(0, [])
    assert first.details["phase"] == "initial design" and "Sobol" in first.reason
    history = run(s, 8)
    p = s.propose(8, history)
    assert p.details["phase"] == "model" and p.details["observations"] == 8
    assert "log EI" in p.reason and "predicted" in p.reason
    assert {"predicted_mean", "predicted_std", "log_ei"} <= set(p.details)


def test_the_model_waits_for_the_initial_design_results_not_its_proposals() -> None:
    # Eight workers: proposals 0-7 all start before any result; with two of them ended, the third
    # and later proposals are still Sobol points (a model of the first two to end is no model).
    s = BayesianSearch(SQUARE, seed=1, max_jobs=100, maximize=True)
    assert initial_design_size(2, 100) == 5
    done = run(s, 2)
    running = [
        TrainingJobRecord(index=i, name=f"t{i}", values=s.propose(i, done).values, status=TrainingJobStatus.IN_PROGRESS)
        for i in range(2, 8)
    ]
    p = s.propose(8, [*done, *running])
    assert p.details == {"phase": "initial design", "observations": 2} and "Sobol point 9" in p.reason
    ended = [replace(r, status=TrainingJobStatus.COMPLETED, objective=quadratic(r.values)) for r in running]
    assert s.propose(8, [*done, *ended[:2], *running[2:]]).details["phase"] == "initial design"  # 4 results
    assert s.propose(8, [*done, *ended[:3], *running[3:]]).details["phase"] == "model"  # 5 results


def test_same_seed_same_proposals() -> None:
    a = run(BayesianSearch(SQUARE, seed=5, max_jobs=12, maximize=True), 9)
    b = run(BayesianSearch(SQUARE, seed=5, max_jobs=12, maximize=True), 9)
    assert [h.values for h in a] == [h.values for h in b]
    c = run(BayesianSearch(SQUARE, seed=6, max_jobs=12, maximize=True), 6)
    assert [h.values for h in a[:6]] != [h.values for h in c]


def test_model_finds_the_optimum_region() -> None:
    history = run(BayesianSearch(SQUARE, seed=0, max_jobs=25, maximize=True), 20)
    best = max(history, key=lambda h: h.objective or -1)
    assert best.objective is not None and best.objective > -0.01


def test_minimize_and_failed_trials_are_left_out() -> None:
    s = BayesianSearch(SQUARE, seed=2, max_jobs=20, maximize=False)
    history = run(s, 6, f=lambda v: -quadratic(v))
    history.append(TrainingJobRecord(index=6, name="t6", values={"x": 0.5, "y": 0.5}, status=TrainingJobStatus.FAILED))
    p = s.propose(7, history)
    assert p.details["observations"] == 6
    assert p.details["predicted_mean"] >= -0.5  # minimising a non-negative function


def test_pending_points_spread_parallel_proposals() -> None:
    s = BayesianSearch(SQUARE, seed=3, max_jobs=30, maximize=True)
    history = run(s, 8)
    first = s.propose(8, history)
    pending = TrainingJobRecord(index=8, name="t8", values=first.values, status=TrainingJobStatus.IN_PROGRESS)
    second = s.propose(9, [*history, pending])
    assert second.details["pending"] == 1
    distance = np.hypot(
        float(first.values["x"]) - float(second.values["x"]), float(first.values["y"]) - float(second.values["y"])
    )
    assert distance > 1e-3


def test_mixed_space_proposals_are_valid_values() -> None:
    def f(v: dict[str, int | float | str]) -> float:
        return (
            -abs(math.log(int(v["units"])) - math.log(200))
            - 0.1 * int(v["layers"])
            + (0.3 if v["act"] == "gelu" else 0.0)
        )

    s = BayesianSearch(MIXED, seed=4, max_jobs=20, maximize=True)
    history = run(s, 11, f=f)
    for h in history:
        assert isinstance(h.values["units"], int) and 10 <= h.values["units"] <= 1000
        assert isinstance(h.values["layers"], int) and 1 <= h.values["layers"] <= 4
        assert h.values["act"] in ("relu", "tanh", "gelu")
        assert 1e-4 <= float(h.values["lr"]) <= 1e-1
    assert history[-1].values is not None


def test_the_gp_sees_categorical_columns_one_hot() -> None:
    import torch

    enc = Encoder(MIXED)
    rows = torch.tensor([enc.encode({"units": 128, "layers": 3, "lr": 0.01, "act": a}) for a in ("relu", "gelu")])
    features = enc.features(rows)
    assert features.shape == (2, 6)
    assert features[:, 3:].tolist() == [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]
    assert torch.equal(features[:, :3], rows[:, :3])
    columns = enc.columns()
    assert columns.categorical == {3: 3} and set(columns.discrete) == {0, 1} and columns.continuous == [2]


def test_a_deterministic_mixed_objective_is_solved_to_the_exact_integer() -> None:
    # The noise floor and the discrete climb: BoTorch's defaults stopped a unit or two short.
    space = SearchSpace((IntegerParam("units", 10, 1000, "Logarithmic"), CategoricalParam("act", ("a", "b"))))

    def f(v: dict[str, int | float | str]) -> float:
        return -((math.log(int(v["units"])) - math.log(120)) ** 2) + (0.2 if v["act"] == "b" else 0.0)

    history = run(BayesianSearch(space, seed=0, max_jobs=30, maximize=True), 25, f=f)
    best = max(history, key=lambda h: h.objective or -1)
    assert best.values == {"units": 120, "act": "b"}


def test_a_model_that_cannot_be_fitted_at_the_low_noise_floor_is_fitted_at_the_next() -> None:
    from botorch.exceptions.errors import ModelFittingError

    class Fragile(BayesianSearch):
        floors: list[float] = []

        def _fit(self, x, y, noise_floor):  # type: ignore[no-untyped-def]
            self.floors.append(noise_floor)
            if noise_floor < NOISE_FLOORS[-1]:
                raise ModelFittingError("singular at this floor")
            return super()._fit(x, y, noise_floor)

    strategy = Fragile(SQUARE, seed=3, max_jobs=12, maximize=True)
    history = run(strategy, 7)
    proposal = strategy.propose(7, history)
    assert proposal.details["phase"] == "model"
    assert proposal.details["noise_floor"] == NOISE_FLOORS[-1]
    assert strategy.floors[-2:] == [NOISE_FLOORS[0], NOISE_FLOORS[-1]]


def _costed_history(strategy: BayesianSearch, n: int) -> list[TrainingJobRecord]:
    """x sets the objective (best at 0.7); y sets only the cost: 1 s at y = 0, about 150 s at y = 1."""
    history: list[TrainingJobRecord] = []
    clock = 0.0
    for i in range(n):
        p = strategy.propose(i, history)
        seconds = math.exp(5.0 * float(p.values["y"]))
        history.append(
            TrainingJobRecord(
                index=i,
                name=f"t{i}",
                values=p.values,
                status=TrainingJobStatus.COMPLETED,
                objective=-((float(p.values["x"]) - 0.7) ** 2),
                proposed_at=clock,
                ended_at=clock + seconds,
            )
        )
        clock += seconds
    return history


def test_cost_aware_proposals_avoid_configurations_that_cost_more_for_the_same_value() -> None:
    aware = _costed_history(BayesianSearch(SQUARE, seed=4, max_jobs=30, maximize=True, cost_aware=True), 18)
    plain = _costed_history(BayesianSearch(SQUARE, seed=4, max_jobs=30, maximize=True), 18)
    model_phase = slice(initial_design_size(2, 30), None)
    aware_y = [float(h.values["y"]) for h in aware[model_phase]]
    plain_y = [float(h.values["y"]) for h in plain[model_phase]]
    assert np.median(aware_y) < 0.1 < np.median(plain_y)
    # ... and still find the objective's optimum along x.
    assert max(h.objective or -1.0 for h in aware) > -1e-3
    last = BayesianSearch(SQUARE, seed=4, max_jobs=30, maximize=True, cost_aware=True).propose(18, aware)
    assert last.details["cost_jobs"] == 18 and 0.5 < float(last.details["predicted_cost_s"]) < 5.0


def test_cost_aware_needs_training_jobs_that_ran_to_their_end() -> None:
    """Stopped training jobs did not pay their configuration's cost; without three completed ones
    the proposal is plain expected improvement."""
    strategy = BayesianSearch(SQUARE, seed=4, max_jobs=30, maximize=True, cost_aware=True)
    history = [replace(h, status=TrainingJobStatus.STOPPED) for h in run(BayesianSearch(SQUARE, 4, 30, True), 8)]
    proposal = strategy.propose(8, history)
    assert proposal.details["phase"] == "model" and "cost_jobs" not in proposal.details


def test_the_cost_weight_cools_from_one_to_zero_over_the_budget() -> None:
    assert cost_weight(5, 5, 25) == 1.0 and cost_weight(15, 5, 25) == 0.5 and cost_weight(25, 5, 25) == 0.0
    assert cost_weight(2, 5, 25) == 1.0 and cost_weight(30, 5, 25) == 0.0
    assert cost_weight(3, 5, 5) == 0.0  # nothing after the initial design to spend cheaply
