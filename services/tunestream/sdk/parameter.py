"""Hyperparameter ranges, as `sagemaker.parameter`: ContinuousParameter, IntegerParameter, CategoricalParameter.

Each turns into one entry of SageMaker's `ParameterRanges` (`as_tuning_range(name)`): bounds and
categorical values are sent as strings, as SageMaker sends them. tunestream passes hyperparameters to
the training program verbatim (no JSON encoding as SageMaker's framework containers expect), so
categorical values are `str(value)` for every estimator.
"""

from __future__ import annotations

import json
import math
from typing import Any, ClassVar

SCALING_TYPES = ("Auto", "Linear", "Logarithmic", "ReverseLogarithmic")


def _check_scaling(scaling_type: str) -> str:
    if scaling_type not in SCALING_TYPES:
        raise ValueError(f"scaling_type must be one of {', '.join(SCALING_TYPES)}, got {scaling_type!r}")
    return scaling_type


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool):
        raise TypeError(f"{what} must be a number, got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{what} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise ValueError(f"{what} must be finite, got {value!r}")
    return number


class ParameterRange:
    """A range between min_value and max_value, explored with `scaling_type`.

    scaling_type: 'Auto' (Logarithmic when min > 0 and max / min >= 100, else Linear), 'Linear',
    'Logarithmic' (min > 0) or 'ReverseLogarithmic' (continuous ranges within [0, 1)).
    """

    __all_types__: ClassVar[tuple[str, ...]] = ("Continuous", "Categorical", "Integer")
    range_type: ClassVar[str] = ""

    def __init__(self, min_value: Any, max_value: Any, scaling_type: str = "Auto") -> None:
        self.min_value = min_value
        self.max_value = max_value
        self.scaling_type = _check_scaling(scaling_type)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.min_value!r}, {self.max_value!r}, scaling_type={self.scaling_type!r})"

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and vars(other) == vars(self)

    __hash__ = None  # type: ignore[assignment]

    @classmethod
    def cast_to_type(cls, value: Any) -> Any:
        return float(value)

    def is_valid(self, value: Any) -> bool:
        try:
            low, high, x = (self.cast_to_type(v) for v in (self.min_value, self.max_value, value))
        except (TypeError, ValueError):
            return False
        return bool(low <= x <= high)

    def check(self, name: str) -> None:
        """Raise ValueError for a range no server would accept (min > max, log scale over non-positives)."""
        low = _number(self.min_value, f"{name}: min_value")
        high = _number(self.max_value, f"{name}: max_value")
        if low > high:
            raise ValueError(
                f"hyperparameter range {name!r}: min_value {self.min_value} exceeds max_value {self.max_value}"
            )
        if self.scaling_type == "Logarithmic" and low <= 0:
            raise ValueError(f"hyperparameter range {name!r}: Logarithmic scaling needs min_value > 0")

    def as_tuning_range(self, name: str) -> dict[str, Any]:
        return {
            "Name": name,
            "MinValue": _text(self.min_value),
            "MaxValue": _text(self.max_value),
            "ScalingType": self.scaling_type,
        }


class ContinuousParameter(ParameterRange):
    """A real-valued hyperparameter between min_value and max_value."""

    range_type: ClassVar[str] = "Continuous"

    @classmethod
    def cast_to_type(cls, value: Any) -> float:
        return float(value)


class IntegerParameter(ParameterRange):
    """An integer hyperparameter between min_value and max_value (both included)."""

    range_type: ClassVar[str] = "Integer"

    @classmethod
    def cast_to_type(cls, value: Any) -> int:
        return int(float(value)) if isinstance(value, str) else int(value)

    def check(self, name: str) -> None:
        super().check(name)
        for bound in (self.min_value, self.max_value):
            if float(bound) != int(float(bound)):
                raise ValueError(f"hyperparameter range {name!r}: integer bounds needed, got {bound!r}")
        if self.scaling_type == "ReverseLogarithmic":
            raise ValueError(f"hyperparameter range {name!r}: ReverseLogarithmic applies to continuous ranges only")


class CategoricalParameter(ParameterRange):
    """A hyperparameter taking one of `values` (strings, numbers or booleans; sent as strings)."""

    range_type: ClassVar[str] = "Categorical"

    def __init__(self, values: Any) -> None:
        items = list(values) if isinstance(values, list | tuple | set | frozenset) else [values]
        self.values = [_text(v) for v in items]

    def __repr__(self) -> str:
        return f"CategoricalParameter({self.values!r})"

    @classmethod
    def cast_to_type(cls, value: Any) -> str:
        return str(value)

    def is_valid(self, value: Any) -> bool:
        return _text(value) in self.values

    def check(self, name: str) -> None:
        if not self.values:
            raise ValueError(f"hyperparameter range {name!r}: CategoricalParameter needs at least one value")
        if len(set(self.values)) != len(self.values):
            raise ValueError(f"hyperparameter range {name!r}: a categorical value is listed twice: {self.values}")

    def as_tuning_range(self, name: str) -> dict[str, Any]:
        return {"Name": name, "Values": list(self.values)}

    def as_json_range(self, name: str) -> dict[str, Any]:
        """The values JSON-encoded, as SageMaker sends them to its framework containers."""
        return {"Name": name, "Values": [json.dumps(v) for v in self.values]}


def _text(value: Any) -> str:
    """A bound or value as SageMaker sends it: str(value)."""
    return value if isinstance(value, str) else str(value)


def range_from_shape(kind: str, shape: dict[str, Any]) -> ParameterRange:
    """One entry of a Describe response's ParameterRanges back into a ParameterRange (for attach).

    Bounds stay the text the job was created with, so the range is sent back unchanged."""
    if kind == "Categorical":
        return CategoricalParameter(shape["Values"])
    scaling = shape.get("ScalingType", "Auto")
    if kind == "Integer":
        return IntegerParameter(shape["MinValue"], shape["MaxValue"], scaling)
    return ContinuousParameter(shape["MinValue"], shape["MaxValue"], scaling)
