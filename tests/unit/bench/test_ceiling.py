"""The clairvoyant's ceiling: times to a target, the first of W hitters, and the table beside the methods."""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from tunestream.bench import ceiling
from tunestream.bench.report import Row
from tunestream.bench.stats import Interval
from tunestream.bench.tables import CurveRow, CurveTable
from tunestream.space import ContinuousParam, SearchSpace

SPACE = SearchSpace([ContinuousParam("x", 0.0, 1.0)])


def table(maximize: bool = True) -> CurveTable:
    return CurveTable("t", "", SPACE, "acc", maximize, "epoch", rows=[])


def test_time_to_reach_counts_epochs_up_to_the_first_at_the_target_and_one_start() -> None:
    row = CurveRow({"x": "0.5"}, (0.5, 0.8, 0.7, 0.9), (1.0, 2.0, 3.0, 4.0))
    assert ceiling.time_to_reach(row, 0.8, table()) == 3.0
    # A peak counts: a job stopped there reports it last.
    assert ceiling.time_to_reach(row, 0.75, table()) == 3.0
    assert ceiling.time_to_reach(row, 0.8, table(), start_s=0.5) == 3.5
    assert ceiling.time_to_reach(row, 0.95, table()) is None
    assert ceiling.time_to_reach(row, 0.6, table(maximize=False)) == 1.0
    assert ceiling.time_to_reach(row, 0.4, table(maximize=False)) is None


def _answer(values: Mapping[str, int | float | str]) -> CurveRow:
    # Configurations above x = 0.9 reach 1.0 at their second epoch; an epoch costs 1 + 10 x seconds,
    # so the good ones are the slow ones, as on the `costly` table.
    x = float(values["x"])
    return CurveRow({"x": str(x)}, (0.0, 1.0 if x > 0.9 else 0.5), (1 + 10 * x, 1 + 10 * x))


def test_hitting_times_draw_uniformly_and_keep_only_configurations_that_reach_the_target() -> None:
    hits, drawn = ceiling.hitting_times(table(), _answer, 1.0, draws=2000, seed=1)
    assert drawn == 2000
    assert abs(len(hits) / drawn - 0.1) < 0.03
    assert hits.min() >= 2 * (1 + 10 * 0.9) and hits.max() <= 2 * 11
    again, _ = ceiling.hitting_times(table(), _answer, 1.0, draws=2000, seed=1)
    assert np.array_equal(hits, again)


def test_more_workers_make_the_clairvoyant_faster_and_none_reaching_makes_it_infinite() -> None:
    hits = np.arange(1.0, 101.0)
    one = ceiling.clairvoyant_times(hits, 1)
    eight = ceiling.clairvoyant_times(hits, 8)
    assert abs(np.median(one) - 50.5) < 3
    assert np.median(eight) < np.median(one) / 4
    assert np.isinf(ceiling.clairvoyant_times(np.array([]), 2)).all()


def _row(method: str, vs_random: float) -> Row:
    def iv(v: float) -> Interval:
        return Interval(v, v, v)

    return Row("t", 2, method, 0.05, iv(1.0), iv(vs_random), iv(1.0), "", 1.0)


def test_ceiling_is_random_over_the_clairvoyant_and_the_table_names_the_fastest_of_each_side() -> None:
    hits = np.full(50, 2.0)
    random_times = [10.0, 20.0, 30.0, math.inf]
    c = ceiling.ceiling_of("t", 2, 0.05, 0.9, hits, 1000, random_times)
    assert c.hit_share == 0.05
    assert c.clairvoyant_s == 2.0 and c.fastest_hit_s == 2.0
    assert c.ceiling.value == 12.5 and c.absolute == 12.5
    rows = [
        _row("tunestream Random", 1.0),
        _row("tunestream Hyperband", 2.5),
        _row("tunestream Bayesian", math.nan),
        _row("Optuna TPE", 1.25),
        _row("Syne Tune ASHA", 2.0),
    ]
    text = ceiling.markdown([c], rows)
    line = text.splitlines()[-1]
    assert "tunestream Hyperband 2.5x | 20%" in line
    assert "Syne Tune ASHA 2x | 16%" in line
