"""A fitted answer for configurations nobody recorded: extremely randomised trees over a curve table.

The bench's first answer (`CurveTable.nearest`) trains a proposed configuration as the nearest
recorded row. In 7 dimensions a row's cell spans about 0.44 of every unit axis, so a method that
refines around its incumbent is answered with the incumbent's own row again and cannot be told
apart from one that does not: model-based methods get a floor, not a verdict.

`FittedCurves` answers with forests fitted to the rows, one over the per-step values and one over
the log of the per-step seconds, each predicting the whole curve at once. A prediction is an average
of recorded curves (leaves hold rows), so its shape is a real one and it never leaves the range the
rows span; at a recorded configuration every tree ends in that row's own leaf, so the row itself
comes back. Extremely randomised trees rather than a GP so that the judge is not the model class
of the Bayesian strategy it judges; their cut points are drawn at random, so the answer changes
between nearby configurations where a nearest-row answer is flat. On the four tables, 5-fold
cross-validated Spearman correlation of the predicted final value with the recorded one is
0.84 / 0.96 / 0.70 / 0.97 (mlp / xgboost / digits / costly) against the nearest row's 0.78 / 0.70 /
0.68 / 0.93, and of the cost per step 0.99 / 0.98 / 0.97 / 0.97 against 0.93 / 0.81 / 0.86 / 0.94
(benchmarks/surrogate_fit.py). Averaging blunts peaks: among the best 10 % of `mlp`'s rows its
error is larger than the nearest row's (RMSE 0.024 against 0.013).

Targets come from the answer's own distribution: the final value reached by a share of 4096
configurations drawn uniformly from the space, as the table's come from its rows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.ensemble import ExtraTreesRegressor

from tunestream.bench.tables import CurveRow, CurveTable, reached_by

TREES = 64
TARGET_SAMPLE = 4096


@dataclass(frozen=True)
class _Forest:
    """A fitted forest's trees stacked into flat arrays, so that one point is predicted with a few
    numpy steps over every tree at once (sklearn's own predict costs about 5 ms per call, and a
    simulated tuning job asks for up to a thousand curves)."""

    left: np.ndarray
    right: np.ndarray
    feature: np.ndarray
    threshold: np.ndarray
    value: np.ndarray  # node -> outputs
    roots: np.ndarray

    @classmethod
    def of(cls, model: ExtraTreesRegressor) -> _Forest:
        lefts, rights, features, thresholds, values, roots = [], [], [], [], [], []
        offset = 0
        for estimator in model.estimators_:
            tree = estimator.tree_
            n = tree.node_count
            leaf = tree.children_left == -1
            # A leaf points at itself, so that every tree can take the same number of steps.
            own = np.arange(offset, offset + n)
            lefts.append(np.where(leaf, own, tree.children_left + offset))
            rights.append(np.where(leaf, own, tree.children_right + offset))
            features.append(np.where(leaf, 0, tree.feature))
            thresholds.append(tree.threshold)
            values.append(tree.value[:, :, 0])
            roots.append(offset)
            offset += n
        return cls(
            left=np.concatenate(lefts),
            right=np.concatenate(rights),
            feature=np.concatenate(features),
            threshold=np.concatenate(thresholds),
            value=np.concatenate(values),
            roots=np.array(roots),
        )

    def predict(self, point: np.ndarray) -> np.ndarray:
        # sklearn's trees compare float32 features against their thresholds.
        x = point.astype(np.float32).astype(np.float64)
        node = self.roots
        while True:
            nxt = np.where(x[self.feature[node]] <= self.threshold[node], self.left[node], self.right[node])
            if np.array_equal(nxt, node):
                return np.asarray(self.value[node].mean(axis=0))
            node = nxt


class FittedCurves:
    """Curves for any configuration of a table's space, predicted from its rows."""

    def __init__(self, table: CurveTable, *, trees: int = TREES, seed: int = 0) -> None:
        self.table = table
        x = table.unit_points()
        values = np.array([r.values for r in table.rows])
        log_seconds = np.log(np.array([r.seconds for r in table.rows]))
        self._values = _Forest.of(ExtraTreesRegressor(trees, random_state=seed).fit(x, values))
        self._log_seconds = _Forest.of(ExtraTreesRegressor(trees, random_state=seed + 1).fit(x, log_seconds))
        self._seed = seed
        self._finals: np.ndarray | None = None

    def curve(self, values: Mapping[str, int | float | str]) -> CurveRow:
        point = np.array(self.table.space.to_unit(values))
        return CurveRow(
            hyperparameters=self.table.space.format(values),
            values=tuple(float(v) for v in self._values.predict(point)),
            seconds=tuple(float(s) for s in np.exp(self._log_seconds.predict(point))),
        )

    def sample_finals(self) -> np.ndarray:
        """Final values of TARGET_SAMPLE configurations drawn uniformly from the space."""
        if self._finals is None:
            rng = np.random.default_rng(self._seed)
            space = self.table.space
            units = [space.to_unit(space.from_unit(u)) for u in rng.random((TARGET_SAMPLE, len(space.params)))]
            self._finals = np.array([self._values.predict(np.array(u))[-1] for u in units])
        return self._finals

    def target(self, share: float) -> float:
        """The final value reached by `share` of the sampled configurations (the k-th best)."""
        return reached_by(self.sample_finals(), share, self.table.maximize)

    def targets(self, shares: Sequence[float]) -> tuple[float, ...]:
        return tuple(self.target(s) for s in shares)
