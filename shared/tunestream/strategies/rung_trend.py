"""Ranking a rung by where each configuration is heading, not only where it stands.

Where learning curves cross late (XGBoost's small learning rates gain on every round long after
the large ones have flattened), a rung's values rank tomorrow's best below today's and promotion
passes them over. Each configuration's last gain, from half the rung's resource to the rung, says
which way its curve still moves; how much that gain carries on to the next rung is learned from the
configurations the rung already promoted: the least-squares slope `gain` of (value at the next rung
less value here) on (value here less value at half of here), shrunk towards 0 while few have been
promoted. A configuration is then ranked by its value plus `gain` times its last gain: the value at
the next rung predicted from its own curve. Where curves flatten and the last gain says nothing, the
fitted slope is near 0 and the ranking is the values'.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from tunestream.trials import TrainingJobRecord

# The promoted configurations a rung's slope counts as: n of them weigh n / (n + SHRINK), so the
# first few promotions (always the rung's leaders) move the ranking only a little.
SHRINK = 5.0
# The fitted slope stays within these bounds: beyond them one odd pair decides a whole rung.
MIN_GAIN, MAX_GAIN = -1.0, 3.0


def report_at_or_before(record: TrainingJobRecord, step: int, by_name: Mapping[str, TrainingJobRecord]) -> float | None:
    """The configuration's last reported value at or before `step`, looking back through the segments
    it resumed."""
    node: TrainingJobRecord | None = record
    while node is not None:
        for s, v in reversed(node.metric_history):
            if s <= step and not math.isnan(v):
                return v
        node = by_name.get(node.resume_from) if node.resume_from is not None else None
    return None


def report_at_or_past(record: TrainingJobRecord, step: int, children: Mapping[str, TrainingJobRecord]) -> float | None:
    """The configuration's first reported value at or past `step`, in this segment or in the segments
    that resumed it; None where it has not trained that far."""
    node: TrainingJobRecord | None = record
    while node is not None:
        for s, v in node.metric_history:
            if s >= step and not math.isnan(v):
                return v
        node = children.get(node.name)
    return None


class RungTrend:
    """Scores for a rung's configurations (smaller is better): the value predicted at the next rung."""

    def __init__(self, own: Sequence[TrainingJobRecord], maximize: bool) -> None:
        self._sign = -1.0 if maximize else 1.0
        self._by_name = {h.name: h for h in own}
        self._children = {h.resume_from: h for h in own if h.resume_from is not None}

    def last_gain(self, record: TrainingJobRecord, rung: int, value: float) -> float:
        """Its score's change from half the rung to the rung (0 where nothing was reported there)."""
        before = report_at_or_before(record, rung // 2, self._by_name) if rung >= 2 else None
        return 0.0 if before is None else self._sign * (value - before)

    def gain(self, rung: int, next_rung: int, at_rung: Sequence[tuple[TrainingJobRecord, float]]) -> float:
        """How much of a configuration's last gain carries on to the next rung, fitted to the ones
        that trained on to it (module doc)."""
        pairs = []
        for record, value in at_rung:
            later = report_at_or_past(record, next_rung, self._children)
            if later is not None:
                pairs.append((self.last_gain(record, rung, value), self._sign * (later - value)))
        if len(pairs) < 3:
            return 0.0
        mean_x = sum(x for x, _ in pairs) / len(pairs)
        mean_y = sum(y for _, y in pairs) / len(pairs)
        spread = sum((x - mean_x) ** 2 for x, _ in pairs)
        if spread <= 0.0:
            return 0.0
        slope = sum((x - mean_x) * (y - mean_y) for x, y in pairs) / spread
        slope *= len(pairs) / (len(pairs) + SHRINK)
        return min(max(slope, MIN_GAIN), MAX_GAIN)

    def scores(self, at_rung: Sequence[tuple[TrainingJobRecord, float]], rung: int, gain: float) -> list[float]:
        """Each (record, value)'s predicted score at the next rung, in order, given the rung's `gain`."""
        return [self._sign * value + gain * self.last_gain(record, rung, value) for record, value in at_rung]
