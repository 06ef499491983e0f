"""What a training job costs besides its steps, measured from the tuning job's own records.

A worker slot is taken from a training job's proposal to its result. Part of that time trains
steps (the gaps between the program's reports); the rest is start and end: placement, the
launch, the program's imports and data loading, a checkpoint restored and synced, the exit.
Promotion Hyperband pays that overhead once per segment, so its first rung must be long enough
to be worth a start (promotion.py).
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Iterable
from dataclasses import dataclass

from tunestream.trials import TrainingJobRecord


@dataclass(frozen=True)
class SegmentCosts:
    step_s: float  # median seconds per reported step
    start_s: float  # median seconds of a training job's slot not spent between its reports
    segments: int  # ended training jobs measured


def step_seconds(record: TrainingJobRecord) -> list[float]:
    """Seconds per step between consecutive reports of one training job."""
    out = []
    pairs = list(zip(record.metric_history, record.metric_times, strict=False))
    for ((step_a, _), t_a), ((step_b, _), t_b) in itertools.pairwise(pairs):
        if step_b > step_a and t_b >= t_a:
            out.append((t_b - t_a) / (step_b - step_a))
    return out


def measure(records: Iterable[TrainingJobRecord]) -> SegmentCosts | None:
    """Over the ended training jobs with at least two reports: the median of their step times (each
    its median gap) and of their overheads (time from proposal to result, less their steps at their
    own pace). None without such a training job. Medians, not means: step times differ a hundredfold
    between configurations, and a mean (the total cost of steps) sized the first rung shorter and
    slower on the bench (docs/strategies.md)."""
    steps_s: list[float] = []
    overheads: list[float] = []
    for record in records:
        own = step_seconds(record)
        if not own or record.proposed_at is None or record.ended_at is None:
            continue
        pace = statistics.median(own)
        steps_s.append(pace)
        steps = record.metric_history[-1][0] - record.metric_history[0][0] + 1
        overheads.append(max(0.0, record.ended_at - record.proposed_at - steps * pace))
    if not overheads:
        return None
    return SegmentCosts(statistics.median(steps_s), statistics.median(overheads), len(overheads))


def first_rung(costs: SegmentCosts, min_resource: int, max_resource: int, start_share: float) -> int:
    """The smallest first rung >= MinResource whose steps take at least 1 / start_share of a start."""
    if costs.step_s <= 0:
        return max_resource
    # Times come in microseconds: a start of exactly 5 steps must not measure as 5.000001.
    wanted = math.ceil(costs.start_s / (start_share * costs.step_s) - 1e-3)
    return min(max(min_resource, wanted), max_resource)
