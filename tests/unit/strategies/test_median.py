from __future__ import annotations

from tunestream.strategies.median import MIN_EARLIER_JOBS, MedianStopper
from tunestream.trials import TrainingJobRecord


def rec(index: int, curve: list[float]) -> TrainingJobRecord:
    return TrainingJobRecord(
        index=index, name=f"j{index}", values={}, metric_history=tuple((i + 1, v) for i, v in enumerate(curve))
    )


EARLIER = [rec(0, [0.5, 0.6, 0.7]), rec(1, [0.6, 0.7, 0.8]), rec(2, [0.2, 0.3, 0.4])]


def test_stops_below_median_of_running_averages() -> None:
    stopper = MedianStopper(maximize=True)
    # Running averages at step 2: 0.55, 0.65, 0.25 -> median 0.55.
    bad = rec(3, [0.5, 0.5])
    decision = stopper.decide(bad, [*EARLIER, bad])
    assert decision is not None and decision.cutoff == 0.55 and decision.step == 2 and decision.rule == "median"
    good = rec(3, [0.5, 0.56])
    assert stopper.decide(good, [*EARLIER, good]) is None


def test_needs_enough_earlier_jobs_and_steps() -> None:
    stopper = MedianStopper(maximize=True)
    assert stopper.decide(rec(3, [0.0]), [*EARLIER, rec(3, [0.0])]) is None  # step 1 is never judged
    few = EARLIER[: MIN_EARLIER_JOBS - 1]
    assert stopper.decide(rec(3, [0.0, 0.0]), [*few, rec(3, [0.0, 0.0])]) is None
    # Later jobs (higher index) do not count as earlier ones.
    assert stopper.decide(rec(0, [0.0, 0.0]), [rec(0, [0.0, 0.0]), *[rec(i, [1, 1]) for i in (5, 6, 7)]]) is None


def test_minimize() -> None:
    stopper = MedianStopper(maximize=False)
    job = rec(3, [0.9, 0.9])
    assert stopper.decide(job, [*EARLIER, job]) is not None
    job = rec(3, [0.1, 0.1])
    assert stopper.decide(job, [*EARLIER, job]) is None
