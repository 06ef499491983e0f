"""Random search: independent draws from each range's scaled distribution."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tunestream.space import SearchSpace
from tunestream.trials import Proposal, TrainingJobRecord


class RandomSearch:
    """Each training job's values come from a generator seeded by (RandomSeed, index).

    Seeding per index, not per tuning job, makes proposal i independent of how many proposals were
    drawn before it and of event timing: a suggester that restarts mid-job proposes exactly what
    it would have proposed without the restart.
    """

    def __init__(self, space: SearchSpace, seed: int, max_jobs: int) -> None:
        self._space = space
        self._seed = seed
        self._max_jobs = max_jobs

    def max_training_jobs(self) -> int:
        return self._max_jobs

    def propose(self, index: int, history: Sequence[TrainingJobRecord]) -> Proposal:
        rng = np.random.default_rng([self._seed, index])
        point = rng.random(len(self._space.params))
        return Proposal(
            index=index,
            values=self._space.from_unit(point.tolist()),
            reason=f"random draw {index + 1} of {self._max_jobs} (seed {self._seed})",
        )
