"""Search strategies and early stoppers: pure library code, no Kafka, no database.

Each strategy is one module that declares itself to the registry (registry.py).
"""

from __future__ import annotations

from tunestream.strategies.base import EarlyStopper, SearchStrategy
from tunestream.strategies.registry import StrategyDefinition, StrategyInputs, StrategyParts

__all__ = ["EarlyStopper", "SearchStrategy", "StrategyDefinition", "StrategyInputs", "StrategyParts"]
