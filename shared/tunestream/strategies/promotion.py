"""Promotion Hyperband: asynchronous successive halving that pauses training jobs and resumes them.

Stopping-type ASHA (asha.py) judges a running job at a rung and ends it for good, so a late bloomer
is lost. Here nothing is stopped for its value: every training job trains to a rung and pauses
there (its checkpoint synced to S3 through CheckpointConfig), and a paused configuration is
resumed from that checkpoint when it earns a place on the next rung, so no epoch is trained twice.

Rungs: r, r*eta, r*eta^2, ... below R, then R (MinResource r, MaxResource R, eta = 2). Each
segment of a configuration's training is its own training job: a fresh configuration is proposed
with resource_limit = r; a promotion is a new training job with the same hyperparameters,
resume_from = the segment it continues and resource_limit = the next rung.

Whenever a slot is free (ASHA's rule, Li et al. 2020): from the rung below the top downwards, the
best configuration among the top floor(n / eta) of the n paused at that rung that was not promoted
yet is resumed to the next rung; if there is none, a new configuration starts. A rung whose
segments failed counts only the ones with an objective. Everything is a function of the tuning
job's records (no hidden state), so a restarted suggester or a replay makes the same decisions.

The first rung: every segment pays a start (placement, launch, the program's imports, a checkpoint
restored) once, so a first rung of one cheap epoch can cost several times its training. With
`start_share` (FirstRung "Auto", the default), the first CALIBRATION_JOBS fresh configurations
train to MinResource + 1 (two reports give a step's time; the rest of the slot's time, from
proposal to result, is the start's), and the ladder then starts at the smallest rung >= MinResource
whose steps take at least 1 / start_share starts (segment_cost.py) and that leaves at most
MAX_RUNGS rungs (a ladder from 1 to 150 boosting rounds would have 9). The ladder is sized from the
first training jobs to end and never moves after; the calibration jobs count at their own step and
go on to the next rung above it.

New configurations are random draws, or with `model` (Proposals "Model", the default since
2026-12-06) proposals of one GP over
(configuration, resource) fitted to the values at every rung, as MOBSTER's joint model is, with
expected improvement at MaxResource and the running training jobs as pending points there
(RungModel, bayesian.py's model and acquisition), divided by a second GP's prediction of what a step
of the configuration costs (from the gaps between a paused segment's reports). Every third new
configuration stays random, as in BOHB. The model's next configuration is computed ahead, while
every slot is busy (`propose_ahead`), so a freed worker does not wait for a fit; whether a promotion
goes first is decided when the slot frees (`adopt`). On the bench (docs/strategies.md) a GP fitted
to one rung's values, the highest with enough of them, was slower than random draws: the first
rung's values mislead where the ranking changes late (digits), and the higher rungs fill slowly;
without the cost model the joint GP chose configurations whose steps cost 1.7x random draws' on the
XGBoost table.

One bracket, not Hyperband's several: on the bench (docs/strategies.md) the single bracket reached
the 5 % target sooner on all four tables at W = 2 and W = 8.

With `continuing` (Pausing "WhenBehind") every segment is started for MaxResource, and a job that
reaches a rung goes on where pausing it would resume it at once (pause_at_rung), saving a start;
otherwise it is paused by a stop. Rung records then hold every segment that crossed a rung
(rung_arrivals.py), not only the ones paused there. Pausing at every rung banks each rung's value as
a result; going on does not, which lost on two bench tables and won on the XGBoost one.

With `trend` (Ranking "Trend", opt-in) a rung ranks its configurations by the
value each is predicted to have at the next rung: its value plus the share of its last gain (from
half the rung to the rung) that carried on for the configurations this rung promoted before
(rung_trend.py). Where late learners overtake (the XGBoost table) they are promoted sooner; where
gains do not carry on the fitted share is near 0 and the ranking is the values'. On the bench it
gained a little with random proposals and nothing with the model's.

With `at_new_best` (PauseAtNewBest "Enabled") a training job between rungs whose newest value beats
every ended training job's pauses there (pause_at_new_best), so the value is a result at once rather
than at its rung, and is resumed to the same rung before any promotion (_banked). A training job's
objective is its last value: without it, the first value to pass a target counts only once its
segment reaches the rung.
"""

from __future__ import annotations

import heapq
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TypeVar

from tunestream.space import SearchSpace
from tunestream.strategies.base import Adoption
from tunestream.strategies.bayesian import BayesianSearch
from tunestream.strategies.random import RandomSearch
from tunestream.strategies.rung_arrivals import RungArrivals, crossings, segment_start
from tunestream.strategies.rung_trend import RungTrend
from tunestream.strategies.segment_cost import SegmentCosts, first_rung, measure, step_seconds
from tunestream.trials import Proposal, StopDecision, TrainingJobRecord, TrainingJobStatus, better

# Halving, not ASHA's usual thirds: on the bench (100 seeds, 4 tables, W = 2 and 8, no start cost)
# eta 2 reached the 5 % target sooner than 3 in all 8 cells (mlp 4.11x Random against 3.12x at
# W = 2) and 4 was slower than 3 in all 8; with a 0.3 or 0.5 s start it was ahead in 8 of 16
# cells (mlp 3.40x against 1.91x at 0.3 s, W = 2) and at most 23 % behind (costly, W = 8, 0.3 s).
ETA = 2
# At most this many rungs (four halvings below MaxResource) where the first rung is "Auto". A deeper
# ladder needs eta^depth configurations at its first rung before one reaches MaxResource: on the
# fitted bench (100 seeds, no start cost) xgboost's 9 rungs (1 to 150 boosting rounds) reached the
# 5 % target at 0.68x / 0.99x Random (W = 2 / 8), most runs spending the 1,000-job cap, and 5 rungs
# at 1.67x / 1.29x; on mlp, digits and costly (6 rungs) 5 rungs were within 6 % either way.
MAX_RUNGS = 5
# The most rung values one fit of the model takes (model_points): a proposal from 200 values (5
# parameters, with its cost model) took 0.4 s on one core of the bench's machine, from 600 2.6 s;
# bench runs on `digits` that kept drawing cheap configurations paused that many and more.
MAX_MODEL_POINTS = 200
# Training jobs whose costs size the first rung (module doc, "The first rung").
CALIBRATION_JOBS = 3
# The first rung's steps take at least 1 / START_SHARE starts: on the bench (100 seeds, 4 tables,
# W = 2 and 8) 2 was the fastest of 1, 1.5, 2 and 3 with a start of 0.3 s and as fast with 0.5 s.
START_SHARE = 2.0

# PauseAtNewBest pauses a job between rungs only where the steps left to its rung take at least this
# many starts. With a 0.3 s start on the bench (100 seeds, 4 tables, W = 2 and 8) 1 was 0.95x /
# 0.96x pausing at the rungs only on xgboost at the 5 % target (1.16x / 1.10x on costly), 2 0.97x /
# 0.97x (1.13x / 1.07x) and 4 1.00x / 1.00x, but gave up most of the gain elsewhere (mlp 1.07x /
# 1.00x against 1.20x / 1.03x at 2). Without a start every factor is the same.
NEW_BEST_SAVING = 2.0

T = TypeVar("T")
# (paused segment to resume, its rung, the rung it goes to, its rank there, how many there, the
# trend's fitted gain or None)
Promotion = tuple[TrainingJobRecord, int, int, int, int, float | None]


def promotion_rungs(min_resource: int, max_resource: int, eta: int = ETA) -> list[int]:
    """The resource of every rung, the last one MaxResource: 1, 2, 4, 8, 16, 20 for r = 1, R = 20."""
    rungs = []
    level = min_resource
    while level < max_resource:
        rungs.append(level)
        level *= eta
    return [*rungs, max_resource]


def shallowest_first_rung(min_resource: int, max_resource: int, max_rungs: int, eta: int = ETA) -> int:
    """The smallest first rung >= MinResource whose ladder has at most `max_rungs` rungs:
    2 (rungs 2, 4, 8, 16, 20) for R = 20 and 5 rungs, 10 (10, 20, 40, 80, 150) for R = 150."""
    return max(min_resource, math.ceil(max_resource / eta ** (max_rungs - 1)))


class PromotionHyperband:
    """Proposes fresh configurations at the first rung and promotions of paused ones (module doc).

    With `start_share` set, the first rung is sized from what a start costs (see "The first rung"
    in the module doc); without it the ladder starts at MinResource. With `max_rungs` set, the
    first rung is at least the one that leaves that many rungs (shallowest_first_rung).
    """

    def __init__(
        self,
        space: SearchSpace,
        seed: int,
        max_jobs: int,
        min_resource: int,
        max_resource: int,
        maximize: bool,
        start_share: float | None = None,
        eta: int = ETA,
        model: RungModel | None = None,
        max_rungs: int | None = None,
        continuing: bool = False,
        trend: bool = False,
        at_new_best: bool = False,
    ) -> None:
        self._trend = trend
        self._at_new_best = at_new_best and not continuing
        self._random = RandomSearch(space, seed, max_jobs)
        self._continuing = continuing
        self._arrivals = RungArrivals()
        self._model = model
        self._max_jobs = max_jobs
        self._max_resource = max_resource
        self._eta = eta
        self._lowest = (
            min_resource if max_rungs is None else shallowest_first_rung(min_resource, max_resource, max_rungs, eta)
        )
        self.rungs = promotion_rungs(self._lowest, max_resource, eta)
        self._maximize = maximize
        self._start_share = start_share
        # Trained by the first fresh configurations while the cost of a start is measured: two
        # reports give a step's time, the rest of the slot's time is the start's.
        self.calibration_rung = min(min_resource + 1, max_resource)

    def max_training_jobs(self) -> int:
        return self._max_jobs

    def ladder(self, own: Sequence[TrainingJobRecord]) -> tuple[list[int], SegmentCosts | None] | None:
        """The rungs, and the costs they were sized from; None while a start's cost is being measured.
        Sized from the first CALIBRATION_JOBS training jobs to end with two reports, so later ones
        never move it. With several workers those are the cheaper configurations, which makes the
        first rung longer; sizing from the first proposed instead was slower on the bench at W = 8
        (docs/strategies.md)."""
        if self._start_share is None:
            return self.rungs, None
        # nsmallest: asked on every report with Pausing "WhenBehind", where a sort of hundreds shows.
        ended = heapq.nsmallest(
            CALIBRATION_JOBS,
            (h for h in own if h.ended_at is not None and len(h.metric_history) >= 2),
            key=lambda h: (h.ended_at, h.index),
        )
        if len(ended) < CALIBRATION_JOBS:
            return None
        costs = measure(ended[:CALIBRATION_JOBS])
        assert costs is not None
        first = first_rung(costs, self._lowest, self._max_resource, self._start_share)
        return promotion_rungs(first, self._max_resource, self._eta), costs

    def propose(self, index: int, history: Sequence[TrainingJobRecord]) -> Proposal:
        own = [h for h in history if h.index >= 0]
        sized = self.ladder(own)
        promoted = self._promoted(index, own, sized)
        if promoted is not None:
            return promoted
        return self._new_configuration(index, history, own, sized, self._modelled(own, sized))

    def propose_ahead(self, index: int, history: Sequence[TrainingJobRecord]) -> Proposal | None:
        """The model's next new configuration, computed while every slot is busy so that no worker
        waits for a fit (its index is the draw it is for); None where that draw is random anyway.
        Whether a promotion goes first is decided when the slot frees (adopt)."""
        own = [h for h in history if h.index >= 0]
        return self._modelled(own, self.ladder(own))

    def adopt(self, prepared: Proposal, index: int, history: Sequence[TrainingJobRecord]) -> tuple[Proposal, Adoption]:
        """A due promotion first, keeping `prepared` for the next slot; otherwise the new
        configuration `prepared` holds. One made for an earlier draw (random draws went out while
        it was computed: propose_while_busy) serves the next draw the model is to make, and waits
        through a draw that is random anyway; one made before the ladder was sized is dropped."""
        own = [h for h in history if h.index >= 0]
        sized = self.ladder(own)
        promoted = self._promoted(index, own, sized)
        if promoted is not None:
            return promoted, "waits"
        draw = _draws(own)
        if sized is None or prepared.index > draw:
            return self._new_configuration(index, history, own, sized, self._modelled(own, sized)), "stale"
        if prepared.index < draw and self._model is not None and not self._model.wants(draw, self._reached(own, sized)):
            return self._new_configuration(index, history, own, sized, None), "waits"
        return self._new_configuration(index, history, own, sized, prepared), "used"

    def propose_while_busy(self, index: int, history: Sequence[TrainingJobRecord]) -> Proposal:
        """A due promotion, or a random draw in place of the model's proposal that is still being
        computed (`model_busy` in its details when the model would have made this draw)."""
        own = [h for h in history if h.index >= 0]
        sized = self.ladder(own)
        promoted = self._promoted(index, own, sized)
        if promoted is not None:
            return promoted
        proposal = self._new_configuration(index, history, own, sized, None)
        if self._model is None or sized is None or not self._model.wants(_draws(own), self._reached(own, sized)):
            return proposal
        return replace(
            proposal,
            reason=proposal.reason.replace("(random draw", "(random draw while the model's proposal is computed,", 1),
            details={**proposal.details, "model_busy": 1},
        )

    def _promoted(
        self, index: int, own: Sequence[TrainingJobRecord], sized: tuple[list[int], SegmentCosts | None] | None
    ) -> Proposal | None:
        if sized is None:
            return None
        banked = self._banked(own) if self._at_new_best else None
        if banked is not None:
            step = banked.metric_history[-1][0]
            return Proposal(
                index=index,
                values=banked.values,
                reason=(
                    f"promotion hyperband: resumes {banked.name} from step {step} to its rung "
                    f"{banked.resource_limit}: it paused there on a new best"
                ),
                details={"rung": banked.resource_limit or 0, "resumes": banked.name, "resumed_at_step": step},
                resume_from=banked.name,
                resource_limit=banked.resource_limit,
                step_offset=step,
            )
        promotion = self._promotion(own, sized[0])
        if promotion is None:
            return None
        record, rung, limit, rank, paused, gain = promotion
        ranked_by = (
            "" if gain is None else f" by the value predicted at the next rung ({gain:.2f} of its last gain carried on)"
        )
        if self._continuing:
            how = (
                f"resumes {record.name} from rung {rung}, on past every rung where it ranks in the top "
                f"1/{self._eta}: ranked {rank}{ranked_by} of the {paused} that reached that rung "
                f"(top {paused // self._eta} go on)"
            )
        else:
            how = (
                f"resumes {record.name} from rung {rung} to {limit}: "
                f"ranked {rank}{ranked_by} of {paused} paused at that rung (top {paused // self._eta} may go on)"
            )
        return Proposal(
            index=index,
            values=record.values,
            reason=f"promotion hyperband: {how}",
            details={
                "rung": limit,
                "resumes": record.name,
                "promoted_from_rung": rung,
                "rank_at_rung": rank,
                **({} if gain is None else {"trend_gain": round(gain, 4)}),
            },
            resume_from=record.name,
            resource_limit=limit,
            step_offset=record.metric_history[-1][0],
        )

    def _modelled(
        self, own: Sequence[TrainingJobRecord], sized: tuple[list[int], SegmentCosts | None] | None
    ) -> Proposal | None:
        if self._model is None or sized is None:
            return None
        return self._model.propose(_draws(own), own, sized[0], self._reached(own, sized))

    def _reached(
        self, own: Sequence[TrainingJobRecord], sized: tuple[list[int], SegmentCosts | None] | None
    ) -> dict[int, list[tuple[TrainingJobRecord, float]]]:
        """Each rung's values for the model: the segments paused at it or, continuing, every segment
        that trained across it; and the values at MaxResource."""
        if not self._continuing or sized is None:
            return values_by_rung(own)
        rungs = sized[0]
        reached = self._arrivals.at_rungs(own, rungs)
        final = [
            (h, h.objective)
            for h in own
            if h.objective is not None
            and h.status.finished
            and h.metric_history
            and h.metric_history[-1][0] >= rungs[-1]
        ]
        if final:
            reached[rungs[-1]] = final
        return reached

    def _new_configuration(
        self,
        index: int,
        history: Sequence[TrainingJobRecord],
        own: Sequence[TrainingJobRecord],
        sized: tuple[list[int], SegmentCosts | None] | None,
        modelled: Proposal | None,
    ) -> Proposal:
        limit = None
        if sized is not None:
            rungs, costs = sized
            first, how = rungs[0], f"trains to rung {rungs[0]}"
            if self._continuing:
                limit = rungs[-1]
                how = f"trains past every rung where it ranks in the top 1/{self._eta}, from rung {rungs[0]}"
        else:
            first, costs = self.calibration_rung, None
            how = f"trains to step {first} while the cost of a start is measured"
        details: dict[str, float | int | str] = {"rung": first}
        if costs is not None:
            how += (
                f" (a start costs {costs.start_s:.2f} s, a step {costs.step_s:.3f} s: "
                f"rungs {', '.join(map(str, rungs))})"
            )
            details.update(start_s=round(costs.start_s, 3), step_s=round(costs.step_s, 4))
        draw = _draws(own)
        if modelled is not None:
            details.update(modelled.details)
            values, source = modelled.values, modelled.reason
        else:
            values = self._random.propose(draw, [h for h in history if h.index < 0]).values
            source = f"random draw {draw + 1}"
        return Proposal(
            index=index,
            values=values,
            reason=f"promotion hyperband: new configuration ({source}), {how}",
            details=details,
            resource_limit=first if limit is None else limit,
        )

    def _promotion(self, own: Sequence[TrainingJobRecord], rungs: Sequence[int]) -> Promotion | None:
        """(paused segment to resume, its rung, the rung it goes to, its rank there, how many paused
        there, the share of a last gain the ranking carried on or None where it ranked by value).
        A configuration paused off the ladder (at the calibration step) goes to the next rung above."""
        continued = {h.resume_from for h in own if h.resume_from is not None}
        if self._continuing:
            return self._continuation(own, rungs, continued)
        below_top = {rung: paused for rung, paused in values_by_rung(own).items() if rung < rungs[-1]}
        trend = RungTrend(own, self._maximize) if self._trend else None
        for rung in sorted(below_top, reverse=True):
            limit = next(r for r in rungs if r > rung)
            ranked, gain = self._ranked(below_top[rung], rung, limit, trend)
            for rank, (record, _) in enumerate(ranked[: len(ranked) // self._eta], start=1):
                if record.name not in continued:
                    return record, rung, limit, rank, len(ranked), gain
        return None

    def _ranked(
        self,
        at_rung: Sequence[tuple[TrainingJobRecord, float]],
        rung: int,
        next_rung: int,
        trend: RungTrend | None,
    ) -> tuple[list[tuple[TrainingJobRecord, float]], float | None]:
        """A rung's (segment, value) best first, ties in history order: by value, or with `trend` by
        the value predicted at the next rung (rung_trend.py); and the trend's fitted gain."""
        if trend is None:
            return sorted(at_rung, key=lambda a: (self._value_score(a[1]), a[0].index)), None
        gain = trend.gain(rung, next_rung, at_rung)
        scores = trend.scores(at_rung, rung, gain)
        order = sorted(range(len(at_rung)), key=lambda i: (scores[i], at_rung[i][0].index))
        return [at_rung[i] for i in order], gain

    def _continuation(
        self, own: Sequence[TrainingJobRecord], rungs: Sequence[int], continued: set[str]
    ) -> Promotion | None:
        """As _promotion, ranking every configuration that reached the rung (one that went on past it
        holds its place) and resuming a paused one to MaxResource."""
        reached = self._arrivals.at_rungs(own, rungs)
        trend = RungTrend(own, self._maximize) if self._trend else None
        for rung in sorted(reached, reverse=True):
            next_rung = next((r for r in rungs if r > rung), rungs[-1])
            ranked, gain = self._ranked(reached[rung], rung, next_rung, trend)
            for rank, (record, _) in enumerate(ranked[: len(ranked) // self._eta], start=1):
                if record.name not in continued and self._arrivals.paused_at(record, rungs) == rung:
                    return record, rung, rungs[-1], rank, len(ranked), gain
        return None

    def pause_at_rung(self, job: TrainingJobRecord, history: Sequence[TrainingJobRecord]) -> StopDecision | None:
        """With `continuing`: a running training job that has just reached a rung below the top goes
        on where pausing it would make its own promotion the one due for the slot it frees (it ranks
        in the rung's top 1/eta and no promotion at a higher rung goes first), and is paused there
        otherwise (stopped, its checkpoint kept). So every decision is the one pausing at every
        rung makes, less the start of a job resumed at once. None where no rung was reached."""
        if not self._continuing or not job.metric_history or job.resource_limit is None:
            return None
        own = [h for h in history if h.index >= 0 and h.name != job.name]
        sized = self.ladder(own)
        if sized is None or job.resource_limit < sized[0][-1]:
            return None
        rungs = sized[0]
        if len(job.metric_history) >= 2:  # only the newest report can have reached a rung
            start = job.metric_history[-2][0]
            newest: tuple[tuple[int, float], ...] = (job.metric_history[-1],)
        else:
            start = segment_start(job, {h.name: h for h in own if h.name == job.resume_from})
            newest = job.metric_history
        crossed = crossings(replace(job, metric_history=newest), rungs, start)
        if not crossed:
            return None
        rung, value, _ = crossed[-1]
        # As if it paused here: if the slot that frees would resume it at once, it goes on instead,
        # saving a start; otherwise it pauses and the slot gets what it would have got.
        here = replace(job, status=TrainingJobStatus.STOPPED, objective=value)
        promotion = self._promotion([*own, here], rungs)
        if promotion is not None and promotion[0].name == job.name:
            return None
        step = job.metric_history[-1][0]
        due = (
            f"{promotion[0].name} at rung {promotion[1]} goes first"
            if promotion is not None
            else f"not in the top 1/{self._eta} of those that reached it"
        )
        return StopDecision(
            reason=f"promotion hyperband: paused at rung {rung} (step {step}): {due}; resumed if promoted",
            rule="pause",
            step=step,
            value=job.metric_history[-1][1],
            cutoff=value,
        )

    def pause_at_new_best(self, job: TrainingJobRecord, history: Sequence[TrainingJobRecord]) -> StopDecision | None:
        """With `at_new_best`: a training job between rungs whose newest value beats every ended
        training job's pauses there, so that the value is a result (the tuning job's best training
        job) now rather than at its rung, and is resumed to its rung before anything else (_banked).
        Only once it has trained, since its last start, at least as long as the start took (from
        its proposal to its first report): a job that improves at every step would otherwise spend
        more on starts than on training; and only where the steps left to its rung take
        NEW_BEST_SAVING starts or more."""
        if not self._at_new_best or len(job.metric_history) < 2 or job.resource_limit is None:
            return None
        step, value = job.metric_history[-1]
        if step >= job.resource_limit or math.isnan(value) or job.proposed_at is None:
            return None
        if len(job.metric_times) < len(job.metric_history):
            return None
        first, newest = job.metric_times[0], job.metric_times[-1]
        steps_since_first = step - job.metric_history[0][0]
        if steps_since_first <= 0 or newest - first < first - job.proposed_at:
            return None
        # What the pause saves (the steps left to the rung) must be worth the start it adds (from
        # the proposal to the first report, less that report's step) NEW_BEST_SAVING times over.
        step_s = (newest - first) / steps_since_first
        start_s = max(first - job.proposed_at - step_s, 0.0)
        if (job.resource_limit - step) * step_s < NEW_BEST_SAVING * start_s:
            return None
        own = [h for h in history if h.index >= 0 and h.name != job.name]
        # The new best first: asked on every report, it is the condition that rarely holds.
        ended = [
            h.objective for h in own if h.status.finished and h.objective is not None and not math.isnan(h.objective)
        ]
        if not ended:
            return None
        best = max(ended) if self._maximize else min(ended)
        if not better(value, best, self._maximize):
            return None
        if self.ladder(own) is None:
            return None
        # A pause the budget cannot resume would end the configuration short of its rung for good.
        if self._max_jobs - len(own) - 1 <= len(_short_of_rung(own)):
            return None
        return StopDecision(
            reason=(
                f"promotion hyperband: paused at step {step} on the way to rung {job.resource_limit}: "
                f"its {value:.6g} beats every ended training job's ({best:.6g}), so it counts as a result now; "
                "resumed to its rung first"
            ),
            rule="new-best",
            step=step,
            value=value,
            cutoff=best,
        )

    def _banked(self, own: Sequence[TrainingJobRecord]) -> TrainingJobRecord | None:
        """The first segment paused short of its rung (pause_at_new_best) that is not resumed yet."""
        return next(iter(_short_of_rung(own)), None)

    def _value_score(self, value: float) -> float:
        return -value if self._maximize else value


def _draws(own: Sequence[TrainingJobRecord]) -> int:
    """New configurations proposed so far (a resumed segment is not one)."""
    return sum(1 for h in own if h.resume_from is None)


def _short_of_rung(own: Sequence[TrainingJobRecord]) -> list[TrainingJobRecord]:
    """Segments stopped with an objective before their rung (PauseAtNewBest's pauses) and not resumed
    yet, in history order."""
    continued = {h.resume_from for h in own if h.resume_from is not None}
    return [
        h
        for h in own
        if h.status == TrainingJobStatus.STOPPED
        and h.objective is not None
        and h.resource_limit is not None
        and h.metric_history
        and h.metric_history[-1][0] < h.resource_limit
        and h.name not in continued
    ]


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


def paused_by_rung(own: Sequence[TrainingJobRecord]) -> dict[int, list[TrainingJobRecord]]:
    """The segments paused at each rung (their resource_limit), in history order: what promotion
    ranks and what the rung model is fitted to."""
    by_rung: dict[int, list[TrainingJobRecord]] = {}
    for h in own:
        if h.resource_limit is not None and _paused(h):
            by_rung.setdefault(h.resource_limit, []).append(h)
    return by_rung


def values_by_rung(own: Sequence[TrainingJobRecord]) -> dict[int, list[tuple[TrainingJobRecord, float]]]:
    """The segments paused at each rung, with the objective each paused at."""
    return {rung: [(h, float(h.objective or 0.0)) for h in paused] for rung, paused in paused_by_rung(own).items()}


class RungModel:
    """Model-based proposals for new configurations (module doc). `min_points`: the values the
    rungs need together before the model is fitted (Bayesian's initial design size); every
    `random_every`-th new configuration stays random, so a misleading model cannot hold the search
    in one place. `cost_weight`: expected improvement is divided by a second GP's prediction of a
    step's seconds to this power (the step times between a paused segment's reports): 1 is
    improvement per second, 0 cost-blind. `max_points`: the most rung values a fit takes
    (model_points)."""

    def __init__(
        self,
        search: BayesianSearch,
        min_points: int,
        random_every: int = 3,
        cost_weight: float = 1.0,
        max_points: int = MAX_MODEL_POINTS,
    ) -> None:
        self._search = search
        self._min_points = min_points
        self._random_every = random_every
        self._cost_weight = cost_weight
        self._max_points = max_points

    def wants(self, draw: int, reached: dict[int, list[tuple[TrainingJobRecord, float]]]) -> bool:
        """Whether new configuration number `draw` is the model's to make (cheap: no fit); `reached`:
        each rung's (segment, value)."""
        if self._random_every and draw % self._random_every == self._random_every - 1:
            return False
        return sum(len(p) for p in model_points(reached, self._max_points).values()) >= self._min_points

    def propose(
        self,
        draw: int,
        own: Sequence[TrainingJobRecord],
        rungs: Sequence[int],
        reached: dict[int, list[tuple[TrainingJobRecord, float]]] | None = None,
    ) -> Proposal | None:
        """New configuration number `draw`, or None where it is to be random: every `random_every`-th,
        and while the rungs hold fewer than `min_points` values. `reached`: each rung's (segment,
        value); by default the segments paused at each rung, with their objectives."""
        if reached is None:
            reached = values_by_rung(own)
        if not self.wants(draw, reached):
            return None
        fitted = model_points(reached, self._max_points)
        observed = [
            (h.values, resource_share(rung, rungs[-1]), value) for rung, paused in fitted.items() for h, value in paused
        ]
        running = [h.values for h in own if h.objective is None and not h.status.finished]
        step_costs = [
            (h.values, statistics.median(steps))
            for paused in fitted.values()
            for h, _ in paused
            if (steps := step_seconds(h))
        ]
        proposal = self._search.propose_over_resource(draw, observed, running, step_costs, self._cost_weight)
        details: dict[str, float | int | str] = {
            f"model_{k}": v for k, v in proposal.details.items() if isinstance(v, int | float)
        }
        return Proposal(
            index=draw,
            values=proposal.values,
            reason=f"GP over configuration and resource on {len(observed)} rung values, {len(running)} pending",
            details=details,
        )


def model_points(by_rung: dict[int, list[T]], limit: int) -> dict[int, list[T]]:
    """At most `limit` of the paused segments, the highest rungs first (they are few and say most
    about final values); a rung that no longer fits whole gives an evenly spaced share of its
    segments in history order, so the fit still sees every region the rung has tried. An exact GP
    fit grows with the cube of its points, and a run that keeps drawing cheap configurations pauses
    hundreds of them at the first rung."""
    kept: dict[int, list[T]] = {}
    room = limit
    for rung in sorted(by_rung, reverse=True):
        paused = by_rung[rung]
        if room <= 0:
            break
        if len(paused) > room:
            paused = [paused[round(i * (len(paused) - 1) / max(room - 1, 1))] for i in range(room)]
        kept[rung] = paused
        room -= len(paused)
    return kept


def resource_share(resource: int, max_resource: int) -> float:
    """Where a rung lies between one step (0) and MaxResource (1), on the log scale the rungs are
    spaced on: the GP's resource column."""
    if max_resource <= 1:
        return 1.0
    return min(math.log(max(resource, 1)) / math.log(max_resource), 1.0)


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


@dataclass
class PromotionStopper:
    """RungLimitStopper's rules; with a continuing promotion its pause at a rung for a training job
    that is not in the rung's top 1/eta (PromotionHyperband.pause_at_rung); with `at_new_best` its
    pause between rungs on a new best (PromotionHyperband.pause_at_new_best)."""

    proposer: PromotionHyperband
    limits: RungLimitStopper

    def decide(self, job: TrainingJobRecord, history: Sequence[TrainingJobRecord]) -> StopDecision | None:
        return (
            self.limits.decide(job, history)
            or self.proposer.pause_at_rung(job, history)
            or self.proposer.pause_at_new_best(job, history)
        )

    def proposal_details(self, index: int) -> dict[str, float | int | str]:
        return {}
