"""Users' metric regexes (MetricDefinitions[].Regex), run by RE2.

A MetricDefinition's regex meets every line its training program prints. Python's `re` backtracks:
a pattern with nested quantifiers, such as `(\\w+\\s?)*=([0-9.]+)`, takes time exponential in a line
that nearly matches, and one such line once held a launcher's event loop (and every other tuning
job's training jobs on it) for good. RE2 (google-re2) matches in time linear in the text whatever
the pattern; what it cannot run that way (backreferences, lookaround) it refuses to compile, which
validation turns into an error naming the MetricDefinition before the tuning job is accepted.

A line is matched on its first MATCH_CHARS characters (the log keeps the whole line), so even
linear work per line is bounded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import re2

# SageMaker's metric lines are short; a value printed after 64 KiB of one line is not looked for.
MATCH_CHARS = 65_536
# RE2's memory for one compiled pattern; a pattern whose automaton needs more is refused.
MAX_PATTERN_MEMORY = 8 << 20


class UnsupportedRegex(ValueError):
    """The pattern does not compile, or needs what RE2 does not do in linear time."""

    def __init__(self, reason: str, *, python_accepts: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        # True when Python's re would take it: valid, but beyond what RE2 runs.
        self.python_accepts = python_accepts


def _options() -> Any:
    options = re2.Options()
    options.log_errors = False  # the reason reaches the user in the exception, not on stderr
    options.max_mem = MAX_PATTERN_MEMORY
    return options


@dataclass(frozen=True)
class MetricRegex:
    pattern: str
    _compiled: Any

    @property
    def groups(self) -> int:
        return int(self._compiled.groups)

    def search(self, line: str) -> Any:
        """RE2's match object for the first match in the line's first MATCH_CHARS characters, or None."""
        return self._compiled.search(line[:MATCH_CHARS])

    def first_group(self, line: str) -> str | None:
        """The text of the first capturing group (SageMaker's rule), None without a match or group."""
        found = self.search(line)
        if found is None or self.groups < 1:
            return None
        group = found.group(1)
        return group if isinstance(group, str) else None


def compile_metric_regex(pattern: str) -> MetricRegex:
    try:
        return MetricRegex(pattern, re2.compile(pattern, _options()))
    except re2.error as exc:
        detail = exc.args[0].decode(errors="replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        try:
            re.compile(pattern)
        except re.error as python_exc:
            raise UnsupportedRegex(f"does not compile: {python_exc}", python_accepts=False) from None
        raise UnsupportedRegex(
            f"RE2 refuses it: {detail}. tunestream runs metric regexes with RE2, in time linear in each "
            "line; RE2 has no backreferences or lookaround and bounds repetition counts and pattern size",
            python_accepts=True,
        ) from None
