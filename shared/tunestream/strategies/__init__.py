"""Search strategies and early stoppers: pure library code, no Kafka, no database."""

from __future__ import annotations

from tunestream.definitions import HyperParameterTuningJobConfigShape, TrainingJobDefinitionShape
from tunestream.space import SearchSpace
from tunestream.strategies.asha import AshaStopper
from tunestream.strategies.base import EarlyStopper, SearchStrategy
from tunestream.strategies.grid import GridSearch
from tunestream.strategies.median import MedianStopper
from tunestream.strategies.random import RandomSearch

__all__ = [
    "AshaStopper",
    "EarlyStopper",
    "GridSearch",
    "MedianStopper",
    "RandomSearch",
    "SearchStrategy",
    "hyperband_resources",
    "make_early_stopper",
    "make_strategy",
]

EPOCH_HYPERPARAMETERS = ("epochs", "num_epochs", "n_epochs")


def make_strategy(config: HyperParameterTuningJobConfigShape, space: SearchSpace, seed: int) -> SearchStrategy:
    """The strategy a tuning job's config names. The config must have passed validation."""
    if config.Strategy == "Grid":
        return GridSearch(space)
    max_jobs = config.ResourceLimits.MaxNumberOfTrainingJobs
    assert max_jobs is not None
    if config.Strategy in ("Random", "Hyperband"):
        return RandomSearch(space, seed, max_jobs)
    if config.Strategy == "Bayesian":
        from tunestream.strategies.bayesian import BayesianSearch  # imports torch only when used

        objective = config.HyperParameterTuningJobObjective
        assert objective is not None
        return BayesianSearch(space, seed, max_jobs, maximize=objective.Type == "Maximize")
    raise ValueError(f"Strategy {config.Strategy!r} is not available")


def hyperband_resources(
    config: HyperParameterTuningJobConfigShape, definition: TrainingJobDefinitionShape
) -> tuple[int, int | None]:
    """(MinResource, MaxResource); MaxResource falls back to a static epochs hyperparameter, as in SageMaker."""
    hb = config.StrategyConfig.HyperbandStrategyConfig if config.StrategyConfig else None
    min_resource = hb.MinResource if hb and hb.MinResource else 1
    max_resource = hb.MaxResource if hb and hb.MaxResource else None
    if max_resource is None:
        for name in EPOCH_HYPERPARAMETERS:
            value = definition.StaticHyperParameters.get(name)
            if value is not None and value.strip().isdigit():
                max_resource = int(value)
                break
    return min_resource, max_resource


def make_early_stopper(
    config: HyperParameterTuningJobConfigShape, definition: TrainingJobDefinitionShape, seed: int
) -> EarlyStopper | None:
    """Hyperband's ASHA stopper, the median rule for TrainingJobEarlyStoppingType=Auto, or none."""
    assert config.HyperParameterTuningJobObjective is not None
    maximize = config.HyperParameterTuningJobObjective.Type == "Maximize"
    if config.Strategy == "Hyperband":
        min_resource, max_resource = hyperband_resources(config, definition)
        assert max_resource is not None
        return AshaStopper(min_resource, max_resource, maximize, seed)
    if config.TrainingJobEarlyStoppingType == "Auto":
        return MedianStopper(maximize)
    return None
