"""The search space: typed hyperparameter ranges and their map to and from the unit cube.

Every strategy samples or models in [0, 1]^d and converts back with `SearchSpace.from_unit`, so
scaling (Linear, Logarithmic, ReverseLogarithmic) is decided once, here.

`Auto` scaling is resolved when the space is built: Logarithmic when the range is strictly
positive and spans at least two orders of magnitude (MaxValue / MinValue >= 100), Linear otherwise.
SageMaker leaves the choice to the service; this rule is tunestream's and is documented in docs/job-json.md.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

Scaling = Literal["Linear", "Logarithmic", "ReverseLogarithmic"]
AUTO_LOG_RATIO = 100.0


@dataclass(frozen=True)
class ContinuousParam:
    name: str
    low: float
    high: float
    scaling: Scaling = "Linear"

    def from_unit(self, u: float) -> float:
        u = min(max(u, 0.0), 1.0)
        if self.low == self.high:
            return self.low
        if self.scaling == "Logarithmic":
            value = math.exp(math.log(self.low) + u * (math.log(self.high) - math.log(self.low)))
        elif self.scaling == "ReverseLogarithmic":
            # Log scale on 1 - x: values crowd towards `high`, which suits momentum-like ranges near 1.
            a, b = math.log(1.0 - self.high), math.log(1.0 - self.low)
            value = 1.0 - math.exp(b + u * (a - b))
        else:
            value = self.low + u * (self.high - self.low)
        # exp(log(x)) can land a rounding error outside the range the user gave.
        return float(min(max(value, self.low), self.high))

    def to_unit(self, value: float) -> float:
        if self.low == self.high:
            return 0.0
        if self.scaling == "Logarithmic":
            return (math.log(value) - math.log(self.low)) / (math.log(self.high) - math.log(self.low))
        if self.scaling == "ReverseLogarithmic":
            a, b = math.log(1.0 - self.high), math.log(1.0 - self.low)
            return (math.log(1.0 - value) - b) / (a - b)
        return (value - self.low) / (self.high - self.low)

    def format(self, value: float) -> str:
        return repr(float(value))


@dataclass(frozen=True)
class IntegerParam:
    name: str
    low: int
    high: int
    scaling: Scaling = "Linear"

    def from_unit(self, u: float) -> int:
        # Each integer owns an equal slice of the (possibly log-scaled) interval [low - 0.5, high + 0.5].
        u = min(max(u, 0.0), 1.0)
        if self.scaling == "Logarithmic":
            lo, hi = math.log(self.low - 0.5) if self.low > 0.5 else math.log(self.low), math.log(self.high + 0.5)
            x = math.exp(lo + u * (hi - lo))
        else:
            x = (self.low - 0.5) + u * (self.high - self.low + 1.0)
        return int(min(max(round(x), self.low), self.high))

    def to_unit(self, value: int) -> float:
        if self.scaling == "Logarithmic":
            lo = math.log(self.low - 0.5) if self.low > 0.5 else math.log(self.low)
            hi = math.log(self.high + 0.5)
            return (math.log(value) - lo) / (hi - lo)
        return (value - self.low + 0.5) / (self.high - self.low + 1.0)

    def values(self) -> list[int]:
        return list(range(self.low, self.high + 1))

    def format(self, value: int) -> str:
        return str(int(value))


@dataclass(frozen=True)
class CategoricalParam:
    name: str
    choices: tuple[str, ...]

    def from_unit(self, u: float) -> str:
        index = min(int(min(max(u, 0.0), 1.0) * len(self.choices)), len(self.choices) - 1)
        return self.choices[index]

    def to_unit(self, value: str) -> float:
        return (self.choices.index(value) + 0.5) / len(self.choices)

    def format(self, value: str) -> str:
        return value


Param = ContinuousParam | IntegerParam | CategoricalParam


# Several TrainingJobDefinitions: the definition a training job runs is one more (categorical)
# dimension of the space, and each definition's ranges are dimensions named "<definition>:<name>"
# (DefinitionName allows no colon, so the first one splits them again).
DEFINITION_PARAM = "TrainingJobDefinitionName"


def joint_name(definition: str, name: str) -> str:
    return f"{definition}:{name}"


@dataclass(frozen=True)
class Branch:
    """One TrainingJobDefinition's dimensions in a joint space (by their joint names)."""

    definition: str
    names: tuple[str, ...]


@dataclass(frozen=True)
class SearchSpace:
    """Tuned hyperparameters in a fixed order: integer, then continuous, then categorical ranges,
    each in the order the user listed them. Strategies rely on this order being stable.

    With `branches` (several TrainingJobDefinitions) the space is joint: every strategy samples and
    models all of it, and a configuration's dimensions of the definitions it does not run hold a
    fixed value (`join`), so a model sees them as constant within each definition."""

    params: tuple[Param, ...]
    branches: tuple[Branch, ...] = ()

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.params]

    def from_unit(self, point: Sequence[float]) -> dict[str, int | float | str]:
        return {p.name: p.from_unit(u) for p, u in zip(self.params, point, strict=True)}

    def to_unit(self, values: Mapping[str, int | float | str]) -> list[float]:
        return [p.to_unit(values[p.name]) for p in self.params]  # type: ignore[arg-type]

    def parse(self, values: Mapping[str, str]) -> dict[str, int | float | str]:
        """Typed values from the strings a training job was given (the inverse of `format`)."""
        parsed: dict[str, int | float | str] = {}
        for p in self.params:
            text = values[p.name]
            parsed[p.name] = (
                int(text) if isinstance(p, IntegerParam) else float(text) if isinstance(p, ContinuousParam) else text
            )
        return parsed

    def parse_if_inside(self, values: Mapping[str, str]) -> dict[str, int | float | str] | None:
        """Typed values when every tuned parameter is there and inside its range, else None."""
        try:
            parsed = self.parse(values)
        except (KeyError, ValueError):
            return None
        for p in self.params:
            v = parsed[p.name]
            if isinstance(p, CategoricalParam):
                if v not in p.choices:
                    return None
            elif not p.low <= v <= p.high:  # type: ignore[operator]
                return None
        return parsed

    def format(self, values: Mapping[str, int | float | str]) -> dict[str, str]:
        """Hyperparameter values as the strings SageMaker hands to a training job."""
        return {p.name: p.format(values[p.name]) for p in self.params}  # type: ignore[arg-type]

    def grid_size(self) -> int:
        if self.branches:
            return sum(_grid_size(self.branch_params(b)) for b in self.branches)
        return _grid_size(self.params)

    def param(self, name: str) -> Param:
        return next(p for p in self.params if p.name == name)

    def branch_params(self, branch: Branch) -> list[Param]:
        return [self.param(n) for n in branch.names]

    def branch(self, definition: str) -> Branch:
        return next(b for b in self.branches if b.definition == definition)

    def split(self, formatted: Mapping[str, str]) -> tuple[str | None, dict[str, str]]:
        """The definition a configuration runs (None with one definition) and its own tuned values."""
        if not self.branches:
            return None, dict(formatted)
        definition = formatted[DEFINITION_PARAM]
        names = self.branch(definition).names
        return definition, {n.split(":", 1)[1]: formatted[n] for n in names}

    def join(self, definition: str | None, tuned: Mapping[str, str]) -> dict[str, str]:
        """The inverse of `split`: the other definitions' dimensions at their fixed value."""
        if definition is None or not self.branches:
            return dict(tuned)
        own = {joint_name(definition, k): v for k, v in tuned.items()}
        joined: dict[str, str] = {}
        for p in self.params:
            if p.name == DEFINITION_PARAM:
                joined[p.name] = definition
            elif p.name in own:
                joined[p.name] = own[p.name]
            else:
                joined[p.name] = p.format(resting_value(p))  # type: ignore[arg-type]
        return joined


def resting_value(p: Param) -> int | float | str:
    """What a dimension of a definition a configuration does not run holds: its lowest value."""
    if isinstance(p, CategoricalParam):
        return p.choices[0]
    return p.low


def _grid_size(params: Sequence[Param]) -> int:
    size = 1
    for p in params:
        if isinstance(p, CategoricalParam):
            size *= len(p.choices)
        elif isinstance(p, IntegerParam):
            size *= p.high - p.low + 1
        else:
            raise ValueError(f"continuous range {p.name!r} has no grid")
    return size


def resolve_scaling(requested: str, low: float, high: float) -> Scaling:
    if requested == "Auto":
        return "Logarithmic" if low > 0 and high / low >= AUTO_LOG_RATIO else "Linear"
    if requested in ("Linear", "Logarithmic", "ReverseLogarithmic"):
        return requested  # type: ignore[return-value]
    raise ValueError(f"unknown ScalingType {requested!r}")
