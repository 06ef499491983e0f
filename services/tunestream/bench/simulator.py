"""A discrete-event simulation of one tuning job over a curve table: W workers, a simulated clock.

Every epoch of a training job costs the wall seconds recorded for it, so a method that prefers slow
configurations pays for them, and a job stopped early frees its worker at once. A configuration a
method proposes is trained as the table's nearest recorded configuration (`CurveTable.nearest`), or
as another answer's curve for it (`answer`: the fitted forests of `tunestream.bench.surrogate`).

The method's own time can be charged too (`decision_time="measured"`): the suggester is one
sequential process, so a proposal that takes d seconds of wall time delays the start of its job by
d, and proposals queue behind each other. Work a method does between events (its optional
`think`, e.g. proposing ahead) occupies the suggester without delaying a job already started.
Stop decisions are not charged: a running job goes on training while its verdict is computed.
With "zero" the simulation is deterministic under the seed.

A training job's objective is its last reported value (SageMaker's rule); a target counts as
reached when a job ends at or beyond it.
"""

from __future__ import annotations

import heapq
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from tunestream.bench.methods import Method, MethodFactory, Start, Task
from tunestream.bench.tables import CurveRow, CurveTable

DecisionTime = Literal["zero", "measured"]
# The curve a proposed configuration trains as.
Answer = Callable[[Mapping[str, int | float | str]], CurveRow]


def nearest_row(table: CurveTable) -> Answer:
    return lambda values: table.rows[table.nearest(values)]


def task_of(table: CurveTable) -> Task:
    return Task(
        name=table.task,
        space=table.space,
        metric=table.metric,
        maximize=table.maximize,
        max_resource=table.max_resource,
    )


@dataclass
class Outcome:
    method: str
    task: str
    seed: int
    workers: int
    # (time a training job ended, best objective of ended jobs so far), one point per improvement.
    trace: list[tuple[float, float]] = field(default_factory=list)
    time_to_target: dict[float, float] = field(default_factory=dict)  # target -> seconds (inf: never)
    # Best objective after each ended training job, in the order they ended (SageMaker's count).
    by_jobs: list[float] = field(default_factory=list)
    jobs: int = 0
    epochs: int = 0
    train_seconds: float = 0.0  # worker time spent training (the cost of what the method chose)
    stopped: int = 0
    decision_seconds: float = 0.0
    end_time: float = 0.0

    def best_at(self, t: float) -> float | None:
        best = None
        for when, value in self.trace:
            if when > t:
                break
            best = value
        return best


@dataclass
class _Running:
    trial_id: str
    curve: CurveRow
    epoch: int  # epochs done so far (of the configuration, counting resumed ones)
    last_epoch: int  # stop after this epoch
    last_value: float | None


def simulate(
    table: CurveTable,
    factory: MethodFactory,
    seed: int,
    workers: int,
    *,
    targets: tuple[float, ...],
    horizon_s: float,
    decision_time: DecisionTime = "zero",
    stop_at_targets: bool = True,
    max_jobs: int | None = None,
    start_cost_s: float = 0.0,
    answer: Answer | None = None,
) -> Outcome:
    """Run one tuning job until `horizon_s` simulated seconds, until the method has nothing left to
    run, or (with stop_at_targets) until every target is reached. `max_jobs` caps the training
    jobs started (a resumed one counts too), as MaxNumberOfTrainingJobs caps a user's.
    `start_cost_s`: worker seconds every training job spends before its first epoch (the launch,
    the program's start, loading a checkpoint), charged alike to new and resumed ones.
    `answer`: the curve a new configuration trains as (default: the nearest recorded row)."""
    answer = answer or nearest_row(table)
    task = task_of(table)
    method = factory(task, seed, workers)
    out = Outcome(method=method.name, task=table.task, seed=seed, workers=workers)
    best: float | None = None
    pending_targets = sorted(targets, key=lambda x: x if table.maximize else -x)
    ended: dict[str, tuple[CurveRow, int, float | None]] = {}  # trial -> (curve, epochs done, last value)
    running: dict[str, _Running] = {}
    events: list[tuple[float, int, str]] = []  # (time the trial's next epoch ends, tie-break, trial)
    order = 0
    suggester_free_at = 0.0
    # A method that fills a slot while its next proposal is still being computed (the suggester's
    # ProposesWhileBusy) computes it on a clock of its own instead of delaying decisions.
    while_busy = bool(getattr(method, "proposes_while_busy", False))
    model_free_at = 0.0
    now = 0.0

    def fill(now: float) -> None:
        nonlocal order, suggester_free_at, model_free_at
        while len(running) < workers and (max_jobs is None or out.jobs < max_jobs):
            started = time.perf_counter()
            asked_at = max(now, suggester_free_at)
            start: Start | None = method.ask(asked_at)
            spent = time.perf_counter() - started
            out.decision_seconds += spent
            at = now
            if decision_time == "measured":
                suggester_free_at = asked_at + spent
                at = suggester_free_at
            if start is None:
                break
            if start.trial_id in running or start.trial_id in ended:
                raise ValueError(f"{method.name}: trial id {start.trial_id!r} was used before")
            if start.resume is not None:
                if start.resume not in ended:
                    raise ValueError(f"{method.name}: cannot resume {start.resume!r}: no such ended job")
                curve, done, last = ended[start.resume]
            else:
                curve, done, last = answer(start.values), 0, None
            max_epochs = len(curve.values)
            last_epoch = max_epochs if start.epochs is None else min(start.epochs, max_epochs)
            if last_epoch <= done:
                raise ValueError(f"{method.name}: job {start.trial_id} asks for epoch {last_epoch}, has {done}")
            run = _Running(start.trial_id, curve, done, last_epoch, last)
            running[start.trial_id] = run
            out.jobs += 1
            order += 1
            out.train_seconds += start_cost_s
            heapq.heappush(events, (at + start_cost_s + curve.seconds[done], order, start.trial_id))
        think = getattr(method, "think", None)  # work a method does between events (proposing ahead)
        if think is not None:
            started = time.perf_counter()
            think(now)
            spent = time.perf_counter() - started
            out.decision_seconds += spent
            if decision_time == "measured" and while_busy:
                # Computed beside the decisions (the suggester's own thread), ready when done.
                model_free_at = max(now, suggester_free_at, model_free_at) + spent
                method.ahead_ready_at = model_free_at  # type: ignore[attr-defined]
            elif decision_time == "measured":
                suggester_free_at = max(now, suggester_free_at) + spent

    def end(run: _Running, now: float, stopped: bool) -> None:
        nonlocal best
        del running[run.trial_id]
        ended[run.trial_id] = (run.curve, run.epoch, run.last_value)
        out.stopped += stopped
        method.finish(run.trial_id, run.last_value, stopped, now)
        value = run.last_value
        if (
            value is not None
            and not math.isnan(value)
            and (best is None or (value > best if table.maximize else value < best))
        ):
            best = value
            out.trace.append((now, value))
        if best is None:
            return
        out.by_jobs.append(best)
        while pending_targets and table.reaches(best, pending_targets[0]):
            out.time_to_target[pending_targets.pop(0)] = now

    fill(0.0)
    while events:
        now, _, trial_id = heapq.heappop(events)
        if now > horizon_s:
            now = horizon_s
            break
        run = running[trial_id]
        row = run.curve
        value = row.values[run.epoch]
        run.epoch += 1
        run.last_value = value
        out.epochs += 1
        out.train_seconds += row.seconds[run.epoch - 1]
        go_on = method.report(trial_id, run.epoch, value, now)
        if run.epoch >= run.last_epoch:  # done: a stop verdict on the last epoch comes too late
            end(run, now, stopped=False)
        elif not go_on:
            end(run, now, stopped=True)
        else:
            order += 1
            heapq.heappush(events, (now + row.seconds[run.epoch], order, trial_id))
        if stop_at_targets and not pending_targets:
            break
        if len(running) < workers:
            fill(now)
    out.end_time = now
    for target in pending_targets:
        out.time_to_target[target] = math.inf
    return out


__all__ = ["Answer", "DecisionTime", "Method", "Outcome", "nearest_row", "simulate", "task_of"]
