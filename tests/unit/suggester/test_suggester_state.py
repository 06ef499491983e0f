"""The suggester's decisions, driven by events in memory."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import minimal_job
from tunestream.definitions import CreateTuningJobRequest
from tunestream.events.v1 import (
    MetricReported,
    MetricReportedData,
    ObjectiveCollected,
    ObjectiveCollectedData,
    TrainingJobProposed,
    TrainingJobStopRequested,
    TuningJobEnded,
    TuningJobStopRequested,
    TuningJobStopRequestedData,
    TuningJobSubmitted,
    TuningJobSubmittedData,
)
from tunestream.strategies.base import Adoption
from tunestream.suggester.handler import SuggesterHandler
from tunestream.trials import ObjectiveStatus, Proposal, TrainingJobStatus


def submitted(job: dict[str, Any], seed: int = 7) -> TuningJobSubmitted:
    request = CreateTuningJobRequest.model_validate(job)
    return TuningJobSubmitted(
        event_id=f"{request.HyperParameterTuningJobName}:submitted",
        tuning_job_name=request.HyperParameterTuningJobName,
        payload=TuningJobSubmittedData(request=request, random_seed=seed, created_at=datetime.now(UTC)),
    )


def finished(job_name: str, training_job: str, value: float | None, status: str = "Completed") -> ObjectiveCollected:
    return ObjectiveCollected(
        event_id=f"{training_job}:objective",
        tuning_job_name=job_name,
        payload=ObjectiveCollectedData(
            training_job_name=training_job,
            status=TrainingJobStatus(status),
            failure_reason=None if status == "Completed" else "boom",
            objective_value=value,
            objective_status=ObjectiveStatus.SUCCEEDED if value is not None else ObjectiveStatus.FAILED,
            objective_reason=None,
        ),
    )


def step(handler: SuggesterHandler, event: Any) -> list[Any]:
    handler.apply(event)
    return list(asyncio.run(handler.react(event)))


def test_fills_parallel_slots_and_never_exceeds_them() -> None:
    h = SuggesterHandler()
    out = step(h, submitted(minimal_job("j")))
    assert [type(e) for e in out] == [TrainingJobProposed, TrainingJobProposed]
    assert [e.payload.spec.index for e in out] == [0, 1]
    # Echo of its own proposals changes nothing.
    for e in out:
        assert step(h, e) == []
    nxt = step(h, finished("j", out[0].payload.spec.training_job_name, 0.5))
    assert [e.payload.spec.index for e in nxt] == [2]


def test_completes_after_max_jobs_and_reports_reason() -> None:
    h = SuggesterHandler()
    proposals = step(h, submitted(minimal_job("j")))
    ended = []
    while proposals:
        p = proposals.pop(0)
        out = step(h, finished("j", p.payload.spec.training_job_name, float(p.payload.spec.index)))
        proposals += [e for e in out if isinstance(e, TrainingJobProposed)]
        ended += [e for e in out if isinstance(e, TuningJobEnded)]
    assert len(h.jobs["j"].proposals) == 4
    assert [e.payload.status for e in ended] == ["Completed"]
    assert "4 training jobs ran" in ended[0].payload.reason


def test_all_failed_means_failed() -> None:
    h = SuggesterHandler()
    job = minimal_job("j")
    job["HyperParameterTuningJobConfig"]["ResourceLimits"] = {
        "MaxNumberOfTrainingJobs": 1,
        "MaxParallelTrainingJobs": 1,
    }
    (p,) = step(h, submitted(job))
    (end,) = step(h, finished("j", p.payload.spec.training_job_name, None, "Failed"))
    assert end.payload.status == "Failed"


def test_stop_requests_running_jobs_then_ends_stopped() -> None:
    h = SuggesterHandler()
    a, b = step(h, submitted(minimal_job("j")))
    stop = TuningJobStopRequested(
        event_id="j:stop-requested", tuning_job_name="j", payload=TuningJobStopRequestedData(reason="user")
    )
    out = step(h, stop)
    assert sorted(e.payload.training_job_name for e in out if isinstance(e, TrainingJobStopRequested)) == sorted(
        [a.payload.spec.training_job_name, b.payload.spec.training_job_name]
    )
    assert step(h, stop) == []
    assert step(h, finished("j", a.payload.spec.training_job_name, None, "Stopped")) == []
    (end,) = step(h, finished("j", b.payload.spec.training_job_name, 0.1, "Stopped"))
    assert end.payload.status == "Stopped"


def test_rebuild_from_replayed_events_gives_identical_decisions() -> None:
    live = SuggesterHandler()
    log: list[Any] = [submitted(minimal_job("j"))]
    out = step(live, log[0])
    log += out
    log.append(finished("j", out[0].payload.spec.training_job_name, 0.3))
    next_live = step(live, log[-1])

    rebuilt = SuggesterHandler()
    for e in log[:-1]:
        rebuilt.apply(e)
    rebuilt.apply(log[-1])
    again = asyncio.run(rebuilt.reconcile())
    assert [e.model_dump(exclude={"occurred_at"}) for e in again] == [
        e.model_dump(exclude={"occurred_at"}) for e in next_live
    ]


def test_events_read_before_submission_are_kept() -> None:
    live = SuggesterHandler()
    (a, b) = step(live, submitted(minimal_job("j")))
    rebuilt = SuggesterHandler()
    for e in (finished("j", a.payload.spec.training_job_name, 1.0), a, b, submitted(minimal_job("j"))):
        rebuilt.apply(e)
    assert a.payload.spec.training_job_name in rebuilt.jobs["j"].results
    assert [e.payload.spec.index for e in asyncio.run(rebuilt.reconcile())] == [2]


def test_events_of_an_unrunnable_tuning_job_are_not_held_forever() -> None:
    # A submission this version refuses (here: the objective has no MetricDefinition) never gets a
    # state; what was held for it, and what arrives after it, is dropped instead of kept for good.
    bad = minimal_job("bad")
    bad["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"]["MetricName"] = "loss"
    h = SuggesterHandler()
    h.apply(finished("bad", "bad-001-x", 1.0))
    assert h._early.held("bad") == 1
    assert step(h, submitted(bad)) == []
    assert "bad" not in h.jobs and "bad" in h.unrunnable
    h.apply(finished("bad", "bad-002-x", 1.0))
    assert h._early.subjects() == 0


def test_proposal_carries_everything_the_launcher_needs() -> None:
    h = SuggesterHandler()
    p = step(h, submitted(minimal_job("j")))[0].payload
    spec = p.spec
    assert spec.training_job_name.startswith("j-001-")
    assert set(spec.tuned_hyperparameters) == {"x", "n", "kind"}
    assert spec.hyperparameters["epochs"] == "3"
    assert spec.objective_metric_name == "score" and spec.max_runtime_s == 60
    assert "random draw 1 of 4" in p.reason


def test_tuning_job_time_budget_stops_running_jobs_and_completes() -> None:
    now = [datetime.now(UTC)]
    h = SuggesterHandler(clock=lambda: now[0])
    job = minimal_job(
        "j", ResourceLimits={"MaxNumberOfTrainingJobs": 4, "MaxParallelTrainingJobs": 2, "MaxRuntimeInSeconds": 120}
    )
    a, b = step(h, submitted(job))
    assert asyncio.run(h.reconcile()) == []
    now[0] += timedelta(seconds=121)
    stops = list(asyncio.run(h.reconcile()))
    assert {e.payload.training_job_name for e in stops} == {
        a.payload.spec.training_job_name,
        b.payload.spec.training_job_name,
    }
    assert "MaxRuntimeInSeconds (120 s) reached" in stops[0].payload.reason
    assert step(h, finished("j", a.payload.spec.training_job_name, 0.5, "Stopped")) == []
    (end,) = step(h, finished("j", b.payload.spec.training_job_name, 0.7, "Stopped"))
    assert end.payload.status == "Completed" and "MaxRuntimeInSeconds" in end.payload.reason
    assert len(h.jobs["j"].proposals) == 2


def metric(
    job_name: str, training_job: str, step: int, value: float, name: str = "score", at: datetime | None = None
) -> MetricReported:
    return MetricReported(
        event_id=f"{training_job}:metric:{name}:{step}",
        tuning_job_name=job_name,
        payload=MetricReportedData(
            training_job_name=training_job, metric_name=name, value=value, step=step, at=at or datetime.now(UTC)
        ),
    )


def test_hyperband_stops_a_job_at_a_rung_with_numbers() -> None:
    h = SuggesterHandler()
    job = minimal_job(
        "hb", Strategy="Hyperband", ResourceLimits={"MaxNumberOfTrainingJobs": 40, "MaxParallelTrainingJobs": 40}
    )
    job["TrainingJobDefinition"]["StaticHyperParameters"]["epochs"] = "9"
    proposals = step(h, submitted(job))
    assert all("bracket" in p.payload.details for p in proposals)
    zero = [p.payload.spec.training_job_name for p in proposals if p.payload.details["bracket"] == 0][:3]
    assert step(h, metric("hb", zero[0], 1, 0.9)) == []
    assert step(h, metric("hb", zero[1], 1, 0.9)) == []  # a tie with the best continues
    (stop,) = step(h, metric("hb", zero[2], 1, 0.1))
    assert isinstance(stop, TrainingJobStopRequested)
    assert stop.payload.training_job_name == zero[2]
    assert (stop.payload.rule, stop.payload.step, stop.payload.value, stop.payload.cutoff) == ("hyperband", 1, 0.1, 0.9)
    # Other metrics and repeated values do not stop it twice.
    assert step(h, metric("hb", zero[2], 1, 0.1)) == []
    assert step(h, metric("hb", zero[2], 2, 0.05, name="other")) == []


def test_target_objective_ends_the_tuning_job_and_stops_the_rest() -> None:
    h = SuggesterHandler()
    job = minimal_job("t", TuningJobCompletionCriteria={"TargetObjectiveMetricValue": 0.9})
    a, b = step(h, submitted(job))
    out = step(h, finished("t", a.payload.spec.training_job_name, 0.95))
    assert [type(e) for e in out] == [TrainingJobStopRequested]
    assert "TargetObjectiveMetricValue 0.9 reached" in out[0].payload.reason
    (end,) = step(h, finished("t", b.payload.spec.training_job_name, 0.2, "Stopped"))
    assert end.payload.status == "Completed" and "TargetObjectiveMetricValue" in end.payload.reason
    assert end.payload.completion_details is not None
    assert end.payload.completion_details.NumberOfTrainingJobsObjectiveNotImproving == 1


def test_auto_early_stopping_uses_the_median_rule() -> None:
    h = SuggesterHandler()
    job = minimal_job(
        "m",
        TrainingJobEarlyStoppingType="Auto",
        ResourceLimits={"MaxNumberOfTrainingJobs": 8, "MaxParallelTrainingJobs": 4},
    )
    proposals = [p.payload.spec.training_job_name for p in step(h, submitted(job))]
    for name in proposals[:3]:
        for k in (1, 2):
            step(h, metric("m", name, k, 0.8))
    assert step(h, metric("m", proposals[3], 1, 0.1)) == []
    (stop,) = step(h, metric("m", proposals[3], 2, 0.1))
    assert stop.payload.rule == "median" and stop.payload.cutoff == 0.8


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["proposal", "result"]), st.integers(0, 11)), max_size=60))
def test_running_and_completion_indexes_match_their_definitions(ops: list[tuple[str, int]]) -> None:
    """The suggester keeps `running()` and the completion check as indexes, updated as events are
    applied; in any arrival order (results before proposals, repeats, during a rebuild) they must equal
    what a scan of every proposal and result gives."""
    job = minimal_job("ix", ResourceLimits={"MaxNumberOfTrainingJobs": 12, "MaxParallelTrainingJobs": 12})
    job["HyperParameterTuningJobConfig"]["TuningJobCompletionCriteria"] = {
        "BestObjectiveNotImproving": {"MaxNumberOfTrainingJobsNotImproving": 4}
    }
    h = SuggesterHandler()
    h.apply(submitted(job))
    specs = {p.payload.spec.index: p for p in asyncio.run(h.react(submitted(job)))}
    state = h.jobs["ix"]
    rebuilt = SuggesterHandler()
    rebuilt.apply(submitted(job))
    for kind, i in ops:
        event = specs[i] if kind == "proposal" else finished("ix", specs[i].payload.spec.training_job_name, i % 5)
        rebuilt.apply(event)
        again = rebuilt.jobs["ix"]
        scanned = [s.training_job_name for s in again.proposals.values() if s.training_job_name not in again.results]
        assert again.running() == scanned
        fresh = again.completion.evaluate(
            [(n, r.objective_value) for n, r in again.results.items() if r.objective_value is not None]
        )
        assert again._check_completion(datetime.now(UTC)) == fresh
    assert state.running() == [s.payload.spec.training_job_name for s in specs.values()]


class Loop:
    """One event loop for a handler's whole life, as in the service (work it starts in the
    background, like a proposal computed ahead, outlives a single event)."""

    def __init__(self, handler: SuggesterHandler) -> None:
        self.handler, self.loop = handler, asyncio.new_event_loop()

    def step(self, event: Any) -> list[Any]:
        self.handler.apply(event)
        return list(self.loop.run_until_complete(self.handler.react(event)))

    def drain(self) -> None:
        """Let the computations still running ahead finish before the loop goes."""
        pending = [computation for _, computation in self.handler._ahead.values()]
        self.loop.run_until_complete(asyncio.wait_for(asyncio.gather(*pending), 10))
        self.loop.close()


def bayesian_job(name: str) -> dict[str, Any]:
    job = minimal_job(name, Strategy="Bayesian")
    job["HyperParameterTuningJobConfig"]["ResourceLimits"] = {
        "MaxNumberOfTrainingJobs": 5,
        "MaxParallelTrainingJobs": 2,
    }
    return job


def test_bayesian_proposes_ahead_while_every_slot_is_busy() -> None:
    """The proposal for the next slot is computed right after the slots were filled, from the
    history as it stood then, and emitted as soon as a slot frees."""
    h = SuggesterHandler()
    loop = Loop(h)
    first = loop.step(submitted(bayesian_job("ahead")))
    assert [e.payload.spec.index for e in first] == [0, 1]
    assert "ahead" in h._ahead  # computing index 2 while 0 and 1 train
    state = h.jobs["ahead"]
    nxt = loop.step(finished("ahead", first[0].payload.spec.training_job_name, 0.5))
    (proposal,) = [e for e in nxt if isinstance(e, TrainingJobProposed)]
    assert proposal.payload.spec.index == 2 and proposal.payload.details["proposed_ahead"] == 1
    # Made before job 0's result arrived: it saw no observation.
    assert proposal.payload.details["observations"] == 0
    assert state.ahead == {}


def test_proposing_ahead_gives_the_same_proposals_for_the_same_events() -> None:
    def run() -> list[dict[str, str]]:
        loop = Loop(SuggesterHandler())
        pending = loop.step(submitted(bayesian_job("same")))
        out = []
        value = 0.1
        while pending:
            p = pending.pop(0)
            out.append(p.payload.spec.tuned_hyperparameters)
            value += 0.1
            pending += [
                e
                for e in loop.step(finished("same", p.payload.spec.training_job_name, value))
                if isinstance(e, TrainingJobProposed)
            ]
        return out

    assert run() == run()


def test_random_does_not_propose_ahead() -> None:
    h = SuggesterHandler()
    step(h, submitted(minimal_job("plain")))
    assert h._ahead == {} and h.jobs["plain"].ahead == {}


def test_promotion_sizes_its_first_rung_from_event_times_and_a_rebuild_agrees() -> None:
    """A start of 0.5 s and steps of 0.1 s, read from the events' times: after three training jobs
    ended, the rungs start at 3 (3 steps take at least half a start); a suggester rebuilt from the
    same events decides the same."""
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    now = [t0]
    h = SuggesterHandler(clock=lambda: now[0])
    job = minimal_job(
        "promo", Strategy="Hyperband", ResourceLimits={"MaxNumberOfTrainingJobs": 10, "MaxParallelTrainingJobs": 1}
    )
    job["TrainingJobDefinition"]["StaticHyperParameters"]["epochs"] = "20"
    job["TrainingJobDefinition"]["CheckpointConfig"] = {"S3Uri": "s3://tunestream/unit/checkpoints"}
    submit = submitted(job)
    log: list[Any] = [submit]
    out = step(h, submit)
    names = []
    for i, value in enumerate([0.3, 0.6, 0.4]):
        (proposal,) = out
        assert proposal.payload.spec.resource_limit == 2 and proposal.occurred_at == now[0]
        name = proposal.payload.spec.training_job_name
        names.append(name)
        log.append(proposal)
        step(h, proposal)
        for k in (1, 2):
            report = metric("promo", name, k, value, at=now[0] + timedelta(seconds=0.5 + 0.1 * k))
            log.append(report)
            step(h, report)
        now[0] += timedelta(seconds=0.7)
        done = finished("promo", name, value).model_copy(update={"occurred_at": now[0]})
        log.append(done)
        out = step(h, done)
        assert len(out) == 1, i
    (resume,) = out
    assert resume.payload.spec.resource_limit == 3 and resume.payload.spec.resume_from == names[1]
    assert resume.payload.details["rung"] == 3

    rebuilt = SuggesterHandler(clock=lambda: now[0])
    for e in log:
        rebuilt.apply(e)
    again = asyncio.run(rebuilt.reconcile())
    assert [e.model_dump() for e in again] == [e.model_dump() for e in out]


class PreparesPartly:
    """Prepares x = 0.9 ahead; at an even index something else comes first and the prepared
    configuration waits, at an odd one it is used (promotion Hyperband's pattern)."""

    def max_training_jobs(self) -> int:
        return 6

    def propose(self, index: int, history: Any) -> Proposal:
        return Proposal(index, {"x": 0.1, "n": 1, "kind": "a"}, "fresh")

    def propose_ahead(self, index: int, history: Any) -> Proposal | None:
        return Proposal(index, {"x": 0.9, "n": 1, "kind": "a"}, f"prepared for {index}")

    def adopt(self, prepared: Proposal, index: int, history: Any) -> tuple[Proposal, Adoption]:
        if index % 2 == 0:
            return Proposal(index, {"x": 0.5, "n": 1, "kind": "a"}, "first"), "waits"
        return replace(prepared, index=index), "used"


def test_a_prepared_proposal_that_waits_is_kept_for_the_next_slot() -> None:
    h = SuggesterHandler()
    loop = Loop(h)
    first = loop.step(submitted(minimal_job("part")))  # before the strategy is swapped: random draws
    state = h.jobs["part"]
    state.strategy, state.proposes_ahead = PreparesPartly(), True
    state.ahead[len(state.proposals)] = PreparesPartly().propose_ahead(len(state.proposals), [])  # type: ignore[assignment]
    reasons = []
    for p in first:
        for e in loop.step(finished("part", p.payload.spec.training_job_name, 0.5)):
            if isinstance(e, TrainingJobProposed):
                reasons.append((e.payload.spec.index, e.payload.reason, e.payload.details.get("proposed_ahead")))
    # Index 2 (even): something came first, and what was prepared for it waited for index 3.
    assert reasons[0] == (2, "first", None) and reasons[1] == (3, "prepared for 2", 1)
    loop.loop.run_until_complete(h._settle_ahead(state))  # the next one, still being prepared


class PreparesSlowly:
    """Prepares x = 0.9 ahead, for as long as the test holds `release`; a slot that frees meanwhile
    gets x = 0.3 (strategies.base.ProposesWhileBusy)."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.computations = 0

    def max_training_jobs(self) -> int:
        return 8

    def propose(self, index: int, history: Any) -> Proposal:
        return Proposal(index, {"x": 0.1, "n": 1, "kind": "a"}, "fresh")

    def propose_ahead(self, index: int, history: Any) -> Proposal | None:
        self.computations += 1
        assert self.release.wait(10)
        return Proposal(index, {"x": 0.9, "n": 1, "kind": "a"}, f"prepared for {index}")

    def adopt(self, prepared: Proposal, index: int, history: Any) -> tuple[Proposal, Adoption]:
        return replace(prepared, index=index), "used"

    def propose_while_busy(self, index: int, history: Any) -> Proposal:
        return Proposal(index, {"x": 0.3, "n": 1, "kind": "a"}, "while busy")


def slow_job(h: SuggesterHandler, loop: Loop, name: str) -> tuple[list[Any], PreparesSlowly]:
    first = loop.step(submitted(minimal_job(name)))  # random draws for 0 and 1, before the swap
    state = h.jobs[name]
    slow = PreparesSlowly()
    state.strategy, state.proposes_ahead = slow, True  # type: ignore[assignment]
    return first, slow


def proposed(events: list[Any]) -> TrainingJobProposed:
    (proposal,) = [e for e in events if isinstance(e, TrainingJobProposed)]
    return proposal


def test_a_slot_that_frees_while_the_model_computes_does_not_wait_and_the_model_serves_the_next() -> None:
    h = SuggesterHandler()
    loop = Loop(h)
    first, slow = slow_job(h, loop, "busy")
    two = proposed(loop.step(finished("busy", first[0].payload.spec.training_job_name, 0.5)))
    assert (two.payload.spec.index, two.payload.reason, two.payload.inputs.model_busy) == (2, "fresh", False)
    assert "busy" in h._ahead  # every slot full: index 3 is being prepared
    three = proposed(loop.step(finished("busy", first[1].payload.spec.training_job_name, 0.4)))
    assert (three.payload.spec.index, three.payload.reason, three.payload.inputs.model_busy) == (3, "while busy", True)
    assert slow.computations == 1  # no second computation queued behind the first
    slow.release.set()
    computation = h._ahead["busy"][1]
    loop.loop.run_until_complete(asyncio.wait_for(asyncio.shield(computation), 10))
    four = proposed(loop.step(finished("busy", two.payload.spec.training_job_name, 0.3)))
    assert (four.payload.spec.index, four.payload.reason) == (4, "prepared for 3")
    assert four.payload.details["proposed_ahead"] == 1 and not four.payload.inputs.model_busy
    loop.drain()


def test_replay_tells_the_handler_whether_the_model_was_busy_instead_of_the_clock() -> None:
    hinted = SuggesterHandler(busy_hint=lambda name: False)  # it was ready live: wait for it
    loop = Loop(hinted)
    first, slow = slow_job(hinted, loop, "ready")
    loop.step(finished("ready", first[0].payload.spec.training_job_name, 0.5))
    threading.Timer(0.2, slow.release.set).start()
    three = proposed(loop.step(finished("ready", first[1].payload.spec.training_job_name, 0.4)))
    assert (three.payload.reason, three.payload.inputs.model_busy) == ("prepared for 3", False)
    loop.drain()

    hinted = SuggesterHandler(busy_hint=lambda name: True)  # it was not: do without, though it is done
    loop = Loop(hinted)
    first, slow = slow_job(hinted, loop, "late")
    slow.release.set()
    loop.step(finished("late", first[0].payload.spec.training_job_name, 0.5))
    loop.loop.run_until_complete(asyncio.wait_for(asyncio.shield(hinted._ahead["late"][1]), 10))
    three = proposed(loop.step(finished("late", first[1].payload.spec.training_job_name, 0.4)))
    assert (three.payload.reason, three.payload.inputs.model_busy) == ("while busy", True)
    loop.drain()


def test_a_proposal_computed_ahead_for_a_slot_filled_meanwhile_lands_on_the_next() -> None:
    h = SuggesterHandler()
    step(h, submitted(minimal_job("land")))
    state = h.jobs["land"]
    prepared = Proposal(1, {"x": 0.9, "n": 1, "kind": "a"}, "prepared")
    state.land_ahead(1, prepared)  # proposals 0 and 1 exist already
    assert state.ahead == {2: prepared}
    state.land_ahead(5, prepared)
    assert state.ahead[5] is prepared
    assert not state.proposes_while_busy  # Random computes nothing ahead
