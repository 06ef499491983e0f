"""The interface every search strategy implements."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from tunestream.trials import Proposal, TrainingJobRecord


class SearchStrategy(Protocol):
    """Chooses hyperparameters for the next training job.

    Pure: no I/O, no clock. Given the same construction arguments and the same history it returns
    the same proposal, so the suggester can rebuild any decision by replaying a job's events.
    """

    def max_training_jobs(self) -> int:
        """How many training jobs the tuning job runs in all."""
        ...

    def propose(self, index: int, history: Sequence[TrainingJobRecord]) -> Proposal:
        """Hyperparameters for training job number `index` (0-based).

        Args:
            index: position of the new training job; every index below it has been proposed.
            history: every training job proposed so far, finished or not.
        """
        ...
