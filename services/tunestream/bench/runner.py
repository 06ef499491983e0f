"""Runs the bench: every (task, W, method) cell over many seeds, in worker processes.

A cell's runs share a horizon: the simulated time W workers need to train `FULL_JOBS` average
configurations to the end, long enough that Random reaches the hardest target in nearly every run.
A run answers a proposed configuration with the nearest recorded row ("nearest") or with the
forests fitted to the rows ("fitted", `tunestream.bench.surrogate`); each answer has its targets.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from tunestream.bench import tables
from tunestream.bench.informed import SHARES as INFORMED
from tunestream.bench.informed import informed_factory
from tunestream.bench.methods import MethodFactory
from tunestream.bench.simulator import Answer, DecisionTime, Outcome, nearest_row, simulate
from tunestream.bench.suggester_methods import METHODS
from tunestream.bench.surrogate import FittedCurves

TARGET_SHARES = (0.10, 0.05, 0.02)  # targets: the final values reached by this share of a table's rows
FULL_JOBS = 200
# Training jobs one simulated tuning job may start (MaxNumberOfTrainingJobs), for every method: a
# method that stops nearly everything at its first rung would otherwise start thousands.
MAX_JOBS = 1000

AnswerKind = Literal["nearest", "fitted"]
ANSWERS: tuple[AnswerKind, ...] = ("nearest", "fitted")


def all_methods() -> dict[str, MethodFactory]:
    """tunestream's methods, then the peers (imported only here: they need the bench extra)."""
    from tunestream.bench.peers import PEERS

    return {**METHODS, **PEERS}


def method_names() -> list[str]:
    """Every method the bench can run: all_methods() and the informed bounds (informed.py)."""
    return [*all_methods(), *INFORMED]


@functools.cache
def load_table(path: str) -> tables.CurveTable:
    return tables.load(Path(path))


@functools.cache
def fitted_curves(path: str) -> FittedCurves:
    return FittedCurves(load_table(path))


def targets_of(path: str, answer: AnswerKind = "nearest", shares: Sequence[float] = TARGET_SHARES) -> tuple[float, ...]:
    if answer == "fitted":
        return fitted_curves(path).targets(shares)
    table = load_table(path)
    return tuple(table.target(s) for s in shares)


def answer_of(path: str, answer: AnswerKind) -> Answer | None:
    """The simulator's answer for a run (None: its default, the nearest row)."""
    return fitted_curves(path).curve if answer == "fitted" else None


def finals_of(path: str, answer: AnswerKind) -> np.ndarray:
    """The final values an answer's targets are drawn from: the fitted forests' sample or the rows'."""
    return fitted_curves(path).sample_finals() if answer == "fitted" else load_table(path).finals()


def horizon_of(table: tables.CurveTable, workers: int, full_jobs: int = FULL_JOBS) -> float:
    mean_full = float(np.mean([sum(r.seconds) for r in table.rows]))
    return full_jobs * mean_full / workers


@dataclass(frozen=True)
class Run:
    table: str  # path
    method: str
    workers: int
    seed: int
    decision_time: DecisionTime = "zero"
    full_jobs: int = FULL_JOBS
    start_cost_s: float = 0.0
    answer: AnswerKind = "nearest"
    max_jobs: int = MAX_JOBS
    # False: go on to max_jobs after the last target (a run's best after N jobs is then not cut
    # short where it reached the targets first).
    stop_at_targets: bool = True


def run_one(run: Run) -> Outcome:
    table = load_table(run.table)
    answer = answer_of(run.table, run.answer)
    factory: MethodFactory
    if run.method in INFORMED:
        told = answer or nearest_row(table)
        factory = informed_factory(run.method, told, finals_of(run.table, run.answer), table.maximize)
    else:
        # tunestream's own methods without importing the peers (they need the bench extra).
        factory = METHODS.get(run.method) or all_methods()[run.method]
    return simulate(
        table,
        factory,
        run.seed,
        run.workers,
        targets=targets_of(run.table, run.answer),
        horizon_s=horizon_of(table, run.workers, run.full_jobs),
        decision_time=run.decision_time,
        max_jobs=run.max_jobs,
        stop_at_targets=run.stop_at_targets,
        start_cost_s=run.start_cost_s,
        answer=answer,
    )


def _one_thread() -> None:
    # Each bench process is one sequential suggester; torch and BLAS must not fan out over the
    # cores the other processes use.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    try:
        import torch

        torch.set_num_threads(1)
        # Imported here, not inside the first model-based proposal, whose measured time it would be.
        import botorch.fit
        import botorch.optim  # noqa: F401
    except ImportError:
        pass


def run_all(runs: Sequence[Run], processes: int, progress: Callable[[Run, Outcome], None]) -> Iterator[Outcome]:
    """Outcomes in the order of `runs`, computed by `processes` worker processes (1: in this one)."""
    if processes <= 1:
        _one_thread()
        for run in runs:
            outcome = run_one(run)
            progress(run, outcome)
            yield outcome
        return
    with ProcessPoolExecutor(processes, initializer=_one_thread) as pool:
        for run, outcome in zip(runs, pool.map(run_one, runs, chunksize=4), strict=True):
            progress(run, outcome)
            yield outcome
