"""The interfaces strategies implement: what to try next, and when to stop a training job."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, Protocol, runtime_checkable

from tunestream.trials import Proposal, StopDecision, TrainingJobRecord


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
            history: every training job proposed so far, finished or not (running ones are pending).
        """
        ...


# What became of a proposal prepared ahead: emitted, kept for the next slot, or dropped as made for
# another situation (the proposal was then computed afresh).
Adoption = Literal["used", "waits", "stale"]


@runtime_checkable
class ProposesAhead(Protocol):
    """A strategy whose proposal computed ahead (TuningJobState.ahead_request) is only part of what
    it emits: promotion Hyperband prepares its next new configuration, yet resumes a paused job
    instead when a promotion is due by the time a slot frees. A strategy without these methods
    has its ordinary proposal computed ahead and emitted as it is."""

    def propose_ahead(self, index: int, history: Sequence[TrainingJobRecord]) -> Proposal | None:
        """What to prepare for training job `index` from a snapshot of the history; None: nothing
        worth preparing (the proposal is cheap)."""
        ...

    def adopt(self, prepared: Proposal, index: int, history: Sequence[TrainingJobRecord]) -> tuple[Proposal, Adoption]:
        """The proposal for training job `index` now that `prepared` is at hand, and what became of
        `prepared` ("waits": it stays ready for the next index)."""
        ...


@runtime_checkable
class ProposesWhileBusy(Protocol):
    """A strategy that proposes ahead (ProposesAhead) and has a cheap proposal for a slot that frees
    while its prepared one is still being computed, so that no worker waits for a fit: the
    suggester then decides with `model_busy` (TuningJobState.decide), and the prepared proposal
    serves a later slot when it is ready (TuningJobState.land_ahead)."""

    def propose_while_busy(self, index: int, history: Sequence[TrainingJobRecord]) -> Proposal:
        """The proposal for training job `index` without the model (a due promotion, or a random draw)."""
        ...


def propose_ahead(strategy: SearchStrategy, index: int, history: Sequence[TrainingJobRecord]) -> Proposal | None:
    if isinstance(strategy, ProposesAhead):
        return strategy.propose_ahead(index, history)
    return strategy.propose(index, history)


class EarlyStopper(Protocol):
    """Decides, after each objective value a running training job reports, whether it goes on."""

    def decide(self, job: TrainingJobRecord, history: Sequence[TrainingJobRecord]) -> StopDecision | None:
        """A stop decision for `job` given its curve so far, or None to let it continue.

        Args:
            job: the running training job; `metric_history` holds (step, objective value) pairs,
                the newest last.
            history: every training job of the tuning job, `job` included.
        """
        ...

    def proposal_details(self, index: int) -> dict[str, float | int | str]:
        """Numbers about training job `index` worth publishing with its proposal (e.g. its bracket)."""
        ...
