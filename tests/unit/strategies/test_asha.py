from __future__ import annotations

import math

from tunestream.strategies.asha import AshaStopper, bracket_rungs, bracket_weights
from tunestream.trials import TrainingJobRecord


def rec(index: int, curve: list[float]) -> TrainingJobRecord:
    return TrainingJobRecord(
        index=index, name=f"j{index}", values={}, metric_history=tuple((i + 1, v) for i, v in enumerate(curve))
    )


def test_rung_arithmetic() -> None:
    assert bracket_rungs(1, 27) == [[1, 3, 9], [3, 9], [9], []]
    assert bracket_rungs(1, 81)[0] == [1, 3, 9, 27]
    assert bracket_rungs(2, 20) == [[2, 6, 18], [6, 18], [18]]
    assert bracket_rungs(5, 5) == [[]]
    weights = bracket_weights(4)
    assert math.isclose(sum(weights), 1.0) and weights == sorted(weights, reverse=True)


def test_brackets_are_seeded_and_follow_hyperband_proportions() -> None:
    a = AshaStopper(1, 27, maximize=True, seed=3)
    b = AshaStopper(1, 27, maximize=True, seed=3)
    assert [a.bracket_of(i) for i in range(50)] == [b.bracket_of(i) for i in range(50)]
    counts = [0] * 4
    for i in range(4000):
        counts[a.bracket_of(i)] += 1
    assert counts == sorted(counts, reverse=True) and counts[3] > 0


def _in_bracket_zero(stopper: AshaStopper, n: int) -> list[int]:
    return [i for i in range(200) if stopper.bracket_of(i) == 0][:n]


def test_first_job_at_a_rung_continues_and_later_ones_must_beat_the_quota() -> None:
    s = AshaStopper(1, 9, maximize=True, seed=0)  # bracket 0 rungs: 1, 3
    ids = _in_bracket_zero(s, 8)
    history = [rec(ids[0], [0.5])]
    assert s.decide(history[0], history) is None  # alone at the rung
    history.append(rec(ids[1], [0.4]))
    decision = s.decide(history[1], history)  # two values: only the best goes on
    assert decision is not None and decision.step == 1 and decision.value == 0.4 and decision.cutoff == 0.5
    assert "rung 1" in decision.reason and "top 1 of 2" in decision.reason
    history.append(rec(ids[2], [0.5]))
    assert s.decide(history[2], history) is None  # a tie with the cutoff continues
    history.append(rec(ids[3], [0.9]))
    assert s.decide(history[3], history) is None  # the new best continues
    for k, v in enumerate([0.1, 0.2]):
        history.append(rec(ids[4 + k], [v]))
    # Seven values: floor(7 / 3) = 2 go on, so the second best is the cutoff.
    history.append(rec(ids[6], [0.45]))
    decision = s.decide(history[6], history)
    assert decision is not None and decision.cutoff == 0.5 and "top 2 of 7" in decision.reason
    history.append(rec(ids[7], [0.7]))
    assert s.decide(history[7], history) is None  # second best of 8 goes on


def test_minimize_and_rung_crossed_between_reports() -> None:
    s = AshaStopper(1, 9, maximize=False, seed=0)
    ids = _in_bracket_zero(s, 3)
    history = [
        TrainingJobRecord(index=ids[0], name="a", values={}, metric_history=((1, 0.1), (4, 0.05))),
        TrainingJobRecord(index=ids[1], name="b", values={}, metric_history=((1, 0.2), (3, 0.15))),
        TrainingJobRecord(index=ids[2], name="c", values={}, metric_history=((2, 0.5), (5, 0.4))),
    ]
    # c jumped from step 2 to 5: rung 3 is judged on its first value at or past 3 (0.4).
    decision = s.decide(history[2], history)
    assert decision is not None and decision.step == 3 and decision.value == 0.4 and decision.cutoff == 0.05


def test_last_bracket_never_stops() -> None:
    s = AshaStopper(1, 9, maximize=True, seed=0, planned_steps=9)
    last = [i for i in range(300) if s.bracket_of(i) == len(s.brackets) - 1][:4]
    history = [rec(i, [0.1 * k] * 9) for k, i in enumerate(last)]
    assert all(s.decide(h, history) is None for h in history)


def test_max_resource_is_a_ceiling() -> None:
    """SageMaker stops a Hyperband training job when it reaches MaxResource, unless its own epochs
    end it there anyway (then it completes)."""
    unknown = AshaStopper(1, 4, maximize=True, seed=0)
    job = next(i for i in range(100) if unknown.bracket_of(i) == len(unknown.brackets) - 1)  # never judged at rungs
    curve = [0.1, 0.2, 0.3, 0.4, 0.5]
    decisions = [unknown.decide(rec(job, curve[:n]), [rec(job, curve[:n])]) for n in range(1, 6)]
    assert decisions[:3] == [None, None, None]
    assert decisions[3] is not None and decisions[3].rule == "max-resource" and decisions[3].step == 4
    planned_there = AshaStopper(1, 4, maximize=True, seed=0, planned_steps=4)
    assert planned_there.decide(rec(job, curve[:4]), [rec(job, curve[:4])]) is None
    planned_longer = AshaStopper(1, 4, maximize=True, seed=0, planned_steps=10)
    stop = planned_longer.decide(rec(job, curve[:4]), [rec(job, curve[:4])])
    assert stop is not None and stop.rule == "max-resource"
    tuned = AshaStopper(1, 4, maximize=True, seed=0, planned_steps=10, epoch_names=("epochs",))
    short = TrainingJobRecord(index=job, name="t", values={"epochs": 4}, metric_history=((4, 0.4),))
    assert tuned.decide(short, [short]) is None


def test_sparse_reports_are_judged_by_their_step() -> None:
    """A program reporting every 5 epochs is judged at rung 3 by its step-5 value."""
    s = AshaStopper(1, 30, maximize=True, seed=0, planned_steps=30)
    ids = _in_bracket_zero(s, 2)
    first = TrainingJobRecord(index=ids[0], name="a", values={}, metric_history=((5, 0.9),))
    second = TrainingJobRecord(index=ids[1], name="b", values={}, metric_history=((5, 0.1),))
    assert s.decide(first, [first]) is None
    stop = s.decide(second, [first, second])
    assert stop is not None and stop.step == 3 and stop.value == 0.1
