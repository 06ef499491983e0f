"""Immutable snapshots of training jobs, as strategies see them."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

# A tuning job in one of these statuses is over: nothing about it changes any more.
TERMINAL_STATUSES: tuple[str, ...] = ("Completed", "Failed", "Stopped")


def better(a: float, b: float, maximize: bool) -> bool:
    """Whether objective value a is strictly better than b."""
    return a > b if maximize else a < b


class TrainingJobStatus(StrEnum):
    """SageMaker's TrainingJobStatus values."""

    IN_PROGRESS = "InProgress"
    COMPLETED = "Completed"
    FAILED = "Failed"
    STOPPING = "Stopping"
    STOPPED = "Stopped"

    @property
    def finished(self) -> bool:
        return self.value in TERMINAL_STATUSES


class ObjectiveStatus(StrEnum):
    """SageMaker's ObjectiveStatus: whether the objective metric could be read from a training job."""

    PENDING = "Pending"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"


@dataclass(frozen=True)
class TrainingJobRecord:
    """What a strategy may know of one training job of its tuning job."""

    index: int
    name: str
    values: dict[str, int | float | str]
    status: TrainingJobStatus = TrainingJobStatus.IN_PROGRESS
    objective: float | None = None
    metric_history: tuple[tuple[int, float], ...] = field(default_factory=tuple)
    # Pause and resume (promotion Hyperband): the training job whose checkpoint this one continues
    # from, and the step it trains to before it pauses (None: the program's own end).
    resume_from: str | None = None
    resource_limit: int | None = None
    # Seconds since the tuning job was created: when it was proposed (its slot taken), when its
    # result came (its slot freed), and when each metric_history entry was printed.
    proposed_at: float | None = None
    ended_at: float | None = None
    metric_times: tuple[float, ...] = ()


@dataclass(frozen=True)
class Proposal:
    """A strategy's choice for training job number `index`, with the reason in words and numbers."""

    index: int
    values: dict[str, int | float | str]
    reason: str
    details: dict[str, float | int | str] = field(default_factory=dict)
    # Set to continue an earlier training job of the same configuration from its checkpoint.
    resume_from: str | None = None
    # The step (resource) the training job trains to; None: the program's own end.
    resource_limit: int | None = None
    # With resume_from: the steps already trained (the resumed job's last step).
    step_offset: int = 0


@dataclass(frozen=True)
class StopDecision:
    """An early stopper's verdict on a running training job, with the numbers behind it."""

    reason: str
    rule: str
    step: int
    value: float
    cutoff: float
