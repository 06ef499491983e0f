"""Hyperband with asynchronous successive halving (ASHA), as SageMaker's Hyperband strategy runs it.

Resource = the step of each objective value (epochs or iterations). With MinResource r, MaxResource
R and reduction factor eta = 3 there are s_max + 1 brackets, s_max = floor(log_eta(R / r)).
Bracket b has rungs at r * eta^(b + k) below R: bracket 0 judges jobs early and often, the last
bracket never stops anyone. Each training job is put in a bracket at random (seeded by RandomSeed
and its index) with Hyperband's proportions, so aggressive brackets get more jobs.

When a job first reports a step at or past one of its bracket's rungs, its value is recorded at that
rung. It continues only if it is among the top max(1, floor(n / eta)) of the n values recorded there
so far, itself included: ASHA's promotion quota, applied as a stopping rule. No job waits for a rung
to fill, so the first job at a rung always continues and, until 2 * eta values are there, a job must
beat every earlier one to go on. Waiting for eta values before judging (as this rule once did) stops
nothing in a short or narrow job: with 2 workers and a handful of jobs per bracket a rung rarely
holds 3 values, and a diverged configuration then runs to MaxResource (docs/benchmarks.md). Ties
continue. Configurations come from random search.

MaxResource is a ceiling, as SageMaker defines it: a training job that reports a step at or past
MaxResource is stopped there (rule "max-resource"), unless its epochs hyperparameter says it ends
there anyway (then it is left to complete, so its status stays Completed). The resource is the
step a program reports with its objective, not a count of reports: a program that reports every
k epochs (steps k, 2k, ...) is judged at a rung r by its first report with step >= r.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from tunestream.trials import StopDecision, TrainingJobRecord, better

ETA = 3


def bracket_rungs(min_resource: int, max_resource: int, eta: int = ETA) -> list[list[int]]:
    """Rung levels of each bracket (the resource at which jobs are judged), most aggressive first."""
    s_max = math.floor(math.log(max_resource / min_resource, eta) + 1e-9)
    brackets = []
    for b in range(s_max + 1):
        rungs = []
        level = min_resource * eta**b
        while level < max_resource:
            rungs.append(int(level))
            level *= eta
        brackets.append(rungs)
    return brackets


def bracket_weights(n_brackets: int, eta: int = ETA) -> list[float]:
    """Hyperband's share of configurations per bracket: n_b ∝ (s_max+1)/(s+1) * eta^s, s = s_max - b."""
    s_max = n_brackets - 1
    raw = [(s_max + 1) / (s_max - b + 1) * eta ** (s_max - b) for b in range(n_brackets)]
    total = sum(raw)
    return [w / total for w in raw]


@dataclass
class AshaStopper:
    min_resource: int
    max_resource: int
    maximize: bool
    seed: int
    eta: int = ETA
    # The steps every training job is told to run (a static epochs hyperparameter), when known;
    # a tuned epochs hyperparameter, named in `epoch_names`, overrides it per job.
    planned_steps: int | None = None
    epoch_names: tuple[str, ...] = ()
    brackets: list[list[int]] = field(init=False)
    weights: list[float] = field(init=False)
    _bracket_cache: dict[int, int] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.brackets = bracket_rungs(self.min_resource, self.max_resource, self.eta)
        self.weights = bracket_weights(len(self.brackets), self.eta)

    def bracket_of(self, index: int) -> int:
        if index not in self._bracket_cache:
            rng = np.random.default_rng([self.seed, index, 7919])
            self._bracket_cache[index] = int(rng.choice(len(self.brackets), p=self.weights))
        return self._bracket_cache[index]

    def proposal_details(self, index: int) -> dict[str, float | int | str]:
        bracket = self.bracket_of(index)
        rungs = self.brackets[bracket]
        return {"bracket": bracket, "rungs": ",".join(map(str, rungs)) or "none", "max_resource": self.max_resource}

    def decide(self, job: TrainingJobRecord, history: Sequence[TrainingJobRecord]) -> StopDecision | None:
        if not job.metric_history:
            return None
        bracket = self.bracket_of(job.index)
        step, last = job.metric_history[-1]
        if step >= self.max_resource and self._runs_past_max_resource(job):
            return StopDecision(
                reason=f"hyperband: reached MaxResource {self.max_resource} at step {step}",
                rule="max-resource",
                step=step,
                value=last,
                cutoff=last,
            )
        # The rung this report completes: the highest rung at or below the step not judged before it.
        previous_step = job.metric_history[-2][0] if len(job.metric_history) > 1 else 0
        crossed = [r for r in self.brackets[bracket] if previous_step < r <= step]
        if not crossed:
            return None
        rung = crossed[-1]
        value = self._value_at(job, rung)
        assert value is not None
        recorded = [
            v
            for other in history
            if self.bracket_of(other.index) == bracket and (v := self._value_at(other, rung)) is not None
        ]
        keep = max(1, len(recorded) // self.eta)
        ranked = sorted(recorded, reverse=self.maximize)
        cutoff = ranked[keep - 1]
        if not better(cutoff, value, self.maximize):
            return None
        return StopDecision(
            reason=(
                f"hyperband: bracket {bracket}, rung {rung}: objective {value:.6g} is outside the top "
                f"{keep} of {len(recorded)} training jobs at this rung (cutoff {cutoff:.6g})"
            ),
            rule="hyperband",
            step=rung,
            value=value,
            cutoff=cutoff,
        )

    def _runs_past_max_resource(self, job: TrainingJobRecord) -> bool:
        planned = self.planned_steps
        for name in self.epoch_names:
            value = job.values.get(name)
            if isinstance(value, int):
                planned = value
        return planned is None or planned > self.max_resource

    @staticmethod
    def _value_at(job: TrainingJobRecord, rung: int) -> float | None:
        """The objective a job reported when it first reached the rung (its first step >= rung)."""
        for step, value in job.metric_history:
            if step >= rung:
                return value
        return None
