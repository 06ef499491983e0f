"""Bounds from methods that are told what a real one has to learn: which configurations are good.

The clairvoyant (ceiling.py) knows which configurations reach a target and where; these methods know
less and run in the simulator like any other, so what they lack is measured, not assumed. Each
draws configurations uniformly among the best `share` of the space by final value (the answer's own
finals: the fitted forests' sample or the table's rows), from its first proposal on, and trains every
one to MaxResource. A job that beats every ended job's result is stopped there and resumed at once
(promotion's PauseAtNewBest without its saving rule), so a value counts when it is first reached,
not only at the job's end.

With the best 10 % of `xgboost` or `costly` (half of them reach the 5 % target) such a method
answers the question the goals of issue #14 raise: how fast a method would be whose model knew the
good region before its first training job. A real method starts from nothing and pays to find it.

Not part of the yardstick: these names are neither tunestream's methods nor peers (report.py), and
a start cost is charged on each resume like any other (the bounds are meant for the bench's
no-start setting, where a resume is free).
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np

from tunestream.bench.methods import MethodFactory, Start, Task, Values
from tunestream.bench.simulator import Answer
from tunestream.bench.tables import reached_by

PREFIX = "Informed: "
# name -> the share of the space it draws from
SHARES: dict[str, float] = {
    f"{PREFIX}the best 10 %, trained fully": 0.10,
    f"{PREFIX}the best 20 %, trained fully": 0.20,
}
# Draws tried per proposal before giving up on finding one in the share (1 in 10 is the rarest).
MAX_DRAWS = 100_000


def is_informed(method: str) -> bool:
    return method.startswith(PREFIX)


class InformedDraws:
    """Module doc: uniform draws among the configurations whose final value reaches `threshold`."""

    def __init__(self, name: str, task: Task, seed: int, answer: Answer, threshold: float) -> None:
        self.name = name
        self._task = task
        self._answer = answer
        self._threshold = threshold
        self._rng = np.random.default_rng([seed, 4_711])
        self._draws = 0
        self._values: dict[str, Values] = {}  # trial -> its configuration (a resumed one's too)
        self._due: deque[str] = deque()  # segments stopped at a new best, to resume
        self._best: float | None = None

    def ask(self, now: float) -> Start | None:
        if self._due:
            previous = self._due.popleft()
            trial = f"{previous}+"
            self._values[trial] = self._values[previous]
            return Start(trial, self._values[trial], resume=previous)
        trial = f"informed-{self._draws}"
        self._draws += 1
        self._values[trial] = self._draw()
        return Start(trial, self._values[trial])

    def report(self, trial_id: str, epoch: int, value: float, now: float) -> bool:
        return epoch >= self._task.max_resource or not self._beats(value)

    def finish(self, trial_id: str, last_value: float | None, stopped: bool, now: float) -> None:
        if last_value is not None and self._beats(last_value):
            self._best = last_value
        if stopped:
            self._due.append(trial_id)

    def _beats(self, value: float) -> bool:
        if math.isnan(value):
            return False
        if self._best is None:
            return True
        return value > self._best if self._task.maximize else value < self._best

    def _draw(self) -> Values:
        space = self._task.space
        for _ in range(MAX_DRAWS):
            values = space.from_unit(self._rng.random(len(space.params)).tolist())
            final = self._answer(values).final
            if final >= self._threshold if self._task.maximize else final <= self._threshold:
                return values
        raise RuntimeError(f"{self.name}: no configuration reached {self._threshold} in {MAX_DRAWS} draws")


def informed_factory(name: str, answer: Answer, finals: np.ndarray, maximize: bool) -> MethodFactory:
    """The factory of method `name` (a key of SHARES), told `answer` and the finals its share is of."""
    threshold = reached_by(finals, SHARES[name], maximize)

    def build(task: Task, seed: int, workers: int) -> InformedDraws:
        return InformedDraws(name, task, seed, answer, threshold)

    return build
