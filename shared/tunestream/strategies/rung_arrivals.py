"""Which rungs each segment of a configuration's training crossed, and its value there.

With promotion's Pausing "WhenBehind" one training job may train across several rungs, so a rung's
record (what ASHA ranks) is every segment that crossed it, not only the ones paused there.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from tunestream.trials import TrainingJobRecord, TrainingJobStatus

# (rung, the value there, the position in metric_history of the report that crossed it)
Crossing = tuple[int, float, int]


def segment_start(record: TrainingJobRecord, by_name: Mapping[str, TrainingJobRecord]) -> int:
    """The step a segment starts after: 0, or the last step of the segment it resumes."""
    if record.resume_from is None:
        return 0
    resumed = by_name.get(record.resume_from)
    return resumed.metric_history[-1][0] if resumed is not None and resumed.metric_history else 0


def crossings(record: TrainingJobRecord, rungs: Sequence[int], start: int) -> list[Crossing]:
    """Every rung below the top, or the segment's own resource limit below it (a calibration step),
    that the segment trained across after `start`: its value there is its first report at or past
    the rung, so a program that reports every few steps is judged where it reported."""
    keys = set(rungs[:-1])
    if record.resource_limit is not None and record.resource_limit < rungs[-1]:
        keys.add(record.resource_limit)
    out = []
    previous = start
    for position, (step, value) in enumerate(record.metric_history):
        passed = [k for k in keys if previous < k <= step]
        if passed and not math.isnan(value):
            out.append((max(passed), value, position))
        previous = max(previous, step)
    return out


class RungArrivals:
    """Rung records over a tuning job's segments. Memoised per segment and history length: a
    segment's history only grows, and where it starts is fixed once the segment it resumes ended,
    so the memo never changes an answer (the strategy stays a function of its records)."""

    def __init__(self) -> None:
        # name -> (what the answer was computed from, the answer); one entry per segment
        self._memo: dict[str, tuple[tuple[object, ...], list[Crossing]]] = {}
        self._by_name: dict[str, TrainingJobRecord] = {}

    def crossed(self, record: TrainingJobRecord, rungs: Sequence[int]) -> list[Crossing]:
        start = segment_start(record, self._by_name)
        newest = record.metric_history[-1] if record.metric_history else None
        key = (len(record.metric_history), newest, record.resource_limit, tuple(rungs), start)
        found = self._memo.get(record.name)
        if found is None or found[0] != key:
            found = self._memo[record.name] = (key, crossings(record, rungs, start))
        return found[1]

    def at_rungs(
        self, own: Sequence[TrainingJobRecord], rungs: Sequence[int]
    ) -> dict[int, list[tuple[TrainingJobRecord, float]]]:
        """Every segment that trained across each rung below the top, with its value there."""
        self._by_name = {h.name: h for h in own}
        reached: dict[int, list[tuple[TrainingJobRecord, float]]] = {}
        for h in own:
            for rung, value, _ in self.crossed(h, rungs):
                reached.setdefault(rung, []).append((h, value))
        return reached

    def paused_at(self, record: TrainingJobRecord, rungs: Sequence[int]) -> int | None:
        """The rung a segment that ended below the top waits at to be resumed (the last it crossed),
        or None: running, failed, finished, or ended by its program before its limit. Uses the
        segments of the last at_rungs call."""
        if (
            record.status not in (TrainingJobStatus.COMPLETED, TrainingJobStatus.STOPPED)
            or record.objective is None
            or math.isnan(record.objective)
            or not record.metric_history
        ):
            return None
        last = record.metric_history[-1][0]
        if last >= rungs[-1]:
            return None
        if record.status is TrainingJobStatus.COMPLETED and (
            record.resource_limit is None or last < record.resource_limit
        ):
            return None
        crossed = self.crossed(record, rungs)
        return crossed[-1][0] if crossed else None
