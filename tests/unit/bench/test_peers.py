"""The peers on the bench: every entry of PEERS runs on a small synthetic curve table, starts several
jobs, never runs more than W at once, is deterministic under its seed, and the multi-fidelity
ones train some jobs for less than the full resource."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pytest

from tunestream.bench.methods import Method, MethodFactory, Start, Task
from tunestream.bench.peers import MULTI_FIDELITY, PEERS, optuna_method
from tunestream.bench.simulator import Outcome, simulate
from tunestream.bench.tables import CurveRow, CurveTable
from tunestream.space import CategoricalParam, ContinuousParam, IntegerParam, SearchSpace

EPOCHS = 9
WORKERS = 2
HORIZON_S = 120.0
# Syne Tune's BORE fits a classifier and scores 500 candidates one by one for every proposal:
# shorter runs, still past its random start (ASHA-BORE: 5 results; BORE: 6 ended jobs).
HORIZONS_S = {"Syne Tune ASHA-BORE": 50.0, "Syne Tune BORE": 90.0}
SPACE = SearchSpace(
    (
        IntegerParam("layers", 1, 8),
        ContinuousParam("learning_rate", 1e-4, 1e-1, "Logarithmic"),
        CategoricalParam("optimizer", ("sgd", "adam", "rmsprop")),
    )
)


def synthetic_table(rows: int = 60, seed: int = 0) -> CurveTable:
    """Accuracy curves that rise towards a final value best near learning_rate 1e-2, 4 layers, adam;
    deeper networks take longer per epoch."""
    rng = np.random.default_rng(seed)
    records = []
    for _ in range(rows):
        values = SPACE.from_unit(rng.random(len(SPACE.params)).tolist())
        lr, layers, optimizer = float(values["learning_rate"]), int(values["layers"]), str(values["optimizer"])
        final = 0.55 + 0.4 * math.exp(-((math.log10(lr) + 2.0) ** 2) / 0.8)
        final *= {"adam": 1.0, "rmsprop": 0.93, "sgd": 0.85}[optimizer]
        final -= 0.02 * abs(layers - 4)
        rate = 0.8 + 2.0 * rng.random()
        curve = tuple(
            float(final - (final - 0.1) * math.exp(-epoch / rate) + rng.normal(0.0, 0.003))
            for epoch in range(1, EPOCHS + 1)
        )
        seconds = tuple(float(1.0 + 0.3 * layers + 0.1 * rng.random()) for _ in range(EPOCHS))
        records.append(CurveRow(SPACE.format(values), curve, seconds))
    return CurveTable(
        task="synthetic",
        description="synthetic curves for the peers' tests",
        space=SPACE,
        metric="accuracy",
        maximize=True,
        resource="epoch",
        rows=records,
    )


TABLE = synthetic_table()


@dataclass
class Probe:
    """Wraps a method and watches what the simulator sees of it."""

    inner: Method
    workers: int
    max_resource: int
    name: str = ""
    running: set[str] = field(default_factory=set)
    max_running: int = 0
    starts: list[Start] = field(default_factory=list)
    epochs: dict[str, int] = field(default_factory=dict)
    values: dict[str, list[float]] = field(default_factory=dict)
    short: int = 0  # jobs that ended before the full resource

    def __post_init__(self) -> None:
        self.name = self.inner.name

    def ask(self, now: float) -> Start | None:
        start = self.inner.ask(now)
        if start is not None:
            assert start.trial_id not in {s.trial_id for s in self.starts}, f"trial id {start.trial_id} reused"
            self.starts.append(start)
            self.running.add(start.trial_id)
            self.max_running = max(self.max_running, len(self.running))
            assert len(self.running) <= self.workers
        return start

    def report(self, trial_id: str, epoch: int, value: float, now: float) -> bool:
        assert trial_id in self.running
        self.epochs[trial_id] = epoch
        self.values.setdefault(trial_id, []).append(value)
        return self.inner.report(trial_id, epoch, value, now)

    def finish(self, trial_id: str, last_value: float | None, stopped: bool, now: float) -> None:
        self.running.remove(trial_id)
        if self.epochs.get(trial_id, 0) < self.max_resource:
            self.short += 1
        self.inner.finish(trial_id, last_value, stopped, now)


def probed(factory: MethodFactory, probes: list[Probe]) -> MethodFactory:
    def make(task: Task, seed: int, workers: int) -> Probe:
        probe = Probe(factory(task, seed, workers), workers, task.max_resource)
        probes.append(probe)
        return probe

    return make


def run(
    name: str, seed: int, factory: MethodFactory | None = None, horizon_s: float | None = None
) -> tuple[Outcome, Probe]:
    probes: list[Probe] = []
    outcome = simulate(
        TABLE,
        probed(factory or PEERS[name], probes),
        seed,
        WORKERS,
        targets=(TABLE.target(0.05),),
        horizon_s=horizon_s or HORIZONS_S.get(name, HORIZON_S),
        decision_time="zero",
        stop_at_targets=False,
    )
    return outcome, probes[0]


def test_the_table_has_a_clear_good_region() -> None:
    finals = TABLE.finals()
    assert finals.max() > 0.85 and np.median(finals) < 0.7


@pytest.mark.parametrize("name", sorted(PEERS))
def test_peer_runs_within_the_workers_deterministically(name: str) -> None:
    outcome, probe = run(name, seed=3)
    assert outcome.method == name
    assert len(probe.starts) > 1 and outcome.jobs == len(probe.starts)
    assert probe.max_running == WORKERS  # it used both workers, and never more (Probe asserts)
    assert outcome.trace, "no job ended with an objective"
    if name in MULTI_FIDELITY:
        assert probe.short > 0, "no job was stopped or started short of the full resource"

    again, probe_again = run(name, seed=3)
    assert again.trace == outcome.trace
    assert again.by_jobs == outcome.by_jobs
    assert (again.jobs, again.epochs, again.stopped) == (outcome.jobs, outcome.epochs, outcome.stopped)
    assert probe_again.starts == probe.starts


def test_gp_proposals_past_its_random_start_are_deterministic() -> None:
    """The parametrized test ends before GPSampler's 10 random trials are done; this one gets to
    its model (torch) after 3."""
    import optuna
    import torch

    def gp(seed: int) -> optuna.samplers.BaseSampler:
        return optuna.samplers.GPSampler(seed=seed, n_startup_trials=3)

    factory = optuna_method("Optuna GP, 3 random", gp, lambda task: optuna.pruners.NopPruner())
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small matrices: threads only contend
    try:
        outcome, probe = run("Optuna GP, 3 random", 5, factory, horizon_s=45.0)
        again, probe_again = run("Optuna GP, 3 random", 5, factory, horizon_s=45.0)
    finally:
        torch.set_num_threads(threads)
    assert outcome.jobs >= 6  # 3 random, then the GP
    assert probe_again.starts == probe.starts and again.trace == outcome.trace


def test_peers_leave_the_global_generators_alone() -> None:
    """Syne Tune samples from numpy's global generator; the adapter gives it its own."""
    np.random.seed(1234)
    expected = np.random.random(3)
    np.random.seed(1234)
    run("Syne Tune async Hyperband", 7, horizon_s=60.0)
    assert np.array_equal(np.random.random(3), expected)


def test_one_epoch_continues_the_top_k_of_each_round() -> None:
    _, probe = run("One epoch, top 2 of 20", 11, horizon_s=200.0)
    first_round = [s for s in probe.starts if s.epochs == 1][:20]
    assert len(first_round) == 20 and all(probe.epochs[s.trial_id] == 1 for s in first_round)
    best_two = sorted(first_round, key=lambda s: -probe.values[s.trial_id][0])[:2]
    resumed = [s for s in probe.starts if s.resume is not None]
    assert [s.resume for s in resumed[:2]] == [s.trial_id for s in best_two]
    assert [s.values for s in resumed[:2]] == [s.values for s in best_two]
    for start in resumed[:2]:
        assert start.epochs is None
        assert probe.epochs[start.trial_id] == EPOCHS  # went on from epoch 2 to the end
        assert len(probe.values[start.trial_id]) == EPOCHS - 1


@pytest.mark.parametrize("name", ["Optuna TPE + Median", "Syne Tune ASHA", "DEHB"])
def test_scalings_map_into_the_ranges(name: str) -> None:
    """Every scaling (incl. ReverseLogarithmic, which only Syne Tune has natively) gives values
    inside the ranges, of the range's type."""
    space = SearchSpace(
        (
            IntegerParam("units", 8, 512, "Logarithmic"),
            IntegerParam("depth", 1, 6, "ReverseLogarithmic"),
            ContinuousParam("momentum", 0.9, 0.999, "ReverseLogarithmic"),
            ContinuousParam("lr", 1e-5, 1e-1, "Logarithmic"),
            ContinuousParam("dropout", 0.0, 0.5),
            CategoricalParam("act", ("relu", "tanh")),
        )
    )
    task = Task("scalings", space, "m", False, EPOCHS)
    method = PEERS[name](task, 2, 4)
    momenta = []
    for _ in range(12):
        start = method.ask(0.0)
        assert start is not None
        v = start.values
        assert isinstance(v["units"], int) and 8 <= v["units"] <= 512
        assert isinstance(v["depth"], int) and 1 <= v["depth"] <= 6
        assert isinstance(v["momentum"], float) and 0.9 <= v["momentum"] <= 0.999
        assert isinstance(v["lr"], float) and 1e-5 <= v["lr"] <= 1e-1
        assert isinstance(v["dropout"], float) and 0.0 <= v["dropout"] <= 0.5
        assert v["act"] in ("relu", "tanh")
        momenta.append(float(v["momentum"]))
    # reverse-log: draws crowd towards the top of the range (median about 0.99; linear: 0.9495)
    assert np.median(momenta) > 0.95
