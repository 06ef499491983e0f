"""TuningJobCompletionCriteria: when a tuning job may end before its budget is spent.

Evaluated over finished training jobs in the order they finished, using each one's final objective.

- TargetObjectiveMetricValue: ends the tuning job as soon as a training job's objective reaches the
  target (>= when maximizing, <= when minimizing).
- BestObjectiveNotImproving.MaxNumberOfTrainingJobsNotImproving = N: ends it once N training jobs in
  a row finished without improving the best objective by at least 1 % (relative to |best|; an
  absolute 1e-12 when the best is 0).
- ConvergenceDetected.CompleteOnConvergence = Enabled: tunestream's definition: with a window
  W = max(5, ceil(MaxNumberOfTrainingJobs / 10)), the tuning job has converged when at least 2W
  training jobs reported the objective and the best objective improved by less than 0.1 % (relative)
  over the last W of them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from tunestream.definitions import TuningJobCompletionCriteriaShape
from tunestream.trials import better

IMPROVEMENT = 0.01
CONVERGENCE_IMPROVEMENT = 0.001


def _improves(value: float, best: float, maximize: bool, relative: float) -> bool:
    margin = max(abs(best) * relative, 1e-12)
    return value >= best + margin if maximize else value <= best - margin


@dataclass(frozen=True)
class CompletionCheck:
    """The outcome of evaluating the criteria: why to end (or None) and SageMaker's details."""

    reason: str | None
    not_improving: int
    converged: bool


@dataclass(frozen=True)
class CompletionCriteria:
    criteria: TuningJobCompletionCriteriaShape | None
    maximize: bool
    max_jobs: int

    def window(self) -> int:
        return max(5, math.ceil(self.max_jobs / 10))

    def evaluate(self, objectives: Sequence[tuple[str, float]]) -> CompletionCheck:
        """Args: (training job name, final objective) of each training job that reported it, in finish order."""
        best: float | None = None
        not_improving = 0
        for _, value in objectives:
            if best is None or _improves(value, best, self.maximize, IMPROVEMENT):
                not_improving = 0
            else:
                not_improving += 1
            if best is None or better(value, best, self.maximize):
                best = value
        c = self.criteria
        converged = self._converged(objectives)
        reason = None
        if c is not None:
            target = c.TargetObjectiveMetricValue
            if target is not None:
                for name, value in objectives:
                    if value == target or better(value, target, self.maximize):
                        reason = f"TargetObjectiveMetricValue {target:g} reached by {name} ({value:.6g})"
                        break
            limit = (
                c.BestObjectiveNotImproving.MaxNumberOfTrainingJobsNotImproving if c.BestObjectiveNotImproving else None
            )
            if reason is None and limit is not None and not_improving >= limit:
                reason = (
                    f"BestObjectiveNotImproving: {not_improving} training jobs in a row did not improve "
                    "the best objective by 1 %"
                )
            enabled = c.ConvergenceDetected is not None and c.ConvergenceDetected.CompleteOnConvergence == "Enabled"
            if reason is None and enabled and converged:
                reason = (
                    f"ConvergenceDetected: the best objective improved by less than 0.1 % over the last "
                    f"{self.window()} training jobs"
                )
        return CompletionCheck(reason=reason, not_improving=not_improving, converged=converged)

    def _converged(self, objectives: Sequence[tuple[str, float]]) -> bool:
        w = self.window()
        if len(objectives) < 2 * w:
            return False
        values = [v for _, v in objectives]
        pick = max if self.maximize else min
        before, now = pick(values[:-w]), pick(values)
        return not _improves(now, before, self.maximize, CONVERGENCE_IMPROVEMENT)
