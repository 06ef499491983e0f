from __future__ import annotations

import math

import pytest

from tunestream.definitions import CreateTuningJobRequest
from tunestream.field_errors import InvalidTuningJob
from tunestream.space import ContinuousParam, SearchSpace
from tunestream.strategies.promotion import PromotionHyperband, RungLimitStopper, promotion_rungs
from tunestream.trials import TrainingJobRecord, TrainingJobStatus
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
    return PromotionHyperband(SPACE, seed, max_jobs=100, min_resource=1, max_resource=20, maximize=maximize)


def test_rungs_end_at_max_resource() -> None:
    assert promotion_rungs(1, 20) == [1, 3, 9, 20]
    assert promotion_rungs(1, 27) == [1, 3, 9, 27]
    assert promotion_rungs(2, 20) == [2, 6, 18, 20]
    assert promotion_rungs(5, 5) == [5]


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


def request(promotion: str | None, checkpoints: bool) -> CreateTuningJobRequest:
    hb: dict[str, object] = {"MinResource": 1, "MaxResource": 9}
    if promotion:
        hb["Promotion"] = promotion
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
