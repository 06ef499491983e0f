"""Promotion Hyperband: asynchronous successive halving that pauses training jobs and resumes them.

Stopping-type ASHA (asha.py) judges a running job at a rung and ends it for good, so a late bloomer
is lost. Here nothing is stopped for its value: every training job trains to a rung and pauses
there (its checkpoint synced to S3 through CheckpointConfig), and a paused configuration is
resumed from that checkpoint when it earns a place on the next rung, so no epoch is trained twice.

Rungs: r, r*eta, r*eta^2, ... below R, then R (MinResource r, MaxResource R, eta = 3). Each
segment of a configuration's training is its own training job: a fresh configuration is proposed
with resource_limit = r; a promotion is a new training job with the same hyperparameters,
resume_from = the segment it continues and resource_limit = the next rung.

Whenever a slot is free (ASHA's rule, Li et al. 2020): from the rung below the top downwards, the
best configuration among the top floor(n / eta) of the n paused at that rung that was not promoted
yet is resumed to the next rung; if there is none, a new random configuration starts. A rung whose
segments failed counts only the ones with an objective. Everything is a function of the tuning
job's records (no hidden state), so a restarted suggester or a replay makes the same decisions.

One bracket, not Hyperband's several: on the bench (docs/strategies.md) the single bracket reached
the 5 % target sooner on all four tables at W = 2 and W = 8.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from tunestream.space import SearchSpace
from tunestream.strategies.random import RandomSearch
from tunestream.trials import Proposal, StopDecision, TrainingJobRecord, TrainingJobStatus

ETA = 3


def promotion_rungs(min_resource: int, max_resource: int, eta: int = ETA) -> list[int]:
    """The resource of every rung, the last one MaxResource: 1, 3, 9, 20 for r = 1, R = 20."""
    rungs = []
    level = min_resource
    while level < max_resource:
        rungs.append(level)
        level *= eta
    return [*rungs, max_resource]


@dataclass(frozen=True)
class _Paused:
    record: TrainingJobRecord
    score: float  # smaller is better, whichever the objective's direction


class PromotionHyperband:
    """Proposes fresh configurations at the first rung and promotions of paused ones (module doc)."""

    def __init__(
        self, space: SearchSpace, seed: int, max_jobs: int, min_resource: int, max_resource: int, maximize: bool
    ) -> None:
        self._random = RandomSearch(space, seed, max_jobs)
        self._max_jobs = max_jobs
        self.rungs = promotion_rungs(min_resource, max_resource)
        self._maximize = maximize

    def max_training_jobs(self) -> int:
        return self._max_jobs

    def propose(self, index: int, history: Sequence[TrainingJobRecord]) -> Proposal:
        own = [h for h in history if h.index >= 0]
        promotion = self._promotion(own)
        if promotion is not None:
            record, rung, rank, paused = promotion
            limit = self.rungs[rung + 1]
            return Proposal(
                index=index,
                values=record.values,
                reason=(
                    f"promotion hyperband: resumes {record.name} from rung {self.rungs[rung]} to {limit}: "
                    f"ranked {rank} of {paused} paused at that rung (top {paused // ETA} may go on)"
                ),
                details={
                    "rung": limit,
                    "resumes": record.name,
                    "promoted_from_rung": self.rungs[rung],
                    "rank_at_rung": rank,
                },
                resume_from=record.name,
                resource_limit=limit,
                step_offset=record.metric_history[-1][0],
            )
        draw = sum(1 for h in own if h.resume_from is None)
        fresh = self._random.propose(draw, [h for h in history if h.index < 0])
        return Proposal(
            index=index,
            values=fresh.values,
            reason=f"promotion hyperband: new configuration (random draw {draw + 1}), trains to rung {self.rungs[0]}",
            details={"rung": self.rungs[0]},
            resource_limit=self.rungs[0],
        )

    def _promotion(self, own: Sequence[TrainingJobRecord]) -> tuple[TrainingJobRecord, int, int, int] | None:
        """(paused segment to resume, its rung's position, its rank there, how many paused there)."""
        continued = {h.resume_from for h in own if h.resume_from is not None}
        by_rung: dict[int, list[_Paused]] = {}
        for h in own:
            rung = self._rung_of(h)
            if rung is None or rung + 1 >= len(self.rungs) or not self._paused(h):
                continue
            assert h.objective is not None
            score = -h.objective if self._maximize else h.objective
            by_rung.setdefault(rung, []).append(_Paused(h, score))
        for rung in sorted(by_rung, reverse=True):
            ranked = sorted(by_rung[rung], key=lambda p: (p.score, p.record.index))
            for rank, paused in enumerate(ranked[: len(ranked) // ETA], start=1):
                if paused.record.name not in continued:
                    return paused.record, rung, rank, len(ranked)
        return None

    def _rung_of(self, record: TrainingJobRecord) -> int | None:
        if record.resource_limit is None or record.resource_limit not in self.rungs:
            return None
        return self.rungs.index(record.resource_limit)

    @staticmethod
    def _paused(record: TrainingJobRecord) -> bool:
        """Ended at its rung with an objective: completed there, or stopped there by RungLimit."""
        return (
            record.status in (TrainingJobStatus.COMPLETED, TrainingJobStatus.STOPPED)
            and record.objective is not None
            and not math.isnan(record.objective)
            and record.resource_limit is not None
            and bool(record.metric_history)
            and record.metric_history[-1][0] >= record.resource_limit
        )


@dataclass
class RungLimitStopper:
    """Pauses a training job whose program does not pause itself. A program that honours
    TUNESTREAM_RESOURCE_LIMIT reports its rung's step and exits there (Completed); one that ignores
    it is stopped at its first report past the limit (Stopped, rule "pause"), its checkpoint kept.
    Stopping at the rung's own step would race the exit of a program that honours the limit.

    At MaxResource, a job is stopped only if its epochs hyperparameter would run it further
    (SageMaker's rule, as in asha.py)."""

    max_resource: int
    planned_steps: int | None = None

    def decide(self, job: TrainingJobRecord, history: Sequence[TrainingJobRecord]) -> StopDecision | None:
        if not job.metric_history or job.resource_limit is None:
            return None
        step, last = job.metric_history[-1]
        if job.resource_limit >= self.max_resource and step >= self.max_resource:
            if self.planned_steps is not None and self.planned_steps <= self.max_resource:
                return None
            reason = f"promotion hyperband: reached MaxResource {self.max_resource} at step {step}"
            return StopDecision(reason=reason, rule="max-resource", step=step, value=last, cutoff=last)
        if step <= job.resource_limit or job.resource_limit >= self.max_resource:
            return None
        return StopDecision(
            reason=f"promotion hyperband: paused at rung {job.resource_limit} (step {step}); resumed if promoted",
            rule="pause",
            step=step,
            value=last,
            cutoff=last,
        )

    def proposal_details(self, index: int) -> dict[str, float | int | str]:
        return {}
