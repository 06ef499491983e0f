"""Every search strategy, each declared by its own module in this package.

A strategy module holds a module-level `STRATEGY = StrategyDefinition(...)`: its SageMaker name,
the rules it adds to request validation, how it builds its proposer and early stopper, whether
a warm start's parent results reach its proposer, and which proposal details are wall-clock
timings (replay ignores those). The registry finds the modules by scanning the package, so adding
a strategy means adding its module: validation, the suggester and replay ask the registry.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field

from tunestream.definitions import HyperParameterTuningJobConfigShape, TrainingJobDefinitionShape, WarmStartConfigShape
from tunestream.field_errors import FieldError
from tunestream.space import SearchSpace
from tunestream.strategies.base import EarlyStopper, SearchStrategy
from tunestream.strategies.median import MedianStopper


@dataclass(frozen=True)
class StrategyInputs:
    """What a strategy is built from: the tuning job's config and definition, its space and seed."""

    config: HyperParameterTuningJobConfigShape
    definition: TrainingJobDefinitionShape | None
    space: SearchSpace
    seed: int = 0
    warm_start: WarmStartConfigShape | None = None
    # Several TrainingJobDefinitions: all of them (`definition` is the first, which a strategy that
    # reads the definition must be able to take for all: its validate says so).
    definitions: tuple[TrainingJobDefinitionShape, ...] = ()

    @property
    def maximize(self) -> bool:
        objective = self.config.HyperParameterTuningJobObjective
        return objective is not None and objective.Type == "Maximize"

    @property
    def max_jobs(self) -> int:
        """ResourceLimits.MaxNumberOfTrainingJobs; validation guarantees it where the strategy needs it."""
        value = self.config.ResourceLimits.MaxNumberOfTrainingJobs
        assert value is not None
        return value


@dataclass(frozen=True)
class StrategyParts:
    """A built strategy: what proposes configurations and what stops training jobs early. The
    proposer may hold the stopper to read what it knows (brackets, rungs)."""

    proposer: SearchStrategy
    stopper: EarlyStopper | None
    # Proposes ahead though its definition does not always (Hyperband only with model proposals).
    proposes_ahead: bool = False


def no_rules(inputs: StrategyInputs) -> list[FieldError]:
    return []


def parents_when_identical(warm: WarmStartConfigShape) -> bool:
    """Parents' results reach the proposer only as configurations to skip, and only when the
    parents ran the same data and algorithm (IdenticalDataAndAlgorithm)."""
    return warm.WarmStartType == "IdenticalDataAndAlgorithm"


def parents_always(warm: WarmStartConfigShape) -> bool:
    """Parents' results are observations for the proposer's model, whichever WarmStartType."""
    return True


@dataclass(frozen=True)
class StrategyDefinition:
    name: str  # HyperParameterTuningJobConfig.Strategy
    build: Callable[[StrategyInputs], StrategyParts]
    validate: Callable[[StrategyInputs], list[FieldError]] = no_rules
    uses_parents: Callable[[WarmStartConfigShape], bool] = parents_when_identical
    timing_details: tuple[str, ...] = ()
    # False when the strategy itself decides how many training jobs run (Grid: every combination).
    needs_max_jobs: bool = True
    # The StrategyConfig member it reads (e.g. "HyperbandStrategyConfig"); None: it takes none.
    strategy_config: str | None = None
    # Whether the suggester computes its next proposal while every slot is busy (see
    # TuningJobState.ahead_request): for proposers slow enough that a worker would wait for them.
    proposes_ahead: bool = False
    summary: str = field(default="", compare=False)


def auto_stopper(inputs: StrategyInputs) -> EarlyStopper | None:
    """TrainingJobEarlyStoppingType=Auto: SageMaker's median rule; Off: none."""
    return MedianStopper(inputs.maximize) if inputs.config.TrainingJobEarlyStoppingType == "Auto" else None


@functools.cache
def registered() -> dict[str, StrategyDefinition]:
    """Name -> definition, for every module of this package that declares STRATEGY."""
    import tunestream.strategies as package

    found: dict[str, StrategyDefinition] = {}
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        definition = getattr(module, "STRATEGY", None)
        if isinstance(definition, StrategyDefinition):
            if definition.name in found:
                raise RuntimeError(f"two modules declare strategy {definition.name!r}")
            found[definition.name] = definition
    return found


def names() -> list[str]:
    return sorted(registered())


def lookup(name: str) -> StrategyDefinition | None:
    return registered().get(name)


def build(
    config: HyperParameterTuningJobConfigShape, definition: TrainingJobDefinitionShape, space: SearchSpace, seed: int
) -> StrategyParts:
    """The proposer and stopper a validated tuning job's config names."""
    strategy = lookup(config.Strategy)
    if strategy is None:
        raise ValueError(f"Strategy {config.Strategy!r} is not available")
    return strategy.build(StrategyInputs(config, definition, space, seed))


def timing_details() -> frozenset[str]:
    """Proposal details of every strategy that measure wall-clock time, not the decision."""
    return frozenset(k for s in registered().values() for k in s.timing_details)
