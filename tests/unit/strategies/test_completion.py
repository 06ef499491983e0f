from __future__ import annotations

from tunestream.definitions import TuningJobCompletionCriteriaShape
from tunestream.strategies.completion import CompletionCriteria


def criteria(**kw: object) -> TuningJobCompletionCriteriaShape:
    return TuningJobCompletionCriteriaShape.model_validate(kw)


def seq(values: list[float]) -> list[tuple[str, float]]:
    return [(f"t{i}", v) for i, v in enumerate(values)]


def test_target_objective_value() -> None:
    c = CompletionCriteria(criteria(TargetObjectiveMetricValue=0.9), maximize=True, max_jobs=50)
    assert c.evaluate(seq([0.5, 0.89])).reason is None
    reason = c.evaluate(seq([0.5, 0.91])).reason
    assert reason is not None and "t1" in reason
    low = CompletionCriteria(criteria(TargetObjectiveMetricValue=0.1), maximize=False, max_jobs=50)
    assert low.evaluate(seq([0.5, 0.1])).reason is not None


def test_best_objective_not_improving_counts_one_percent() -> None:
    c = CompletionCriteria(
        criteria(BestObjectiveNotImproving={"MaxNumberOfTrainingJobsNotImproving": 3}), maximize=True, max_jobs=50
    )
    # 1.005 improves by less than 1 %: it does not reset the count.
    check = c.evaluate(seq([1.0, 0.5, 1.005, 0.9]))
    assert check.not_improving == 3 and check.reason is not None and "3 training jobs in a row" in check.reason
    assert c.evaluate(seq([1.0, 0.5, 1.02, 0.9])).not_improving == 1


def test_convergence_definition() -> None:
    c = CompletionCriteria(
        criteria(ConvergenceDetected={"CompleteOnConvergence": "Enabled"}), maximize=True, max_jobs=30
    )
    assert c.window() == 5
    flat = [0.5, 0.6, 0.7, 0.8, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9]
    assert c.evaluate(seq(flat[:9])).reason is None  # fewer than 2W results
    check = c.evaluate(seq(flat))
    assert check.converged and check.reason is not None and "ConvergenceDetected" in check.reason
    assert not c.evaluate(seq([*flat[:9], 0.95])).converged
    off = CompletionCriteria(None, maximize=True, max_jobs=30)
    assert off.evaluate(seq(flat)).reason is None and off.evaluate(seq(flat)).converged
