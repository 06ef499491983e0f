"""The informed bounds: draws among the best share of the space, trained fully, a new best banked."""

from __future__ import annotations

import numpy as np
import pytest

from tunestream.bench.informed import SHARES, InformedDraws, informed_factory, is_informed
from tunestream.bench.methods import MethodFactory, Start
from tunestream.bench.simulator import Outcome, nearest_row, simulate, task_of
from tunestream.bench.suggester_methods import METHODS
from tunestream.bench.tables import CurveRow, CurveTable
from tunestream.space import ContinuousParam, SearchSpace

SPACE = SearchSpace((ContinuousParam("x", 0.0, 1.0, "Linear"),))
EPOCHS = 8
# The final value is x itself, reached along a rising curve; every epoch costs the same.
TABLE = CurveTable(
    "line",
    "final value x",
    SPACE,
    "acc",
    True,
    "epoch",
    [
        CurveRow({"x": str(x)}, tuple(x * (1 - 0.5**e) for e in range(1, EPOCHS + 1)), (0.1,) * EPOCHS)
        for x in np.linspace(0.0, 1.0, 101)
    ],
)
TARGETS = tuple(TABLE.target(s) for s in (0.1, 0.05, 0.02))

TEN = "Informed: the best 10 %, trained fully"


def informed(name: str = TEN, seed: int = 0) -> InformedDraws:
    method = informed_factory(name, nearest_row(TABLE), TABLE.finals(), TABLE.maximize)(task_of(TABLE), seed, 2)
    assert isinstance(method, InformedDraws)
    return method


def test_every_draw_is_among_the_best_share_and_trains_to_the_end() -> None:
    method = informed()
    threshold = np.quantile(TABLE.finals(), 0.9)
    for _ in range(30):
        start = method.ask(0.0)
        assert start is not None and start.resume is None and start.epochs is None
        assert TABLE.rows[TABLE.nearest(start.values)].final >= threshold - 1e-12
    # The same seed draws the same configurations; another seed others.
    assert [informed().ask(0.0) for _ in range(5)] == [informed().ask(0.0) for _ in range(5)]
    assert informed(seed=1).ask(0.0) != informed(seed=0).ask(0.0)


def test_a_job_that_beats_every_ended_one_is_stopped_there_and_resumed_first() -> None:
    method = informed()
    first = method.ask(0.0)
    second = method.ask(0.0)
    assert first is not None and second is not None
    assert method.report(first.trial_id, 1, 0.5, 1.0) is False  # nothing ended yet: a new best
    method.finish(first.trial_id, 0.5, True, 1.0)
    assert method.report(second.trial_id, 1, 0.4, 1.1) is True  # behind 0.5: goes on
    assert method.report(second.trial_id, 2, 0.6, 1.2) is False
    assert method.report(second.trial_id, TABLE.max_resource, 0.9, 1.3) is True  # at the end: it ends anyway
    resumed = method.ask(1.0)
    assert resumed == Start(f"{first.trial_id}+", first.values, resume=first.trial_id)
    method.finish(resumed.trial_id, 0.55, True, 2.0)
    again = method.ask(2.0)
    assert again is not None and again.resume == resumed.trial_id


def test_in_the_simulator_it_is_far_ahead_of_random_and_deterministic() -> None:
    def run(factory: MethodFactory, seed: int) -> Outcome:
        return simulate(TABLE, factory, seed, 2, targets=TARGETS, horizon_s=400.0)

    factory = informed_factory(TEN, nearest_row(TABLE), TABLE.finals(), TABLE.maximize)
    ours = [run(factory, s).time_to_target[TARGETS[1]] for s in range(20)]
    random = [run(METHODS["tunestream Random"], s).time_to_target[TARGETS[1]] for s in range(20)]
    assert np.median(random) / np.median(ours) > 2
    assert run(factory, 3).trace == run(factory, 3).trace


def test_names_and_a_share_nothing_reaches() -> None:
    assert all(is_informed(name) for name in SHARES) and not is_informed("tunestream Random")
    impossible = np.array([2.0])  # accuracy 2: no configuration of the table gets there
    method = informed_factory(TEN, nearest_row(TABLE), impossible, TABLE.maximize)(task_of(TABLE), 0, 2)
    import tunestream.bench.informed as module

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(module, "MAX_DRAWS", 50)
        with pytest.raises(RuntimeError, match=r"no configuration reached 2\.0 in 50 draws"):
            method.ask(0.0)
