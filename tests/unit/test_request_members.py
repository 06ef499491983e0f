"""Every member of botocore's CreateHyperParameterTuningJob input is classified, and the classes hold:
a refused member is a ValidationException naming it, an inert one is accepted and reported."""

from __future__ import annotations

import copy
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore.model import Shape
from pydantic import BaseModel

from tests.support.jobs import continuous, tuning_job
from tunestream.definitions import CreateTuningJobRequest
from tunestream.request_members import (
    EXTENSIONS,
    MEMBERS,
    REFUSED_RULE,
    counts,
    inert_members,
    outermost,
    render_markdown,
)
from tunestream.validation import InvalidTuningJob, validate_request

ROOT = Path(__file__).resolve().parents[2]
INPUT = (
    botocore.session.get_session()
    .get_service_model("sagemaker")
    .operation_model("CreateHyperParameterTuningJob")
    .input_shape
)
# Values a member's own shape cannot suggest: tunestream's patterns, and one valid channel for members inside one.
SAMPLES: dict[str, Any] = {"S3Uri": "s3://bucket/data", "S3OutputPath": "s3://bucket/out", "ChannelName": "train"}
CHANNEL = {"ChannelName": "train", "DataSource": {"S3DataSource": {"S3Uri": "s3://bucket/train"}}}
# tunestream's own inert members have no botocore shape to take a sample from.
OWN_SAMPLES: dict[str, Any] = {"EnableSageMakerMetricsTimeSeries": True}


def botocore_members(shape: Shape, path: str = "") -> Iterator[tuple[str, Shape]]:
    if shape.type_name == "list":
        yield from botocore_members(shape.member, f"{path}[]")
    elif shape.type_name == "structure":
        for name, member in shape.members.items():
            here = f"{path}.{name}" if path else name
            yield here, member
            yield from botocore_members(member, here)


SHAPES = dict(botocore_members(INPUT))


def _model_in(annotation: Any) -> tuple[type[BaseModel] | None, bool]:
    """The request model a field holds, and whether it holds a list of them."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, False
    for arg in typing.get_args(annotation):
        found, listed = _model_in(arg)
        if found is not None:
            return found, listed or typing.get_origin(annotation) is list
    return None, False


def model_members(model: type[BaseModel], path: str = "") -> Iterator[str]:
    for name, field in model.model_fields.items():
        here = f"{path}.{name}" if path else name
        yield here
        inner, listed = _model_in(field.annotation)
        if inner is not None:
            yield from model_members(inner, f"{here}[]" if listed else here)


def sample(shape: Shape, name: str = "") -> Any:
    """The smallest value botocore would send for `shape`: its required members, one list item."""
    if name in SAMPLES:
        return SAMPLES[name]
    kind = shape.type_name
    if kind == "structure":
        return {n: sample(m, n) for n, m in shape.members.items() if n in shape.required_members}
    if kind == "list":
        return [sample(shape.member)]
    if kind == "map":
        return {"k": sample(shape.value)}
    if kind == "string":
        return shape.enum[0] if shape.enum else "x"
    if kind in ("integer", "long"):
        return max(1, int(shape.metadata.get("min", 1)))
    if kind in ("float", "double"):
        return 1.0
    assert kind == "boolean", kind
    return True


def base_request() -> dict[str, Any]:
    return tuning_job(
        "members",
        command=["python", "-c", "print('score=1')"],
        ranges={"ContinuousParameterRanges": [continuous("x")]},
    )


# The members an item of HyperParameterTuningResourceConfig.InstanceConfigs must have.
INSTANCE_CONFIG = {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1}


def several_definitions(request: dict[str, Any]) -> dict[str, Any]:
    """The same job with its one definition as the only one of TrainingJobDefinitions."""
    config = request["HyperParameterTuningJobConfig"]
    definition = request.pop("TrainingJobDefinition")
    definition["DefinitionName"] = "only"
    definition["TuningObjective"] = config.pop("HyperParameterTuningJobObjective")
    definition["HyperParameterRanges"] = config.pop("ParameterRanges")
    request["TrainingJobDefinitions"] = [definition]
    return request


def with_member(path: str) -> tuple[dict[str, Any], str]:
    """The base request with `path` set to a sample; also the path with list items numbered."""
    request = base_request()
    if path.startswith("TrainingJobDefinitions[]."):
        request = several_definitions(request)
    node: dict[str, Any] = request
    parts = path.split(".")
    for part in parts[:-1]:
        name = part.removesuffix("[]")
        if part.endswith("[]"):
            first = {"InputDataConfig": CHANNEL, "InstanceConfigs": INSTANCE_CONFIG}.get(name, {})
            items = node.setdefault(name, [copy.deepcopy(first)])
            node = items[0]
        else:
            node = node.setdefault(name, {})
    name = parts[-1]
    node[name] = sample(SHAPES[path], name) if path in SHAPES else OWN_SAMPLES[name]
    return request, path.replace("[]", "[0]")


def test_every_botocore_member_is_classified() -> None:
    unclassified = [p for p in SHAPES if p not in MEMBERS]
    assert unclassified == [], "classify these in shared/tunestream/request_members.py"


def test_no_stale_entries() -> None:
    assert [p for p in MEMBERS if p not in SHAPES] == [], "botocore no longer has these"


def test_tunestreams_own_members_are_classified_too() -> None:
    own = [p for p in model_members(CreateTuningJobRequest) if p not in SHAPES]
    assert own == list(EXTENSIONS), "classify these in EXTENSIONS (shared/tunestream/request_members.py)"


def test_entries_are_well_formed() -> None:
    table = {**MEMBERS, **EXTENSIONS}
    for path, (kind, note) in table.items():
        assert kind in ("honoured", "refused", "inert"), path
        assert note.strip(), path
        head = path.rpartition(".")[0].removesuffix("[]")
        if head and table[head][0] in ("refused", "inert"):
            # A child cannot be given without its parent: it is the parent's class.
            assert kind == table[head][0], path


@pytest.mark.parametrize("path", outermost("refused"))
def test_refused_members_are_refused_by_name(path: str) -> None:
    request, where = with_member(path)
    job = CreateTuningJobRequest.model_validate(request)  # the model accepts it: validation refuses it
    with pytest.raises(InvalidTuningJob) as info:
        validate_request(job)
    named = [e for e in info.value.errors if e.field == where]
    assert named, f"{where} not named in {info.value.errors}"
    assert named[0].rule == REFUSED_RULE
    assert len(named[0].message) > 20  # says why


@pytest.mark.parametrize("path", outermost("inert"))
def test_inert_members_are_accepted_and_reported(path: str) -> None:
    request, where = with_member(path)
    job = CreateTuningJobRequest.model_validate(request)
    validate_request(job)
    assert inert_members(job.model_dump(mode="json", exclude_none=True)) == [where]


def test_a_request_without_inert_members_reports_none() -> None:
    assert inert_members(base_request()) == []


def test_inert_members_are_numbered_and_outermost() -> None:
    request = base_request()
    definition = request["TrainingJobDefinition"]
    definition["VpcConfig"] = {"Subnets": ["s"], "SecurityGroupIds": ["g"]}
    definition["RoleArn"] = "arn:aws:iam::1:role/r"
    definition["InputDataConfig"] = [copy.deepcopy(CHANNEL), copy.deepcopy(CHANNEL)]
    definition["InputDataConfig"][1]["ChannelName"] = "test"
    definition["InputDataConfig"][1]["DataSource"]["S3DataSource"]["ModelAccessConfig"] = {"AcceptEula": True}
    assert inert_members(request) == [
        "TrainingJobDefinition.RoleArn",
        "TrainingJobDefinition.InputDataConfig[1].DataSource.S3DataSource.ModelAccessConfig",
        "TrainingJobDefinition.VpcConfig",
    ]


def test_docs_page_is_rendered_from_the_table() -> None:
    page = ROOT / "docs" / "request-members.md"
    assert page.read_text() == render_markdown(), "run: python -m tunestream.request_members > docs/request-members.md"


def test_readme_summary_matches_the_table() -> None:
    readme = " ".join((ROOT / "README.md").read_text().split())
    c = counts()
    summary = (
        f"Of the {len(MEMBERS)} member paths of botocore's `CreateHyperParameterTuningJob` input, "
        f"{c['honoured']} are honoured, {c['refused']} refused"
    )
    assert summary in readme and f"and {c['inert']} inert" in readme
    refused = [p for p in outermost("refused") if p in MEMBERS]
    assert f"({len(refused)} members such as" in readme
    # Every inert member is named there: nothing AWS-only is accepted without README saying so.
    for path in outermost("inert"):
        if path in MEMBERS:
            assert f"`{path.rsplit('.', 1)[-1]}`" in readme, path
