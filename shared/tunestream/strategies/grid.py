"""Grid search: every combination of categorical values and integer values."""

from __future__ import annotations

import math
from collections.abc import Sequence

from tunestream.field_errors import FieldError
from tunestream.space import (
    DEFINITION_PARAM,
    CategoricalParam,
    ContinuousParam,
    IntegerParam,
    Param,
    SearchSpace,
    resting_value,
)
from tunestream.strategies.registry import StrategyDefinition, StrategyInputs, StrategyParts, auto_stopper
from tunestream.trials import Proposal, TrainingJobRecord

CONFIG = "HyperParameterTuningJobConfig"


class GridSearch:
    """Combinations in lexicographic order over the space's parameter order (integer ranges, then
    categorical ranges, each as listed by the user); the last parameter varies fastest, values
    in the order given (integers ascending). With several TrainingJobDefinitions: each definition's
    own grid in turn, in the order the definitions were given."""

    # Only warm-start records (index < 0) matter to it: the suggester passes just those.
    reads_history = False

    def __init__(self, space: SearchSpace) -> None:
        self._space = space
        # (definition or None, its parameters, their axes), one block per definition.
        self._blocks: list[tuple[str | None, list[Param], list[list[int | str]]]] = []
        groups = (
            [(b.definition, space.branch_params(b)) for b in space.branches]
            if space.branches
            else [(None, list(space.params))]
        )
        for definition, params in groups:
            axes: list[list[int | str]] = []
            for p in params:
                if isinstance(p, CategoricalParam):
                    axes.append(list(p.choices))
                elif isinstance(p, IntegerParam):
                    axes.append(list(p.values()))
                else:
                    raise ValueError(f"Grid search cannot enumerate continuous range {p.name!r}")
            self._blocks.append((definition, params, axes))
        self._size = space.grid_size()

    def max_training_jobs(self) -> int:
        return self._size

    def propose(self, index: int, history: Sequence[TrainingJobRecord]) -> Proposal:
        if not 0 <= index < self._size:
            raise IndexError(f"grid has {self._size} combinations; no combination {index}")
        rest, block = index, 0
        while rest >= (size := math.prod(len(a) for a in self._blocks[block][2])):
            rest -= size
            block += 1
        definition, params, axes = self._blocks[block]
        values: dict[str, int | float | str] = {p.name: resting_value(p) for p in self._space.params}
        if definition is not None:
            values[DEFINITION_PARAM] = definition
        for p, axis in reversed(list(zip(params, axes, strict=True))):
            rest, position = divmod(rest, len(axis))
            values[p.name] = axis[position]
        return Proposal(index=index, values=values, reason=f"grid combination {index + 1} of {self._size}")


def _validate(inputs: StrategyInputs) -> list[FieldError]:
    errors: list[FieldError] = []
    space, limits = inputs.space, inputs.config.ResourceLimits
    continuous = [p.name for p in space.params if isinstance(p, ContinuousParam)]
    if continuous:
        errors.append(
            FieldError(
                f"{CONFIG}.ParameterRanges.ContinuousParameterRanges",
                "grid-discrete",
                f"Grid search needs categorical or integer ranges; continuous: {', '.join(continuous)}",
            )
        )
    elif space.params:
        size = space.grid_size()
        if limits.MaxNumberOfTrainingJobs is not None and limits.MaxNumberOfTrainingJobs != size:
            errors.append(
                FieldError(
                    f"{CONFIG}.ResourceLimits.MaxNumberOfTrainingJobs",
                    "grid-size",
                    f"Grid search runs every combination: {size} training jobs, "
                    f"but MaxNumberOfTrainingJobs is {limits.MaxNumberOfTrainingJobs}",
                )
            )
        if limits.MaxParallelTrainingJobs > size:
            errors.append(
                FieldError(
                    f"{CONFIG}.ResourceLimits.MaxParallelTrainingJobs",
                    "parallel<=max",
                    f"MaxParallelTrainingJobs {limits.MaxParallelTrainingJobs} exceeds the {size} grid combinations",
                )
            )
    if inputs.warm_start is not None:
        errors.append(
            FieldError("WarmStartConfig", "grid", "Grid search runs every combination; it takes no warm start")
        )
    return errors


STRATEGY = StrategyDefinition(
    name="Grid",
    build=lambda inputs: StrategyParts(GridSearch(inputs.space), auto_stopper(inputs)),
    validate=_validate,
    needs_max_jobs=False,
    summary="every combination of the categorical and integer ranges, in a fixed order",
)
