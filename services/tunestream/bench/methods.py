"""What the bench's simulator asks of a search method, tunestream's or a peer's.

The simulator owns the clock and W workers. Whenever a worker is free it asks the method for a
training job to start; after every epoch of a running training job it reports the objective and the
method says whether the job goes on; when a job ends (its epochs done, or stopped) it says so.
A method never sees the table: only the values of what it ran, as a real tuner would.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from tunestream.space import SearchSpace

Values = dict[str, int | float | str]


@dataclass(frozen=True)
class Task:
    """What a method may know of a task: what a user would write in the tuning job."""

    name: str
    space: SearchSpace
    metric: str
    maximize: bool
    max_resource: int  # epochs (or boosting rounds) of a full training job; MinResource is 1


@dataclass(frozen=True)
class Start:
    """A training job to start on a free worker.

    `epochs`: how far to train it in this run (at most the task's max resource; None = to the end).
    `resume`: the id of an earlier, ended training job of the same configuration to continue from
    its last epoch (a checkpoint), so its epochs are not trained again; `values` are then ignored.
    """

    trial_id: str
    values: Values
    epochs: int | None = None
    resume: str | None = None


class Method(Protocol):
    name: str

    def ask(self, now: float) -> Start | None:
        """A training job for one free worker, or None when the method has nothing to start now
        (it waits for running jobs, or its budget is spent)."""
        ...

    def report(self, trial_id: str, epoch: int, value: float, now: float) -> bool:
        """The objective after `epoch` (1-based, counted from the configuration's first epoch, so a
        resumed job goes on counting). False stops the job now."""
        ...

    def finish(self, trial_id: str, last_value: float | None, stopped: bool, now: float) -> None:
        """The job ended: its epochs done (stopped=False) or stopped by the method (stopped=True).
        `last_value` is its last reported objective: its final objective by SageMaker's rule."""
        ...


# (task, seed, workers) -> a fresh method for one simulated tuning job.
MethodFactory = Callable[[Task, int, int], Method]
