"""The scheduler's decisions: placement under capacity, GPU ids, lost launchers, retries, stops."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from tunestream.events.v1 import (
    EventBase,
    LauncherHeartbeat,
    LauncherHeartbeatData,
    TrainingJobAssigned,
    TrainingJobAssignedData,
    TrainingJobAttemptFailed,
    TrainingJobAttemptFailedData,
    TrainingJobFinished,
    TrainingJobFinishedData,
    TrainingJobProposed,
    TrainingJobProposedData,
    TrainingJobSpec,
    TrainingJobStopRequested,
    TrainingJobStopRequestedData,
)
from tunestream.instances import gpus_per_instance
from tunestream.scheduler.fleet import Fleet
from tunestream.trials import TrainingJobStatus


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def spec(
    i: int, *, gpus: int = 0, retries: int = 0, image: str | None = None, max_wait_s: int | None = None
) -> TrainingJobSpec:
    return TrainingJobSpec(
        training_job_name=f"tj-{i:03d}",
        index=i,
        tuned_hyperparameters={},
        hyperparameters={},
        command=[] if image else ["python", "train.py"],
        environment={},
        input_channels=[],
        output_s3_path="s3://b/out",
        max_runtime_s=60,
        metric_definitions=[],
        objective_metric_name="m",
        objective_type="Maximize",
        training_image=image,
        gpu_count=gpus,
        max_retry_attempts=retries,
        managed_spot=max_wait_s is not None,
        max_wait_s=max_wait_s,
    )


def proposed(s: TrainingJobSpec) -> TrainingJobProposed:
    return TrainingJobProposed(
        event_id=f"{s.training_job_name}:proposed",
        tuning_job_name="tj",
        payload=TrainingJobProposedData(spec=s, reason="test"),
    )


def beat(
    launcher: str,
    *,
    slots: int = 2,
    gpus: tuple[str, ...] = (),
    incarnation: str = "one",
    backends: tuple[str, ...] = ("process",),
    stopping: bool = False,
    isolating: tuple[str, ...] = (),
    multi_instance: tuple[str, ...] = (),
    preemptible: bool = False,
) -> LauncherHeartbeat:
    return LauncherHeartbeat(
        event_id=f"{launcher}:beat",
        tuning_job_name="",
        payload=LauncherHeartbeatData(
            launcher_id=launcher,
            incarnation=incarnation,
            backends=list(backends),  # type: ignore[arg-type]
            slots=slots,
            gpus=list(gpus),
            running=[],
            interval_s=1.0,
            stopping=stopping,
            isolating=list(isolating),  # type: ignore[arg-type]
            multi_instance=list(multi_instance),  # type: ignore[arg-type]
            preemptible=preemptible,
        ),
    )


def finished(name: str) -> TrainingJobFinished:
    return TrainingJobFinished(
        event_id=f"{name}:finished",
        tuning_job_name="tj",
        payload=TrainingJobFinishedData(
            training_job_name=name,
            status=TrainingJobStatus.COMPLETED,
            secondary_status="Completed",
            exit_code=0,
            failure_reason=None,
            model_artifact_s3_uri=None,
            log_batches=0,
            log_lines=0,
        ),
    )


def heard(f: Fleet, event: LauncherHeartbeat) -> None:
    """A heartbeat received live, as the scheduler's handler passes it on."""
    f.apply(event)
    f.confirm(event.payload.launcher_id)


def fleet(clock: Clock) -> Fleet:
    return Fleet(heartbeat_timeout_s=10, unplaceable_after_s=60, clock=clock)


def assigned(outputs: list[EventBase]) -> list[TrainingJobAssignedData]:
    return [e.payload for e in outputs if isinstance(e, TrainingJobAssigned)]


def test_spreads_jobs_and_never_exceeds_a_launchers_slots() -> None:
    clock = Clock()
    f = fleet(clock)
    heard(f, beat("a", slots=2))
    heard(f, beat("b", slots=1))
    for i in range(5):
        f.apply(proposed(spec(i)))
    first = assigned(f.decide())
    assert Counter(a.launcher_id for a in first) == {"a": 2, "b": 1}
    assert [a.training_job_name for a in first] == ["tj-000", "tj-001", "tj-002"]  # first come, first served
    assert assigned(f.decide()) == []  # full: nothing more until a slot frees
    f.apply(finished(first[0].training_job_name))
    second = assigned(f.decide())
    assert [(a.training_job_name, a.launcher_id) for a in second] == [("tj-003", first[0].launcher_id)]


def test_gpu_ids_are_never_handed_out_twice_and_big_jobs_do_not_block_small_ones() -> None:
    clock = Clock()
    f = fleet(clock)
    heard(f, beat("gpu", slots=8, gpus=("0", "1", "2", "3")))
    f.apply(proposed(spec(0, gpus=2)))
    f.apply(proposed(spec(1, gpus=1)))
    f.apply(proposed(spec(2, gpus=4)))  # does not fit while the others hold 3 GPUs
    f.apply(proposed(spec(3)))
    out = {a.training_job_name: a.gpus for a in assigned(f.decide())}
    assert out == {"tj-000": ["0", "1"], "tj-001": ["2"], "tj-003": []}
    f.apply(finished("tj-000"))
    f.apply(finished("tj-001"))
    assert {a.training_job_name: a.gpus for a in assigned(f.decide())} == {"tj-002": ["0", "1", "2", "3"]}


def test_container_jobs_go_only_to_container_launchers() -> None:
    clock = Clock()
    f = fleet(clock)
    heard(f, beat("proc", slots=4))
    heard(f, beat("dock", slots=4, backends=("container",)))
    f.apply(proposed(spec(0, image="img:1")))
    f.apply(proposed(spec(1)))
    out = {a.training_job_name: a.launcher_id for a in assigned(f.decide())}
    assert out == {"tj-000": "dock", "tj-001": "proc"}


def test_a_silent_launcher_loses_its_attempts_which_are_retried_elsewhere() -> None:
    clock = Clock()
    f = fleet(clock)
    heard(f, beat("a", slots=1))
    f.apply(proposed(spec(0, retries=1)))
    (first,) = assigned(f.decide())
    assert (first.launcher_id, first.attempt) == ("a", 0)
    clock.now += 5
    heard(f, beat("b", slots=1))
    assert f.decide() == []  # a is late but within the timeout
    clock.now += 6
    heard(f, beat("b", slots=1))
    out = f.decide()
    lost = [e.payload for e in out if isinstance(e, TrainingJobAttemptFailed)]
    assert [(x.attempt, x.launcher_id) for x in lost] == [(0, "a")]
    assert "sent no heartbeat" in lost[0].reason
    retry = assigned(out)
    assert [(r.launcher_id, r.attempt) for r in retry] == [("b", 1)]
    assert f.decide() == []  # decided once


def listen(f: Fleet, clock: Clock, seconds: int, *, kafka: bool = True) -> list[EventBase]:
    """Let time pass as the scheduler's loop does: a probe of Kafka and decisions every second."""
    out: list[EventBase] = []
    for _ in range(seconds):
        clock.now += 1
        f.broker_reachable(kafka)
        out += f.decide()
    return out


def test_no_launcher_is_lost_while_the_scheduler_itself_cannot_reach_kafka() -> None:
    clock = Clock()
    f = fleet(clock)
    f.broker_reachable(True)
    heard(f, beat("a", slots=1))
    f.apply(proposed(spec(0)))  # no retries: a false loss would fail the training job
    (first,) = assigned(f.decide())
    # The broker restarts: 30 s without a heartbeat, and without Kafka at all.
    assert listen(f, clock, 30, kafka=False) == []
    # Back: the launcher gets a full timeout to deliver the heartbeats it buffered.
    assert listen(f, clock, 9) == []
    heard(f, beat("a", slots=1))
    assert listen(f, clock, 10) == []
    # Now it really is silent while the scheduler hears Kafka.
    lost = [e.payload for e in listen(f, clock, 2) if isinstance(e, TrainingJobAttemptFailed)]
    assert [x.training_job_name for x in lost] == [first.training_job_name]


def test_a_scheduler_that_did_not_probe_for_a_while_judges_nobody_until_it_does() -> None:
    clock = Clock()
    f = fleet(clock)
    f.broker_reachable(True)
    heard(f, beat("a", slots=1))
    f.apply(proposed(spec(0)))
    assigned(f.decide())
    clock.now += 20  # its loop was blocked (e.g. sending to a broker that was away)
    assert f.decide() == []  # events read after the gap declare nobody lost
    assert listen(f, clock, 10) == []  # the first probe after the gap grants a full timeout
    assert any(isinstance(e, TrainingJobAttemptFailed) for e in listen(f, clock, 2))


def test_retries_spent_end_the_job_as_failed_retryable() -> None:
    clock = Clock()
    f = fleet(clock)
    heard(f, beat("a", slots=1))
    f.apply(proposed(spec(0, retries=0)))
    f.decide()
    clock.now += 11
    out = f.decide()
    (end,) = [e.payload for e in out if isinstance(e, TrainingJobFinished)]
    assert end.status == TrainingJobStatus.FAILED and end.retryable
    assert "MaximumRetryAttempts is 0" in (end.failure_reason or "")
    assert "tj-000" not in f.queue


def test_a_restarted_launcher_loses_the_attempts_of_its_earlier_incarnation() -> None:
    clock = Clock()
    f = fleet(clock)
    heard(f, beat("a", slots=2, incarnation="one"))
    f.apply(proposed(spec(0, retries=2)))
    f.decide()
    heard(f, beat("a", slots=2, incarnation="two"))
    out = f.decide()
    assert any(isinstance(e, TrainingJobAttemptFailed) and "restarted" in e.payload.reason for e in out)
    (retry,) = assigned(out)
    assert (retry.launcher_id, retry.incarnation, retry.attempt) == ("a", "two", 1)


def test_a_launcher_that_lost_an_attempt_gets_no_retry_until_heard_again() -> None:
    clock = Clock()
    f = fleet(clock)
    heard(f, beat("a", slots=2, incarnation="one"))
    f.apply(proposed(spec(0, retries=2)))
    f.decide()
    # A restarted "a" reports its earlier incarnation's attempt before its first heartbeat is read.
    f.apply(
        TrainingJobAttemptFailed(
            event_id="tj-000:attempt-0:failed",
            tuning_job_name="tj",
            payload=TrainingJobAttemptFailedData(
                training_job_name="tj-000", attempt=0, launcher_id="a", reason="launcher a restarted"
            ),
        )
    )
    assert assigned(f.decide()) == []
    heard(f, beat("a", slots=2, incarnation="two"))
    (retry,) = assigned(f.decide())
    assert (retry.incarnation, retry.attempt) == ("two", 1)


def test_the_first_assignment_of_an_attempt_in_the_log_wins() -> None:
    clock = Clock()
    f = fleet(clock)
    heard(f, beat("a"))
    heard(f, beat("b"))
    f.apply(proposed(spec(0)))
    for launcher in ("b", "a"):  # e.g. two schedulers raced
        f.apply(
            TrainingJobAssigned(
                event_id=f"tj-000:attempt-0:assigned:{launcher}",
                tuning_job_name="tj",
                payload=TrainingJobAssignedData(
                    training_job_name="tj-000", attempt=0, launcher_id=launcher, incarnation="one"
                ),
            )
        )
    current = f.queue["tj-000"].current()
    assert current is not None and current.launcher_id == "b"
    assert assigned(f.decide()) == []


def test_stopping_a_waiting_job_ends_it_without_a_launcher() -> None:
    clock = Clock()
    f = fleet(clock)
    f.apply(proposed(spec(0)))
    f.apply(
        TrainingJobStopRequested(
            event_id="tj-000:stop-requested",
            tuning_job_name="tj",
            payload=TrainingJobStopRequestedData(training_job_name="tj-000", reason="user asked"),
        )
    )
    (end,) = f.decide()
    assert isinstance(end, TrainingJobFinished) and end.payload.status == TrainingJobStatus.STOPPED


def test_a_stopping_launcher_gets_no_new_work() -> None:
    clock = Clock()
    f = fleet(clock)
    heard(f, beat("a", stopping=True))
    f.apply(proposed(spec(0)))
    assert assigned(f.decide()) == []


def test_a_job_no_launcher_can_ever_run_fails_after_waiting() -> None:
    clock = Clock()
    f = fleet(clock)
    heard(f, beat("a", slots=4, gpus=("0",)))
    f.apply(proposed(spec(0, gpus=2)))
    assert f.decide() == []
    clock.now += 61
    heard(f, beat("a", slots=4, gpus=("0",)))
    (end,) = f.decide()
    assert isinstance(end, TrainingJobFinished) and end.payload.status == TrainingJobStatus.FAILED
    assert "ResourceLimitExceeded" in (end.payload.failure_reason or "") and "2 GPUs" in (
        end.payload.failure_reason or ""
    )


def test_network_isolated_jobs_go_only_to_launchers_that_isolate_their_backend() -> None:
    clock = Clock()
    f = fleet(clock)
    heard(f, beat("open", slots=4, backends=("process", "container"), isolating=("container",)))
    heard(f, beat("closed", slots=1, isolating=("process",)))
    f.apply(proposed(spec(0).model_copy(update={"network_isolation": True})))
    f.apply(proposed(spec(1, image="img:1").model_copy(update={"network_isolation": True})))
    f.apply(proposed(spec(2)))
    out = {a.training_job_name: a.launcher_id for a in assigned(f.decide())}
    assert out == {"tj-000": "closed", "tj-001": "open", "tj-002": "open"}


def test_a_network_isolated_job_no_launcher_can_isolate_fails_with_the_reason() -> None:
    clock = Clock()
    f = fleet(clock)
    heard(f, beat("a", slots=4))
    f.apply(proposed(spec(0).model_copy(update={"network_isolation": True})))
    assert f.decide() == []
    clock.now += 61
    heard(f, beat("a", slots=4))
    (end,) = f.decide()
    assert isinstance(end, TrainingJobFinished) and end.payload.status == TrainingJobStatus.FAILED
    assert "the process backend with network isolation" in (end.payload.failure_reason or "")


def instances(i: int, count: int, *, gpus: int = 0) -> TrainingJobSpec:
    return spec(i, gpus=gpus).model_copy(update={"instance_count": count})


def test_the_instances_of_a_job_are_placed_together_on_one_launcher_or_not_at_all() -> None:
    clock = Clock()
    f = fleet(clock)
    heard(f, beat("small", slots=2, multi_instance=("process",)))
    heard(f, beat("big", slots=4, gpus=("0", "1", "2", "3"), multi_instance=("process",)))
    f.apply(proposed(instances(0, 3, gpus=1)))  # 3 slots and 3 GPUs: only "big"
    f.apply(proposed(instances(1, 2)))  # "big" has 1 slot left: "small"
    f.apply(proposed(instances(2, 2)))  # no launcher has 2 free slots now: waits, not split
    f.apply(proposed(spec(3)))  # a single instance takes big's last slot
    out = {a.training_job_name: (a.launcher_id, a.gpus) for a in assigned(f.decide())}
    assert out == {"tj-000": ("big", ["0", "1", "2"]), "tj-001": ("small", []), "tj-003": ("big", [])}
    f.apply(finished("tj-001"))
    assert {a.training_job_name: a.launcher_id for a in assigned(f.decide())} == {"tj-002": "small"}
    f.apply(finished("tj-000"))  # 3 slots back on "big", and its GPUs
    f.apply(proposed(instances(4, 2, gpus=2)))
    assert {a.training_job_name: a.gpus for a in assigned(f.decide())} == {"tj-004": ["0", "1", "2", "3"]}


def test_a_job_of_several_instances_goes_only_to_launchers_that_run_them_together() -> None:
    clock = Clock()
    f = fleet(clock)
    heard(f, beat("slurm", slots=8))  # a process launcher whose backend runs one host per job
    heard(f, beat("local", slots=2, multi_instance=("process",)))
    f.apply(proposed(instances(0, 2)))
    f.apply(proposed(instances(1, 2)))
    assert {a.training_job_name: a.launcher_id for a in assigned(f.decide())} == {"tj-000": "local"}
    clock.now += 61
    f.apply(proposed(instances(2, 3)))  # more instances than any such launcher has slots
    heard(f, beat("slurm", slots=8))
    heard(f, beat("local", slots=2, multi_instance=("process",)))
    clock.now += 61
    heard(f, beat("slurm", slots=8))
    heard(f, beat("local", slots=2, multi_instance=("process",)))
    ends = [e for e in f.decide() if isinstance(e, TrainingJobFinished)]
    assert [e.payload.training_job_name for e in ends] == ["tj-002"]
    reason = ends[0].payload.failure_reason or ""
    assert "ResourceLimitExceeded" in reason and "for 3 instances together (3 slots)" in reason
    assert "local: process, 2 slots, 0 GPUs, several instances of process" in reason


def test_launchers_read_back_in_a_rebuild_get_no_work_until_heard_live() -> None:
    clock = Clock()
    f = fleet(clock)
    f.apply(beat("gone", slots=4))  # read from the topic while rebuilding: maybe long dead
    f.apply(proposed(spec(0)))
    assert assigned(f.decide()) == []
    heard(f, beat("gone", slots=4))
    assert [a.launcher_id for a in assigned(f.decide())] == ["gone"]


def test_replaying_the_events_rebuilds_the_same_placement() -> None:
    clock = Clock()
    f = fleet(clock)
    events: list[object] = [beat("a", slots=2), beat("b", slots=2)]
    events += [proposed(spec(i)) for i in range(3)]
    for e in events:
        f.apply(e)  # type: ignore[arg-type]
    f.confirm("a")
    f.confirm("b")
    out = f.decide()
    rebuilt = fleet(clock)
    for e in [*events, *out]:
        rebuilt.apply(e)  # type: ignore[arg-type]
    assert rebuilt.decide() == []
    assert {n: j.current() for n, j in rebuilt.queue.items()} == {n: j.current() for n, j in f.queue.items()}


def test_gpus_per_instance_type() -> None:
    assert gpus_per_instance("ml.m5.xlarge") == 0
    assert gpus_per_instance("local") == 0 and gpus_per_instance(None) == 0
    assert gpus_per_instance("ml.p3.2xlarge") == 1
    assert gpus_per_instance("ml.g5.12xlarge") == 4
    assert gpus_per_instance("ml.p4d.24xlarge") == 8


def test_a_heterogeneous_job_takes_a_slot_per_host_and_each_groups_gpus() -> None:
    from tunestream.events.v1 import InstanceGroupSpec

    clock = Clock()
    f = fleet(clock)
    heard(f, beat("a", slots=4, gpus=("0", "1", "2"), multi_instance=("process",)))
    groups = [
        InstanceGroupSpec(name="cpu", instance_type="ml.c5.xlarge", count=2),
        InstanceGroupSpec(name="gpu", instance_type="ml.g5.12xlarge", count=1, gpus=4),
    ]
    f.apply(proposed(instances(0, 3).model_copy(update={"instance_groups": groups})))
    assert assigned(f.decide()) == []  # 4 GPUs wanted, 3 offered
    smaller = [groups[0], groups[1].model_copy(update={"gpus": 2})]
    f.apply(proposed(instances(1, 3).model_copy(update={"instance_groups": smaller})))
    f.apply(proposed(instances(2, 2)))  # one slot left after tj-001's three
    out = {a.training_job_name: a.gpus for a in assigned(f.decide())}
    assert out == {"tj-001": ["0", "1"]}


class WallClock:
    """Wall time that moves with a Clock, for spot jobs' MaxWaitTimeInSeconds."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.start = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.start + timedelta(seconds=self.clock.now - 1000.0)


def spot_fleet(clock: Clock) -> Fleet:
    return Fleet(heartbeat_timeout_s=10, unplaceable_after_s=60, clock=clock, wall=WallClock(clock))


def test_spot_jobs_run_only_on_preemptible_launchers_and_others_never_do() -> None:
    clock = Clock()
    f = spot_fleet(clock)
    heard(f, beat("steady", slots=4))
    heard(f, beat("spot", slots=4, preemptible=True))
    for i in range(3):
        f.apply(proposed(spec(i, max_wait_s=3600)))
    for i in range(3, 6):
        f.apply(proposed(spec(i)))
    placed = {a.training_job_name: a for a in assigned(f.decide())}
    assert {n: a.launcher_id for n, a in placed.items()} == {
        **{f"tj-{i:03d}": "spot" for i in range(3)},
        **{f"tj-{i:03d}": "steady" for i in range(3, 6)},
    }
    assert all(placed[f"tj-{i:03d}"].spot for i in range(3)) and not any(
        placed[f"tj-{i:03d}"].spot for i in range(3, 6)
    )
    # The launcher learns when the spot job's MaxWaitTimeInSeconds runs out: its creation plus the limit.
    created = f.queue["tj-000"].created_at
    assert placed["tj-000"].wait_deadline == created + timedelta(seconds=3600)
    assert placed["tj-003"].wait_deadline is None


def interrupt(f: Fleet, name: str, attempt: int, launcher: str) -> None:
    f.apply(
        TrainingJobAttemptFailed(
            event_id=f"{name}:{attempt}:failed",
            tuning_job_name="tj",
            payload=TrainingJobAttemptFailedData(
                training_job_name=name,
                attempt=attempt,
                launcher_id=launcher,
                reason="InternalServerError: Slurm job 7 ended PREEMPTED on n1",
            ),
        )
    )
    heard(f, beat(launcher, slots=1, preemptible=True))  # lost work: heard again before the retry


def test_spot_interruptions_do_not_spend_retries() -> None:
    clock = Clock()
    f = spot_fleet(clock)
    heard(f, beat("spot", slots=1, preemptible=True))
    f.apply(proposed(spec(0, retries=0, max_wait_s=3600)))
    assert [a.attempt for a in assigned(f.decide())] == [0]
    for attempt in range(5):  # MaximumRetryAttempts 0, and five interruptions: retried each time
        interrupt(f, "tj-000", attempt, "spot")
        out = f.decide()
        assert not [e for e in out if isinstance(e, TrainingJobFinished)]
        assert [(a.attempt, a.launcher_id, a.spot) for a in assigned(out)] == [(attempt + 1, "spot", True)]
    assert f.queue["tj-000"].interruptions() == 5 and f.queue["tj-000"].counted_failures() == 0


def test_a_spot_job_that_waited_past_max_wait_is_stopped_as_max_wait_time_exceeded() -> None:
    clock = Clock()
    f = spot_fleet(clock)
    heard(f, beat("spot", slots=1, preemptible=True))
    f.apply(proposed(spec(0, max_wait_s=100)))
    f.decide()
    clock.now += 50
    heard(f, beat("spot", slots=1, preemptible=True))
    interrupt(f, "tj-000", 0, "spot")
    # Capacity is gone (the launcher's slot is taken by another spot job); the job waits.
    f.apply(proposed(spec(1, max_wait_s=3600)))
    f.apply(
        TrainingJobAssigned(
            event_id="tj-001:0:assigned",
            tuning_job_name="tj",
            payload=TrainingJobAssignedData(
                training_job_name="tj-001", attempt=0, launcher_id="spot", incarnation="one", spot=True
            ),
        )
    )
    assert not [e for e in f.decide() if isinstance(e, TrainingJobFinished)]
    clock.now += 51
    heard(f, beat("spot", slots=1, preemptible=True))
    (end,) = [e.payload for e in f.decide() if isinstance(e, TrainingJobFinished)]
    assert end.training_job_name == "tj-000"
    assert (end.status, end.secondary_status) == (TrainingJobStatus.STOPPED, "MaxWaitTimeExceeded")
    assert "MaxWaitTimeInSeconds (100 s)" in (end.failure_reason or "") and "1 interruptions" in (
        end.failure_reason or ""
    )


def test_a_spot_job_without_preemptible_launchers_fails_naming_spot_capacity() -> None:
    clock = Clock()
    f = spot_fleet(clock)
    heard(f, beat("steady", slots=4))
    f.apply(proposed(spec(0, max_wait_s=3600)))
    assert assigned(f.decide()) == []
    clock.now += 61
    heard(f, beat("steady", slots=4))
    (end,) = [e.payload for e in f.decide() if isinstance(e, TrainingJobFinished)]
    assert end.status == TrainingJobStatus.FAILED
    assert "on preemptible (spot) capacity" in (end.failure_reason or "")
