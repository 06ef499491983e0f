"""How much faster than Random any method could be on a table: a clairvoyant's time to a target.

The bench's goals are speed-ups over Random at a target (the value reached by a share of the
space's configurations). How large a speed-up is possible at all depends on the table: where the
configurations that reach the target are the slow ones, or where Random already runs W of them at
once, even perfect knowledge of which configurations are good buys little.

The clairvoyant knows, for every configuration, whether it ever reaches the target and at which
epoch, but not what it costs: it starts W configurations drawn uniformly among those that reach the
target, one per worker, trains each only up to the epoch where it first reaches the target (paying
one start each), and is done when the first of them gets there. No real method can beat its median
without knowing costs too; knowing them as well, it would train the single fastest such
configuration (`fastest_hit`), a bound no method beats at all.

Configurations are drawn uniformly from the space and trained as the bench's answer trains them
(the nearest row, or the fitted forests), so the clairvoyant and the methods see the same curves.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from tunestream.bench.report import RANDOM, Row, is_ours, is_peer
from tunestream.bench.stats import Interval, median_interval, speedup
from tunestream.bench.tables import CurveRow, CurveTable

# Configurations drawn to find those that reach a target (at 5 %, about 200 of them).
DRAWS = 4000
# Simulated clairvoyant runs per cell: many more than a method's seeds, so its own sampling
# error is negligible beside Random's in the ratio's interval.
CLAIRVOYANT_RUNS = 4000


def time_to_reach(row: CurveRow, target: float, table: CurveTable, start_s: float = 0.0) -> float | None:
    """Seconds from a training job's start to the end of its first epoch at or beyond the target,
    in `table`'s direction (a job stopped there reports that value last, so it counts by
    SageMaker's rule); None if no epoch gets there."""
    elapsed = start_s
    for value, seconds in zip(row.values, row.seconds, strict=True):
        elapsed += seconds
        if table.reaches(value, target):
            return elapsed
    return None


def hitting_times(
    table: CurveTable,
    answer: Callable[[Mapping[str, int | float | str]], CurveRow],
    target: float,
    *,
    start_s: float = 0.0,
    draws: int = DRAWS,
    seed: int = 0,
) -> tuple[np.ndarray, int]:
    """Times to the target of the configurations, among `draws` uniform ones of the table's space,
    that reach it; and how many were drawn."""
    rng = np.random.default_rng(seed)
    times = []
    for point in rng.random((draws, len(table.space.params))):
        hit = time_to_reach(answer(table.space.from_unit(list(point))), target, table, start_s)
        if hit is not None:
            times.append(hit)
    return np.array(times, dtype=float), draws


def clairvoyant_times(hits: np.ndarray, workers: int, runs: int = CLAIRVOYANT_RUNS, seed: int = 0) -> np.ndarray:
    """Per simulated run: the first of `workers` configurations drawn among the hitters to reach
    the target."""
    if not len(hits):
        return np.full(runs, np.inf)
    rng = np.random.default_rng(seed)
    return np.asarray(rng.choice(hits, (runs, workers)).min(axis=1), dtype=float)


@dataclass(frozen=True)
class Ceiling:
    task: str
    workers: int
    share: float
    target: float
    hit_share: float  # share of the drawn configurations that reach the target at some epoch
    random_s: Interval  # Random's median time to the target (its bench cell)
    clairvoyant_s: float  # the clairvoyant's median time
    fastest_hit_s: float  # the fastest configuration that reaches the target
    ceiling: Interval  # Random's median over the clairvoyant's, with Random's seeds resampled

    @property
    def absolute(self) -> float:
        """Random's median over the fastest hit."""
        return self.random_s.value / self.fastest_hit_s


def ceiling_of(
    task: str,
    workers: int,
    share: float,
    target: float,
    hits: np.ndarray,
    drawn: int,
    random_times: list[float],
) -> Ceiling:
    clairvoyant = clairvoyant_times(hits, workers)
    return Ceiling(
        task=task,
        workers=workers,
        share=share,
        target=target,
        hit_share=len(hits) / drawn,
        random_s=median_interval(random_times),
        clairvoyant_s=float(np.median(clairvoyant)),
        fastest_hit_s=float(hits.min()) if len(hits) else math.inf,
        ceiling=speedup(random_times, clairvoyant.tolist()),
    )


def markdown(ceilings: list[Ceiling], table_rows: list[Row]) -> str:
    """One table: per task, W and target, the clairvoyant's speed-up over Random beside tunestream's
    best method and the best peer, each also as a share of the clairvoyant's."""
    lines = [
        "#### The clairvoyant's ceiling (benchmarks: tunestream.bench.ceiling)",
        "",
        "| task | W | target | reach it | Random s | clairvoyant s | clairvoyant over Random | "
        "tunestream's best | its share of the ceiling | best peer | its share |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    by_cell: dict[tuple[str, int, float], list[Row]] = {}
    for r in table_rows:
        by_cell.setdefault((r.task, r.workers, r.share), []).append(r)
    for c in ceilings:
        found = by_cell.get((c.task, c.workers, c.share), [])
        ours = _fastest([r for r in found if is_ours(r.method) and r.method != RANDOM])
        peer = _fastest([r for r in found if is_peer(r.method)])
        lines.append(
            f"| {c.task} | {c.workers} | {c.share:.0%} | {c.hit_share:.1%} | {c.random_s} | {c.clairvoyant_s:.3g} | "
            f"{c.ceiling} (fastest hit {c.absolute:.3g}x) | {_named(ours)} | {_share(ours, c)} | "
            f"{_named(peer)} | {_share(peer, c)} |"
        )
    return "\n".join(lines)


def _fastest(found: list[Row]) -> Row | None:
    finite = [r for r in found if math.isfinite(r.vs_random.value)]
    return max(finite, key=lambda r: r.vs_random.value, default=None)


def _named(row: Row | None) -> str:
    return "-" if row is None else f"{row.method} {row.vs_random.value:.3g}x"


def _share(row: Row | None, c: Ceiling) -> str:
    return "-" if row is None else f"{row.vs_random.value / c.ceiling.value:.0%}"
