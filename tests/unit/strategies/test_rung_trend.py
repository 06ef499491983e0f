from __future__ import annotations

import pytest

from tunestream.space import ContinuousParam, SearchSpace
from tunestream.strategies.promotion import PromotionHyperband
from tunestream.strategies.rung_trend import SHRINK, RungTrend, report_at_or_before, report_at_or_past
from tunestream.trials import TrainingJobRecord, TrainingJobStatus

SPACE = SearchSpace((ContinuousParam("x", 0.0, 1.0),))


def segment(
    name: str,
    reports: dict[int, float],
    limit: int,
    *,
    index: int = 0,
    resume_from: str | None = None,
    status: TrainingJobStatus = TrainingJobStatus.COMPLETED,
) -> TrainingJobRecord:
    """A segment that reported `reports` (step -> value) and ended at its limit."""
    history = tuple(sorted(reports.items()))
    return TrainingJobRecord(
        index=index,
        name=name,
        values={"x": 0.5},
        status=status,
        objective=history[-1][1] if history and status.finished else None,
        metric_history=history,
        resume_from=resume_from,
        resource_limit=limit,
    )


def test_reports_are_found_through_the_segments_a_configuration_trained_in() -> None:
    first = segment("a", {1: 0.1, 2: 0.2}, 2)
    second = segment("a2", {3: 0.3, 4: 0.4}, 4, resume_from="a")
    by_name, children = {"a": first, "a2": second}, {"a": second}
    assert report_at_or_before(second, 4, by_name) == 0.4
    assert report_at_or_before(second, 2, by_name) == 0.2  # from the segment it resumed
    assert report_at_or_before(first, 0, by_name) is None
    assert report_at_or_past(first, 2, children) == 0.2
    assert report_at_or_past(first, 3, children) == 0.3  # from the segment that resumed it
    assert report_at_or_past(first, 5, children) is None  # not trained that far


def rung_of_four(carry: float, n: int) -> list[TrainingJobRecord]:
    """n configurations paused at rung 4 after different last gains (from step 2), each resumed to
    rung 8, where it gained `carry` times its last gain plus a common step."""
    out = []
    for i in range(n):
        at2, at4 = 0.5, 0.5 + 0.02 * i
        out.append(segment(f"c{i}", {2: at2, 4: at4}, 4, index=2 * i))
        out.append(segment(f"c{i}r", {8: at4 + carry * (at4 - at2) + 0.01}, 8, index=2 * i + 1, resume_from=f"c{i}"))
    return out


def gain_at_four(own: list[TrainingJobRecord]) -> float:
    at_rung = [(h, float(h.objective or 0.0)) for h in own if h.resource_limit == 4]
    return RungTrend(own, maximize=True).gain(4, 8, at_rung)


def test_the_share_of_a_last_gain_that_carries_on_is_learned_and_shrunk_while_few_went_on() -> None:
    assert gain_at_four(rung_of_four(carry=1.0, n=10)) == pytest.approx(10 / (10 + SHRINK))
    assert gain_at_four(rung_of_four(carry=0.0, n=10)) == pytest.approx(0.0, abs=1e-12)
    assert gain_at_four(rung_of_four(carry=1.0, n=2)) == 0.0  # too few went on to fit a slope


def test_a_minimized_objective_gains_by_going_down() -> None:
    own = [
        record
        for i in range(10)
        for record in (
            segment(f"c{i}", {2: 1.0, 4: 1.0 - 0.05 * i}, 4, index=2 * i),
            segment(f"c{i}r", {8: 1.0 - 0.10 * i}, 8, index=2 * i + 1, resume_from=f"c{i}"),
        )
    ]
    trend = RungTrend(own, maximize=False)
    at_rung = [(h, float(h.objective or 0.0)) for h in own if h.resource_limit == 4]
    assert trend.gain(4, 8, at_rung) == pytest.approx(10 / (10 + SHRINK))
    scores = trend.scores(at_rung, 4, trend.gain(4, 8, at_rung))
    assert scores == sorted(scores, reverse=True)  # the steepest fall is predicted lowest


def climbing_and_flat(ranking_trend: bool) -> str | None:
    """Ten configurations already went from rung 4 to 8 with the gain they had from 2 to 4 carried on;
    of two newly paused at rung 4, "flat" stands higher, "climbing" has gained more. The one resumed."""
    history = rung_of_four(carry=1.0, n=10)
    # The ten are all promoted; these two fill the rung to 12, whose top 6 may go on.
    history.append(segment("flat", {2: 0.69, 4: 0.70}, 4, index=20))
    history.append(segment("climbing", {2: 0.40, 4: 0.68}, 4, index=21))
    s = PromotionHyperband(
        SPACE, 0, max_jobs=100, min_resource=2, max_resource=8, maximize=True, eta=2, trend=ranking_trend
    )
    # Lower rung filled so that nothing there is due: rung 4 decides the next slot.
    return s.propose(22, history).resume_from


def test_with_trend_a_rung_promotes_the_configuration_still_climbing() -> None:
    assert climbing_and_flat(ranking_trend=False) == "flat"
    assert climbing_and_flat(ranking_trend=True) == "climbing"
