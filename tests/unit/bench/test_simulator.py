"""The bench's simulator, its statistics and tunestream's own strategies driven through it."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest

from tunestream.bench.methods import Start, Task
from tunestream.bench.simulator import simulate, task_of
from tunestream.bench.stats import median_interval, speedup
from tunestream.bench.suggester_methods import METHODS, SuggesterMethod
from tunestream.bench.tables import CurveRow, CurveTable
from tunestream.space import CategoricalParam, ContinuousParam, IntegerParam, SearchSpace

SPACE = SearchSpace(
    (
        IntegerParam("units", 10, 1000, "Logarithmic"),
        ContinuousParam("lr", 1e-4, 1e-1, "Logarithmic"),
        CategoricalParam("act", ("relu", "tanh")),
    )
)


def table(rows: int = 200, epochs: int = 9, seed: int = 0) -> CurveTable:
    """Curves that rise to a final value best near lr 1e-2 and many units; wide nets cost more."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(rows):
        u = rng.random(3)
        values = SPACE.from_unit(u.tolist())
        final = 0.9 - (u[1] - 0.67) ** 2 - 0.2 * (u[0] - 0.8) ** 2 - 0.05 * (values["act"] == "tanh")
        rate = 0.5 + 2 * rng.random()
        curve = tuple(float(final * (1 - math.exp(-rate * e)) + rng.normal(0, 0.003)) for e in range(1, epochs + 1))
        out.append(CurveRow(SPACE.format(values), curve, tuple([0.2 + u[0]] * epochs)))
    return CurveTable("synthetic", "test curves", SPACE, "acc", True, "epoch", out)


TABLE = table()
TARGETS = tuple(TABLE.target(s) for s in (0.1, 0.05, 0.02))


class Scripted:
    """Starts the given Starts in order; stops a job when `stop` says so; records what it saw."""

    name = "scripted"

    def __init__(self, starts: list[Start], stop: set[tuple[str, int]] = frozenset(), delay_s: float = 0) -> None:  # type: ignore[assignment]
        self.starts, self.stop, self.delay_s = list(starts), stop, delay_s
        self.reports: list[tuple[str, int, float, float]] = []
        self.finished: list[tuple[str, float | None, bool, float]] = []
        self.asked_at: list[float] = []

    def ask(self, now: float) -> Start | None:
        self.asked_at.append(now)
        if self.delay_s:
            time.sleep(self.delay_s)
        return self.starts.pop(0) if self.starts else None

    def report(self, trial_id: str, epoch: int, value: float, now: float) -> bool:
        self.reports.append((trial_id, epoch, value, now))
        return (trial_id, epoch) not in self.stop

    def finish(self, trial_id: str, last_value: float | None, stopped: bool, now: float) -> None:
        self.finished.append((trial_id, last_value, stopped, now))


def two_rows() -> CurveTable:
    space = SearchSpace((ContinuousParam("x", 0, 1),))
    rows = [
        CurveRow({"x": "0.1"}, (0.1, 0.2, 0.3), (1.0, 1.0, 1.0)),
        CurveRow({"x": "0.9"}, (0.5, 0.7, 0.9), (2.0, 2.0, 2.0)),
    ]
    return CurveTable("two", "", space, "acc", True, "epoch", rows)


def test_each_epoch_costs_its_recorded_seconds_and_a_stop_frees_the_worker() -> None:
    script = Scripted(
        [Start("a", {"x": 0.12}), Start("b", {"x": 0.8}), Start("c", {"x": 0.95})],
        stop={("a", 1)},
    )
    out = simulate(two_rows(), lambda *_: script, 0, 2, targets=(0.6, 0.9), horizon_s=100, stop_at_targets=False)
    # a (row 0) is stopped after its first epoch at t=1, c (row 1) starts then and ends at 1 + 6.
    assert script.finished[0] == ("a", 0.1, True, 1.0)
    assert ("b", 0.9, False, 6.0) in script.finished and ("c", 0.9, False, 7.0) in script.finished
    assert out.time_to_target == {0.6: 6.0, 0.9: 6.0}
    assert out.jobs == 3 and out.epochs == 7 and out.stopped == 1
    assert out.trace == [(1.0, 0.1), (6.0, 0.9)]


def test_resume_continues_from_the_checkpoint_without_training_epochs_again() -> None:
    script = Scripted([Start("a", {"x": 0.9}, epochs=1), Start("a2", {}, resume="a")])
    out = simulate(two_rows(), lambda *_: script, 0, 1, targets=(0.9,), horizon_s=100)
    assert [(t, e) for t, e, _, _ in script.reports] == [("a", 1), ("a2", 2), ("a2", 3)]
    assert out.epochs == 3 and out.time_to_target == {0.9: 6.0}


def test_start_cost_is_charged_to_new_and_resumed_jobs() -> None:
    script = Scripted([Start("a", {"x": 0.9}, epochs=1), Start("a2", {}, resume="a")])
    out = simulate(two_rows(), lambda *_: script, 0, 1, targets=(0.9,), horizon_s=100, start_cost_s=0.5)
    assert out.time_to_target == {0.9: 0.5 + 2.0 + 0.5 + 4.0} and out.train_seconds == 7.0


def record_starts(method: SuggesterMethod) -> list[Start]:
    """The Starts `method` hands the simulator, appended as it asks."""
    starts: list[Start] = []
    ask = method.ask

    def recording_ask(now: float) -> Start | None:
        start = ask(now)
        if start is not None:
            starts.append(start)
        return start

    method.ask = recording_ask  # type: ignore[method-assign]
    return starts


def test_promotion_hyperband_pauses_and_resumes_without_training_an_epoch_twice() -> None:
    method = METHODS["tunestream Hyperband (promotion)"](task_of(TABLE), 0, 2)
    starts = record_starts(method)
    out = simulate(TABLE, lambda *_: method, 0, 2, targets=TARGETS, horizon_s=60, stop_at_targets=False)
    resumed = [s for s in starts if s.resume is not None]
    assert resumed and out.stopped == 0  # nothing stopped: every job paused at its rung or finished
    # The first three train to step 2 while a start's cost is measured (none here: the first rung
    # stays at MinResource 1, or 2 where epoch 1 took longer than epoch 2).
    fresh = [s.epochs for s in starts if s.resume is None]
    assert fresh[:3] == [2, 2, 2] and set(fresh[3:]) <= {1, 2} and {s.epochs for s in resumed} <= {2, 4, 8, 9}
    # Each configuration's epochs are trained once: what was trained is the highest rung each
    # configuration reached, less what the (at most 2) jobs still running at the horizon had left.
    root: dict[str, str] = {}
    reached: dict[str, int] = {}
    for s in starts:
        root[s.trial_id] = s.trial_id if s.resume is None else root[s.resume]
        reached[root[s.trial_id]] = max(reached.get(root[s.trial_id], 0), s.epochs or 9)
    assert sum(reached.values()) - 2 * 9 < out.epochs <= sum(reached.values())


def test_continuing_promotion_pauses_only_the_jobs_behind_a_rung() -> None:
    method = METHODS["tunestream Hyperband (promotion, continuing)"](task_of(TABLE), 0, 2)
    starts = record_starts(method)
    out = simulate(TABLE, lambda *_: method, 0, 2, targets=TARGETS, horizon_s=60, stop_at_targets=False)
    # After the calibration jobs every job, new or resumed, is started for MaxResource; the ones
    # behind at a rung are paused by a stop there, the others go on in the same training job.
    sized = next(i for i, s in enumerate(starts) if s.epochs == 9)
    assert sized <= 4 and {s.epochs for s in starts[sized:]} == {9} and out.stopped > 0
    resumed = [s for s in starts if s.resume is not None]
    assert resumed
    classic = simulate(
        TABLE, METHODS["tunestream Hyperband (promotion)"], 0, 2, targets=TARGETS, horizon_s=60, stop_at_targets=False
    )
    assert out.jobs < classic.jobs  # fewer segments (and starts) for as much training
    again = simulate(
        TABLE, METHODS["tunestream Hyperband (promotion, continuing)"], 0, 2, targets=TARGETS, horizon_s=60
    )
    assert (
        again.trace
        == simulate(
            TABLE, METHODS["tunestream Hyperband (promotion, continuing)"], 0, 2, targets=TARGETS, horizon_s=60
        ).trace
    )


def test_horizon_and_unreached_targets_are_infinite() -> None:
    script = Scripted([Start("a", {"x": 0.1})])
    out = simulate(two_rows(), lambda *_: script, 0, 1, targets=(0.9,), horizon_s=2.5)
    assert out.time_to_target == {0.9: math.inf} and out.end_time == 2.5


def test_measured_decision_time_delays_the_start() -> None:
    script = Scripted([Start("a", {"x": 0.9}), Start("b", {"x": 0.9})], delay_s=0.05)
    out = simulate(two_rows(), lambda *_: script, 0, 2, targets=(0.9,), horizon_s=100, decision_time="measured")
    assert out.time_to_target[0.9] >= 6.05  # a started after one proposal's wall time
    assert script.asked_at[1] >= 0.05  # proposals queue behind each other in one suggester


def test_nearest_row_in_the_unit_cube() -> None:
    assert TABLE.nearest(SPACE.parse(TABLE.rows[17].hyperparameters)) == 17
    t = two_rows()
    assert t.nearest({"x": 0.3}) == 0 and t.nearest({"x": 0.7}) == 1


@pytest.mark.parametrize(
    "method",
    ["tunestream Random", "tunestream Hyperband", "tunestream Random + Auto", "tunestream Hyperband (promotion)"],
)
def test_suggester_strategies_are_deterministic_under_the_seed(method: str) -> None:
    runs = [simulate(TABLE, METHODS[method], s, 4, targets=TARGETS, horizon_s=60) for s in (1, 1, 2)]
    assert runs[0].trace == runs[1].trace and runs[0].jobs == runs[1].jobs
    assert runs[0].trace != runs[2].trace
    assert runs[0].jobs > 4


def test_hyperband_stops_jobs_early() -> None:
    hb = simulate(TABLE, METHODS["tunestream Hyperband"], 3, 2, targets=TARGETS, horizon_s=80, stop_at_targets=False)
    rnd = simulate(TABLE, METHODS["tunestream Random"], 3, 2, targets=TARGETS, horizon_s=80, stop_at_targets=False)
    assert hb.stopped > 0 and rnd.stopped == 0
    assert hb.jobs > rnd.jobs  # the epochs it saved went to more configurations


def test_bayesian_runs_on_the_bench() -> None:
    out = simulate(TABLE, METHODS["tunestream Bayesian"], 0, 2, targets=TARGETS, horizon_s=25, stop_at_targets=False)
    assert out.jobs >= 8  # past its initial design


def test_task_is_what_a_user_writes() -> None:
    task = Task("t", SPACE, "acc", True, 9)
    request = METHODS["tunestream Hyperband"](task, 5, 3)
    assert request.name == "tunestream Hyperband"


def test_bootstrap_intervals() -> None:
    rng = np.random.default_rng(0)
    a = rng.exponential(100, 200)
    same = speedup(a, a)
    assert same.value == 1 and same.low < 1 < same.high
    faster = speedup(a, a / 3)
    assert faster.value == pytest.approx(3) and faster.low > 2
    censored = speedup(a, np.where(np.arange(200) < 150, math.inf, a))
    assert censored.value == 0 and censored.high < 1  # most runs never got there: slower than Random
    m = median_interval(a)
    assert m.low < m.value < m.high


@pytest.mark.parametrize("ahead", [True, False])
def test_promotion_with_model_proposals_prepares_new_configurations_ahead(ahead: bool) -> None:
    name = "tunestream Hyperband (promotion, model" + ("" if ahead else ", no ahead") + ")"
    made: list[SuggesterMethod] = []

    def factory(task: Task, seed: int, workers: int) -> SuggesterMethod:
        made.append(METHODS[name](task, seed, workers))  # type: ignore[arg-type]
        return made[-1]

    runs = [
        simulate(TABLE, factory, 5, 3, targets=TARGETS, horizon_s=6, stop_at_targets=False, start_cost_s=0.3)
        for _ in range(2)
    ]
    assert runs[0].trace == runs[1].trace and runs[0].jobs == runs[1].jobs > 12
    assert (made[0].proposed_ahead > 0) == ahead and made[0].proposed_ahead == made[1].proposed_ahead


class ThinksBeside(Scripted):
    """Spends `think_s` on its first think, as a model fitted ahead does, without holding its decisions."""

    proposes_while_busy = True

    def __init__(self, starts: list[Start], think_s: float) -> None:
        super().__init__(starts)
        self.think_s, self.thought_at = think_s, -1.0
        self.ahead_ready_at = -math.inf
        self.ready_seen: list[float] = []

    def ask(self, now: float) -> Start | None:
        self.ready_seen.append(self.ahead_ready_at)
        return super().ask(now)

    def think(self, now: float) -> None:
        if self.thought_at < 0:
            self.thought_at = now
            time.sleep(self.think_s)


def test_a_method_that_proposes_while_busy_computes_on_a_clock_of_its_own() -> None:
    """Its computation ahead does not delay the next decision (the suggester fills the slot
    without it), and the simulator tells it when the computation is ready."""
    script = ThinksBeside([Start("a", {"x": 0.1}), Start("b", {"x": 0.1})], think_s=0.2)
    simulate(two_rows(), lambda *_: script, 0, 1, targets=(0.9,), horizon_s=100, decision_time="measured")
    assert script.thought_at == 0 and 0.2 <= script.ready_seen[1] < 0.5
    assert script.asked_at[1] < 3.05  # b asked for when a ended (3 s), not a computation later
    blocking = Scripted([Start("a", {"x": 0.1}), Start("b", {"x": 0.1})])
    blocking.think = ThinksBeside([], think_s=0.2).think  # type: ignore[attr-defined]
    simulate(two_rows(), lambda *_: blocking, 0, 1, targets=(0.9,), horizon_s=100, decision_time="measured")
    assert blocking.asked_at[1] >= 3.0 and blocking.asked_at[0] == 0  # charged to the one suggester


def test_the_model_proposes_while_busy_only_where_decision_time_is_charged() -> None:
    """With no decision time every computation is ready at once: the same runs as blocking."""
    names = ("tunestream Hyperband (promotion, model)", "tunestream Hyperband (promotion, model, blocking)")
    made: dict[str, SuggesterMethod] = {}

    def factory(name: str) -> object:
        def make(task: Task, seed: int, workers: int) -> SuggesterMethod:
            made[name] = METHODS[name](task, seed, workers)  # type: ignore[assignment]
            return made[name]

        return make

    runs = [
        simulate(TABLE, factory(n), 5, 3, targets=TARGETS, horizon_s=6, stop_at_targets=False, start_cost_s=0.3)  # type: ignore[arg-type]
        for n in names
    ]
    assert runs[0].trace == runs[1].trace and runs[0].jobs == runs[1].jobs
    assert made[names[0]].proposes_while_busy and not made[names[1]].proposes_while_busy
    assert made[names[0]].model_busy == 0 and made[names[0]].proposed_ahead == made[names[1]].proposed_ahead > 0
