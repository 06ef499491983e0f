"""Where a run's time to a target goes: finding a configuration that can get there, or training it.

The clairvoyant's ceiling (ceiling.py) says how much faster than Random a method could be. This
says which part of the gap a method could still close by searching better. For one simulated run it
records every training job started and splits the time to the target in two:

- **search**: when the method started the first configuration able to reach the target at an epoch
  where one of its training jobs may end (an epoch it asked a training job to train to: a rung of
  promotion Hyperband; MaxResource for a method that sets no limit), so that a job's last value can
  reach it (SageMaker's rule);
- **training**: the seconds that configuration itself needs to get there.

A method whose time is mostly search gains from better proposals; one whose time is mostly the first
able configuration's own training gains only by choosing cheaper ones, or by training several at
once. The split also says how often that first configuration is the one that reaches the target
first (the rest were passed over at a rung, or beaten by a faster one).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from tunestream.bench.methods import Method, MethodFactory, Start, Task
from tunestream.bench.tables import CurveRow, CurveTable


@dataclass(frozen=True)
class Split:
    time_to_target: float  # inf: never
    first_able_at: float  # when the first able configuration started (inf: none started)
    its_training_s: float  # what it needs to train to its first end at or beyond the target (nan: none)
    first_able_reached: bool  # it was the configuration whose job reached the target first


@dataclass
class Recorder:
    """Wraps a method: every training job started (when, what) and when each ended with what value."""

    method: Method
    starts: dict[str, tuple[float, Start]] = field(default_factory=dict)
    ends: dict[str, tuple[float, float | None]] = field(default_factory=dict)
    name: str = ""

    def __post_init__(self) -> None:
        self.name = self.method.name

    def ask(self, now: float) -> Start | None:
        start = self.method.ask(now)
        if start is not None:
            self.starts[start.trial_id] = (now, start)
        return start

    def report(self, trial_id: str, epoch: int, value: float, now: float) -> bool:
        return self.method.report(trial_id, epoch, value, now)

    def finish(self, trial_id: str, last_value: float | None, stopped: bool, now: float) -> None:
        self.ends[trial_id] = (now, last_value)
        self.method.finish(trial_id, last_value, stopped, now)

    def configuration_of(self, trial_id: str) -> str:
        """The training job that began the configuration `trial_id` trains (itself unless resumed)."""
        _, start = self.starts[trial_id]
        return trial_id if start.resume is None else self.configuration_of(start.resume)


def recording(factory: MethodFactory) -> tuple[MethodFactory, list[Recorder]]:
    """A factory whose methods record what they start; the recorders in the order they were made."""
    made: list[Recorder] = []

    def make(task: Task, seed: int, workers: int) -> Recorder:
        recorder = Recorder(factory(task, seed, workers))
        made.append(recorder)
        return recorder

    return make, made


def able_time(row: CurveRow, target: float, table: CurveTable, ends: Sequence[int]) -> float | None:
    """Seconds `row` trains to the first of `ends` (epochs, 1-based) where its value reaches the
    target; None if it reaches it at none of them."""
    for end in sorted(ends):
        if end <= len(row.values) and table.reaches(row.values[end - 1], target):
            return sum(row.seconds[:end])
    return None


def split(
    recorder: Recorder,
    table: CurveTable,
    answer: Callable[[Mapping[str, int | float | str]], CurveRow],
    target: float,
    time_to_target: float,
) -> Split:
    """The split of one run that reached `target` at `time_to_target` (inf: never), its method
    recorded by `recorder`. A configuration is able if it reaches the target at an epoch the method
    asked any of its training jobs to train to (MaxResource where it set no limit): a rung, for
    promotion Hyperband."""
    ends = sorted({start.epochs or table.max_resource for _, start in recorder.starts.values()})
    first: tuple[float, str, float] | None = None  # (started at, trial, its training seconds)
    for trial_id, (at, start) in sorted(recorder.starts.items(), key=lambda kv: kv[1][0]):
        seconds = None if start.resume is not None else able_time(answer(start.values), target, table, ends)
        if seconds is not None:
            first = (at, trial_id, seconds)
            break
    if first is None:
        return Split(time_to_target, math.inf, math.nan, False)
    reached_by = [
        recorder.configuration_of(trial_id)
        for trial_id, (at, value) in recorder.ends.items()
        if value is not None and at == time_to_target and table.reaches(value, target)
    ]
    return Split(time_to_target, first[0], first[2], first[1] in reached_by)


__all__ = ["Recorder", "Split", "able_time", "recording", "split"]
