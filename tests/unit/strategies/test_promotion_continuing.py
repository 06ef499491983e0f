"""Promotion Hyperband with Pausing "WhenBehind": a training job ahead at a rung goes on past it."""

from __future__ import annotations

from tunestream.space import ContinuousParam, SearchSpace
from tunestream.strategies.bayesian import BayesianSearch
from tunestream.strategies.promotion import (
    PromotionHyperband,
    RungModel,
)
from tunestream.strategies.rung_arrivals import RungArrivals, crossings
from tunestream.trials import TrainingJobRecord, TrainingJobStatus

SPACE = SearchSpace((ContinuousParam("x", 0.0, 1.0),))
RUNGS = [1, 2, 4, 8]  # min 1, max 8, halving


def strategy(maximize: bool = True, model: RungModel | None = None) -> PromotionHyperband:
    return PromotionHyperband(
        SPACE, 0, max_jobs=100, min_resource=1, max_resource=8, maximize=maximize, continuing=True, model=model
    )


def job(
    index: int,
    curve: dict[int, float],
    *,
    status: TrainingJobStatus = TrainingJobStatus.STOPPED,
    resume_from: str | None = None,
    limit: int = 8,
    x: float = 0.5,
) -> TrainingJobRecord:
    """A segment that reported `curve` (step -> value) and ended with `status` (running: IN_PROGRESS)."""
    history = tuple(sorted(curve.items()))
    return TrainingJobRecord(
        index=index,
        name=f"j{index}",
        values={"x": x},
        status=status,
        objective=history[-1][1] if status.finished and history else None,
        metric_history=history,
        resume_from=resume_from,
        resource_limit=limit,
    )


def test_a_new_configuration_trains_to_max_resource_and_pauses_only_when_behind() -> None:
    s = strategy()
    p = s.propose(0, [])
    assert p.resume_from is None and p.resource_limit == 8 and "top 1/2" in p.reason


def test_a_job_goes_on_where_its_pause_would_make_its_own_promotion_due() -> None:
    s = strategy()
    first = job(0, {1: 0.5}, status=TrainingJobStatus.IN_PROGRESS)
    decision = s.pause_at_rung(first, [first])
    # Alone at rung 1 the quota, floor(1 / 2), is empty: it pauses and waits for a promotion.
    assert decision is not None and decision.rule == "pause" and "not in the top 1/2" in decision.reason
    paused = job(0, {1: 0.5})
    better = job(1, {1: 0.7}, status=TrainingJobStatus.IN_PROGRESS)
    assert s.pause_at_rung(better, [paused, better]) is None  # best of two: resumed at once if paused
    worse = job(1, {1: 0.3}, status=TrainingJobStatus.IN_PROGRESS)
    decision = s.pause_at_rung(worse, [paused, worse])
    # Second of two: its pause makes j0's promotion due, so the slot it frees goes to j0.
    assert decision is not None and decision.cutoff == 0.3 and "j0 at rung 1 goes first" in decision.reason
    # Between rungs nothing is decided.
    between = job(2, {1: 0.9, 2: 0.9, 3: 0.1}, status=TrainingJobStatus.IN_PROGRESS)
    assert s.pause_at_rung(between, [paused, between]) is None


def test_a_promotion_due_at_a_higher_rung_goes_first() -> None:
    s = strategy()
    history = [job(0, {1: 0.6, 2: 0.8}), job(1, {1: 0.5, 2: 0.7})]  # both paused at rung 2
    best_at_rung_1 = job(2, {1: 0.9}, status=TrainingJobStatus.IN_PROGRESS)
    decision = s.pause_at_rung(best_at_rung_1, [*history, best_at_rung_1])
    assert decision is not None and "j0 at rung 2 goes first" in decision.reason


def test_a_job_that_went_on_holds_its_place_at_the_rung() -> None:
    s = strategy(maximize=False)
    went_on = job(0, {1: 0.2, 2: 0.1}, status=TrainingJobStatus.IN_PROGRESS)  # crossed rungs 1 and 2
    paused = job(1, {1: 0.6})
    arriving = job(2, {1: 0.4}, status=TrainingJobStatus.IN_PROGRESS)
    # Three reached rung 1 (0.2, 0.6, 0.4): only the best one may go on, and j0 holds that place.
    decision = s.pause_at_rung(arriving, [went_on, paused, arriving])
    assert decision is not None and "not in the top 1/2" in decision.reason
    assert {r: [h.name for h, _ in a] for r, a in RungArrivals().at_rungs([went_on, paused], RUNGS).items()} == {
        1: ["j0", "j1"],
        2: ["j0"],
    }


def test_a_program_that_reports_past_the_rung_is_judged_by_its_first_report_there() -> None:
    s = strategy()
    sparse = job(0, {3: 0.4, 6: 0.5}, status=TrainingJobStatus.IN_PROGRESS)
    assert crossings(sparse, RUNGS, 0) == [(2, 0.4, 0), (4, 0.5, 1)]
    resumed = job(1, {3: 0.7, 4: 0.8}, resume_from="j9", status=TrainingJobStatus.IN_PROGRESS)
    assert crossings(resumed, RUNGS, 2) == [(4, 0.8, 1)]  # it starts after step 2: rung 2 was crossed before
    decision = s.pause_at_rung(sparse, [sparse])
    assert decision is not None and "rung 4 (step 6)" in decision.reason


def test_a_paused_job_is_resumed_to_max_resource_when_it_ranks_in_the_rungs_top_half() -> None:
    s = strategy()
    history = [job(0, {1: 0.5}), job(1, {1: 0.3}), job(2, {1: 0.4})]
    # Three reached rung 1, all paused: the best (j0) is resumed, and goes on from step 1.
    p = s.propose(3, history)
    assert p.resume_from == "j0" and p.resource_limit == 8 and p.step_offset == 1
    assert "ranked 1 of the 3 that reached that rung" in p.reason
    history.append(job(3, {2: 0.6}, resume_from="j0", status=TrainingJobStatus.IN_PROGRESS))
    assert s.propose(4, history).resume_from is None  # j2 is second of three: not in the top half
    history.append(job(4, {1: 0.45, 2: 0.5}, status=TrainingJobStatus.IN_PROGRESS))  # went on past rung 1
    assert s.propose(5, history).resume_from is None  # four at rung 1: j0 and j4 hold the top two
    history += [job(5, {1: 0.1}), job(6, {1: 0.2})]
    p = s.propose(7, history)  # six: the top three are j0, j4 and j2
    assert p.resume_from == "j2" and "ranked 3 of the 6" in p.reason


def test_what_waits_at_a_rung() -> None:
    own = [job(0, {1: 0.5, 2: 0.6, 3: 0.6})]
    arrivals = RungArrivals()
    arrivals.at_rungs(own, RUNGS)

    def paused_at(h: TrainingJobRecord, rungs: list[int], _: object) -> int | None:
        return arrivals.paused_at(h, rungs)

    assert paused_at(own[0], RUNGS, own) == 2  # stopped past rung 2: resumed from there
    running = job(1, {1: 0.5}, status=TrainingJobStatus.IN_PROGRESS)
    finished = job(2, {8: 0.9}, status=TrainingJobStatus.COMPLETED)
    ended_early = job(3, {1: 0.5, 2: 0.6}, status=TrainingJobStatus.COMPLETED)  # its program's own end
    failed = job(4, {1: 0.5}, status=TrainingJobStatus.FAILED)
    before_any_rung = job(5, {1: 0.5}, resume_from="j0")  # resumed after step 3, stopped before rung 4
    assert all(paused_at(h, RUNGS, own) is None for h in (running, finished, ended_early, failed))
    assert paused_at(before_any_rung, RUNGS, own) is None
    # A calibration segment (limit 2, below the top) that completed at its limit waits there.
    assert paused_at(job(6, {1: 0.5, 2: 0.6}, status=TrainingJobStatus.COMPLETED, limit=2), RUNGS, own) == 2


def test_the_model_is_fitted_to_every_value_that_reached_a_rung_and_to_final_values() -> None:
    search = BayesianSearch(SPACE, 0, 100, True)
    s = strategy(model=RungModel(search, min_points=4, random_every=0))
    history = [
        job(0, {1: 0.2, 2: 0.3, 4: 0.5, 8: 0.7}, status=TrainingJobStatus.COMPLETED, x=0.1),
        job(1, {1: 0.1}, x=0.9),
        job(2, {1: 0.3, 2: 0.35}, status=TrainingJobStatus.IN_PROGRESS, x=0.5),
    ]
    # j0 at rungs 1, 2, 4 and at MaxResource, j1 at rung 1, and the running j2 at rungs 1 and 2.
    p = s.propose(3, history)
    assert p.resume_from is None and "GP over configuration and resource on 7 rung values, 1 pending" in p.reason


def test_with_trend_a_job_still_climbing_goes_on_where_its_value_alone_would_pause_it() -> None:
    """Ten jobs trained across rungs 4 and 8 in one segment each, their gain from step 2 to 4 carried
    on to 8. A job reaching rung 4 lower than most but climbing fastest goes on with Ranking Trend."""
    went_on = [
        job(i, {2: 0.5, 4: 0.5 + 0.02 * i, 8: 0.5 + 0.04 * i}, status=TrainingJobStatus.COMPLETED) for i in range(10)
    ]
    climbing = job(10, {2: 0.30, 4: 0.55}, status=TrainingJobStatus.IN_PROGRESS)
    history = [*went_on, climbing]
    by_value = PromotionHyperband(
        SPACE, 0, max_jobs=100, min_resource=2, max_resource=8, maximize=True, continuing=True
    )
    decision = by_value.pause_at_rung(climbing, history)
    assert decision is not None and decision.rule == "pause"  # 0.55: 8th of 11 at rung 4
    by_trend = PromotionHyperband(
        SPACE, 0, max_jobs=100, min_resource=2, max_resource=8, maximize=True, continuing=True, trend=True
    )
    assert by_trend.pause_at_rung(climbing, history) is None  # 0.55 + 0.67 * 0.25: 4th of 11, in the top 5
