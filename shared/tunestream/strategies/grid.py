"""Grid search: every combination of categorical values and integer values."""

from __future__ import annotations

from collections.abc import Sequence

from tunestream.field_errors import FieldError
from tunestream.space import CategoricalParam, ContinuousParam, IntegerParam, SearchSpace
from tunestream.strategies.registry import StrategyDefinition, StrategyInputs, StrategyParts, auto_stopper
from tunestream.trials import Proposal, TrainingJobRecord

CONFIG = "HyperParameterTuningJobConfig"


class GridSearch:
    """Combinations in lexicographic order over the space's parameter order (integer ranges, then
    categorical ranges, each as listed by the user); the last parameter varies fastest, values
    in the order given (integers ascending)."""

    # Only warm-start records (index < 0) matter to it: the suggester passes just those.
    reads_history = False

    def __init__(self, space: SearchSpace) -> None:
        self._space = space
        self._axes: list[list[int | str]] = []
        for p in space.params:
            if isinstance(p, CategoricalParam):
                self._axes.append(list(p.choices))
            elif isinstance(p, IntegerParam):
                self._axes.append(list(p.values()))
            else:
                raise ValueError(f"Grid search cannot enumerate continuous range {p.name!r}")
        self._size = space.grid_size()

    def max_training_jobs(self) -> int:
        return self._size

    def propose(self, index: int, history: Sequence[TrainingJobRecord]) -> Proposal:
        if not 0 <= index < self._size:
            raise IndexError(f"grid has {self._size} combinations; no combination {index}")
        values: dict[str, int | float | str] = {}
        rest = index
        for p, axis in reversed(list(zip(self._space.params, self._axes, strict=True))):
            rest, position = divmod(rest, len(axis))
            values[p.name] = axis[position]
        ordered = {p.name: values[p.name] for p in self._space.params}
        return Proposal(index=index, values=ordered, reason=f"grid combination {index + 1} of {self._size}")


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
