"""Metric extraction from output lines with SageMaker MetricDefinitions (name + regex)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from tunestream.definitions import MetricDefinition


@dataclass(frozen=True)
class Match:
    metric_name: str
    value: float
    step: int


@dataclass
class MetricExtractor:
    """Applies every definition to every line, as SageMaker does (re.search, first group).

    The step of a value is its ordinal among that metric's values in this training job (1, 2, ...),
    so a program printing one line per epoch gets epoch numbers for free.
    """

    definitions: list[MetricDefinition]
    counts: dict[str, int] = field(default_factory=dict)
    last: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._compiled = [(d.Name, re.compile(d.Regex)) for d in self.definitions]

    def feed(self, line: str) -> list[Match]:
        matches = []
        for name, pattern in self._compiled:
            found = pattern.search(line)
            if not found:
                continue
            try:
                value = float(found.group(1))
            except (TypeError, ValueError):
                continue
            if not math.isfinite(value):
                continue
            step = self.counts.get(name, 0) + 1
            self.counts[name] = step
            self.last[name] = value
            matches.append(Match(name, value, step))
        return matches
