from __future__ import annotations

import math
from dataclasses import replace

import pytest

from tunestream.definitions import CreateTuningJobRequest
from tunestream.field_errors import InvalidTuningJob
from tunestream.space import ContinuousParam, SearchSpace
from tunestream.strategies import registry
from tunestream.strategies.asha import AshaStopper
from tunestream.strategies.bayesian import BayesianSearch
from tunestream.strategies.promotion import (
    MAX_RUNGS,
    PromotionHyperband,
    PromotionStopper,
    RungLimitStopper,
    RungModel,
    model_points,
    promotion_rungs,
    resource_share,
    shallowest_first_rung,
)
from tunestream.strategies.segment_cost import first_rung, measure
from tunestream.trials import Proposal, TrainingJobRecord, TrainingJobStatus
from tunestream.validation import validate_request

SPACE = SearchSpace((ContinuousParam("x", 0.0, 1.0),))


def segment(
    index: int,
    value: float | None,
    limit: int,
    *,
    resume_from: str | None = None,
    status: TrainingJobStatus = TrainingJobStatus.COMPLETED,
    x: float = 0.5,
) -> TrainingJobRecord:
    """A training job that trained to `limit` and ended there with objective `value`."""
    return TrainingJobRecord(
        index=index,
        name=f"j{index}",
        values={"x": x},
        status=status,
        objective=value,
        metric_history=((limit, value),) if value is not None else (),
        resume_from=resume_from,
        resource_limit=limit,
    )


def strategy(maximize: bool = True, seed: int = 0) -> PromotionHyperband:
    """With ASHA's usual thirds, the rungs 1, 3, 9, 20: the rule is the same for every eta."""
    return PromotionHyperband(SPACE, seed, max_jobs=100, min_resource=1, max_resource=20, maximize=maximize, eta=3)


def test_rungs_end_at_max_resource() -> None:
    assert promotion_rungs(1, 20) == [1, 2, 4, 8, 16, 20]  # halving by default
    assert promotion_rungs(1, 20, 3) == [1, 3, 9, 20]
    assert promotion_rungs(1, 27, 3) == [1, 3, 9, 27]
    assert promotion_rungs(2, 20, 3) == [2, 6, 18, 20]
    assert promotion_rungs(5, 5) == [5]


def test_by_default_the_better_half_of_a_rung_goes_on() -> None:
    s = PromotionHyperband(SPACE, 0, max_jobs=100, min_resource=1, max_resource=20, maximize=True)
    assert s.rungs == [1, 2, 4, 8, 16, 20]
    history = [segment(i, v, 1) for i, v in enumerate([0.2, 0.6, 0.4, 0.5])]
    first = s.propose(4, history)
    assert first.resume_from == "j1" and first.resource_limit == 2 and "top 2 may go on" in first.reason
    history.append(segment(4, None, 2, resume_from="j1", status=TrainingJobStatus.IN_PROGRESS))
    second = s.propose(5, history)
    assert second.resume_from == "j3" and second.resource_limit == 2
    history.append(segment(5, None, 2, resume_from="j3", status=TrainingJobStatus.IN_PROGRESS))
    assert s.propose(6, history).resume_from is None  # j2 is third of four: not in the better half


def test_fresh_configurations_start_at_the_first_rung_until_a_rung_has_eta_values() -> None:
    s = strategy()
    history: list[TrainingJobRecord] = []
    for i in range(3):
        p = s.propose(i, history)
        assert p.resume_from is None and p.resource_limit == 1 and p.details["rung"] == 1
        history.append(segment(i, [0.2, 0.6, 0.4][i], 1, x=float(p.values["x"])))
    # Three paused at rung 1: the best (j1) is resumed to rung 3 with its own hyperparameters.
    p = s.propose(3, history)
    assert p.resume_from == "j1" and p.resource_limit == 3 and p.values == history[1].values
    assert p.step_offset == 1  # its values count on from the paused job's last step
    assert "ranked 1 of 3" in p.reason
    history.append(segment(3, None, 3, resume_from="j1", status=TrainingJobStatus.IN_PROGRESS))
    # j1 is promoted once; the next slot gets a new configuration, the 4th draw.
    p = s.propose(4, history)
    assert p.resume_from is None and "random draw 4" in p.reason


def test_the_highest_rung_with_a_promotion_goes_first_and_minimising_ranks_low_values_first() -> None:
    s = strategy(maximize=False)
    history = [segment(i, v, 1) for i, v in enumerate([0.5, 0.1, 0.3, 0.9, 0.7, 0.2])]
    # Six at rung 1: the top two (j1, j5) may go on. j1, and j0 and j2 (promoted while rung 1 held
    # fewer values), are paused at rung 3.
    history += [
        segment(6, 0.05, 3, resume_from="j1"),
        segment(7, 0.04, 3, resume_from="j0"),
        segment(8, 0.06, 3, resume_from="j2"),
    ]
    p = s.propose(9, history)  # rung 3 holds three: its best (j7, resumed from j0) goes to rung 9
    assert p.resume_from == "j7" and p.resource_limit == 9
    history.append(segment(9, None, 9, resume_from="j7", status=TrainingJobStatus.IN_PROGRESS))
    p = s.propose(10, history)  # nothing more at rung 3; at rung 1, j5 (0.2) is next
    assert p.resume_from == "j5" and p.resource_limit == 3


def test_failed_and_unfinished_segments_are_not_promoted_and_do_not_count() -> None:
    s = strategy()
    history = [
        segment(0, None, 1, status=TrainingJobStatus.FAILED),
        segment(1, math.nan, 1),
        segment(2, 0.9, 1, status=TrainingJobStatus.IN_PROGRESS),
        segment(3, 0.5, 1),
        segment(4, 0.4, 1),
    ]
    assert s.propose(5, history).resume_from is None  # two paused with a value: none may go on yet
    history.append(segment(5, 0.3, 1))
    assert s.propose(6, history).resume_from == "j3"


def test_a_segment_that_ended_before_its_rung_is_not_paused_there() -> None:
    s = strategy()
    short = TrainingJobRecord(
        index=0,
        name="j0",
        values={"x": 0.1},
        status=TrainingJobStatus.COMPLETED,
        objective=0.99,
        metric_history=((1, 0.99),),
        resource_limit=3,
        resume_from="jx",
    )
    history = [short, *(segment(i, 0.1 * i, 3, resume_from=f"p{i}") for i in range(1, 3))]
    assert s.propose(3, history).resume_from is None


@pytest.mark.parametrize("seed", [0, 7])
def test_deterministic_under_the_seed(seed: int) -> None:
    a, b = strategy(seed=seed), strategy(seed=seed)
    history = [segment(i, 0.1 * i, 1) for i in range(5)]
    assert a.propose(5, history) == b.propose(5, history)
    assert a.propose(1, history[:1]) == b.propose(1, history[:1])
    assert strategy(seed=seed + 1).propose(1, history[:1]).values != a.propose(1, history[:1]).values


def test_rung_limit_stopper_pauses_a_program_that_trains_past_its_rung() -> None:
    stopper = RungLimitStopper(max_resource=20, planned_steps=50)
    job = TrainingJobRecord(0, "j0", {}, metric_history=((2, 0.4), (3, 0.45)), resource_limit=3)
    assert stopper.decide(job, [job]) is None  # at its rung: a program that honours the limit exits now
    job = TrainingJobRecord(0, "j0", {}, metric_history=((2, 0.4), (4, 0.5)), resource_limit=3)
    decision = stopper.decide(job, [job])
    assert decision is not None and decision.rule == "pause" and decision.step == 4 and "rung 3" in decision.reason
    top = TrainingJobRecord(1, "j1", {}, metric_history=((20, 0.7),), resource_limit=20)
    decision = stopper.decide(top, [top])
    assert decision is not None and decision.rule == "max-resource"
    # A program told to run 20 epochs ends at MaxResource itself: left to complete.
    assert RungLimitStopper(max_resource=20, planned_steps=20).decide(top, [top]) is None


def request(
    promotion: str | None,
    checkpoints: bool,
    first_rung: str | None = None,
    proposals: str | None = None,
    max_resource: int = 9,
    pausing: str | None = None,
    ranking: str | None = None,
    at_new_best: str | None = None,
) -> CreateTuningJobRequest:
    hb: dict[str, object] = {"MinResource": 1, "MaxResource": max_resource}
    if promotion:
        hb["Promotion"] = promotion
    if first_rung:
        hb["FirstRung"] = first_rung
    if proposals:
        hb["Proposals"] = proposals
    if pausing:
        hb["Pausing"] = pausing
    if ranking:
        hb["Ranking"] = ranking
    if at_new_best:
        hb["PauseAtNewBest"] = at_new_best
    definition: dict[str, object] = {
        "StaticHyperParameters": {"epochs": "9"},
        "AlgorithmSpecification": {"Command": ["train"], "MetricDefinitions": [{"Name": "acc", "Regex": "acc=(\\S+)"}]},
        "OutputDataConfig": {"S3OutputPath": "s3://b/out"},
        "StoppingCondition": {"MaxRuntimeInSeconds": 600},
    }
    if checkpoints:
        definition["CheckpointConfig"] = {"S3Uri": "s3://b/ckpt"}
    return CreateTuningJobRequest.model_validate(
        {
            "HyperParameterTuningJobName": "promo",
            "HyperParameterTuningJobConfig": {
                "Strategy": "Hyperband",
                "HyperParameterTuningJobObjective": {"Type": "Maximize", "MetricName": "acc"},
                "ResourceLimits": {"MaxNumberOfTrainingJobs": 30, "MaxParallelTrainingJobs": 2},
                "ParameterRanges": {"ContinuousParameterRanges": [{"Name": "x", "MinValue": "0", "MaxValue": "1"}]},
                "StrategyConfig": {"HyperbandStrategyConfig": hb},
            },
            "TrainingJobDefinition": definition,
        }
    )


def test_promotion_needs_checkpoint_config() -> None:
    with pytest.raises(InvalidTuningJob) as raised:
        validate_request(request("Enabled", checkpoints=False))
    assert [(e.field, e.rule) for e in raised.value.errors] == [
        ("TrainingJobDefinition.CheckpointConfig", "promotion-needs-checkpoints")
    ]
    validate_request(request("Enabled", checkpoints=True))
    validate_request(request("Disabled", checkpoints=False))


def parts(req: CreateTuningJobRequest) -> registry.StrategyParts:
    assert req.TrainingJobDefinition is not None
    return registry.build(req.HyperParameterTuningJobConfig, req.TrainingJobDefinition, SPACE, 0)


def test_a_program_with_checkpoints_gets_promotion_unless_it_is_disabled() -> None:
    built = parts(request(None, checkpoints=True))
    # PromotionStopper: the rung limits and the pause at a new best (PauseAtNewBest's default)
    assert isinstance(built.proposer, PromotionHyperband) and isinstance(built.stopper, PromotionStopper)
    assert built.proposer.calibration_rung == 2  # FirstRung Auto: the first jobs measure a start
    assert isinstance(parts(request("Disabled", checkpoints=True)).stopper, AshaStopper)
    assert isinstance(parts(request(None, checkpoints=False)).stopper, AshaStopper)
    fixed = parts(request(None, checkpoints=True, first_rung="MinResource")).proposer
    assert isinstance(fixed, PromotionHyperband)
    assert fixed.propose(0, []).resource_limit == 1  # the rungs start at MinResource, no calibration


def test_first_rung_applies_to_promotion_only() -> None:
    with pytest.raises(InvalidTuningJob) as raised:
        validate_request(request(None, checkpoints=False, first_rung="Auto"))
    assert [(e.field, e.rule) for e in raised.value.errors] == [
        ("HyperParameterTuningJobConfig.StrategyConfig.HyperbandStrategyConfig.FirstRung", "first-rung-needs-promotion")
    ]
    validate_request(request(None, checkpoints=True, first_rung="Auto"))


def test_model_proposals_apply_to_promotion_only_and_are_built_with_it() -> None:
    with pytest.raises(InvalidTuningJob) as raised:
        validate_request(request("Disabled", checkpoints=True, proposals="Model"))
    assert [(e.field, e.rule) for e in raised.value.errors] == [
        ("HyperParameterTuningJobConfig.StrategyConfig.HyperbandStrategyConfig.Proposals", "proposals-need-promotion")
    ]
    validate_request(request(None, checkpoints=True, proposals="Model"))
    modelled = parts(request(None, checkpoints=True, first_rung="MinResource", proposals="Model")).proposer
    assert isinstance(modelled, PromotionHyperband) and isinstance(modelled._model, RungModel)
    assert parts(request(None, checkpoints=True, proposals="Random")).proposer._model is None  # type: ignore[attr-defined]
    assert isinstance(parts(request(None, checkpoints=True)).proposer._model, RungModel)  # type: ignore[attr-defined]
    timings = registry.lookup("Hyperband")
    assert timings is not None and "model_fit_s" in timings.timing_details  # replay ignores the fit's time


def test_pausing_applies_to_promotion_only_and_builds_the_continuing_stopper() -> None:
    with pytest.raises(InvalidTuningJob) as raised:
        validate_request(request("Disabled", checkpoints=True, pausing="WhenBehind"))
    assert any(e.rule == "pausing-needs-promotion" and e.field.endswith(".Pausing") for e in raised.value.errors)
    assert isinstance(parts(request("Enabled", checkpoints=True, pausing="WhenBehind")).stopper, PromotionStopper)
    every_rung = request("Enabled", checkpoints=True, pausing="EveryRung", at_new_best="Disabled")
    assert isinstance(parts(every_rung).stopper, RungLimitStopper)
    assert isinstance(parts(request("Enabled", checkpoints=True, at_new_best="Disabled")).stopper, RungLimitStopper)


def test_ranking_by_trend_applies_to_promotion_only_and_is_asked_for() -> None:
    with pytest.raises(InvalidTuningJob) as raised:
        validate_request(request("Disabled", checkpoints=True, ranking="Trend"))
    assert any(e.rule == "ranking-needs-promotion" and e.field.endswith(".Ranking") for e in raised.value.errors)
    assert parts(request("Enabled", checkpoints=True, ranking="Trend")).proposer._trend  # type: ignore[attr-defined]
    assert not parts(request("Enabled", checkpoints=True)).proposer._trend  # type: ignore[attr-defined]
    assert not parts(request("Enabled", checkpoints=True, ranking="Value")).proposer._trend  # type: ignore[attr-defined]


def test_pausing_at_a_new_best_applies_to_promotion_pausing_at_every_rung_and_builds_its_stopper() -> None:
    with pytest.raises(InvalidTuningJob) as raised:
        validate_request(request("Disabled", checkpoints=True, at_new_best="Enabled"))
    assert any(e.rule == "pause-at-new-best-needs-promotion" for e in raised.value.errors)
    with pytest.raises(InvalidTuningJob) as raised:
        validate_request(request("Enabled", checkpoints=True, at_new_best="Enabled", pausing="WhenBehind"))
    assert [(e.field.rsplit(".", 1)[-1], e.rule) for e in raised.value.errors] == [
        ("PauseAtNewBest", "pause-at-new-best-needs-every-rung")
    ]
    built = parts(request("Enabled", checkpoints=True, at_new_best="Enabled"))
    assert isinstance(built.stopper, PromotionStopper) and built.proposer._at_new_best  # type: ignore[attr-defined]
    # The default: on with promotion (asked for, or a program that checkpoints), off with WhenBehind
    # and where disabled; a stopper that pauses only at the rungs then.
    for default in (request("Enabled", checkpoints=True), request(None, checkpoints=True)):
        built = parts(default)
        assert isinstance(built.stopper, PromotionStopper) and built.proposer._at_new_best  # type: ignore[attr-defined]
    built = parts(request("Enabled", checkpoints=True, at_new_best="Disabled"))
    assert isinstance(built.stopper, RungLimitStopper) and not built.proposer._at_new_best  # type: ignore[attr-defined]
    built = parts(request("Enabled", checkpoints=True, pausing="WhenBehind"))
    assert not built.proposer._at_new_best  # type: ignore[attr-defined]
    validate_request(request("Enabled", checkpoints=True, at_new_best="Disabled", pausing="WhenBehind"))


def between_rungs(
    value_steps: tuple[float, ...], *, limit: int = 9, start_s: float = 0.4, step_s: float = 0.6, first: int = 4
) -> TrainingJobRecord:
    """Segment j3, resumed from j2 at step first - 1 to train to `limit`, still running: a start of
    start_s, then one report per step_s."""
    times = tuple(start_s + step_s * (k + 1) for k in range(len(value_steps)))
    return TrainingJobRecord(
        index=3,
        name="j3",
        values={"x": 0.9},
        metric_history=tuple((first + k, v) for k, v in enumerate(value_steps)),
        resume_from="j2",
        resource_limit=limit,
        proposed_at=0.0,
        metric_times=times,
    )


def new_best_strategy(maximize: bool = True, at_new_best: bool = True) -> PromotionHyperband:
    return PromotionHyperband(SPACE, 0, 100, 1, 20, maximize, eta=3, at_new_best=at_new_best)  # rungs 1, 3, 9, 20


def test_a_job_that_beats_every_ended_one_between_rungs_pauses_there_and_resumes_to_its_rung_first() -> None:
    ended = [segment(0, 0.5, 1, x=0.9), segment(1, 0.4, 1), segment(2, 0.55, 3, resume_from="j0", x=0.9)]
    promo = new_best_strategy()
    job = between_rungs((0.56, 0.6, 0.7))
    decision = promo.pause_at_new_best(job, [*ended, job])
    assert decision is not None and decision.rule == "new-best" and decision.step == 6 and decision.cutoff == 0.55
    assert "rung 9" in decision.reason
    stopper = PromotionStopper(promo, RungLimitStopper(max_resource=20))
    assert stopper.decide(job, [*ended, job]) == decision
    # Not where it does not beat the best ended value, nor without being asked for.
    assert promo.pause_at_new_best(between_rungs((0.5, 0.52, 0.54)), ended) is None
    assert new_best_strategy(at_new_best=False).pause_at_new_best(job, [*ended, job]) is None
    # Not before it has trained as long as its start took, nor where the steps left to its rung
    # take less than a start.
    assert promo.pause_at_new_best(between_rungs((0.56, 0.7)), ended) is None
    assert promo.pause_at_new_best(between_rungs((0.56, 0.6, 0.7), start_s=3.0), ended) is None
    five = (0.56, 0.58, 0.6, 0.65, 0.7)  # steps 4 to 8
    assert promo.pause_at_new_best(between_rungs(five, limit=9, start_s=1.0), ended) is None  # 1 step left
    assert promo.pause_at_new_best(between_rungs(five, limit=12, start_s=1.0), ended) is not None
    # Not where the budget could not resume it (MaxNumberOfTrainingJobs 4: this is the fourth).
    assert PromotionHyperband(SPACE, 0, 4, 1, 20, True, eta=3, at_new_best=True).pause_at_new_best(job, ended) is None
    assert PromotionHyperband(SPACE, 0, 5, 1, 20, True, eta=3, at_new_best=True).pause_at_new_best(job, ended)
    # Minimising, a lower value is the better one.
    low = [segment(0, 0.5, 1), segment(1, 0.4, 1), segment(2, 0.35, 3, resume_from="j1")]
    assert new_best_strategy(maximize=False).pause_at_new_best(between_rungs((0.34, 0.33, 0.3)), low) is not None
    assert new_best_strategy(maximize=False).pause_at_new_best(job, low) is None

    # Paused there (stopped with its objective), it is resumed to its rung before a due promotion
    # (j1 ranks 2 of 2 at rung 1 with thirds: none is due; add three more there so one is).
    paused = replace(job, status=TrainingJobStatus.STOPPED, objective=0.7)
    more = [segment(4 + k, 0.45 + 0.01 * k, 1) for k in range(3)]
    history = [*ended, paused, *more]
    proposal = promo.propose(7, history)
    assert (proposal.resume_from, proposal.resource_limit, proposal.step_offset) == ("j3", 9, 6)
    assert proposal.values == {"x": 0.9} and "new best" in proposal.reason
    resumed = segment(7, None, 9, resume_from="j3", status=TrainingJobStatus.IN_PROGRESS, x=0.9)
    after = promo.propose(8, [*history, resumed])
    assert after.resume_from != "j3"  # once
    # A segment that failed short of its rung is not resumed.
    failed = replace(paused, status=TrainingJobStatus.FAILED)
    assert promo.propose(7, [*ended, failed, *more]).resume_from != "j3"


def laddered_history() -> list[TrainingJobRecord]:
    """Six configurations paused at rung 1 (objective = x), the better three at rung 2, the best of
    those training on to rung 4: with halving, no promotion is due, so the next proposal is new."""
    history = [segment(i, 0.1 * (i + 1), 1, x=0.1 * (i + 1)) for i in range(6)]
    for k, parent in enumerate((5, 4, 3)):
        x = 0.1 * (parent + 1)
        history.append(segment(6 + k, x + 0.1, 2, resume_from=f"j{parent}", x=x))
    history.append(segment(9, None, 4, resume_from="j6", status=TrainingJobStatus.IN_PROGRESS, x=0.6))
    return history


def modelled(min_points: int = 3, seed: int = 0) -> PromotionHyperband:
    return PromotionHyperband(
        SPACE, seed, max_jobs=100, min_resource=1, max_resource=8, maximize=True,
        model=RungModel(BayesianSearch(SPACE, seed, 100, True), min_points=min_points),
    )  # fmt: skip


def test_model_proposals_fit_every_rungs_values_and_count_running_jobs_as_pending() -> None:
    history = laddered_history()
    p = modelled().propose(10, history)
    assert p.resume_from is None and p.resource_limit == 1
    assert p.details["model_observations"] == 9 and p.details["model_configurations"] == 6
    assert p.details["model_pending"] == 1
    assert "GP over configuration and resource on 9 rung values, 1 pending" in p.reason
    # Both rungs said higher x is better: the proposal goes past the values seen.
    assert float(p.values["x"]) > 0.4
    # Nine values in all: a model that needs ten leaves the proposal random.
    assert "model_observations" not in modelled(min_points=10).propose(10, history).details


def test_model_proposals_judge_a_configuration_by_its_predicted_value_at_max_resource() -> None:
    """Low x leads after one step, high x at step 4 of 8: the GP over (x, resource) carries the
    later ranking to MaxResource, where a model of the first rung alone would propose low x."""
    history = [segment(i, 1.0 - 0.15 * (i + 1), 1, x=0.15 * (i + 1)) for i in range(6)]
    history += [segment(6 + i, 0.15 * (i + 1), 4, resume_from=f"j{i}", x=0.15 * (i + 1)) for i in range(6)]
    model = RungModel(BayesianSearch(SPACE, 0, 100, True), min_points=3)
    p = model.propose(6, history, [1, 2, 4, 8])
    assert p is not None and p.details["model_observations"] == 12 and p.details["model_configurations"] == 6
    assert float(p.values["x"]) > 0.6
    # Predicted from step 4's values (0.6 and more up there), not step 1's (0.4 and less).
    assert float(p.details["model_predicted_mean"]) > 0.45


def test_model_proposals_weigh_improvement_by_the_seconds_a_step_takes() -> None:
    """Every configuration is as good as any other, but a step costs more the higher x: improvement
    per second goes to low x, a cost-blind model anywhere."""
    history = [
        TrainingJobRecord(
            index=i,
            name=f"j{i}",
            values={"x": x},
            status=TrainingJobStatus.COMPLETED,
            objective=0.5 + 0.01 * (i % 2),
            metric_history=((1, 0.4), (2, 0.5 + 0.01 * (i % 2))),
            metric_times=(10.0 * i, 10.0 * i + 0.1 + 5 * x),
            resource_limit=2,
        )
        for i, x in enumerate((0.2, 0.35, 0.5, 0.65, 0.8, 0.95))
    ]
    aware = RungModel(BayesianSearch(SPACE, 0, 100, True), min_points=3).propose(6, history, [2, 4, 8])
    assert aware is not None and float(aware.values["x"]) < 0.2
    assert aware.details["model_cost_jobs"] == 6 and aware.details["model_cost_weight"] == 1.0
    assert 0.1 < float(aware.details["model_predicted_step_s"]) < 1.1
    blind = RungModel(BayesianSearch(SPACE, 0, 100, True), min_points=3, cost_weight=0.0).propose(6, history, [2, 4, 8])
    assert blind is not None and "model_cost_jobs" not in blind.details


def test_a_fit_takes_the_highest_rungs_whole_and_an_even_spread_of_the_rest() -> None:
    by_rung = {
        1: [segment(i, 0.1, 1) for i in range(10)],
        2: [segment(10 + i, 0.2, 2) for i in range(4)],
        4: [segment(14, 0.3, 4)],
    }
    kept = model_points(by_rung, 8)
    assert [h.name for h in kept[4]] == ["j14"] and len(kept[2]) == 4
    assert [h.name for h in kept[1]] == ["j0", "j4", "j9"]
    assert model_points(by_rung, 100) == by_rung
    assert set(model_points(by_rung, 3)) == {4, 2} and len(model_points(by_rung, 3)[2]) == 2


def test_resource_share_is_log_scaled_between_one_step_and_max_resource() -> None:
    assert resource_share(1, 8) == 0.0 and resource_share(8, 8) == 1.0
    assert resource_share(2, 8) == pytest.approx(1 / 3) and resource_share(4, 8) == pytest.approx(2 / 3)
    assert resource_share(5, 1) == 1.0


def test_model_proposals_leave_every_third_new_configuration_and_a_short_ladder_random() -> None:
    history = laddered_history()
    # Six new configurations so far: the 7th is modelled, the 9th (draw 8) random.
    history.append(segment(10, None, 1, status=TrainingJobStatus.IN_PROGRESS, x=0.9))
    history.append(segment(11, None, 1, status=TrainingJobStatus.IN_PROGRESS, x=0.95))
    random_draw = modelled().propose(12, history)
    assert "model_observations" not in random_draw.details and "random draw 9" in random_draw.reason
    short = modelled(min_points=10).propose(10, laddered_history())
    assert "model_observations" not in short.details and "random draw 7" in short.reason


def test_model_proposals_are_deterministic_under_the_seed() -> None:
    history = laddered_history()
    assert modelled(seed=3).propose(10, history).values == modelled(seed=3).propose(10, history).values
    assert modelled(seed=3).propose(10, history).values != modelled(seed=4).propose(10, history).values


def timed(
    index: int, value: float, *, start_s: float, step_s: float, steps: int = 2, at: float = 0.0, first: int = 1
) -> TrainingJobRecord:
    """A fresh segment proposed at `at` that reported steps first..first+steps-1, each taking step_s
    after a start of start_s, and ended with its last report."""
    times = tuple(at + start_s + step_s * (k + 1) for k in range(steps))
    return TrainingJobRecord(
        index=index,
        name=f"j{index}",
        values={"x": 0.1 * index},
        status=TrainingJobStatus.COMPLETED,
        objective=value,
        metric_history=tuple((first + k, value) for k in range(steps)),
        resource_limit=first + steps - 1,
        proposed_at=at,
        ended_at=times[-1],
        metric_times=times,
    )


def test_segment_costs_split_a_slot_into_steps_and_a_start() -> None:
    records = [timed(i, 0.5, start_s=0.6, step_s=0.1 * (i + 1), at=float(i)) for i in range(3)]
    costs = measure(records)
    assert costs is not None and costs.segments == 3
    assert costs.step_s == pytest.approx(0.2) and costs.start_s == pytest.approx(0.6)
    # One report gives no step time: nothing is measured from it.
    assert measure([timed(0, 0.5, start_s=0.6, step_s=0.1, steps=1)]) is None
    assert first_rung(costs, 1, 20, 1.0) == 3  # 3 steps of 0.2 s outweigh a start of 0.6 s
    assert first_rung(costs, 1, 20, 2.0) == 2
    assert first_rung(costs, 5, 20, 1.0) == 5  # never below MinResource
    assert first_rung(costs, 1, 2, 1.0) == 2  # nor above MaxResource
    assert first_rung(measure([timed(0, 0.5, start_s=0.0, step_s=0.1)]) or costs, 1, 20, 1.0) == 1


def cost_aware(maximize: bool = True) -> PromotionHyperband:
    return PromotionHyperband(SPACE, 0, 100, min_resource=1, max_resource=20, maximize=maximize, start_share=1.0, eta=3)


def test_the_first_rung_is_sized_from_the_first_training_jobs_to_end() -> None:
    s = cost_aware()
    history: list[TrainingJobRecord] = []
    for i in range(3):
        p = s.propose(i, history)  # until three ended, new configurations train to step 2
        assert p.resource_limit == 2 and p.resume_from is None and "cost of a start" in p.reason
        history.append(timed(i, [0.3, 0.6, 0.4][i], start_s=0.5, step_s=0.1, at=float(i)))
    # A start costs 0.5 s and a step 0.1 s: the rungs are 5, 15, 20. The best of the three paused
    # at step 2 goes on to the first rung above it.
    p = s.propose(3, history)
    assert p.resume_from == "j1" and p.resource_limit == 5 and p.step_offset == 2
    history.append(segment(3, None, 5, resume_from="j1", status=TrainingJobStatus.IN_PROGRESS))
    p = s.propose(4, history)
    assert p.resume_from is None and p.resource_limit == 5
    assert "rungs 5, 15, 20" in p.reason and p.details["start_s"] == 0.5 and p.details["step_s"] == 0.1
    # Later training jobs with other costs do not move the ladder.
    history += [timed(4 + i, 0.1, start_s=5.0, step_s=0.01, steps=5, at=10.0 + i) for i in range(5)]
    assert s.ladder(history) == ([5, 15, 20], measure(history[:3]))


def test_without_a_start_cost_the_ladder_starts_at_min_resource() -> None:
    s = cost_aware(maximize=False)
    history = [timed(i, v, start_s=0.0, step_s=0.2, at=float(i)) for i, v in enumerate([0.3, 0.1, 0.2])]
    p = s.propose(3, history)
    assert p.resume_from == "j1" and p.resource_limit == 3  # from step 2 to the rung above it
    history.append(segment(3, None, 3, resume_from="j1", status=TrainingJobStatus.IN_PROGRESS))
    assert s.propose(4, history).resource_limit == 1


def test_the_shallowest_first_rung_leaves_at_most_max_rungs() -> None:
    assert shallowest_first_rung(1, 20, 5) == 2 and promotion_rungs(2, 20) == [2, 4, 8, 16, 20]
    assert shallowest_first_rung(1, 150, 5) == 10 and promotion_rungs(10, 150) == [10, 20, 40, 80, 150]
    assert shallowest_first_rung(1, 16, 5) == 1  # 1, 2, 4, 8, 16: already five
    assert shallowest_first_rung(12, 150, 5) == 12  # never below MinResource
    for max_resource in range(1, 400):
        first = shallowest_first_rung(1, max_resource, MAX_RUNGS)
        assert len(promotion_rungs(first, max_resource)) <= MAX_RUNGS
        # One lower would be one rung too many (or below MinResource).
        assert first == 1 or len(promotion_rungs(first - 1, max_resource)) > MAX_RUNGS


def test_a_deep_range_gets_a_shallower_ladder_unless_the_rungs_start_at_min_resource() -> None:
    s = PromotionHyperband(SPACE, 0, 100, min_resource=1, max_resource=150, maximize=True, max_rungs=5)
    assert s.rungs == [10, 20, 40, 80, 150] and s.propose(0, []).resource_limit == 10
    costed = PromotionHyperband(SPACE, 0, 100, 1, 150, True, start_share=2.0, max_rungs=5)
    history = [timed(i, v, start_s=0.1, step_s=0.01, at=float(i)) for i, v in enumerate([0.3, 0.1, 0.2])]
    # A start is worth 5 steps at half a start per rung, but five rungs need the first at 10.
    assert costed.ladder(history) == ([10, 20, 40, 80, 150], measure(history))
    history = [timed(i, v, start_s=1.0, step_s=0.01, at=float(i)) for i, v in enumerate([0.3, 0.1, 0.2])]
    assert costed.ladder(history) == ([50, 100, 150], measure(history))  # the start's rung is higher
    auto = parts(request(None, checkpoints=True, max_resource=150)).proposer
    assert isinstance(auto, PromotionHyperband) and auto.rungs == [10, 20, 40, 80, 150]
    fixed = parts(request(None, checkpoints=True, first_rung="MinResource", max_resource=150)).proposer
    assert isinstance(fixed, PromotionHyperband) and fixed.rungs == promotion_rungs(1, 150)


def _decided(p: Proposal) -> tuple[object, ...]:
    """A proposal without its wall-clock timings (replay ignores those too)."""
    timings = registry.timing_details()
    return p.values, p.reason, p.resource_limit, p.resume_from, {k: v for k, v in p.details.items() if k not in timings}


def test_a_new_configuration_prepared_ahead_is_the_one_propose_would_make() -> None:
    history = laddered_history()
    prepared = modelled().propose_ahead(10, history)
    assert prepared is not None and prepared.index == 6  # for the 7th new configuration
    adopted, adoption = modelled().adopt(prepared, 10, history)
    assert adoption == "used" and _decided(adopted) == _decided(modelled().propose(10, history))


def test_a_promotion_due_when_the_slot_frees_goes_first_and_the_prepared_configuration_waits() -> None:
    history = laddered_history()
    prepared = modelled().propose_ahead(10, history)
    assert prepared is not None
    # A fourth segment paused at rung 2 since, the best there: the top two may go on, and it has not.
    promoting = [*history, segment(10, 0.9, 2, resume_from="j2", x=0.3)]
    adopted, adoption = modelled().adopt(prepared, 11, promoting)
    assert adoption == "waits" and adopted.resume_from is not None and adopted.values != prepared.values


def test_a_prepared_configuration_overtaken_by_random_draws_serves_the_next_model_draw() -> None:
    """Slots filled while it was computed (propose_while_busy) do not waste it: it is the next
    configuration the model is to make, and it waits through a draw that is random anyway."""
    history = laddered_history()
    prepared = modelled().propose_ahead(10, history)
    assert prepared is not None
    later = [*history, segment(10, None, 1, status=TrainingJobStatus.IN_PROGRESS, x=0.9)]
    adopted, adoption = modelled().adopt(prepared, 11, later)
    assert adoption == "used" and adopted.values == prepared.values
    assert adopted.details["model_pending"] == prepared.details["model_pending"]  # as fitted then
    latest = [*later, segment(11, None, 1, status=TrainingJobStatus.IN_PROGRESS, x=0.95)]
    adopted, adoption = modelled().adopt(prepared, 12, latest)  # draw 8: every third stays random
    assert adoption == "waits" and "random draw" in adopted.reason and adopted.values != prepared.values


def test_a_prepared_configuration_made_for_a_later_draw_is_made_again() -> None:
    history = laddered_history()
    prepared = modelled().propose_ahead(10, history)
    assert prepared is not None
    ahead_of_history = replace(prepared, index=prepared.index + 1)
    adopted, adoption = modelled().adopt(ahead_of_history, 10, history)
    assert adoption == "stale" and _decided(adopted) == _decided(modelled().propose(10, history))


def test_while_the_model_computes_a_slot_gets_a_due_promotion_or_a_random_draw_marked_as_such() -> None:
    history = laddered_history()
    busy = modelled().propose_while_busy(10, history)
    assert busy.resume_from is None and busy.details["model_busy"] == 1
    assert "random draw while the model's proposal is computed" in busy.reason
    assert busy.values == strategy().propose(10, history).values  # the random draw it would be without a model
    random_anyway = [
        *history,
        segment(10, None, 1, status=TrainingJobStatus.IN_PROGRESS, x=0.9),
        segment(11, None, 1, status=TrainingJobStatus.IN_PROGRESS, x=0.95),
    ]
    assert "model_busy" not in modelled().propose_while_busy(12, random_anyway).details
    assert "model_busy" not in strategy().propose_while_busy(10, history).details  # no model at all


def test_nothing_is_prepared_for_a_random_draw_or_without_a_model() -> None:
    history = laddered_history()
    history.append(segment(10, None, 1, status=TrainingJobStatus.IN_PROGRESS, x=0.9))
    history.append(segment(11, None, 1, status=TrainingJobStatus.IN_PROGRESS, x=0.95))
    assert modelled().propose_ahead(12, history) is None  # draw 8: every third stays random
    assert strategy().propose_ahead(10, laddered_history()) is None


def test_hyperband_proposes_ahead_only_with_model_proposals() -> None:
    assert parts(request(None, checkpoints=True)).proposes_ahead  # Model is promotion's default
    assert parts(request(None, checkpoints=True, proposals="Model")).proposes_ahead
    assert not parts(request(None, checkpoints=True, proposals="Random")).proposes_ahead
    assert not parts(request("Disabled", checkpoints=True)).proposes_ahead
