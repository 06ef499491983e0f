"""The scheduler's pure logic: which launchers are alive, what each holds, where the next attempt goes.

Every training job is one queue entry from its proposal until it finishes. An attempt is assigned to
one launcher incarnation; it is lost when that launcher misses heartbeats for `heartbeat_timeout_s`
or comes back as a new incarnation. A lost attempt is retried (RetryStrategy.MaximumRetryAttempts)
or ends the training job as Failed (Retryable). Waiting jobs are placed first come, first served,
skipping any that fit nowhere right now, on the live launcher with the most free slots.

Managed spot training jobs run on preemptible launchers only, and every other job stays off them.
An attempt lost on spot capacity is an interruption: RetryStrategy does not count it, and the job
waits for capacity again until its MaxWaitTimeInSeconds from its creation has passed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from tunestream.attempts import Attempts
from tunestream.events import ids
from tunestream.events.early import EarlyEvents
from tunestream.events.v1 import (
    Event,
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
    TrainingJobSpec,
    TrainingJobStopRequested,
)
from tunestream.trials import TrainingJobStatus


@dataclass
class Launcher:
    launcher_id: str
    incarnation: str
    backends: frozenset[str]
    slots: int
    gpus: tuple[str, ...]
    stopping: bool
    last_seen: float
    isolating: frozenset[str] = frozenset()
    # The kinds of training job of several instances (InstanceCount > 1) it runs.
    multi_instance: frozenset[str] = frozenset()
    # Heard while running, not only read back from the topic: a launcher that died while the
    # scheduler was down must not get work it would then lose.
    confirmed: bool = False
    # This incarnation lost an attempt since its last heartbeat: it may be dead, or replaced by a
    # restart whose first heartbeat has not been read yet; it gets no work until heard from again.
    lost_work: bool = False
    preemptible: bool = False


@dataclass
class QueuedJob:
    tuning_job_name: str
    spec: TrainingJobSpec
    waiting_since: float
    # When it was proposed (the TrainingJobProposed event's time): a spot job's MaxWaitTimeInSeconds
    # counts from here, across restarts of the scheduler.
    created_at: datetime
    attempts: Attempts = field(default_factory=Attempts)
    stop_reason: str | None = None

    @property
    def name(self) -> str:
        return self.spec.training_job_name

    @property
    def wait_deadline(self) -> datetime | None:
        if not self.spec.managed_spot or self.spec.max_wait_s is None:
            return None
        return self.created_at + timedelta(seconds=self.spec.max_wait_s)

    def counted_failures(self) -> int:
        """Failed attempts that RetryStrategy counts: not the interruptions of spot capacity."""
        return sum(
            1
            for number in self.attempts.failed
            if not ((assigned := self.attempts.assigned.get(number)) is not None and assigned.spot)
        )

    def interruptions(self) -> int:
        return len(self.attempts.failed) - self.counted_failures()

    def current(self) -> TrainingJobAssignedData | None:
        """The attempt that is assigned and not yet known to have failed."""
        return self.attempts.current()

    def next_attempt(self) -> int:
        return self.attempts.next_number()


@dataclass
class Fleet:
    heartbeat_timeout_s: float
    # A job no live launcher could ever run (no container backend, too few GPUs) fails after this.
    unplaceable_after_s: float
    clock: Callable[[], float] = time.monotonic
    # Wall time, for spot jobs' MaxWaitTimeInSeconds (which survives a restart of the scheduler).
    wall: Callable[[], datetime] = lambda: datetime.now(UTC)
    launchers: dict[str, Launcher] = field(default_factory=dict)
    # Unfinished training jobs in the order they were proposed.
    queue: dict[str, QueuedJob] = field(default_factory=dict)
    finished: set[str] = field(default_factory=set)
    _early: EarlyEvents = field(default_factory=EarlyEvents)
    _started_at: float | None = None
    # Whether the scheduler itself can read from Kafka (see `broker_reachable`): while it cannot, silence
    # proves nothing about the launchers.
    _broker_unreachable: bool = False
    _last_heard: float | None = None

    def apply(self, event: Event) -> None:
        """Fold an event into the state; idempotent."""
        if self._started_at is None:
            self._started_at = self.clock()
        if isinstance(event, LauncherHeartbeat):
            self._heard(event.payload)
            return
        if isinstance(event, TrainingJobProposed):
            spec = event.payload.spec
            name = spec.training_job_name
            if name in self.queue or name in self.finished:
                return
            self.queue[name] = QueuedJob(
                event.tuning_job_name, spec, waiting_since=self.clock(), created_at=event.occurred_at
            )
            for early in self._early.release(name):
                self.apply(early)
            return
        if not isinstance(
            event, TrainingJobAssigned | TrainingJobAttemptFailed | TrainingJobFinished | TrainingJobStopRequested
        ):
            return
        name = event.payload.training_job_name
        if name in self.finished:
            return
        job = self.queue.get(name)
        if job is None:  # read before its proposal (other topic) during a rebuild
            self._early.hold(name, event)
            return
        if isinstance(event, TrainingJobAssigned):
            job.attempts.assign(event.payload)
        elif isinstance(event, TrainingJobAttemptFailed):
            if job.attempts.fail(event.payload.attempt, event.payload.reason):
                job.waiting_since = self.clock()
                assigned = job.attempts.assigned.get(event.payload.attempt)
                launcher = self.launchers.get(assigned.launcher_id) if assigned else None
                if assigned and launcher and launcher.incarnation == assigned.incarnation:
                    launcher.lost_work = True
        elif isinstance(event, TrainingJobFinished):
            del self.queue[name]
            self.finished.add(name)
        else:
            job.stop_reason = job.stop_reason or event.payload.reason

    def _heard(self, beat: LauncherHeartbeatData) -> None:
        self.launchers[beat.launcher_id] = Launcher(
            launcher_id=beat.launcher_id,
            incarnation=beat.incarnation,
            backends=frozenset(beat.backends),
            slots=beat.slots,
            gpus=tuple(beat.gpus),
            stopping=beat.stopping,
            last_seen=self.clock(),
            isolating=frozenset(beat.isolating),
            multi_instance=frozenset(beat.multi_instance),
            preemptible=beat.preemptible,
        )

    def confirm(self, launcher_id: str) -> None:
        """The latest heartbeat of this launcher arrived live (not during a rebuild)."""
        if launcher_id in self.launchers:
            self.launchers[launcher_id].confirmed = True

    def broker_reachable(self, ok: bool) -> None:
        """Whether the scheduler's own consumer reaches Kafka now (probed every tick).

        A launcher is lost when it is silent for heartbeat_timeout_s *while the scheduler could have
        heard it*. While the broker is away (restarted, unreachable) no launcher is declared lost, and
        when the scheduler hears again after a gap, every launcher gets a full heartbeat_timeout_s to
        deliver the heartbeats it buffered meanwhile: a broker restart is not a launcher failure.
        """
        now = self.clock()
        if not ok:
            self._broker_unreachable = True
            return
        gap = now - self._last_heard if self._last_heard is not None else 0.0
        if self._broker_unreachable or gap > self.heartbeat_timeout_s / 2:
            for launcher in self.launchers.values():
                launcher.last_seen = max(launcher.last_seen, now)
            if self._started_at is not None:
                self._started_at = max(self._started_at, now)
            self._broker_unreachable = False
        self._last_heard = now

    def _can_judge(self, now: float) -> bool:
        """Silence means something only if the scheduler heard Kafka lately (never probed: always)."""
        if self._last_heard is None:
            return True
        return not self._broker_unreachable and now - self._last_heard <= self.heartbeat_timeout_s / 2

    def alive(self, launcher: Launcher, now: float) -> bool:
        return now - launcher.last_seen <= self.heartbeat_timeout_s

    def decide(self) -> list[EventBase]:
        """Events owed now: lost attempts, retries or final failures, stops of waiting jobs, placements."""
        now = self.clock()
        outputs: list[EventBase] = []
        for job in list(self.queue.values()):
            current = job.current()
            if current is not None:
                reason = self._lost_reason(current, now) if self._can_judge(now) else None
                if reason is None:
                    continue
                outputs.append(self._attempt_failed(job, current, reason))
            deadline = job.wait_deadline
            if job.stop_reason is None and job.counted_failures() > job.spec.max_retry_attempts:
                outputs.append(self._give_up(job))
            elif job.stop_reason is not None:
                outputs.append(self._stopped_while_waiting(job))
            elif deadline is not None and self.wall() >= deadline:
                outputs.append(self._waited_too_long(job))
        outputs.extend(self._place(now))
        return outputs

    def _lost_reason(self, attempt: TrainingJobAssignedData, now: float) -> str | None:
        launcher = self.launchers.get(attempt.launcher_id)
        last_seen = launcher.last_seen if launcher else (self._started_at or now)
        if now - last_seen > self.heartbeat_timeout_s:
            return (
                f"InternalServerError: launcher {attempt.launcher_id} sent no heartbeat for "
                f"{self.heartbeat_timeout_s:g} s while running attempt {attempt.attempt + 1}"
            )
        if launcher is not None and launcher.incarnation != attempt.incarnation:
            return (
                f"InternalServerError: launcher {attempt.launcher_id} restarted "
                f"while running attempt {attempt.attempt + 1}"
            )
        return None

    def _attempt_failed(self, job: QueuedJob, attempt: TrainingJobAssignedData, reason: str) -> EventBase:
        event = TrainingJobAttemptFailed(
            event_id=ids.attempt(job.name, attempt.attempt, "failed"),
            tuning_job_name=job.tuning_job_name,
            payload=TrainingJobAttemptFailedData(
                training_job_name=job.name, attempt=attempt.attempt, launcher_id=attempt.launcher_id, reason=reason
            ),
        )
        self.apply(event)
        return event

    def _give_up(self, job: QueuedJob) -> EventBase:
        attempts = job.counted_failures()
        last = job.attempts.failed[max(job.attempts.failed)]
        interrupted = job.interruptions()
        return self._finish(
            job,
            TrainingJobStatus.FAILED,
            f"{last} (attempt {attempts} of {job.spec.max_retry_attempts + 1}; RetryStrategy.MaximumRetryAttempts "
            f"is {job.spec.max_retry_attempts}"
            + (f"; besides {interrupted} spot interruptions" if interrupted else "")
            + ")",
            retryable=True,
        )

    def _waited_too_long(self, job: QueuedJob) -> EventBase:
        interrupted = job.interruptions()
        return self._finish(
            job,
            TrainingJobStatus.STOPPED,
            f"MaxWaitTimeExceeded: managed spot training job did not complete within "
            f"StoppingCondition.MaxWaitTimeInSeconds ({job.spec.max_wait_s} s) of its creation"
            + (f" ({interrupted} interruptions)" if interrupted else " (no spot capacity)"),
            secondary_status="MaxWaitTimeExceeded",
        )

    def _stopped_while_waiting(self, job: QueuedJob) -> EventBase:
        return self._finish(job, TrainingJobStatus.STOPPED, f"Stopped: {job.stop_reason} (before it started)")

    def _finish(
        self,
        job: QueuedJob,
        status: TrainingJobStatus,
        reason: str,
        retryable: bool = False,
        secondary_status: str | None = None,
    ) -> EventBase:
        event = TrainingJobFinished(
            event_id=ids.finished(job.name),
            tuning_job_name=job.tuning_job_name,
            payload=TrainingJobFinishedData(
                training_job_name=job.name,
                status=status,
                secondary_status=secondary_status or ("Failed" if status == TrainingJobStatus.FAILED else "Stopped"),
                exit_code=None,
                failure_reason=reason,
                model_artifact_s3_uri=None,
                log_batches=0,
                log_lines=0,
                attempt=max(job.attempts.failed, default=0),
                retryable=retryable,
            ),
        )
        self.apply(event)
        return event

    def _place(self, now: float) -> list[EventBase]:
        live = [
            launcher
            for launcher in self.launchers.values()
            if launcher.confirmed and self.alive(launcher, now) and not launcher.stopping and not launcher.lost_work
        ]
        slots = {launcher.launcher_id: launcher.slots for launcher in live}
        free_gpus = {launcher.launcher_id: list(launcher.gpus) for launcher in live}
        for job in self.queue.values():
            held = job.current()
            if held is None or held.launcher_id not in slots:
                continue
            slots[held.launcher_id] -= job.spec.instance_count
            for gpu in held.gpus:
                if gpu in free_gpus[held.launcher_id]:
                    free_gpus[held.launcher_id].remove(gpu)
        outputs: list[EventBase] = []
        for job in list(self.queue.values()):
            if job.current() is not None or job.stop_reason is not None:
                continue
            # All instances of a job on one launcher, or none of them: a slot and gpu_count GPUs each.
            need, instances = job.spec.total_gpus, job.spec.instance_count
            fits = [
                launcher
                for launcher in live
                if _serves(launcher, job.spec)
                and slots[launcher.launcher_id] >= instances
                and len(free_gpus[launcher.launcher_id]) >= need
            ]
            if not fits:
                if now - job.waiting_since > self.unplaceable_after_s and not self._could_ever_fit(job, live):
                    outputs.append(self._unplaceable(job, live))
                continue
            target = min(fits, key=lambda launcher: (-slots[launcher.launcher_id], launcher.launcher_id))
            gpus = free_gpus[target.launcher_id][:need]
            del free_gpus[target.launcher_id][:need]
            slots[target.launcher_id] -= instances
            event = TrainingJobAssigned(
                event_id=ids.attempt(job.name, job.next_attempt(), "assigned"),
                tuning_job_name=job.tuning_job_name,
                payload=TrainingJobAssignedData(
                    training_job_name=job.name,
                    attempt=job.next_attempt(),
                    launcher_id=target.launcher_id,
                    incarnation=target.incarnation,
                    gpus=gpus,
                    spot=target.preemptible,
                    wait_deadline=job.wait_deadline,
                ),
            )
            self.apply(event)
            outputs.append(event)
        return outputs

    @staticmethod
    def _could_ever_fit(job: QueuedJob, live: list[Launcher]) -> bool:
        return any(
            _serves(launcher, job.spec)
            and len(launcher.gpus) >= job.spec.total_gpus
            and launcher.slots >= job.spec.instance_count
            for launcher in live
        )

    def _unplaceable(self, job: QueuedJob, live: list[Launcher]) -> EventBase:
        spec = job.spec
        want = f"the {spec.backend} backend" + (f" and {spec.total_gpus} GPUs" if spec.total_gpus else "")
        if spec.network_isolation:
            want += " with network isolation"
        if spec.instance_count > 1:
            want += f" for {spec.instance_count} instances together ({spec.instance_count} slots)"
        want += " on preemptible (spot) capacity" if spec.managed_spot else " on capacity that is not preemptible"
        offered = (
            "; ".join(
                f"{launcher.launcher_id}: {'/'.join(sorted(launcher.backends))}, {launcher.slots} slots, "
                f"{len(launcher.gpus)} GPUs"
                + (f", isolating {'/'.join(sorted(launcher.isolating))}" if launcher.isolating else "")
                + (
                    f", several instances of {'/'.join(sorted(launcher.multi_instance))}"
                    if launcher.multi_instance
                    else ""
                )
                + (", preemptible" if launcher.preemptible else "")
                for launcher in live
            )
            or "no launcher is running"
        )
        return self._finish(
            job,
            TrainingJobStatus.FAILED,
            f"ResourceLimitExceeded: no live launcher offers {want} ({offered}); waited {self.unplaceable_after_s:g} s",
        )


def _serves(launcher: Launcher, spec: TrainingJobSpec) -> bool:
    """The launcher has the job's backend, can take its network away when the job asks for that, can
    run its instances together when it has several, and is preemptible exactly when the job is a
    managed spot training job."""
    return (
        spec.managed_spot == launcher.preemptible
        and spec.backend in launcher.backends
        and (not spec.network_isolation or spec.backend in launcher.isolating)
        and (spec.instance_count == 1 or spec.backend in launcher.multi_instance)
    )
