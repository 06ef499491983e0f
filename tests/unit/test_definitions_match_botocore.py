"""Every member botocore may send in CreateHyperParameterTuningJob is a field tunestream's request model knows,
so a boto3 request is never refused as "unknown field" for using part of SageMaker's API."""

from __future__ import annotations

import typing
from typing import Any

import botocore.session
from pydantic import BaseModel

from tunestream.definitions import CreateTuningJobRequest


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _unknown_members(shape: Any, model: type[BaseModel] | None, path: str) -> list[str]:
    if shape.type_name == "list":
        return _unknown_members(shape.member, model, f"{path}[]")
    if shape.type_name != "structure" or model is None:
        return []
    missing = []
    for name, member in shape.members.items():
        if name not in model.model_fields:
            missing.append(f"{path}.{name}")
        else:
            missing += _unknown_members(member, _model_in(model.model_fields[name].annotation), f"{path}.{name}")
    return missing


def test_every_botocore_member_of_the_request_is_known() -> None:
    service = botocore.session.get_session().get_service_model("sagemaker")
    shape = service.operation_model("CreateHyperParameterTuningJob").input_shape
    assert _unknown_members(shape, CreateTuningJobRequest, "") == []
