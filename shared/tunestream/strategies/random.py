"""Random search: independent draws from each range's scaled distribution."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tunestream.space import SearchSpace
from tunestream.strategies.registry import StrategyDefinition, StrategyParts, auto_stopper
from tunestream.trials import Proposal, TrainingJobRecord

MAX_REDRAWS = 100


class RandomSearch:
    """Each training job's values come from a generator seeded by (RandomSeed, index).

    Seeding per index, not per tuning job, makes proposal i independent of how many proposals were
    drawn before it and of event timing: a suggester that restarts mid-job proposes exactly what
    it would have proposed without the restart.
    """

    # Only warm-start records (index < 0) matter to it: the suggester passes just those.
    reads_history = False

    def __init__(self, space: SearchSpace, seed: int, max_jobs: int) -> None:
        self._space = space
        self._seed = seed
        self._max_jobs = max_jobs

    def max_training_jobs(self) -> int:
        return self._max_jobs

    def propose(self, index: int, history: Sequence[TrainingJobRecord]) -> Proposal:
        """Warm-start records in `history` (negative indices) are configurations already evaluated:
        a draw equal to one of them is replaced by the next draw for the same index."""
        seen = {tuple(sorted(self._space.format(h.values).items())) for h in history if h.index < 0}
        for attempt in range(MAX_REDRAWS):
            seed = [self._seed, index] if attempt == 0 else [self._seed, index, attempt]
            values = self._space.from_unit(np.random.default_rng(seed).random(len(self._space.params)).tolist())
            if tuple(sorted(self._space.format(values).items())) not in seen:
                break
        note = f", redrawn {attempt}x to skip evaluated configurations" if attempt else ""
        return Proposal(
            index=index,
            values=values,
            reason=f"random draw {index + 1} of {self._max_jobs} (seed {self._seed}){note}",
        )


STRATEGY = StrategyDefinition(
    name="Random",
    build=lambda inputs: StrategyParts(RandomSearch(inputs.space, inputs.seed, inputs.max_jobs), auto_stopper(inputs)),
    summary="independent seeded draws from each range's scaled distribution",
)
