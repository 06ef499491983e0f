"""Suggester replay: re-derive every decision of a tuning job from its input events, offline, with
the suggester's own handler and state, and compare with the decisions on the trials topic.

Inputs are the job's events of the jobs topic (TuningJobSubmitted, TuningJobStopRequested) and of
the metrics topic (MetricReported, ObjectiveCollected), each in partition order. The live suggester
read those two topics (and its own outputs on the trials topic) through one consumer, so how they
interleaved differs from run to run; a decision can depend on it (a stop request read before or
after a result). Every decision therefore records how many events of each topic it had seen
(`DecisionInputs`), and `decide` decisions record the `now` they were given (their occurred_at).
The replay interleaves the topics so that each recorded decision is re-made after exactly those
inputs (metrics first within a stretch, so a stop request lands right before the decision it
caused) and reacts to every input as the live handler does: `on_objective` for the objective's
MetricReported, `decide` otherwise, plus `decide` at a recorded decision's position when the live
suggester made it on a tick. What a decision says (hyperparameters, rule, step, value, cutoff,
reason, status) is never taken from the record: only where in the inputs it was made, and when.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tunestream.events.v1 import (
    DecisionInputs,
    Event,
    EventBase,
    TrainingJobProposed,
    TrainingJobStopRequested,
    TuningJobEnded,
)
from tunestream.replay.source import JobHistory
from tunestream.strategies import registry
from tunestream.suggester.handler import DECISIONS, JOB_INPUTS, METRIC_INPUTS, SuggesterHandler


@dataclass
class DecisionDifference:
    event_id: str
    kind: str  # missing (recorded, not re-derived), extra (re-derived, not recorded), changed, order
    field: str = ""
    recorded: Any = None
    replayed: Any = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "kind": self.kind,
            "field": self.field,
            "recorded": self.recorded,
            "replayed": self.replayed,
        }

    def __str__(self) -> str:
        if self.kind == "changed":
            return f"{self.event_id}.{self.field}: recorded {self.recorded!r}, replayed {self.replayed!r}"
        return f"{self.event_id}: {self.kind}"


@dataclass
class SuggesterReplay:
    inputs: int
    recorded: int
    replayed: int
    decisions: dict[str, int] = field(default_factory=dict)
    differences: list[DecisionDifference] = field(default_factory=list)
    unpositioned: int = 0  # recorded decisions without DecisionInputs (made before it existed)


class _Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def content(event: EventBase) -> dict[str, Any]:
    """What a decision says, for comparison: its payload without the bookkeeping the replay drives by."""
    payload = event.payload.model_dump(mode="json")  # type: ignore[attr-defined]
    payload.pop("inputs", None)
    if isinstance(event, TrainingJobProposed):
        payload["details"] = {k: v for k, v in payload["details"].items() if k not in registry.timing_details()}
    return {"type": event.type, **payload}  # type: ignore[attr-defined]


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix: value}


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return bool(a == b)


def recorded_decisions(history: JobHistory) -> list[EventBase]:
    """The suggester's decisions on the trials topic, first copy of each (consumers keep the first)."""
    seen: set[str] = set()
    out: list[EventBase] = []
    for e in history.trials:
        if isinstance(e, DECISIONS) and e.event_id not in seen:
            seen.add(e.event_id)
            out.append(e)
    return out


def _position(e: EventBase) -> tuple[int, int] | None:
    inputs: DecisionInputs | None = e.payload.inputs  # type: ignore[attr-defined]
    return (inputs.jobs, inputs.metrics) if inputs is not None else None


async def _rederive(history: JobHistory, recorded: list[EventBase]) -> list[EventBase]:
    jobs = [e for e in history.jobs if isinstance(e, JOB_INPUTS)]
    metrics = [e for e in history.metrics if isinstance(e, METRIC_INPUTS)]
    if not jobs:
        return []
    clock = _Clock(jobs[0].occurred_at)
    name = history.name
    produced: list[EventBase] = []
    produced_ids: set[str] = set()
    k = 0  # the first recorded decision not re-derived yet and not behind the replay

    def position() -> tuple[int, int]:
        return handler.seen.get(name, (0, 0))

    def next_target() -> tuple[EventBase, tuple[int, int]] | None:
        nonlocal k
        while k < len(recorded):
            e = recorded[k]
            at = _position(e)
            here = position()
            if e.event_id in produced_ids or at is None or at[0] < here[0] or at[1] < here[1]:
                k += 1
                continue
            return e, at
        return None

    def model_busy(_: str) -> bool:
        # As the live suggester found it when it made the recorded proposal at this position (it
        # depended on the clock). Where no proposal was recorded here nothing was proposed, and the
        # computation is left pending: landing it here, where the live suggester may still have
        # been computing, would let the next recorded proposal use it where the live one made a
        # random draw while busy (its flag, read there, lands it where the live suggester did).
        here = position()
        for e in recorded[k:]:
            at = _position(e)
            if at is None or e.event_id in produced_ids or at[0] < here[0] or at[1] < here[1]:
                continue
            if at != here:
                break
            if isinstance(e, TrainingJobProposed):
                inputs: DecisionInputs = e.payload.inputs  # type: ignore[assignment]
                return inputs.model_busy
        return True

    handler = SuggesterHandler(clock=clock, busy_hint=model_busy)

    def keep(outputs: Any) -> None:
        for e in outputs:
            if e.event_id not in produced_ids:
                produced_ids.add(e.event_id)
                produced.append(e)

    async def ticks() -> None:
        # Recorded decisions at this very position that reacting did not re-make: the live suggester
        # made them on a tick (or when it reconciled after a restart), with the clock they record.
        nonlocal k
        while (target := next_target()) is not None and target[1] == position():
            clock.now = target[0].occurred_at
            keep(await handler.reconcile())
            if target[0].event_id not in produced_ids:
                k += 1  # not re-made here: the comparison reports it

    ji = mi = 0
    while ji < len(jobs) or mi < len(metrics):
        await ticks()
        target = next_target()
        here = position()
        if target is not None:
            take_metric = mi < len(metrics) and here[1] < target[1][1]
            if not take_metric and not (ji < len(jobs) and here[0] < target[1][0]):
                take_metric = mi < len(metrics)
        else:
            take_metric = mi < len(metrics)
        if take_metric:
            event: Event = metrics[mi]
            mi += 1
        else:
            event = jobs[ji]
            ji += 1
        handler.apply(event)
        target = next_target()
        clock.now = target[0].occurred_at if target is not None and target[1] == position() else event.occurred_at
        keep(await handler.react(event))
    await ticks()
    return produced


def replay_suggester(history: JobHistory) -> SuggesterReplay:
    recorded = recorded_decisions(history)
    replayed = asyncio.run(_rederive(history, recorded))
    result = SuggesterReplay(
        inputs=sum(1 for e in history.jobs if isinstance(e, JOB_INPUTS))
        + sum(1 for e in history.metrics if isinstance(e, METRIC_INPUTS)),
        recorded=len(recorded),
        replayed=len(replayed),
        unpositioned=sum(1 for e in recorded if _position(e) is None),
    )
    for e in recorded:
        key = {TrainingJobProposed: "proposals", TrainingJobStopRequested: "stops", TuningJobEnded: "ended"}
        kind = key.get(type(e), "other")
        if isinstance(e, TrainingJobStopRequested) and e.payload.rule:
            kind = f"stops:{e.payload.rule}"
        result.decisions[kind] = result.decisions.get(kind, 0) + 1
    result.differences = compare(recorded, replayed)
    return result


def compare(recorded: list[EventBase], replayed: list[EventBase]) -> list[DecisionDifference]:
    out: list[DecisionDifference] = []
    by_id = {e.event_id: e for e in replayed}
    recorded_ids = {e.event_id for e in recorded}
    for e in recorded:
        mine = by_id.get(e.event_id)
        if mine is None:
            out.append(DecisionDifference(e.event_id, "missing"))
            continue
        a, b = _flatten(content(e)), _flatten(content(mine))
        for f in sorted(a.keys() | b.keys()):
            if not _same(a.get(f), b.get(f)):
                out.append(DecisionDifference(e.event_id, "changed", f, a.get(f), b.get(f)))
    out += [DecisionDifference(e.event_id, "extra") for e in replayed if e.event_id not in recorded_ids]
    common_recorded = [e.event_id for e in recorded if e.event_id in by_id]
    common_replayed = [e.event_id for e in replayed if e.event_id in recorded_ids]
    if common_recorded != common_replayed:
        first = next(i for i, (x, y) in enumerate(zip(common_recorded, common_replayed, strict=True)) if x != y)
        out.append(DecisionDifference(common_recorded[first], "order", "position", first, common_replayed[first]))
    return out
