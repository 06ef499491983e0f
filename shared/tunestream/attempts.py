"""The attempts of one training job, as the events tell them.

A training job runs as attempts 0, 1, ... : the scheduler assigns each to a launcher
(TrainingJobAssigned) and an attempt that dies with its launcher, or fails in a way RetryStrategy
retries, is reported failed (TrainingJobAttemptFailed). The scheduler and every launcher keep this
same ledger from the same events; both apply them idempotently, in any order of arrival.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tunestream.events.v1 import TrainingJobAssignedData


@dataclass
class Attempts:
    assigned: dict[int, TrainingJobAssignedData] = field(default_factory=dict)
    failed: dict[int, str] = field(default_factory=dict)  # attempt -> reason

    def assign(self, assignment: TrainingJobAssignedData) -> None:
        self.assigned.setdefault(assignment.attempt, assignment)

    def fail(self, attempt: int, reason: str) -> bool:
        """Records a failed attempt; False when it was known already."""
        if attempt in self.failed:
            return False
        self.failed[attempt] = reason
        return True

    def latest(self) -> TrainingJobAssignedData | None:
        """The most recent assignment, failed or not."""
        return self.assigned[max(self.assigned)] if self.assigned else None

    def current(self) -> TrainingJobAssignedData | None:
        """The most recent assignment unless it is known to have failed."""
        latest = self.latest()
        return None if latest is None or latest.attempt in self.failed else latest

    def next_number(self) -> int:
        return max([*self.assigned, *self.failed], default=-1) + 1
