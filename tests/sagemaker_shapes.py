"""Checks a raw JSON 1.1 response body against botocore's SageMaker service model.

Independent of the api's own projection: it walks the model and the body side by side and lists
every member the model does not have, every required member that is missing, and every value of
the wrong JSON type (timestamps must be epoch-seconds numbers, botocore's JSON protocol default).
"""

from __future__ import annotations

import functools
from typing import Any

import botocore.session
from botocore.model import ServiceModel, Shape


@functools.cache
def sagemaker_model() -> ServiceModel:
    return botocore.session.get_session().get_service_model("sagemaker")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def shape_problems(value: Any, shape: Shape, path: str = "$") -> list[str]:
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            return [f"{path}: {shape.name} must be an object, got {type(value).__name__}"]
        problems = []
        members = shape.members
        for key, item in value.items():
            if key not in members:
                problems.append(f"{path}.{key}: not a member of {shape.name}")
            elif item is None:
                problems.append(f"{path}.{key}: null")
            else:
                problems.extend(shape_problems(item, members[key], f"{path}.{key}"))
        for key in shape.required_members:
            if key not in value:
                problems.append(f"{path}.{key}: required member of {shape.name} is missing")
        return problems
    if kind == "list":
        if not isinstance(value, list):
            return [f"{path}: {shape.name} must be a list, got {type(value).__name__}"]
        return [p for i, item in enumerate(value) for p in shape_problems(item, shape.member, f"{path}[{i}]")]
    if kind == "map":
        if not isinstance(value, dict):
            return [f"{path}: {shape.name} must be a map, got {type(value).__name__}"]
        problems = []
        for key, item in value.items():
            if not isinstance(key, str):
                problems.append(f"{path}: map key {key!r} is not a string")
            problems.extend(shape_problems(item, shape.value, f"{path}.{key}"))
        return problems
    if kind == "string":
        if not isinstance(value, str):
            return [f"{path}: must be a string, got {value!r}"]
        enum = shape.enum
        if enum and value not in enum:
            return [f"{path}: {value!r} is not one of {shape.name}'s values {enum}"]
        return []
    if kind in ("integer", "long"):
        return [] if isinstance(value, int) and not isinstance(value, bool) else [f"{path}: must be an integer"]
    if kind in ("float", "double"):
        return [] if _is_number(value) else [f"{path}: must be a number, got {value!r}"]
    if kind == "boolean":
        return [] if isinstance(value, bool) else [f"{path}: must be a boolean, got {value!r}"]
    if kind == "timestamp":
        return [] if _is_number(value) else [f"{path}: a timestamp must be epoch seconds, got {value!r}"]
    return [f"{path}: unexpected shape type {kind}"]


def assert_output_shape(operation: str, body: Any) -> None:
    """Fail listing every problem of `body` as the output of `operation` (e.g. "DescribeTrainingJob")."""
    shape = sagemaker_model().operation_model(operation).output_shape
    if shape is None:
        assert body == {}, f"{operation} has no output, got {body!r}"
        return
    problems = shape_problems(body, shape)
    assert not problems, f"{operation}: " + "\n".join(problems)
