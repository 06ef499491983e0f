"""CreateTrainingJob: every member of botocore's input classified, the request validated with its own
paths, and its carrier (a hidden tuning job of one) run by the suggester as that one training job."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import botocore.session
import pytest

from tests.unit.suggester.test_suggester_state import finished, metric, step
from tests.unit.test_request_members import CHANNEL, OWN_SAMPLES, botocore_members, sample
from tunestream.definitions import CreateTrainingJobRequest
from tunestream.events.v1 import TrainingJobProposed, TuningJobEnded, TuningJobSubmitted, TuningJobSubmittedData
from tunestream.field_errors import InvalidTuningJob
from tunestream.naming import standalone_tuning_job_name
from tunestream.request_members import (
    REFUSED_RULE,
    TRAINING_MEMBERS,
    outermost,
    training_class,
    training_inert_members,
)
from tunestream.standalone import as_tuning_job, validate_training_job
from tunestream.suggester.handler import SuggesterHandler

INPUT = botocore.session.get_session().get_service_model("sagemaker").operation_model("CreateTrainingJob").input_shape
SHAPES = dict(botocore_members(INPUT))


def base_request(name: str = "alone") -> dict[str, Any]:
    return {
        "TrainingJobName": name,
        "HyperParameters": {"epochs": "3", "lr": 0.1},
        "AlgorithmSpecification": {
            "Command": ["python", "train.py"],
            "MetricDefinitions": [{"Name": "loss", "Regex": r"loss=([0-9.]+)"}],
        },
        "OutputDataConfig": {"S3OutputPath": "s3://bucket/out"},
        "StoppingCondition": {"MaxRuntimeInSeconds": 60},
    }


def with_member(path: str) -> tuple[dict[str, Any], str]:
    request = base_request()
    node: dict[str, Any] = request
    parts = path.split(".")
    for part in parts[:-1]:
        name = part.removesuffix("[]")
        if part.endswith("[]"):
            node = node.setdefault(name, [copy.deepcopy(CHANNEL if name == "InputDataConfig" else {})])[0]
        else:
            node = node.setdefault(name, {})
    name = parts[-1]
    node[name] = sample(SHAPES[path], name) if path in SHAPES else OWN_SAMPLES.get(name, ["x"])
    return request, path.replace("[]", "[0]")


def test_every_botocore_member_is_classified() -> None:
    assert [p for p in SHAPES if training_class(p) is None] == [], "classify in request_members.TRAINING_MEMBERS"
    # Only tunestream's own members (as in a tuning job's definition) are not botocore's.
    assert [p for p in TRAINING_MEMBERS if p not in SHAPES] == [
        "AlgorithmSpecification.Command",
        "ResourceConfig.GpuCount",
    ]


@pytest.mark.parametrize("path", [p for p in outermost("refused", TRAINING_MEMBERS) if p in SHAPES])
def test_refused_members_are_refused_by_name(path: str) -> None:
    request, where = with_member(path)
    with pytest.raises(InvalidTuningJob) as info:
        validate_training_job(CreateTrainingJobRequest.model_validate(request))
    named = [e for e in info.value.errors if e.field == where]
    assert named and named[0].rule == REFUSED_RULE and len(named[0].message) > 20, info.value.errors


@pytest.mark.parametrize("path", [p for p in outermost("inert", TRAINING_MEMBERS) if p in SHAPES])
def test_inert_members_are_accepted_and_reported(path: str) -> None:
    request, where = with_member(path)
    parsed = CreateTrainingJobRequest.model_validate(request)
    validate_training_job(parsed)
    assert training_inert_members(parsed.model_dump(mode="json", exclude_none=True)) == [where]


def test_the_sdks_default_debugger_and_profiler_configs_are_accepted() -> None:
    request = base_request()
    request["DebugHookConfig"] = {"S3OutputPath": "s3://bucket/out", "CollectionConfigurations": []}
    request["ProfilerConfig"] = {"S3OutputPath": "s3://bucket/out", "DisableProfiler": False}
    validate_training_job(CreateTrainingJobRequest.model_validate(request))


@pytest.mark.parametrize(
    ("change", "field", "rule"),
    [
        (lambda r: r["AlgorithmSpecification"].pop("Command"), "AlgorithmSpecification", "image-or-command"),
        (
            lambda r: r["AlgorithmSpecification"]["MetricDefinitions"][0].update(Regex="loss=[0-9]+"),
            "AlgorithmSpecification.MetricDefinitions[0].Regex",
            "regex-group",
        ),
        (
            lambda r: r.update(EnableManagedSpotTraining=True),
            "StoppingCondition.MaxWaitTimeInSeconds",
            "spot-needs-max-wait",
        ),
        (
            lambda r: r["AlgorithmSpecification"].update(ContainerEntrypoint=["python"]),
            "AlgorithmSpecification.ContainerEntrypoint",
            "container-only",
        ),
    ],
)
def test_rules_name_createtrainingjobs_own_paths(change: Any, field: str, rule: str) -> None:
    request = base_request()
    change(request)
    with pytest.raises(InvalidTuningJob) as info:
        validate_training_job(CreateTrainingJobRequest.model_validate(request))
    assert {e.field: e.rule for e in info.value.errors}.get(field) == rule, info.value.errors


def test_the_carrier_is_a_tuning_job_of_one_with_the_hyperparameters_static() -> None:
    request = CreateTrainingJobRequest.model_validate({**base_request(), "Tags": [{"Key": "team", "Value": "a"}]})
    carrier = as_tuning_job(request)
    assert carrier.HyperParameterTuningJobName == standalone_tuning_job_name("alone")
    assert carrier.HyperParameterTuningJobConfig.ResourceLimits.MaxNumberOfTrainingJobs == 1
    definition = carrier.TrainingJobDefinition
    assert definition is not None and definition.StaticHyperParameters == {"epochs": "3", "lr": "0.1"}
    assert definition.AlgorithmSpecification.Command == ["python", "train.py"]
    assert carrier.Tags == [{"Key": "team", "Value": "a"}]


def carried() -> tuple[str, TuningJobSubmitted]:
    """The carrier's name and the event the api publishes for base_request()."""
    carrier = validate_training_job(CreateTrainingJobRequest.model_validate(base_request()))
    name = carrier.HyperParameterTuningJobName
    return name, TuningJobSubmitted(
        event_id=f"{name}:submitted",
        tuning_job_name=name,
        payload=TuningJobSubmittedData(
            request=carrier, random_seed=0, created_at=datetime.now(UTC), training_job="alone"
        ),
    )


def test_the_suggester_runs_the_one_training_job_under_its_own_name_and_ends() -> None:
    name, submitted = carried()
    h = SuggesterHandler()
    [proposed] = step(h, submitted)
    assert isinstance(proposed, TrainingJobProposed)
    spec = proposed.payload.spec
    assert spec.training_job_name == "alone" and spec.index == 0
    assert spec.hyperparameters == {"epochs": "3", "lr": "0.1"} and spec.tuned_hyperparameters == {}
    assert spec.objective_metric_name == "" and [m.Name for m in spec.metric_definitions] == ["loss"]
    out = step(h, finished(name, "alone", None))
    assert [type(e) for e in out] == [TuningJobEnded]


def test_a_metric_before_the_proposal_is_kept_without_an_objective_to_rank() -> None:
    name, submitted = carried()
    h = SuggesterHandler()
    [proposed] = step(h, submitted)
    rebuilt = SuggesterHandler()
    rebuilt.apply(submitted)
    rebuilt.apply(metric(name, "alone", 1, 0.5, name="loss"))  # read before the proposal: no crash
    rebuilt.apply(proposed)
    assert rebuilt.jobs[name].curves.get("alone") is None  # "loss" is no objective: nothing to rank
