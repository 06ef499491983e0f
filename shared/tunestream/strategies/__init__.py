"""Search strategies: pure library code, no Kafka, no database."""

from __future__ import annotations

from tunestream.definitions import HyperParameterTuningJobConfigShape
from tunestream.space import SearchSpace
from tunestream.strategies.base import SearchStrategy
from tunestream.strategies.grid import GridSearch
from tunestream.strategies.random import RandomSearch

__all__ = ["GridSearch", "RandomSearch", "SearchStrategy", "make_strategy"]


def make_strategy(config: HyperParameterTuningJobConfigShape, space: SearchSpace, seed: int) -> SearchStrategy:
    """The strategy a tuning job's config names. The config must have passed validation."""
    if config.Strategy == "Grid":
        return GridSearch(space)
    if config.Strategy == "Random":
        assert config.ResourceLimits.MaxNumberOfTrainingJobs is not None
        return RandomSearch(space, seed, config.ResourceLimits.MaxNumberOfTrainingJobs)
    raise ValueError(f"Strategy {config.Strategy!r} is not available")
