"""SageMaker's Auto early stopping: the median rule.

After a training job reports its objective at step k, it is stopped when that value is worse than
the median of the running averages (mean of steps 1..k) of the objective of every earlier training
job (lower index) that reached step k. The rule acts only once at least MIN_EARLIER_JOBS earlier
jobs reached step k, and never before step MIN_STEP, so the first jobs always run to the end and
a job is never judged on a single noisy first value.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from tunestream.trials import StopDecision, TrainingJobRecord, better

MIN_EARLIER_JOBS = 3
MIN_STEP = 2


class MedianStopper:
    def __init__(self, maximize: bool, min_earlier_jobs: int = MIN_EARLIER_JOBS, min_step: int = MIN_STEP) -> None:
        self._maximize = maximize
        self._min_jobs = min_earlier_jobs
        self._min_step = min_step
        # (training job index, step) -> running average over its steps 1..step. A job's values at
        # steps up to k are fixed once it has reported k of them (the suggester keeps a step's first
        # value), so an average is computed once, not at every later job's every step.
        self._averages: dict[tuple[int, int], float] = {}

    def proposal_details(self, index: int) -> dict[str, float | int | str]:
        return {}

    def decide(self, job: TrainingJobRecord, history: Sequence[TrainingJobRecord]) -> StopDecision | None:
        if not job.metric_history:
            return None
        step, value = job.metric_history[-1]
        if step < self._min_step:
            return None
        averages = []
        for other in history:
            if other.index >= job.index:
                continue
            average = self._averages.get((other.index, step))
            if average is None:
                values = [v for s, v in other.metric_history if s <= step]
                if len(values) < step:
                    if other.status.finished:  # it never will reach the step
                        self._averages[(other.index, step)] = math.nan
                    continue
                average = self._averages[(other.index, step)] = float(np.mean(values[:step]))
            if not math.isnan(average):
                averages.append(average)
        if len(averages) < self._min_jobs:
            return None
        median = float(np.median(averages))
        if not better(median, value, self._maximize):
            return None
        return StopDecision(
            reason=(
                f"median rule: objective {value:.6g} at step {step} is worse than the median {median:.6g} "
                f"of the running averages of {len(averages)} earlier training jobs"
            ),
            rule="median",
            step=step,
            value=value,
            cutoff=median,
        )
