"""Several TrainingJobDefinitions in one tuning job: validation, the joint space, and every strategy
proposing across the definitions (each training job runs one, with that one's program and objective)."""

from __future__ import annotations

import copy
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.support.jobs import continuous, several_definitions, tuning_job
from tests.unit.suggester.test_suggester_state import finished, metric, step, submitted
from tunestream.definitions import CreateTuningJobRequest
from tunestream.events.v1 import TrainingJobProposed, TrainingJobStopRequested, TuningJobEnded, WarmStartObservation
from tunestream.field_errors import InvalidTuningJob
from tunestream.space import DEFINITION_PARAM, SearchSpace
from tunestream.suggester.handler import SuggesterHandler
from tunestream.suggester.state import TuningJobState
from tunestream.validation import validate_request, with_objective

LOSS = {"Name": "loss", "Regex": r"loss=([-0-9.eE+]+)"}


def two_definitions(strategy: str = "Random", jobs: int = 8, parallel: int = 2, **extra: Any) -> dict[str, Any]:
    """ "mlp" maximizes score over x and n; "boost" maximizes auc over its own depth and kind."""
    job = tuning_job(
        "several",
        command=["python", "mlp.py"],
        strategy=strategy,
        seed=11,
        jobs=jobs,
        parallel=parallel,
        ranges={
            "ContinuousParameterRanges": [continuous("x")],
            "IntegerParameterRanges": [{"Name": "n", "MinValue": "1", "MaxValue": "3"}],
        },
        static={"epochs": "4"},
        **extra,
    )
    return several_definitions(
        job,
        [
            {"name": "mlp"},
            {
                "name": "boost",
                "command": ["python", "boost.py"],
                "objective": ("Maximize", "auc"),
                "metrics": [{"Name": "auc", "Regex": r"auc=([0-9.]+)"}, LOSS],
                "static": {"epochs": "4", "booster": "gbtree"},
                "ranges": {
                    "IntegerParameterRanges": [{"Name": "depth", "MinValue": "2", "MaxValue": "4"}],
                    "CategoricalParameterRanges": [{"Name": "kind", "Values": ["a", "b"]}],
                },
            },
        ],
    )


def errors_of(job: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(InvalidTuningJob) as info:
        validate_request(CreateTuningJobRequest.model_validate(job))
    return {e.field: e.rule for e in info.value.errors}


def test_the_joint_space_has_each_definitions_ranges_and_the_definition() -> None:
    space = validate_request(CreateTuningJobRequest.model_validate(two_definitions()))
    assert space.names == ["mlp:n", "boost:depth", "mlp:x", "boost:kind", DEFINITION_PARAM]
    assert [(b.definition, b.names) for b in space.branches] == [
        ("mlp", ("mlp:n", "mlp:x")),
        ("boost", ("boost:depth", "boost:kind")),
    ]


def test_split_and_join_are_inverse_and_rest_the_other_definitions_dimensions() -> None:
    space = validate_request(CreateTuningJobRequest.model_validate(two_definitions()))
    joined = space.join("boost", {"depth": "3", "kind": "b"})
    assert joined == {"mlp:n": "1", "boost:depth": "3", "mlp:x": "0.0", "boost:kind": "b", DEFINITION_PARAM: "boost"}
    assert space.split(joined) == ("boost", {"depth": "3", "kind": "b"})
    one = SearchSpace(space.params[:1])
    assert one.split({"mlp:n": "2"}) == (None, {"mlp:n": "2"}) and one.join(None, {"mlp:n": "2"}) == {"mlp:n": "2"}


def test_the_sdks_shape_gets_the_first_definitions_objective_as_the_configs() -> None:
    request = with_objective(CreateTuningJobRequest.model_validate(two_definitions()))
    objective = request.HyperParameterTuningJobConfig.HyperParameterTuningJobObjective
    assert objective is not None and (objective.Type, objective.MetricName) == ("Maximize", "score")


@pytest.mark.parametrize(
    ("change", "field", "rule"),
    [
        (
            lambda j: j.update(TrainingJobDefinition=j["TrainingJobDefinitions"][0]),
            "TrainingJobDefinitions",
            "one-or-several",
        ),
        (
            lambda j: j["TrainingJobDefinitions"][1].update(DefinitionName="mlp"),
            "TrainingJobDefinitions[1].DefinitionName",
            "unique",
        ),
        (
            lambda j: j["TrainingJobDefinitions"][1].pop("DefinitionName"),
            "TrainingJobDefinitions[1].DefinitionName",
            "required",
        ),
        (
            lambda j: j["TrainingJobDefinitions"][1].update(DefinitionName="no_underscores"),
            "TrainingJobDefinitions[1].DefinitionName",
            "pattern",
        ),
        (
            lambda j: j["TrainingJobDefinitions"][1].pop("HyperParameterRanges"),
            "TrainingJobDefinitions[1].HyperParameterRanges",
            "required",
        ),
        (
            lambda j: j["HyperParameterTuningJobConfig"].update(
                ParameterRanges={"ContinuousParameterRanges": [continuous("y")]}
            ),
            "HyperParameterTuningJobConfig.ParameterRanges",
            "ranges-per-definition",
        ),
        (
            lambda j: j["TrainingJobDefinitions"][1].update(TuningObjective={"Type": "Minimize", "MetricName": "loss"}),
            "TrainingJobDefinitions",
            "same-objective-type",
        ),
        (
            lambda j: j["TrainingJobDefinitions"][1].update(TuningObjective={"Type": "Maximize", "MetricName": "f1"}),
            "TrainingJobDefinitions[1].TuningObjective.MetricName",
            "objective-defined",
        ),
        (
            lambda j: j["TrainingJobDefinitions"][1]["StaticHyperParameters"].update(depth="3"),
            "TrainingJobDefinitions[1].StaticHyperParameters.depth",
            "static-or-tuned",
        ),
        (
            lambda j: j["TrainingJobDefinitions"].extend(
                copy.deepcopy(j["TrainingJobDefinitions"][0]) | {"DefinitionName": f"d{i}"} for i in range(9)
            ),
            "TrainingJobDefinitions",
            "count",
        ),
    ],
)
def test_each_broken_rule_names_its_field(change: Any, field: str, rule: str) -> None:
    job = two_definitions()
    change(job)
    assert errors_of(job).get(field) == rule, errors_of(job)


def parent_result(i: int, definition: str | None, tuned: dict[str, str], objective: float) -> WarmStartObservation:
    return WarmStartObservation(
        tuning_job_name="parent",
        training_job_name=f"parent-{i:03d}",
        tuned_hyperparameters=tuned,
        objective=objective,
        definition_name=definition,
    )


def test_warm_start_seeds_each_definition_with_the_parents_results_of_the_same_name() -> None:
    job = two_definitions("Bayesian")
    job["WarmStartConfig"] = {
        "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": "parent"}],
        "WarmStartType": "IdenticalDataAndAlgorithm",
    }
    request = CreateTuningJobRequest.model_validate(job)
    validate_request(request)  # several definitions and a warm start go together
    results = [
        parent_result(0, "mlp", {"x": "0.25", "n": "2"}, 0.7),
        parent_result(1, "boost", {"depth": "3", "kind": "b"}, 0.8),
        parent_result(2, "boost", {"depth": "9", "kind": "b"}, 0.9),  # outside boost's depth range
        parent_result(3, "forest", {"trees": "10"}, 0.95),  # a definition the child does not have
        parent_result(4, None, {"x": "0.5", "n": "1"}, 0.6),  # a parent of one definition names none
    ]
    state = TuningJobState.create(request, 3, datetime.now(UTC), results)
    assert [(r.name, r.objective) for r in state.warm_start] == [("parent-000", 0.7), ("parent-001", 0.8)]
    mlp, boost = (r.values for r in state.warm_start)
    assert mlp == {DEFINITION_PARAM: "mlp", "mlp:x": 0.25, "mlp:n": 2, "boost:depth": 2, "boost:kind": "a"}
    assert boost == {DEFINITION_PARAM: "boost", "boost:depth": 3, "boost:kind": "b", "mlp:x": 0.0, "mlp:n": 1}
    assert len(state.strategy_history()) == 2  # Bayesian's model starts from them


def test_a_child_of_one_definition_takes_a_parents_definition_of_its_own_name_only() -> None:
    single = tuning_job(
        "single",
        command=["python", "mlp.py"],
        seed=11,
        jobs=4,
        parallel=1,
        ranges={
            "ContinuousParameterRanges": [continuous("x")],
            "IntegerParameterRanges": [{"Name": "n", "MinValue": "1", "MaxValue": "3"}],
        },
    )
    single["WarmStartConfig"] = {
        "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": "parent"}],
        "WarmStartType": "TransferLearning",
    }
    results = [
        parent_result(0, "mlp", {"x": "0.25", "n": "2"}, 0.7),
        parent_result(1, None, {"x": "0.5", "n": "1"}, 0.6),
    ]
    unnamed = TuningJobState.create(CreateTuningJobRequest.model_validate(single), 3, datetime.now(UTC), results)
    assert [r.name for r in unnamed.warm_start] == ["parent-001"]
    single["TrainingJobDefinition"]["DefinitionName"] = "mlp"
    named = TuningJobState.create(CreateTuningJobRequest.model_validate(single), 3, datetime.now(UTC), results)
    assert [r.name for r in named.warm_start] == ["parent-000", "parent-001"]


def test_hyperband_needs_the_definitions_to_agree_on_resources_and_checkpoints() -> None:
    job = two_definitions("Hyperband")
    job["TrainingJobDefinitions"][1]["StaticHyperParameters"]["epochs"] = "9"
    job["TrainingJobDefinitions"][1]["CheckpointConfig"] = {"S3Uri": "s3://tunestream/ckpt"}
    errors = errors_of(job)
    assert errors["HyperParameterTuningJobConfig.StrategyConfig.HyperbandStrategyConfig.MaxResource"] == "required"
    assert errors["TrainingJobDefinitions"] == "checkpoints-all-or-none"


def run(job: dict[str, Any], score: Any, limit: int = 60) -> list[Any]:
    """Drive the suggester to the end: each training job reports `score(spec)` as its objective."""
    h = SuggesterHandler()
    pending = [e for e in step(h, submitted(job)) if isinstance(e, TrainingJobProposed)]
    specs = []
    while pending and len(specs) < limit:
        spec = pending.pop(0).payload.spec
        specs.append(spec)
        out = step(h, finished("several", spec.training_job_name, score(spec)))
        pending += [e for e in out if isinstance(e, TrainingJobProposed)]
        if any(isinstance(e, TuningJobEnded) for e in out):
            break
    return specs


def test_a_training_job_runs_its_definitions_program_with_its_objective() -> None:
    specs = run(two_definitions(jobs=12), lambda s: 0.5)
    assert len(specs) == 12
    by = {s.definition_name: s for s in specs}
    assert set(by) == {"mlp", "boost"}
    mlp, boost = by["mlp"], by["boost"]
    assert set(mlp.tuned_hyperparameters) == {"x", "n"} and set(boost.tuned_hyperparameters) == {"depth", "kind"}
    assert mlp.command == ["python", "mlp.py"] and boost.command == ["python", "boost.py"]
    assert boost.hyperparameters == {"epochs": "4", "booster": "gbtree", **boost.tuned_hyperparameters}
    assert (mlp.objective_metric_name, boost.objective_metric_name) == ("score", "auc")
    assert [m.Name for m in boost.metric_definitions] == ["auc", "loss"]


def test_grid_runs_each_definitions_grid_in_turn() -> None:
    job = two_definitions("Grid", jobs=9)
    mlp = job["TrainingJobDefinitions"][0]["HyperParameterRanges"]
    mlp["CategoricalParameterRanges"] = [{"Name": "act", "Values": ["relu", "tanh"]}]
    del mlp["ContinuousParameterRanges"]
    job["HyperParameterTuningJobConfig"]["ResourceLimits"]["MaxNumberOfTrainingJobs"] = 12
    specs = run(job, lambda s: 0.5)
    seen = [(s.definition_name, tuple(sorted(s.tuned_hyperparameters.items()))) for s in specs]
    assert len(seen) == len(set(seen)) == 6 + 6  # 3 n x 2 act, then 3 depth x 2 kind
    assert [d for d, _ in seen] == ["mlp"] * 6 + ["boost"] * 6
    job["HyperParameterTuningJobConfig"]["ResourceLimits"]["MaxNumberOfTrainingJobs"] = 36
    assert errors_of(job)["HyperParameterTuningJobConfig.ResourceLimits.MaxNumberOfTrainingJobs"] == "grid-size"


def test_bayesian_learns_which_definition_is_better() -> None:
    # boost's auc is 0.9 and up; mlp's score at most 0.6: after the initial design the model should
    # spend most of the budget on boost.
    def score(spec: Any) -> float:
        t = spec.tuned_hyperparameters
        if spec.definition_name == "boost":
            return 0.9 + 0.02 * int(t["depth"]) + (0.01 if t["kind"] == "b" else 0.0)
        return 0.6 - abs(float(t["x"]) - 0.5)

    specs = run(two_definitions("Bayesian", jobs=24, parallel=1), score)
    later = Counter(s.definition_name for s in specs[12:])
    assert later["boost"] >= 9, later


def test_hyperband_stops_by_each_definitions_own_objective_metric() -> None:
    h = SuggesterHandler()
    out = step(h, submitted(two_definitions("Hyperband", jobs=30, parallel=30)))
    specs = [e.payload.spec for e in out if isinstance(e, TrainingJobProposed)]
    boosts = [s for s in specs if s.definition_name == "boost"]
    assert boosts and {s.definition_name for s in specs} == {"mlp", "boost"}
    # boost's loss is not its objective: a terrible loss stops nothing; its auc at a rung does.
    stops: list[Any] = []
    for i, s in enumerate(boosts):
        stops += step(h, metric("several", s.training_job_name, 1, 100.0, name="loss"))
        stops += step(h, metric("several", s.training_job_name, 1, 0.9 - i / 100, name="auc"))  # worse and worse
    stopped = {e.payload.training_job_name for e in stops if isinstance(e, TrainingJobStopRequested)}
    assert stopped and stopped < {s.training_job_name for s in boosts}


def test_a_metric_read_before_its_proposal_waits_for_it_to_know_the_objective() -> None:
    # On a rebuild the topics interleave: boost's auc may come before boost's proposal says auc is
    # its objective (and score, the config's, is not).
    h = SuggesterHandler()
    proposed = [
        e
        for e in step(h, submitted(two_definitions("Random", jobs=30, parallel=30)))
        if isinstance(e, TrainingJobProposed)
    ]
    boost = next(e for e in proposed if e.payload.spec.definition_name == "boost")
    name = boost.payload.spec.training_job_name
    rebuilt = SuggesterHandler()
    rebuilt.apply(submitted(two_definitions("Random", jobs=30, parallel=30)))
    rebuilt.apply(metric("several", name, 1, 0.8, name="score"))
    rebuilt.apply(metric("several", name, 1, 0.7, name="auc"))
    assert rebuilt.jobs["several"].curves.get(name) is None
    rebuilt.apply(boost)
    assert rebuilt.jobs["several"].curves[name] == [(1, 0.7)]
