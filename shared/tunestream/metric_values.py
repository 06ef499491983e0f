"""Metric values from output lines with SageMaker MetricDefinitions (name + regex): what the collector
reports and the launcher counts.

Values are parsed strictly (`parse_metric_value`): a decimal number in C-locale notation, optionally
signed, with an optional exponent (`0.95`, `-1.5e-3`, `+.5`, `1E6`). Anything else in the captured
group is not a value and the line reports nothing for that metric: locale commas (`0,95` would be
ambiguous with `1,000`), digit separators (`1_000`), non-ASCII digits, hex, text. NaN and infinity
(`nan`, `inf`, `-Infinity`, and numbers too large for a float such as `1e999`) are recognised but
never reported as metric values; when the objective metric's last value is one of them, the
training job's objective is Failed (as SageMaker marks a NaN objective), so it can never become
the best training job. `-0` is 0.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from tunestream.definitions import MetricDefinition
from tunestream.metric_regex import MetricRegex, UnsupportedRegex, compile_metric_regex

# A captured value longer than this is garbage, not a number.
MAX_VALUE_CHARS = 64
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_NON_FINITE = re.compile(r"[+-]?(?:nan|inf|infinity)", re.IGNORECASE)


@dataclass(frozen=True)
class Match:
    metric_name: str
    value: float
    step: int


def parse_metric_value(text: str | None) -> float | None:
    """The number `text` spells (surrounding blanks allowed), NaN or ±inf for those words and for
    overflowing numbers, None for anything else. Never raises."""
    if text is None:
        return None
    s = text.strip(" \t\r\n")
    if not s or len(s) > MAX_VALUE_CHARS:
        return None
    if _NUMBER.fullmatch(s):
        value = float(s)
        return 0.0 if value == 0 else value
    if _NON_FINITE.fullmatch(s):
        return float(s.lower().replace("infinity", "inf"))
    return None


@dataclass
class MetricExtractor:
    """Applies every definition to every line, as SageMaker does (search, first group), with RE2
    (tunestream.metric_regex: linear time, each line's first MATCH_CHARS characters).

    The step of a value is its ordinal among that metric's values in this training job (1, 2, ...),
    so a program printing one line per epoch gets epoch numbers for free; a training job resumed
    from another one's checkpoint counts on from `step_offset`, the other's last step. `last` holds each metric's
    last finite value; `non_finite` the metrics whose latest value was NaN or infinite (cleared by
    the next finite value).
    """

    definitions: list[MetricDefinition]
    step_offset: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    last: dict[str, float] = field(default_factory=dict)
    non_finite: dict[str, str] = field(default_factory=dict)
    unsupported: dict[str, str] = field(default_factory=dict)  # metric name -> a regex RE2 refused

    def __post_init__(self) -> None:
        self._compiled: list[tuple[str, MetricRegex]] = []
        for d in self.definitions:
            try:
                self._compiled.append((d.Name, compile_metric_regex(d.Regex)))
            except UnsupportedRegex:
                # Validation refuses these now; a tuning job accepted before RE2 may still hold one.
                # Its metric is never found, rather than matched by a backtracking engine.
                self.unsupported[d.Name] = d.Regex

    def feed(self, line: str) -> list[Match]:
        matches = []
        for name, pattern in self._compiled:
            text = pattern.first_group(line)
            value = parse_metric_value(text)
            if value is None:
                continue
            if not math.isfinite(value):
                self.non_finite[name] = str(text).strip()[:MAX_VALUE_CHARS]
                continue
            self.non_finite.pop(name, None)
            step = self.counts.get(name, self.step_offset) + 1
            self.counts[name] = step
            self.last[name] = value
            matches.append(Match(name, value, step))
        return matches
